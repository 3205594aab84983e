// matrix_test.mjs: ui/src/matrix.js, the reader of range answers, against
// JSON.parse: the same series, labels, times and values (bit for bit,
// -0 and NaN included) for answers whole and cut in chunks of every size,
// and null (the caller's JSON.parse) for anything not in strata's layout.
// Run by `make test-ui`: node tests/ui/matrix_test.mjs (STRATA_SEED).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { readMatrix, MatrixReader, toColumns } = await import(pathToFileURL(path.join(here, '../../ui/src/matrix.js')));

const SEED = Number(process.env.STRATA_SEED || 20240101);
console.log(`matrix_test: seed ${SEED} (STRATA_SEED)`);
let failures = 0;
function check(cond, what, detail) {
  if (cond) console.log(`  ok   ${what}`);
  else {
    failures++;
    console.log(`  FAIL ${what}${detail !== undefined ? `: ${JSON.stringify(detail)}` : ''}`);
  }
}
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

// the reference: JSON.parse, then the same columns
function expected(text) {
  const j = JSON.parse(text);
  return { result: toColumns(j.data.result), warnings: j.warnings };
}
function differs(got, text) {
  if (!got) return 'null';
  const want = expected(text);
  if (got.data.resultType !== 'matrix' || got.data.result.length !== want.result.length) return 'series count';
  for (let k = 0; k < want.result.length; k++) {
    const p = got.data.result[k];
    const q = want.result[k];
    if (JSON.stringify(p.metric) !== JSON.stringify(q.metric)) return `metric of series ${k}`;
    if (p.ts.length !== q.ts.length) return `points of series ${k}`;
    for (let i = 0; i < q.ts.length; i++) {
      if (!Object.is(p.ts[i], q.ts[i]) || !Object.is(p.vs[i], q.vs[i])) return `series ${k} point ${i}: ${p.ts[i]} ${p.vs[i]}, want ${q.ts[i]} ${q.vs[i]}`;
    }
  }
  return JSON.stringify(got.warnings) === JSON.stringify(want.warnings) ? '' : 'warnings';
}
function chunked(bytes, size, readEvery) {
  const r = new MatrixReader(readEvery);
  for (let o = 0; o < bytes.length; o += size) r.feed(bytes.subarray(o, o + size));
  return r.end();
}
const enc = (s) => new TextEncoder().encode(s);

// values as strata and Prometheus write them, and the ones the fast path leaves to parseFloat
const rand = rng(SEED);
const special = ['NaN', '+Inf', '-Inf', '-0', '0', '1e+21', '1.5e-07', '-2.5e-300', '123456789012345678', '0.30000000000000004',
  '9007199254740993', '0.1', '100', '-12.5', '4.9e-324', '1.7976931348623157e+308', '999999999999999', '0.000001'];
function value() {
  const r = rand();
  if (r < 0.2) return special[Math.floor(rand() * special.length)];
  if (r < 0.6) return String(Math.round((rand() - 0.3) * 1e6) / 100);
  if (r < 0.8) return String((rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20));
  return String(Math.floor(rand() * 1e9));
}
function answer(nSeries, nPoints, warnings) {
  const series = [];
  for (let k = 0; k < nSeries; k++) {
    const metric = { __name__: 'm', host: `h${k}`, odd: k % 3 ? 'plain' : 'q"u]o}t,e\\ é\n' };
    const t0 = 1704067200 + Math.floor(rand() * 100);
    const values = [];
    const n = k % 5 === 4 ? 0 : nPoints;
    for (let i = 0; i < n; i++) values.push(`[${t0 + i * 15 + (i % 4 ? 0 : 0.5)},"${value()}"]`);
    series.push(`{"metric":${JSON.stringify(metric)},"values":[${values.join(',')}]}`);
  }
  const w = warnings ? `,"warnings":${JSON.stringify(warnings)}` : '';
  return `{"status":"success","data":{"resultType":"matrix","result":[${series.join(',')}]}${w}}\n`;
}

const texts = [
  ['empty result', '{"status":"success","data":{"resultType":"matrix","result":[]}}\n'],
  ['one series, no points', '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]}]}}'],
  ['random, warnings', answer(12, 40, ['w1', 'a "quoted" warning'])],
  ['random, bigger', answer(60, 300)],
];
for (const [name, text] of texts) {
  const bytes = enc(text);
  check(differs(readMatrix(bytes), text) === '', `${name}: read whole`, differs(readMatrix(bytes), text));
  let bad = '';
  for (const size of [1, 2, 3, 7, 64, 1000, 65536]) {
    for (const every of [1, 100, 1 << 20]) {
      if (size === 1 && bytes.length > 5000 && every === 1) continue; // quadratic, and covered by the small ones
      const d = differs(chunked(bytes, size, every), text);
      if (d && !bad) bad = `chunks of ${size}, read every ${every}: ${d}`;
    }
  }
  check(bad === '', `${name}: read in chunks of every size`, bad);
}

// not the layout: null, so that the caller parses the text
const good = texts[2][1];
const others = [
  ['a vector', '{"status":"success","data":{"resultType":"vector","result":[]}}'],
  ['an error', '{"status":"error","errorType":"bad_data","error":"x"}'],
  ['truncated', good.slice(0, good.length - 30)],
  ['cut in a series', good.slice(0, good.indexOf(']]},') + 1)],
  ['another key order', good.replace('{"metric":', '{"values":[],"metric":')],
  ['a value not quoted', good.replace(/,"([0-9.]+)"\]/, ',$1]')],
  ['garbage after a series', good.replace(']]},{', ']]}x{')],
  ['stats after the result', good.replace(']}', '],"stats":{}}').replace(/\n$/, '')],
];
for (const [name, text] of others) {
  const r = readMatrix(enc(text));
  const c = chunked(enc(text), 5, 1);
  // "stats" in data: read by JSON.parse only (not strata's layout); a
  // reader that took it must still agree with JSON.parse
  let ok = r === null && c === null;
  if (!ok && name === 'stats after the result') ok = differs(r, text) === '' && differs(c, text) === '';
  check(ok, `${name}: null (JSON.parse reads it)`, [r && 'read', c && 'read']);
}

if (failures) {
  console.log(`matrix_test: ${failures} check(s) failed (seed ${SEED})`);
  process.exit(1);
}
console.log('matrix_test: all checks passed');
