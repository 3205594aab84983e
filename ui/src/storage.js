// storage.js: the Storage view of /api/v1/status/storage (the figures of
// `strata inspect --json`: partitions, levels, files, bytes per sample,
// samples, series, WAL and head, compactions, write amplification) and a
// small chart of the head and of compaction activity, sampled from the
// same endpoint every few seconds while the view is open.
import uPlot from 'uplot';
import { h, clear, api, fmtNum, fmtBytes, fmtTime, missingNote } from './util.js';

const POLL_MS = 5000;

export function storageView(root) {
  const figs = h('div.figures', { 'data-testid': 'storage-figures' });
  const chartEl = h('div.small-chart', { 'data-testid': 'storage-chart' });
  const levels = h('div');
  const files = h('div');
  root.append(h('section.storage',
    h('div.row', h('h2', 'Storage'), h('button', { 'data-testid': 'storage-refresh', on: { click: () => poll() } }, 'Refresh')),
    figs, h('h3', 'Head and compactions (sampled while this page is open)'), chartEl, h('h3', 'Levels'), levels, h('h3', 'Files by partition'), files));
  const hist = { t: [], head: [], pending: [], compactions: [], running: [] };
  let plot = null;
  let stopped = false;

  function fig(key, label, value) {
    return h('div.fig', { 'data-key': key }, h('div.fig-label', label), h('div.fig-value', { 'data-testid': `fig-${key}` }, value));
  }

  function render(d) {
    clear(figs).append(
      fig('series', 'series', fmtNum(d.series)),
      fig('partitions', 'partitions', fmtNum(d.partitions)),
      fig('table_files', 'table files', fmtNum(d.table_files)),
      fig('table_bytes', 'table bytes', fmtBytes(d.table_bytes)),
      fig('table_samples', 'samples in tables', fmtNum(d.table_samples)),
      fig('bytes_per_sample', 'bytes / sample', d.bytes_per_sample.toFixed(3)),
      fig('head_samples', 'head samples', fmtNum(d.head_samples)),
      fig('head_bytes', 'head memory', fmtBytes(d.head_bytes)),
      fig('wal_bytes', 'WAL', `${fmtBytes(d.wal_bytes)} in ${d.wal_segments} segments`),
      fig('compactions_running', 'compactions running', fmtNum(d.compactions_running ?? 0)),
      fig('compactions', 'compactions done', fmtNum(d.compactions)),
      fig('compaction_pending_bytes', 'compaction pending', fmtBytes(d.compaction_pending_bytes)),
      fig('write_amplification', 'write amplification', d.write_amplification.toFixed(2)),
      fig('tombstones', 'tombstones', fmtNum(d.tombstones)),
    );
    for (const el of figs.querySelectorAll('.fig')) el.setAttribute('data-raw', String(d[el.getAttribute('data-key')]));
    clear(levels).append(h('table.grid', { 'data-testid': 'levels-table' },
      h('thead', h('tr', ['level', 'files', 'bytes', 'samples', 'bytes/sample', 'bytes read', 'bytes written'].map((c) => h('th', c)))),
      h('tbody', d.levels.filter((l) => l.files || l.bytes_written).map((l) => h('tr', { 'data-testid': 'level-row', 'data-level': l.level },
        h('td.num', l.level), h('td.num', l.files), h('td.num', fmtBytes(l.bytes)), h('td.num', fmtNum(l.samples)),
        h('td.num', l.samples ? (l.bytes / l.samples).toFixed(3) : ''), h('td.num', fmtBytes(l.bytes_read)), h('td.num', fmtBytes(l.bytes_written)))))));
    const parts = new Map();
    for (const f of d.files) {
      if (!parts.has(f.partition_start_ms)) parts.set(f.partition_start_ms, []);
      parts.get(f.partition_start_ms).push(f);
    }
    clear(files);
    for (const [p, list] of parts) {
      files.append(h('div.partition', h('h4', `partition ${fmtTime(p)}`),
        h('table.grid', h('thead', h('tr', ['file', 'level', 'bytes', 'samples', 'series', 'blocks', 'bytes/sample', 'time range'].map((c) => h('th', c)))),
          h('tbody', list.map((f) => h('tr', { 'data-testid': 'file-row', 'data-file': f.file },
            h('td.num', String(f.file).padStart(12, '0')), h('td.num', f.level), h('td.num', fmtNum(f.bytes)), h('td.num', fmtNum(f.samples)),
            h('td.num', fmtNum(f.series)), h('td.num', fmtNum(f.blocks)), h('td.num', f.samples ? (f.bytes / f.samples).toFixed(3) : ''),
            h('td', `${fmtTime(f.min_t_ms)} .. ${fmtTime(f.max_t_ms)}`)))))));
    }
    if (!d.files.length) files.append(h('div.note', 'no table files yet (everything is in the head)'));
  }

  function drawHist() {
    const data = [hist.t, hist.head, hist.pending, hist.compactions, hist.running];
    if (plot) {
      plot.setData(data);
      return;
    }
    plot = new uPlot({
      width: Math.max(300, chartEl.clientWidth || 800),
      height: 180,
      series: [{}, { label: 'head samples', stroke: '#1f77b4', scale: 'n' },
        { label: 'compaction pending bytes', stroke: '#d62728', scale: 'b' },
        { label: 'compactions done', stroke: '#2ca02c', scale: 'c' },
        { label: 'compactions running', stroke: '#9467bd', scale: 'r' }],
      axes: [{}, { scale: 'n', values: (u, t) => t.map(fmtNum), size: 60 }, { scale: 'b', side: 1, values: (u, t) => t.map(fmtBytes), size: 70, grid: { show: false } }],
      // at least the last ten minutes, so the first samples are not a lone dot
      scales: { x: { time: true, range: (u, lo, hi) => [Math.min(lo, hi - 600), hi + 5] } },
    }, data, chartEl);
  }

  async function poll() {
    const r = await api('/api/v1/status/storage');
    if (stopped) return;
    if (!r.ok) {
      clear(figs).append(r.missing ? missingNote('/api/v1/status/storage') : h('div.error', r.error));
      return;
    }
    render(r.data);
    figs.setAttribute('data-loaded', String(Date.now()));
    hist.t.push(Date.now() / 1000);
    hist.head.push(r.data.head_samples);
    hist.pending.push(r.data.compaction_pending_bytes);
    hist.compactions.push(r.data.compactions);
    hist.running.push(r.data.compactions_running ?? 0);
    if (hist.t.length > 720) for (const k of Object.keys(hist)) hist[k].shift();
    drawHist();
  }
  poll();
  const timer = setInterval(poll, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    if (plot) plot.destroy();
  };
}
