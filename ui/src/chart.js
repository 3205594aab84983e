// chart.js: time-series charts on uPlot. A chart of many series with a
// legend of our own (uPlot's live legend redraws a row per series on every
// cursor move, too slow at 1,000 series): click a series to show only it
// (again to show all), ctrl/cmd-click to toggle it, hover to highlight;
// a tooltip with the value of the series nearest the cursor; lines or
// stacked areas.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, clear, color, fmtNum, fmtTime, labelsText } from './util.js';

// Series {metric, ts, vs} (matrix.js) aligned on the grid start..end by
// step (ms): a column per series, null where there is no point or where
// the value cannot be drawn (Prometheus' +Inf, -Inf and NaN: gaps).
export function alignMatrix(result, startMs, endMs, stepMs) {
  const n = Math.floor((endMs - startMs) / stepMs) + 1;
  const xs = new Array(n);
  for (let i = 0; i < n; i++) xs[i] = (startMs + i * stepMs) / 1000;
  const ys = result.map(({ ts, vs }) => {
    const col = new Array(n);
    // the usual case: a point at every step, in order
    if (ts.length === n && ts[0] * 1000 === startMs && ts[n - 1] * 1000 === startMs + (n - 1) * stepMs) {
      for (let i = 0; i < n; i++) {
        const v = vs[i];
        col[i] = v - v === 0 ? v : null; // finite
      }
      return col;
    }
    col.fill(null);
    for (let k = 0; k < ts.length; k++) {
      const i = Math.round((ts[k] * 1000 - startMs) / stepMs);
      const v = vs[k];
      if (i >= 0 && i < n) col[i] = v - v === 0 ? v : null;
    }
    return col;
  });
  return { xs, ys };
}

function stack(ys, shown) {
  const out = [];
  let acc = null;
  ys.forEach((col, k) => {
    if (!shown[k]) {
      out.push(col);
      return;
    }
    const s = col.map((v, i) => (v == null ? (acc ? acc[i] : null) : v + ((acc && acc[i]) || 0)));
    out.push(s);
    acc = s;
  });
  return out;
}

// Draws into el; opts: {height, stacked, onDrawn}. Returns a handle with
// destroy() and the uPlot instance.
export function drawChart(el, metrics, aligned, opts = {}) {
  clear(el);
  const wrap = h('div.chart-wrap');
  const plotEl = h('div.plot', { 'data-testid': 'chart' });
  const tip = h('div.tooltip', { style: { display: 'none' } });
  const legend = h('div.legend', { 'data-testid': 'legend' });
  wrap.append(plotEl, tip);
  el.append(wrap, legend);
  const shown = metrics.map(() => true);
  const labels = metrics.map((m) => labelsText(m));
  const many = metrics.length > 200;
  let focused = -1;
  const data = () => [aligned.xs, ...(opts.stacked ? stack(aligned.ys, shown) : aligned.ys)];
  const width = Math.max(300, el.clientWidth || 900);
  const series = [{}].concat(labels.map((label, i) => ({
    label,
    stroke: color(i),
    width: many ? 1 : 1.5,
    fill: opts.stacked ? color(i).replace('hsl', 'hsla').replace(')', ', 0.35)') : undefined,
    spanGaps: false,
    points: { show: false },
  })));
  let drawnOnce = false;
  const u = new uPlot({
    width,
    height: opts.height || 360,
    series,
    legend: { show: false },
    focus: { alpha: 0.25 },
    // a cursor point per series is a DOM element moved on every mouse move: not for many series
    cursor: { focus: { prox: 24 }, drag: { x: true, y: false }, points: { show: !many } },
    scales: { x: { time: true } },
    axes: [{}, { values: (self, ticks) => ticks.map(fmtNum), size: 70 }],
    hooks: {
      draw: [() => {
        if (!drawnOnce) {
          drawnOnce = true;
          if (opts.onDrawn) opts.onDrawn();
        }
      }],
      setSeries: [(self, idx) => {
        focused = idx == null ? -1 : idx - 1;
        markFocus();
      }],
      setCursor: [(self) => {
        const i = self.cursor.idx;
        if (i == null || focused < 0 || self.cursor.left < 0) {
          tip.style.display = 'none';
          return;
        }
        const v = aligned.ys[focused][i];
        clear(tip).append(
          h('div.tip-time', fmtTime(aligned.xs[i] * 1000)),
          h('div', h('span.swatch', { style: { background: color(focused) } }), labels[focused]),
          h('div.tip-value', v == null ? 'no value' : fmtNum(v)),
        );
        tip.style.display = 'block';
        const left = self.cursor.left + 16;
        tip.style.left = `${Math.min(left, width - 260)}px`;
        tip.style.top = `${self.cursor.top + 16}px`;
      }],
    },
  }, data(), plotEl);

  const rows = [];
  function markFocus() {
    rows.forEach((r, i) => r.classList.toggle('focus', i === focused));
  }
  function applyShown() {
    shown.forEach((s, i) => {
      rows[i].classList.toggle('off', !s);
    });
    u.batch(() => {
      shown.forEach((s, i) => u.setSeries(i + 1, { show: s }, false));
      if (opts.stacked) u.setData(data());
    });
  }
  const maxLegend = 2000;
  labels.slice(0, maxLegend).forEach((label, i) => {
    const row = h('div.legend-item', {
      'data-testid': 'legend-item',
      title: 'click: show only this series (again: all); ctrl/cmd-click: toggle',
      on: {
        click: (ev) => {
          if (ev.ctrlKey || ev.metaKey) shown[i] = !shown[i];
          else {
            const only = shown[i] && shown.every((s, k) => s === (k === i));
            shown.fill(only);
            shown[i] = true;
          }
          applyShown();
        },
        mouseenter: () => {
          if (shown[i]) u.setSeries(i + 1, { focus: true });
        },
        mouseleave: () => u.setSeries(null, { focus: false }),
      },
    }, h('span.swatch', { style: { background: color(i) } }), label);
    rows.push(row);
    legend.append(row);
  });
  if (labels.length > maxLegend) legend.append(h('div.note', `and ${labels.length - maxLegend} more series`));
  const ro = new ResizeObserver(() => {
    const w = Math.max(300, el.clientWidth);
    if (Math.abs(w - u.width) > 4) u.setSize({ width: w, height: u.height });
  });
  ro.observe(el);
  // what the browser test compares with the API (tests/ui)
  window.__strataChart = {
    points: aligned.xs.length,
    series: metrics.map((metric, k) => {
      const col = aligned.ys[k];
      let i = col.length - 1;
      while (i >= 0 && col[i] == null) i--;
      return { metric, last: i >= 0 ? col[i] : null };
    }),
    shown: () => shown.filter(Boolean).length,
    focused: () => focused,
  };
  return {
    u,
    destroy() {
      ro.disconnect();
      u.destroy();
    },
  };
}
