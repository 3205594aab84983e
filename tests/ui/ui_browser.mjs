// ui_browser.mjs: the web UI in a real browser (Debian's chromium driven
// by playwright-core) against a real `strata serve` on loopback with
// generated data. Run by `make test-ui`:
//   node tests/ui/ui_browser.mjs   (STRATA_BIN, STRATA_BUILD, STRATA_SEED, CHROMIUM)
// It proves: the page loads without console errors; a query typed with
// autocomplete draws a chart whose series and last values are those of
// /api/v1/query_range; the table matches /api/v1/query; a bad query shows
// Prometheus' error and its position; the explore and cardinality views
// list what the API returns; the storage view's figures are those of
// `strata inspect --json`; the assets' types, caching, gzip and auth.
// Screenshots of each view go to $STRATA_BUILD/ui-screenshots/. It
// prints the time from Enter to the chart drawn for 100 and 1,000 series
// over a day at a 60 s step. Waits are on DOM states and responses, never
// on sleeps.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'ui/package.json'));
const { chromium } = require('playwright-core');

const BIN = path.resolve(process.env.STRATA_BIN || path.join(root, 'build/strata'));
const BUILD = path.resolve(process.env.STRATA_BUILD || path.join(root, 'build'));
const SHOTS = path.join(BUILD, 'ui-screenshots');
const SEED = Number(process.env.STRATA_SEED || 20240101);
const CHROME = process.env.CHROMIUM || '/usr/bin/chromium';
console.log(`ui_browser: seed ${SEED} (STRATA_SEED), binary ${BIN}`);

const END_S = 1704153600; // 2024-01-02T00:00:00Z
const DAY_S = 86400;
const STEP_S = 60;
const N_HOSTS = 1000;

