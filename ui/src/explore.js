// explore.js: the Explore view: every metric name with its type, help
// (from /api/v1/metadata) and series count (from /api/v1/status/tsdb),
// and a series browser: label filters, the matching series, the labels
// they carry. State in the URL (#/explore?metric=..&filters=..).
import { h, clear, api, fmtNum, labelsText, missingNote, writeRoute, parseTime } from './util.js';

const OPS = ['=', '!=', '=~', '!~'];

function selector(metric, filters) {
  const ms = [];
  if (metric) ms.push(`__name__=${JSON.stringify(metric)}`);
  for (const f of filters) if (f.name && OPS.includes(f.op)) ms.push(`${f.name}${f.op}${JSON.stringify(f.value)}`);
  return `{${ms.join(',')}}`;
}

export function exploreView(root, params) {
  let filters = [];
  try {
    filters = JSON.parse(params.get('filters') || '[]');
  } catch {
    filters = [];
  }
  const st = { metric: params.get('metric') || '', filter: params.get('q') || '' };
  const save = () => writeRoute('explore', { metric: st.metric, q: st.filter, filters: filters.length ? JSON.stringify(filters) : '' });

  const search = h('input.search', { placeholder: 'filter metric names', value: st.filter, 'data-testid': 'metric-filter' });
  const metricsNote = h('div.notes');
  const metricsBody = h('tbody');
  const metricsTable = h('table.grid', { 'data-testid': 'metrics-table' },
    h('thead', h('tr', h('th', 'metric'), h('th', 'type'), h('th', 'series'), h('th', 'help'))), metricsBody);
  const browser = h('div.browser', { 'data-testid': 'series-browser' });
  root.append(h('section.explore',
    h('div.explore-cols',
      h('div.col-metrics', h('h2', 'Metrics'), search, metricsNote, h('div.scroll', metricsTable)),
      h('div.col-series', h('h2', 'Series'), browser))));

  let names = [];
  let meta = {};
  let counts = {};
  function renderMetrics() {
    const q = st.filter.toLowerCase();
    clear(metricsBody);
    const shown = names.filter((n) => n.toLowerCase().includes(q));
    for (const n of shown.slice(0, 5000)) {
      const m = (meta[n] && meta[n][0]) || {};
      metricsBody.append(h('tr', { 'data-testid': 'metric-row', 'data-metric': n, class: n === st.metric ? 'sel' : null },
        h('td', h('a', { href: '#', on: { click: (e) => { e.preventDefault(); pick(n); } } }, n)),
        h('td', m.type || ''),
        h('td.num', counts[n] != null ? fmtNum(counts[n]) : ''),
        h('td.help', m.help || '')));
    }
  }
  search.addEventListener('input', () => {
    st.filter = search.value;
    save();
    renderMetrics();
  });
  function pick(n) {
    st.metric = n;
    filters = [];
    save();
    renderMetrics();
    renderBrowser();
  }

  async function loadMetrics() {
    const [rn, rm, rt] = await Promise.all([
      api('/api/v1/label/__name__/values'),
      api('/api/v1/metadata'),
      api('/api/v1/status/tsdb', { limit: 100000 }),
    ]);
    if (!rn.ok) {
      metricsNote.append(h('div.error', rn.error));
      return;
    }
    names = rn.data;
    if (rm.ok) meta = rm.data || {};
    else metricsNote.append(rm.missing ? missingNote('/api/v1/metadata') : h('div.error', rm.error));
    if (rt.ok) for (const e of rt.data.seriesCountByMetricName || []) counts[e.name] = e.value;
    else metricsNote.append(rt.missing ? missingNote('/api/v1/status/tsdb') : h('div.error', rt.error));
    metricsTable.setAttribute('data-loaded', String(names.length));
    renderMetrics();
  }

  async function renderBrowser() {
    clear(browser);
    const filterRows = h('div.filters');
    const drawFilters = () => {
      clear(filterRows);
      filters.forEach((f, i) => {
        const name = h('input', { value: f.name, placeholder: 'label', 'data-testid': 'filter-name', on: { change: () => { f.name = name.value.trim(); } } });
        const op = h('select', { 'data-testid': 'filter-op', on: { change: () => { f.op = op.value; } } }, OPS.map((o) => h('option', { value: o }, o)));
        op.value = f.op;
        const val = h('input', { value: f.value, placeholder: 'value', 'data-testid': 'filter-value', on: { change: () => { f.value = val.value; } } });
        filterRows.append(h('div.filter', name, op, val,
          h('button', { title: 'remove', on: { click: () => { filters.splice(i, 1); drawFilters(); } } }, '×')));
      });
    };
    drawFilters();
    const startIn = h('input.time', { placeholder: 'start (optional)', 'data-testid': 'series-start' });
    const endIn = h('input.time', { placeholder: 'end (optional)', 'data-testid': 'series-end' });
    const result = h('div.series-result', { 'data-testid': 'series-result' });
    const sel = h('code.selector', { 'data-testid': 'selector' });
    browser.append(
      h('div.note', st.metric ? `metric ${st.metric}` : 'all series (pick a metric, or add label filters)'),
      filterRows,
      h('div.row',
        h('button', { 'data-testid': 'add-filter', on: { click: () => { filters.push({ name: '', op: '=', value: '' }); drawFilters(); } } }, '+ label filter'),
        startIn, endIn,
        h('button.primary', { 'data-testid': 'series-apply', on: { click: () => load() } }, 'Apply')),
      sel, result);
    async function load() {
      save();
      const s = selector(st.metric, filters);
      sel.textContent = s;
      clear(result).append(h('div.note', 'loading…'));
      result.removeAttribute('data-count'); // set again by this answer (what the browser test waits for)
      if (s === '{}') {
        clear(result).append(h('div.note', 'pick a metric or add a label filter'));
        return;
      }
      const range = {};
      if (startIn.value.trim()) range.start = parseTime(startIn.value) / 1000;
      if (endIn.value.trim()) range.end = parseTime(endIn.value) / 1000;
      const [rs, rl] = await Promise.all([
        api('/api/v1/series', { 'match[]': s, ...range }),
        api('/api/v1/labels', { 'match[]': s, ...range }),
      ]);
      clear(result);
      if (!rs.ok) {
        result.append(h('div.error', rs.error));
        return;
      }
      const series = rs.data;
      const byLabel = {};
      for (const m of series) for (const [k, v] of Object.entries(m)) (byLabel[k] ||= new Set()).add(v);
      result.setAttribute('data-count', String(series.length));
      result.append(
        h('div.row',
          h('span', { 'data-testid': 'series-count' }, `${series.length} series`),
          h('a.button', { href: `#/query?expr=${encodeURIComponent(s === `{__name__=${JSON.stringify(st.metric)}}` ? st.metric : s)}&mode=graph` }, 'Graph them')),
        h('h3', 'Labels'),
        h('div.labels', (rl.ok ? rl.data : Object.keys(byLabel)).map((k) => h('span.chip', {
          title: [...(byLabel[k] || [])].slice(0, 50).join(', '),
          on: { click: () => { filters.push({ name: k, op: '=', value: [...(byLabel[k] || [''])][0] }); drawFilters(); } },
        }, `${k} (${byLabel[k] ? byLabel[k].size : 0})`))),
        h('h3', 'Series'),
        h('table.grid', { 'data-testid': 'series-table' },
          h('tbody', series.slice(0, 2000).map((m) => h('tr', { 'data-testid': 'series-row' }, h('td', labelsText(m)))))),
        series.length > 2000 ? h('div.note', `showing 2000 of ${series.length}`) : null,
      );
    }
    if (st.metric || filters.length) load();
  }

  loadMetrics();
  renderBrowser();
  return () => {};
}
