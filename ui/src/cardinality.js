// cardinality.js: the Cardinality view of /api/v1/status/tsdb (as
// Prometheus answers it, with limit, and start/end as VictoriaMetrics
// takes them): head stats, top metrics by series, label names by values,
// label pairs by series, memory by label name; the whole database or a
// time range.
import { h, clear, api, fmtNum, missingNote, writeRoute, parseTime } from './util.js';

export function cardinalityView(root, params) {
  const st = { limit: params.get('limit') || '10', start: params.get('start') || '', end: params.get('end') || '' };
  const limitIn = h('input.step', { value: st.limit, 'data-testid': 'card-limit', title: 'entries per table' });
  const startIn = h('input.time', { value: st.start, placeholder: 'start: whole database', 'data-testid': 'card-start' });
  const endIn = h('input.time', { value: st.end, placeholder: 'end', 'data-testid': 'card-end' });
  const out = h('div.cardinality', { 'data-testid': 'cardinality' });
  root.append(h('section',
    h('div.controls', h('label', 'top ', limitIn), startIn, endIn,
      h('button.primary', { 'data-testid': 'card-apply', on: { click: () => load() } }, 'Apply')),
    out));

  async function load() {
    st.limit = limitIn.value.trim();
    st.start = startIn.value.trim();
    st.end = endIn.value.trim();
    writeRoute('cardinality', st);
    const p = { limit: st.limit };
    if (st.start) p.start = parseTime(st.start) / 1000;
    if (st.end) p.end = parseTime(st.end) / 1000;
    clear(out).append(h('div.note', 'loading…'));
    const r = await api('/api/v1/status/tsdb', p);
    clear(out);
    if (!r.ok) {
      out.append(r.missing ? missingNote('/api/v1/status/tsdb') : h('div.error', r.error));
      out.setAttribute('data-state', r.missing ? 'missing' : 'error');
      return;
    }
    const d = r.data;
    if (d.headStats) {
      out.append(h('h3', 'Head'), h('table.grid', { 'data-testid': 'head-stats' }, h('tbody',
        Object.entries(d.headStats).map(([k, v]) => h('tr', h('th', k), h('td.num', typeof v === 'number' && /Time$/.test(k) ? new Date(v).toISOString() : fmtNum(v)))))));
    }
    const sections = [
      ['seriesCountByMetricName', 'Top metrics by series', 'metric', 'series'],
      ['labelValueCountByLabelName', 'Top label names by number of values', 'label', 'values'],
      ['seriesCountByLabelValuePair', 'Top label pairs by series', 'label=value', 'series'],
      ['memoryInBytesByLabelName', 'Top label names by memory', 'label', 'bytes'],
    ];
    const grid = h('div.card-grid');
    for (const [key, title, c1, c2] of sections) {
      const list = d[key] || [];
      const max = list.reduce((a, e) => Math.max(a, e.value), 0) || 1;
      grid.append(h('div.card', h('h3', title),
        h('table.grid', { 'data-testid': key },
          h('thead', h('tr', h('th', c1), h('th', c2), h('th', ''))),
          h('tbody', list.map((e) => h('tr', { 'data-testid': 'card-row' },
            h('td', key === 'seriesCountByMetricName' ? h('a', { href: `#/explore?metric=${encodeURIComponent(e.name)}` }, e.name) : e.name),
            h('td.num', fmtNum(e.value)),
            h('td.bar', h('span', { style: { width: `${(100 * e.value / max).toFixed(1)}%` } }))))))));
    }
    out.append(grid);
    out.setAttribute('data-state', 'loaded');
  }
  load();
  return () => {};
}