let failures = 0;
function check(cond, what, detail) {
  if (cond) console.log(`  ok   ${what}`);
  else {
    failures++;
    console.log(`  FAIL ${what}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
  }
}

// mulberry32: the data from the seed alone
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
    s.on('error', rej);
  });
}

function request(port, method, p, { body, headers } = {}) {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: headers || {} }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', rej);
    if (body) req.write(body);
    req.end();
  });
}

async function apiJSON(port, p, params) {
  const qs = new URLSearchParams(params || {}).toString();
  const r = await request(port, 'GET', qs ? `${p}?${qs}` : p);
  return { status: r.status, json: r.body.length ? JSON.parse(r.body.toString()) : null };
}

// servers still running when the test ends (a failure) are stopped with it
const running = new Set();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

class Server {
  constructor(dir, extra = []) {
    this.dir = dir;
    this.extra = extra;
  }

  async start() {
    this.port = await freePort();
    this.log = fs.openSync(`${this.dir}.log`, 'a');
    this.p = spawn(BIN, ['serve', '-d', this.dir, '--listen', `127.0.0.1:${this.port}`, ...this.extra], { stdio: ['ignore', this.log, this.log] });
    running.add(this.p);
    this.exited = new Promise((res) => this.p.on('exit', (code, sig) => {
      running.delete(this.p);
      res({ code, sig });
    }));
    // ready when /health answers: polled, the server being another process
    const deadline = Date.now() + 30000;
    for (;;) {
      if (this.p.exitCode !== null) throw new Error(`strata serve exited, see ${this.dir}.log`);
      try {
        const r = await request(this.port, 'GET', '/health');
        if (r.status === 200) return this;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error('strata serve not ready in 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop() {
    if (this.p.exitCode === null) this.p.kill('SIGTERM');
    const r = await this.exited;
    fs.closeSync(this.log);
    return r;
  }
}

// A day of demo_cpu for N_HOSTS hosts every 60 s (a random walk per host),
// and a few counters, imported as JSON lines in batches.
async function load(srv) {
  const rand = rng(SEED);
  const ts = [];
  for (let t = END_S - DAY_S; t <= END_S; t += STEP_S) ts.push(t * 1000);
  let lines = [];
  let samples = 0;
  const flush = async () => {
    if (!lines.length) return;
    const r = await request(srv.port, 'POST', '/api/v1/import', { body: lines.join('\n') + '\n' });
    if (r.status >= 300) throw new Error(`import: ${r.status} ${r.body}`);
    lines = [];
  };
  for (let i = 0; i < N_HOSTS; i++) {
    let v = 20 + rand() * 60;
    const values = ts.map(() => {
      v = Math.min(100, Math.max(0, v + (rand() - 0.5) * 4));
      return Math.round(v * 100) / 100;
    });
    const host = `h${String(i).padStart(3, '0')}`;
    lines.push(JSON.stringify({ metric: { __name__: 'demo_cpu', host, region: ['eu', 'us', 'ap'][i % 3] }, values, timestamps: ts }));
    samples += values.length;
    if (lines.length === 50) await flush();
  }
  for (const code of ['200', '404', '500']) {
    for (const path of ['/api', '/ui']) {
      let c = 0;
      const values = ts.map(() => (c += Math.floor(rand() * (code === '200' ? 100 : 5))));
      lines.push(JSON.stringify({ metric: { __name__: 'demo_http_requests_total', code, path }, values, timestamps: ts }));
      samples += values.length;
    }
  }
  // buckets that are not monotonic: histogram_quantile answers with a warning
  for (const [le, v] of [['0.1', 10], ['0.5', 5], ['+Inf', 20]]) {
    lines.push(JSON.stringify({ metric: { __name__: 'demo_latency_bucket', le }, values: ts.map(() => v), timestamps: ts }));
    samples += ts.length;
  }
  await flush();
  return samples;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-ui-'));
  const dir = path.join(tmp, 'db');
  let srv = await new Server(dir).start();
  const t0 = Date.now();
  const samples = await load(srv);
  for (const p of ['/internal/force_flush', '/internal/force_merge']) {
    const r = await request(srv.port, 'POST', p);
    if (r.status !== 200) throw new Error(`${p}: ${r.status}`);
  }
  console.log(`ui_browser: ${samples} samples imported, flushed and merged in ${Date.now() - t0} ms`);
  // inspect needs the database closed: stop, inspect, serve again
  const ex = await srv.stop();
  check(ex.code === 0, 'strata serve stops cleanly', ex);
  const inspect = JSON.parse(execFileSync(BIN, ['inspect', '-d', dir, '--json']).toString());
  srv = await new Server(dir).start();
  const port = srv.port;
  const base = `http://127.0.0.1:${port}`;

  // which endpoints of the clients issue this server has (404 until they land)
  const present = {};
  for (const p of ['/api/v1/status/tsdb', '/api/v1/metadata', '/api/v1/status/buildinfo', '/api/v1/status/runtimeinfo', '/api/v1/status/flags']) {
    present[p] = (await request(port, 'GET', p)).status !== 404;
  }
  console.log(`ui_browser: status endpoints present: ${JSON.stringify(present)}`);

  const browser = await chromium.launch({ executablePath: CHROME, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const figures = {};
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    const consoleErrors = [];
    let badQueryRunning = false;
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const url = (m.location() && m.location().url) || '';
      // the browser logs a failed request: a 404 of an endpoint this server
      // does not have yet, and the 400 of the bad query below, are expected
      const missing = Object.keys(present).some((p) => !present[p] && url.includes(p));
      const bad400 = badQueryRunning && / 400 /.test(m.text()) && url.includes('/api/v1/query');
      if (!missing && !bad400) consoleErrors.push(`${m.text()} ${url}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

    // ---- query: load, autocomplete, graph
    console.log('query view');
    const end = new Date(END_S * 1000).toISOString().replace('.000Z', 'Z');
    await page.goto(`${base}/#/query?range=1d&end=${end}&step=60s`);
    await page.waitForSelector('[data-testid=expr]');
    const editor = page.locator('[data-testid=expr]');
    await editor.click();
    await page.keyboard.type('demo_c');
    const option = page.locator('.cm-tooltip-autocomplete li', { hasText: 'demo_cpu' }).first();
    await option.waitFor();
    check(true, 'autocomplete offers demo_cpu from the API');
    await option.click();
    await page.keyboard.type('{host=~"h0.."');
    await page.keyboard.press('Escape');
    const expr100 = await page.evaluate(() => document.querySelector('.cm-content').innerText.trim());
    check(expr100 === 'demo_cpu{host=~"h0.."}', 'the editor holds the completed query', expr100);
    const hl = await page.locator('.cm-content span').count();
    check(hl > 0, 'the query is highlighted (styled tokens)', hl);

    async function runAndWait(press) {
      const before = await page.evaluate(() => (window.__lastRun ? window.__lastRun.id : 0));
      await press();
      await page.waitForFunction((b) => window.__lastRun && window.__lastRun.id > b, before, { timeout: 120000 });
      return page.evaluate(() => window.__lastRun);
    }
    const enter = () => page.keyboard.press('Enter');
    const run100 = await runAndWait(enter);
    const api100 = await apiJSON(port, '/api/v1/query_range', { query: 'demo_cpu{host=~"h0.."}', start: END_S - DAY_S, end: END_S, step: STEP_S });
    const res100 = api100.json.data.result;
    check(run100.series === res100.length && res100.length === 100, 'graph: series count is query_range\'s (100)', [run100.series, res100.length]);
    const legend = await page.locator('[data-testid=legend-item]').count();
    check(legend === 100, 'graph: the legend lists every series', legend);
    await page.waitForSelector('[data-testid=chart] canvas');
    const chartLast = await page.evaluate(() => window.__strataChart);
    const apiLast = Object.fromEntries(res100.map((s) => [s.metric.host, parseFloat(s.values[s.values.length - 1][1])]));
    const mism = chartLast.series.filter((s) => apiLast[s.metric.host] !== s.last);
    check(chartLast.series.length === 100 && mism.length === 0, 'graph: the last value of every series is query_range\'s', mism.slice(0, 3));
    check(chartLast.points === (DAY_S / STEP_S) + 1, 'graph: a day at 60 s step is 1441 points', chartLast.points);
    await page.locator('[data-testid=legend-item]').nth(3).click();
    const shown = await page.evaluate(() => window.__strataChart.shown());
    check(shown === 1, 'legend: a click shows only that series', shown);
    await page.locator('[data-testid=legend-item]').nth(3).click();
    check(await page.evaluate(() => window.__strataChart.shown()) === 100, 'legend: a second click shows them all');
    await page.locator('[data-testid=legend-item]').nth(5).hover();
    check(await page.evaluate(() => window.__strataChart.focused()) === 5, 'legend: hover highlights the series');
    const box = await page.locator('[data-testid=chart] .u-over').boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.mouse.move(box.x + box.width * 0.5 + 2, box.y + box.height * 0.5);
    const tipShown = await page.waitForFunction(() => document.querySelector('.tooltip').style.display === 'block', null, { timeout: 5000 }).then(() => true, () => false);
    const tipText = tipShown ? await page.locator('.tooltip').textContent() : '';
    check(tipShown && /demo_cpu/.test(tipText), 'hover: a tooltip gives the value of the series under the cursor', tipText);
    await page.screenshot({ path: path.join(SHOTS, 'query-graph.png') });
    check(new URL(page.url()).hash.includes('expr=demo_cpu'), 'the URL holds the query', page.url());

    // the server's warnings are shown
    await page.goto(`${base}/#/query?range=1h&end=${end}&expr=${encodeURIComponent('histogram_quantile(0.5, demo_latency_bucket)')}`);
    await page.waitForSelector('[data-testid=warnings]:visible', { timeout: 60000 });
    const warnText = await page.locator('[data-testid=warnings]').textContent();
    const apiWarn = await apiJSON(port, '/api/v1/query_range', { query: 'histogram_quantile(0.5, demo_latency_bucket)', start: END_S - 3600, end: END_S, step: 15 });
    check((apiWarn.json.warnings || []).length > 0 && warnText.includes(apiWarn.json.warnings[0]), 'warnings: the query\'s warning is shown', [warnText, apiWarn.json.warnings]);

    // absolute start and end times: the range between them, at the step typed
    const start6h = new Date((END_S - 6 * 3600) * 1000).toISOString().replace('.000Z', 'Z');
    await page.goto(`${base}/#/query?start=${start6h}&end=${end}&step=60s&expr=${encodeURIComponent('demo_cpu{host="h001"}')}`);
    await page.waitForFunction(() => window.__strataChart && window.__strataChart.points === 361 && window.__strataChart.series.length === 1, null, { timeout: 60000 });
    const abs = await apiJSON(port, '/api/v1/query_range', { query: 'demo_cpu{host="h001"}', start: END_S - 6 * 3600, end: END_S, step: STEP_S });
    const absVals = abs.json.data.result[0].values;
    const absLast = await page.evaluate(() => window.__strataChart.series[0].last);
    check(absVals.length === 361 && absLast === parseFloat(absVals[absVals.length - 1][1]), 'start and end: six hours at 60 s, query_range\'s last value', [absVals.length, absLast]);
    const startShown = await page.locator('[data-testid=start]').inputValue();
    const rangeOff = await page.locator('[data-testid=range]').isDisabled();
    const statsText = await page.locator('[data-testid=stats]').textContent();
    check(startShown === start6h && rangeOff && /step 1m, 361 points/.test(statsText), 'start: shown, the range preset set aside, the step in the figures', [startShown, rangeOff, statsText]);

    // the README's picture (docs/ui.png is a copy of it): ten series over six hours
    await page.setViewportSize({ width: 1100, height: 560 });
    await page.goto(`${base}/#/query?range=6h&end=${end}&expr=${encodeURIComponent('demo_cpu{host=~"h00."}')}`);
    await page.waitForFunction(() => window.__lastRun && window.__lastRun.series === 10, null, { timeout: 120000 });
    await page.screenshot({ path: path.join(SHOTS, 'readme.png') });
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(`${base}/#/query?range=1d&end=${end}&step=60s`);
    await page.waitForSelector('[data-testid=expr]');

    // timings: Enter to chart drawn, 100 and 1,000 series (median of 3)
    async function timeQuery(expr) {
      await editor.click();
      await page.keyboard.press('Control+a');
      await page.keyboard.type(expr);
      await page.keyboard.press('Escape');
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await runAndWait(enter));
      runs.sort((a, b) => a.drawMs - b.drawMs);
      const mid = runs[1];
      // the median run: Enter to chart drawn, and how much of it was the answer's arrival and parse
      return { series: mid.series, samples: mid.samples, medianMs: mid.drawMs, answerMs: mid.answerMs, headMs: mid.headMs, bodyMs: mid.bodyMs, alignedMs: mid.alignedMs, all: runs.map((r) => r.drawMs) };
    }
    figures.s100 = await timeQuery('demo_cpu{host=~"h0.."}');
    figures.s1000 = await timeQuery('demo_cpu');
    check(figures.s1000.series === 1000, 'graph: 1,000 series drawn', figures.s1000.series);
    await page.screenshot({ path: path.join(SHOTS, 'query-graph-1000.png') });
    await page.locator('[data-testid=stack]').check();
    await page.waitForFunction(() => location.hash.includes('stack=1'));
    const stacked = await runAndWait(enter);
    check(stacked.series === 1000, 'stacked mode draws', stacked.series);
    await page.locator('[data-testid=stack]').uncheck();

    // reload from the URL: the same view
    await page.reload();
    await page.waitForFunction(() => window.__lastRun && window.__lastRun.series === 1000, null, { timeout: 120000 });
    check(true, 'a reload from the URL runs the same query');

    // ---- table mode
    const tRun = await runAndWait(() => page.locator('[data-testid=mode-table]').click());
    const inst = await apiJSON(port, '/api/v1/query', { query: 'demo_cpu', time: END_S.toFixed(3) });
    const rows = await page.locator('[data-testid=row]').count();
    check(tRun.series === inst.json.data.result.length && rows === 1000, 'table: rows are /api/v1/query\'s', [rows, inst.json.data.result.length]);
    const uiVals = await page.evaluate(() => [...document.querySelectorAll('[data-testid=row]')].map((r) => [r.children[0].textContent, r.children[1].textContent]));
    const apiVals = new Map(inst.json.data.result.map((s) => [`demo_cpu{host=${JSON.stringify(s.metric.host)}, region=${JSON.stringify(s.metric.region)}}`, s.value[1]]));
    const badRows = uiVals.filter(([l, v]) => apiVals.get(l) !== v);
    check(badRows.length === 0, 'table: every value is /api/v1/query\'s', badRows.slice(0, 3));
    await page.screenshot({ path: path.join(SHOTS, 'query-table.png') });

    // ---- a bad query: Prometheus' error and its position
    const bad = 'sum(rate(demo_cpu[5m])';
    await editor.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.type('sum(rate(demo_cpu[5m]');
    await page.keyboard.press('Escape');
    const typed = await page.evaluate(() => document.querySelector('.cm-content').innerText.trim());
    // closeBrackets may have added the closing parentheses: make it exactly the bad query
    if (typed !== bad) {
      await page.keyboard.press('Control+a');
      await page.keyboard.insertText(bad);
    }
    badQueryRunning = true;
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=error]:visible');
    badQueryRunning = false;
    const apiErr = (await apiJSON(port, '/api/v1/query', { query: bad, time: END_S })).json.error;
    const uiErr = await page.locator('[data-testid=error] .error-msg').textContent();
    check(uiErr === apiErr, 'a bad query shows the server\'s error', [uiErr, apiErr]);
    const posText = await page.locator('[data-testid=error-pos]').textContent();
    const m = /^(\d+):(\d+):/.exec(apiErr);
    check(m && posText.includes(`line ${m[1]}, column ${m[2]}`), 'the error shows its position', posText);
    check(await page.locator('.cm-query-error').count() === 1, 'the editor marks the position');
    await page.screenshot({ path: path.join(SHOTS, 'query-error.png') });

    // ---- explore
    console.log('explore view');
    await page.goto(`${base}/#/explore`);
    await page.waitForSelector('[data-testid=metrics-table][data-loaded]');
    const names = (await apiJSON(port, '/api/v1/label/__name__/values')).json.data;
    const uiNames = await page.locator('[data-testid=metric-row]').evaluateAll((els) => els.map((e) => e.dataset.metric));
    check(JSON.stringify(uiNames) === JSON.stringify(names), 'explore: the metric names are /api/v1/label/__name__/values', uiNames);
    if (present['/api/v1/status/tsdb']) {
      const cnt = await page.locator('[data-metric=demo_cpu] td.num').textContent();
      check(cnt.replace(/,/g, '') === '1000', 'explore: series count of demo_cpu from status/tsdb', cnt);
    } else {
      check(await page.locator('[data-testid=not-available]').count() >= 1, 'explore: says what this server lacks (status/tsdb, metadata)');
    }
    if (present['/api/v1/metadata']) {
      const md = (await apiJSON(port, '/api/v1/metadata')).json.data;
      const want = md.demo_cpu && md.demo_cpu[0] ? md.demo_cpu[0].type : '';
      const got = await page.locator('[data-metric=demo_cpu] td').nth(1).textContent();
      check(got === want, 'explore: type of demo_cpu is /api/v1/metadata\'s', [got, want]);
    }
    await page.locator('[data-metric=demo_cpu] a').click();
    await page.waitForSelector('[data-testid=series-result][data-count]');
    const nSeries = await page.locator('[data-testid=series-result]').getAttribute('data-count');
    const apiSeries = (await apiJSON(port, '/api/v1/series', { 'match[]': 'demo_cpu' })).json.data.length;
    check(Number(nSeries) === apiSeries, 'series browser: demo_cpu series are /api/v1/series\'s', [nSeries, apiSeries]);
    await page.locator('[data-testid=add-filter]').click();
    await page.locator('[data-testid=filter-name]').fill('region');
    await page.locator('[data-testid=filter-value]').fill('eu');
    await page.locator('[data-testid=filter-value]').dispatchEvent('change');
    await page.locator('[data-testid=filter-name]').dispatchEvent('change');
    await page.locator('[data-testid=series-apply]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=selector]').textContent.includes('region'));
    await page.waitForSelector('[data-testid=series-result][data-count]');
    const euUi = Number(await page.locator('[data-testid=series-result]').getAttribute('data-count'));
    const euApi = (await apiJSON(port, '/api/v1/series', { 'match[]': 'demo_cpu{region="eu"}' })).json.data.length;
    check(euUi === euApi && euApi === 334, 'series browser: a label filter gives /api/v1/series\' answer', [euUi, euApi]);
    await page.screenshot({ path: path.join(SHOTS, 'explore.png') });

    // ---- cardinality
    console.log('cardinality view');
    await page.goto(`${base}/#/cardinality?limit=5`);
    await page.waitForSelector('[data-testid=cardinality][data-state]');
    const state = await page.locator('[data-testid=cardinality]').getAttribute('data-state');
    if (present['/api/v1/status/tsdb']) {
      const tsdb = (await apiJSON(port, '/api/v1/status/tsdb', { limit: 5 })).json.data;
      for (const key of ['seriesCountByMetricName', 'labelValueCountByLabelName', 'seriesCountByLabelValuePair']) {
        const ui = await page.locator(`[data-testid=${key}] tbody tr`).evaluateAll((els) => els.map((e) => [e.children[0].textContent, e.children[1].textContent.replace(/,/g, '')]));
        const want = (tsdb[key] || []).map((e) => [e.name, String(e.value)]);
        check(JSON.stringify(ui) === JSON.stringify(want), `cardinality: ${key} is status/tsdb's`, [ui, want]);
      }
    } else {
      check(state === 'missing', 'cardinality: "not available on this server" for a 404', state);
    }
    await page.screenshot({ path: path.join(SHOTS, 'cardinality.png') });

    // ---- storage
    console.log('storage view');
    await page.goto(`${base}/#/storage`);
    await page.waitForSelector('[data-testid=storage-figures][data-loaded]');
    for (const key of ['series', 'partitions', 'table_files', 'table_bytes', 'table_samples', 'bytes_per_sample', 'tombstones']) {
      const raw = await page.locator(`.fig[data-key=${key}]`).getAttribute('data-raw');
      check(raw === String(inspect[key]), `storage: ${key} is strata inspect --json's`, [raw, inspect[key]]);
    }
    // compactions running: a live count (none in a closed database, inspect's)
    const running = await page.locator('.fig[data-key=compactions_running]').getAttribute('data-raw');
    check(/^\d+$/.test(running || '') && inspect.compactions_running === 0, 'storage: compactions running shown (inspect --json: 0 on a closed database)', [running, inspect.compactions_running]);
    const lvRows = await page.locator('[data-testid=level-row]').count();
    const lvWant = inspect.levels.filter((l) => l.files || l.bytes_written).length;
    check(lvRows === lvWant, 'storage: the levels are inspect\'s', [lvRows, lvWant]);
    const fileNos = await page.locator('[data-testid=file-row]').evaluateAll((els) => els.map((e) => Number(e.dataset.file)));
    check(JSON.stringify(fileNos) === JSON.stringify(inspect.files.map((f) => f.file)), 'storage: the files are inspect\'s', [fileNos, inspect.files.map((f) => f.file)]);
    await page.waitForSelector('[data-testid=storage-chart] canvas');
    await page.screenshot({ path: path.join(SHOTS, 'storage.png'), fullPage: true });

    // ---- status
    console.log('status view');
    await page.goto(`${base}/#/status`);
    await page.waitForSelector('[data-testid=endpoints]');
    for (const id of ['buildinfo', 'runtimeinfo', 'flags']) {
      const p = `/api/v1/status/${id}`;
      await page.waitForFunction((i) => !document.querySelector(`[data-testid=status-${i}]`).textContent.includes('loading'), id);
      if (present[p]) check(await page.locator(`[data-testid=${id}-table]`).count() === 1, `status: ${id} shown`);
      else check(await page.locator(`[data-testid=status-${id}] [data-testid=not-available]`).count() === 1, `status: ${id} "not available on this server"`);
    }
    await page.screenshot({ path: path.join(SHOTS, 'status.png') });
    check(consoleErrors.length === 0, 'no console errors in any view', consoleErrors);
    await ctx.close();
  } finally {
    await browser.close();
  }

  // ---- serving: types, caching, gzip, 304
  console.log('assets');
  const idx = await request(port, 'GET', '/', { headers: { 'Accept-Encoding': 'gzip' } });
  check(idx.status === 200 && idx.headers['content-type'].startsWith('text/html') && idx.headers['cache-control'] === 'no-cache', 'index.html: text/html, no-cache', idx.headers);
  const html = idx.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(idx.body).toString() : idx.body.toString();
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)[1];
  const jsr = await request(port, 'GET', js, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
  check(jsr.status === 200 && jsr.headers['content-encoding'] === 'gzip' && /javascript/.test(jsr.headers['content-type'])
    && /immutable/.test(jsr.headers['cache-control']) && jsr.headers.vary === 'Accept-Encoding', 'script: gzip, javascript, immutable', jsr.headers);
  const plain = await request(port, 'GET', js);
  check(!plain.headers['content-encoding'] && zlib.gunzipSync(jsr.body).equals(plain.body), 'script: identity for a client without gzip, same bytes');
  const again = await request(port, 'GET', js, { headers: { 'If-None-Match': jsr.headers.etag } });
  check(again.status === 304 && again.body.length === 0, 'ETag: 304 when unchanged', again.status);
  figures.bundleGzip = jsr.body.length;
  figures.bundleRaw = plain.body.length;
  const cssPath = /href="(\/assets\/[^"]+\.css)"/.exec(html)[1];
  const cssr = await request(port, 'GET', cssPath, { headers: { 'Accept-Encoding': 'gzip' } });
  figures.cssGzip = cssr.body.length;
  check(/text\/css/.test(cssr.headers['content-type']), 'style: text/css');
  check((await request(port, 'GET', '/assets/nope.js')).status === 404, 'an unknown asset is 404');
  const ex2 = await srv.stop();
  check(ex2.code === 0, 'strata serve stops cleanly', ex2);

  // ---- auth applies to the UI as to the API
  const adir = path.join(tmp, 'auth');
  const asrv = await new Server(adir, ['--basic-auth', 'ui:secret']).start();
  const noauth = await request(asrv.port, 'GET', '/');
  const withauth = await request(asrv.port, 'GET', '/', { headers: { Authorization: `Basic ${Buffer.from('ui:secret').toString('base64')}` } });
  check(noauth.status === 401 && withauth.status === 200, 'auth: the UI needs the server\'s credentials', [noauth.status, withauth.status]);
  // the browser sends basic auth with the page and the API calls
  const ab = await chromium.launch({ executablePath: CHROME, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const bctx = await ab.newContext({ httpCredentials: { username: 'ui', password: 'secret' } });
    const bpage = await bctx.newPage();
    await bpage.goto(`http://127.0.0.1:${asrv.port}/#/query?mode=table&expr=vector(7)`);
    await bpage.waitForFunction(() => window.__lastRun && window.__lastRun.mode === 'table', null, { timeout: 60000 });
    const bval = await bpage.locator('[data-testid=row] td.value').first().textContent();
    check(bval === '7', 'auth: with basic auth the browser opens the UI and runs a query', bval);
    await bctx.close();
    await asrv.stop();

    // a bearer token: the page loads without it (a browser cannot send one),
    // the API does not; the UI asks for the token and sends it
    const tsrv = await new Server(path.join(tmp, 'token'), ['--auth-token', 'tok-3x']).start();
    const tpage = await request(tsrv.port, 'GET', '/');
    const tapi = await request(tsrv.port, 'GET', '/api/v1/labels');
    const tapiOk = await request(tsrv.port, 'GET', '/api/v1/labels', { headers: { Authorization: 'Bearer tok-3x' } });
    check(tpage.status === 200 && tapi.status === 401 && tapiOk.status === 200, 'auth: with --auth-token the page loads, the API wants the token', [tpage.status, tapi.status, tapiOk.status]);
    const tctx = await ab.newContext();
    const tp = await tctx.newPage();
    await tp.goto(`http://127.0.0.1:${tsrv.port}/#/query?mode=table&expr=vector(7)`);
    await tp.waitForSelector('[data-testid=login]');
    check(true, 'auth: the UI asks for the token when the API answers 401');
    await tp.fill('[data-testid=login-token]', 'tok-3x');
    await Promise.all([tp.waitForEvent('load'), tp.click('[data-testid=login-submit]')]);
    await tp.waitForFunction(() => window.__lastRun && window.__lastRun.mode === 'table', null, { timeout: 60000 });
    const tval = await tp.locator('[data-testid=row] td.value').first().textContent();
    const stored = await tp.evaluate(() => sessionStorage.getItem('strata.token'));
    const asked = await tp.locator('[data-testid=login]').count();
    check(tval === '7' && stored === 'tok-3x' && asked === 0, 'auth: with the token (sessionStorage) the query runs', [tval, stored, asked]);
    await tctx.close();
    await tsrv.stop();
  } finally {
    await ab.close();
  }

  const gz = figures.bundleGzip + figures.cssGzip;
  const fig = (f) => `${f.medianMs.toFixed(0)} ms (median of ${f.all.map((x) => x.toFixed(0)).join('/')}; in it, `
    + `response headers ${f.headMs.toFixed(0)} ms, body ${f.bodyMs.toFixed(0)} ms, answer parsed ${f.answerMs.toFixed(0)} ms, `
    + `aligned ${f.alignedMs.toFixed(0)} ms)`;
  console.log(`ui_browser: Enter to chart drawn, a day at 60 s step: 100 series ${fig(figures.s100)}; 1000 series ${fig(figures.s1000)}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`ui_browser: bundle ${figures.bundleRaw} bytes of script, ${gz} bytes gzipped with the style`);
  console.log(`ui_browser: screenshots in ${SHOTS}`);
  fs.writeFileSync(path.join(BUILD, 'ui-figures.json'), JSON.stringify(figures, null, 1));
  fs.rmSync(tmp, { recursive: true, force: true });
  if (failures) {
    console.log(`ui_browser: ${failures} check(s) failed (seed ${SEED})`);
    process.exit(1);
  }
  console.log('ui_browser: all checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
