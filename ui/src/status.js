// status.js: the Status view: build, flags and runtime (Prometheus'
// /api/v1/status/* answers) and the endpoints a client can use.
import { h, clear, api, missingNote } from './util.js';

const ENDPOINTS = [
  ['POST', '/write, /api/v2/write', 'Influx line protocol (precision=, gzip bodies)'],
  ['POST', '/api/v1/write', 'Prometheus remote write 1.0 and 2.0'],
  ['POST', '/api/v1/read', 'Prometheus remote read'],
  ['GET/POST', '/api/v1/query, /api/v1/query_range', 'PromQL, as Prometheus\' HTTP API'],
  ['GET/POST', '/api/v1/series, /api/v1/labels, /api/v1/label/NAME/values', 'series and labels, with match[], start, end'],
  ['GET', '/api/v1/status/buildinfo, flags, runtimeinfo, config, tsdb; /api/v1/metadata', 'as Prometheus answers them'],
  ['GET', '/api/v1/status/storage', 'partitions, levels, files, sizes (strata inspect --json)'],
  ['GET/POST', '/api/v1/export', 'JSON lines, with match[], start, end'],
  ['POST', '/api/v1/import', 'JSON lines'],
  ['POST', '/api/v1/admin/tsdb/delete_series, /api/v1/admin/tsdb/snapshot', 'delete by match[]; online snapshot'],
  ['POST', '/internal/force_flush, /internal/force_merge', 'flush the head; run planned compactions (?full=1)'],
  ['GET', '/metrics', 'the server\'s own metrics'],
  ['GET', '/health, /-/healthy, /-/ready', 'health'],
];

function kv(obj, testid) {
  return h('table.grid.kv', { 'data-testid': testid }, h('tbody',
    Object.entries(obj).map(([k, v]) => h('tr', h('th', k), h('td', typeof v === 'object' ? JSON.stringify(v) : String(v))))));
}

export function statusView(root) {
  const parts = [['Build', '/api/v1/status/buildinfo', 'buildinfo'], ['Runtime', '/api/v1/status/runtimeinfo', 'runtimeinfo'], ['Flags', '/api/v1/status/flags', 'flags']];
  const boxes = parts.map(([title, , id]) => h('div.card', h('h3', title), h('div', { 'data-testid': `status-${id}` }, 'loading…')));
  root.append(h('section.status',
    h('div.card-grid', boxes),
    h('h3', 'Endpoints'),
    h('table.grid', { 'data-testid': 'endpoints' },
      h('thead', h('tr', h('th', 'method'), h('th', 'path'), h('th', 'does'))),
      h('tbody', ENDPOINTS.map(([m, p, d]) => h('tr', h('td', m), h('td', h('code', p)), h('td', d))))),
    h('p.note', `Base URL: ${location.origin} (a Prometheus data source for Grafana)`)));
  parts.forEach(async ([, path, id], i) => {
    const r = await api(path);
    const el = boxes[i].lastChild;
    clear(el);
    if (r.ok) el.append(kv(r.data, `${id}-table`));
    else el.append(r.missing ? missingNote(path) : h('div.error', r.error));
  });
  return () => {};
}
