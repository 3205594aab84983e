// query.js: the Query view: the editor, instant (table) and range (graph)
// modes, time range presets or absolute start and end times, step,
// auto-refresh, the chart, the error with its position, the query's
// figures. The state lives in the URL
// (#/query?expr=..&mode=..&range=..&start=..&end=..&step=..&stack=..&refresh=..).
// A step typed in is honoured as it is; left empty, it is Prometheus' UI's
// (about 250 points), and the figures say when a step asks for more points
// than the chart has pixels.
import { h, clear, api, fmtNum, fmtTime, labelsText, parseDuration, fmtDuration, parseTime, writeRoute } from './util.js';
import { makeEditor } from './editor.js';
import { alignMatrix, drawChart } from './chart.js';

const RANGES = ['5m', '15m', '30m', '1h', '3h', '6h', '12h', '1d', '2d', '7d', '30d'];
const REFRESH = [['', 'off'], ['5s', '5s'], ['15s', '15s'], ['30s', '30s'], ['1m', '1m'], ['5m', '5m']];

// The step Prometheus' UI picks: about 250 points, at least 1 s.
function autoStep(rangeMs) {
  return Math.max(1000, Math.round(rangeMs / 250 / 1000) * 1000);
}

export function queryView(root, params) {
  const st = {
    expr: params.get('expr') || '',
    mode: params.get('mode') === 'table' ? 'table' : 'graph',
    range: params.get('range') || '1h',
    start: params.get('start') || '',
    end: params.get('end') || '',
    step: params.get('step') || '',
    stack: params.get('stack') === '1',
    refresh: params.get('refresh') || '',
  };
  let timer = null;
  let chart = null;
  let ctrl = null;
  let runId = 0;

  const save = () => writeRoute('query', {
    expr: st.expr, mode: st.mode, range: st.range, start: st.start, end: st.end, step: st.step, stack: st.stack ? '1' : '', refresh: st.refresh,
  });

  const edHost = h('div.editor', { 'data-testid': 'editor' });
  const modeBtns = ['graph', 'table'].map((m) => h('button.tab', {
    'data-testid': `mode-${m}`,
    on: { click: () => { st.mode = m; syncControls(); save(); execute(); } },
  }, m === 'graph' ? 'Graph' : 'Table'));
  const rangeSel = h('select', { 'data-testid': 'range', title: 'time range', on: { change: () => { st.range = rangeSel.value; save(); execute(); } } },
    RANGES.map((r) => h('option', { value: r }, r)));
  const startIn = h('input.time', {
    'data-testid': 'start', placeholder: 'start: end - range', title: 'start time (replaces the range): RFC 3339 (2024-01-01T12:00:00Z) or Unix seconds',
    on: { change: () => { st.start = startIn.value.trim(); syncControls(); save(); execute(); } },
  });
  const endIn = h('input.time', {
    'data-testid': 'end', placeholder: 'end: now', title: 'end time: now, RFC 3339 (2024-01-01T12:00:00Z) or Unix seconds',
    on: { change: () => { st.end = endIn.value.trim(); save(); execute(); } },
  });
  const stepIn = h('input.step', {
    'data-testid': 'step', placeholder: 'step: auto', title: 'resolution: a duration (15s, 1m) or seconds, used as typed; empty: about 250 points',
    on: { change: () => { st.step = stepIn.value.trim(); save(); execute(); } },
  });
  const stackBox = h('input', { type: 'checkbox', 'data-testid': 'stack', on: { change: () => { st.stack = stackBox.checked; save(); execute(); } } });
  const refreshSel = h('select', { 'data-testid': 'refresh', title: 'auto-refresh', on: { change: () => { st.refresh = refreshSel.value; save(); arm(); } } },
    REFRESH.map(([v, t]) => h('option', { value: v }, `refresh: ${t}`)));
  const runBtn = h('button.primary', { 'data-testid': 'run', on: { click: () => execute() } }, 'Execute');
  const errBox = h('div.error', { 'data-testid': 'error', style: { display: 'none' } });
  const statsBox = h('div.stats', { 'data-testid': 'stats' });
  const warnBox = h('div.note.warnings', { 'data-testid': 'warnings', style: { display: 'none' } });
  const out = h('div.result', { 'data-testid': 'result' });

  root.append(
    h('section.query',
      h('div.editor-row', edHost, runBtn),
      h('div.controls',
        h('div.tabs', modeBtns),
        h('label.range', 'range ', rangeSel),
        startIn, endIn, stepIn,
        h('label.check', stackBox, ' stacked'),
        refreshSel),
      errBox, warnBox, statsBox, out),
  );
  const ed = makeEditor(edHost, st.expr, () => execute(true), (v) => { st.expr = v; });

  function syncControls() {
    modeBtns.forEach((b, i) => b.classList.toggle('active', (i === 0) === (st.mode === 'graph')));
    if (!RANGES.includes(st.range)) rangeSel.append(h('option', { value: st.range }, st.range));
    rangeSel.value = st.range;
    startIn.value = st.start;
    endIn.value = st.end;
    stepIn.value = st.step;
    stackBox.checked = st.stack;
    refreshSel.value = st.refresh;
    const graph = st.mode === 'graph';
    rangeSel.disabled = !graph || !!st.start;
    startIn.disabled = !graph;
    stepIn.disabled = !graph;
    stackBox.disabled = !graph;
  }

  function arm() {
    if (timer) clearInterval(timer);
    timer = null;
    const ms = parseDuration(st.refresh);
    if (ms) timer = setInterval(() => execute(), ms);
  }

  function showError(msg) {
    errBox.style.display = 'block';
    clear(errBox);
    const pos = /(?:^|: )(\d+):(\d+): /.exec(msg);
    errBox.append(h('div.error-msg', msg));
    if (pos) {
      const line = Number(pos[1]);
      const col = Number(pos[2]);
      ed.markError(line, col);
      const text = st.expr.split('\n')[line - 1] || '';
      errBox.append(h('pre.error-pos', { 'data-testid': 'error-pos' }, `${text}\n${' '.repeat(Math.max(col - 1, 0))}^ line ${line}, column ${col}`));
    }
  }

  async function execute(fromKey) {
    const t0 = fromKey && window.__enterAt ? window.__enterAt : performance.now();
    window.__enterAt = 0;
    const expr = ed.value.trim();
    st.expr = ed.value;
    save();
    errBox.style.display = 'none';
    if (!expr) return;
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const id = ++runId;
    const endMs = parseTime(st.end);
    if (endMs == null) {
      showError(`bad end time "${st.end}"`);
      return;
    }
    statsBox.textContent = 'running…';
    let res;
    let stepMs;
    let startMs;
    let rangeMs = parseDuration(st.range) || 3600e3;
    if (st.mode === 'graph' && st.start) {
      const startAbs = parseTime(st.start);
      if (startAbs == null || startAbs >= endMs) {
        showError(startAbs == null ? `bad start time "${st.start}"` : `start ${fmtTime(startAbs)} is not before end ${fmtTime(endMs)}`);
        statsBox.textContent = '';
        return;
      }
      rangeMs = endMs - startAbs;
    }
    try {
      if (st.mode === 'graph') {
        stepMs = st.step ? parseDuration(st.step) : autoStep(rangeMs);
        if (!stepMs) {
          showError(`bad step "${st.step}"`);
          statsBox.textContent = '';
          return;
        }
        // whole seconds on the step grid, as Prometheus' UI asks
        const endS = Math.floor(endMs / 1000);
        const startS = endS - Math.floor(rangeMs / 1000);
        startMs = startS * 1000;
        const endAligned = startMs + Math.floor((endS * 1000 - startMs) / stepMs) * stepMs;
        res = await api('/api/v1/query_range', { query: expr, start: startS, end: endAligned / 1000, step: stepMs / 1000 }, { post: true, signal: ctrl.signal, matrix: true });
        res.endMs = endAligned;
      } else {
        res = await api('/api/v1/query', { query: expr, time: (endMs / 1000).toFixed(3) }, { post: true, signal: ctrl.signal });
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      throw e;
    }
    if (id !== runId) return;
    const tNet = performance.now();
    if (!res.ok) {
      statsBox.textContent = '';
      showError(res.error);
      clear(out);
      return;
    }
    const data = res.data;
    let nSeries = 0;
    let nSamples = 0;
    let tAligned = tNet;
    const finish = () => {
      const t1 = performance.now();
      let stepNote = '';
      if (st.mode === 'graph') {
        const points = Math.floor((res.endMs - startMs) / stepMs) + 1;
        const px = out.clientWidth || 0;
        stepNote = `; step ${fmtDuration(stepMs)}${st.step ? '' : ' (auto)'}, ${points} points`;
        if (st.step && px && points > px) stepNote += ` for a chart ${px} px wide (leave step empty for fewer)`;
      }
      statsBox.textContent = `${data.resultType}: ${nSeries} series, ${nSamples} samples${stepNote}; ${Math.round(tNet - t0)} ms to answer, ${Math.round(t1 - t0)} ms to draw`;
      out.setAttribute('data-run', String(id));
      const at = window.__apiTiming || {};
      window.__lastRun = {
        id: (window.__runSeq = (window.__runSeq || 0) + 1), mode: st.mode, series: nSeries, samples: nSamples, answerMs: tNet - t0, drawMs: t1 - t0,
        headMs: at.head - t0, bodyMs: at.body - t0, parsedMs: at.parsed - t0, alignedMs: tAligned - t0,
      };
    };
    if (chart) {
      chart.destroy();
      chart = null;
    }
    clear(out);
    // the server's warnings (a limit reached, ...) above the result
    const warnings = (res.body && res.body.warnings) || [];
    clear(warnBox).append(...warnings.map((w) => h('div', `warning: ${w}`)));
    warnBox.style.display = warnings.length ? 'block' : 'none';
    if (st.mode === 'graph') {
      if (data.resultType !== 'matrix') {
        showError(`resultType ${data.resultType}: the graph wants a range vector result`);
        return;
      }
      nSeries = data.result.length;
      for (const s of data.result) nSamples += s.ts.length;
      if (!nSeries) {
        out.append(h('div.note', 'empty result'));
        finish();
        return;
      }
      const aligned = alignMatrix(data.result, startMs, res.endMs, stepMs);
      tAligned = performance.now();
      chart = drawChart(out, data.result.map((s) => s.metric), aligned, { stacked: st.stack, onDrawn: finish });
    } else {
      let rows;
      if (data.resultType === 'vector') {
        rows = data.result.map((s) => [labelsText(s.metric), s.value[1]]);
      } else if (data.resultType === 'matrix') {
        rows = data.result.map((s) => [labelsText(s.metric), (s.values || []).map(([t, v]) => `${v} @${t}`).join('\n')]);
      } else {
        rows = [[`${data.resultType}`, data.result[1]]];
      }
      nSeries = data.resultType === 'vector' || data.resultType === 'matrix' ? data.result.length : 0;
      nSamples = data.resultType === 'matrix' ? data.result.reduce((a, s) => a + (s.values || []).length, 0) : rows.length;
      const shown = rows.slice(0, 10000);
      out.append(h('table.grid.results', { 'data-testid': 'table' },
        h('thead', h('tr', h('th', 'series'), h('th', 'value'))),
        h('tbody', shown.map(([l, v]) => h('tr', { 'data-testid': 'row' }, h('td.series', l), h('td.value', v))))));
      if (rows.length > shown.length) out.append(h('div.note', `showing ${shown.length} of ${rows.length} rows`));
      out.append(h('div.note', `evaluated at ${fmtTime(endMs)}`));
      finish();
    }
  }

  syncControls();
  arm();
  // Enter is timed from its keydown, before CodeMirror sees it.
  edHost.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) window.__enterAt = performance.now();
  }, true);
  if (st.expr) execute();
  ed.focus();
  return () => {
    if (timer) clearInterval(timer);
    if (ctrl) ctrl.abort();
    if (chart) chart.destroy();
    ed.view.destroy();
  };
}

export { fmtNum, fmtDuration };
