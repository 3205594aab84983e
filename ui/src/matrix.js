// matrix.js: a reader of /api/v1/query_range answers straight from their
// bytes into typed arrays. JSON.parse of a day of 1,000 series (30 MB,
// 1.4 million [t,"v"] pairs) makes an array and a string per point and
// took most of the time from Enter to the chart; this reader makes none:
// each series becomes {metric, ts, vs} with ts (seconds) and vs two
// Float64Arrays, the values' "NaN", "+Inf" and "-Inf" read as numbers.
//
// It reads the layout strata's server writes (h_query.c):
//   {"status":"success","data":{"resultType":"matrix","result":[
//     {"metric":{...},"values":[[<t>,"<v>"],...]},...]}<,"warnings":[...]>}
// and answers null for anything else, so the caller parses the text with
// JSON.parse (another server's layout, an error, a vector): never a wrong
// answer, at worst the slow way.
//
// Numbers: a decimal of at most 15 digits and no exponent is its integer
// mantissa divided by a power of ten of at most 22; both are exact
// doubles, so the one rounding of the division gives the double nearest
// the decimal, which is what parseFloat gives. Any other number (more
// digits, an exponent) goes through parseFloat.

const PREFIX = '{"status":"success","data":{"resultType":"matrix","result":[';
const METRIC = '{"metric":';
const VALUES = ',"values":[';
const POW10 = [];
for (let i = 0, p = 1; i <= 22; i++, p *= 10) POW10.push(p);

function bytesOf(s) {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
const PREFIX_B = bytesOf(PREFIX);
const METRIC_B = bytesOf(METRIC);
const VALUES_B = bytesOf(VALUES);

function at(b, i, lit) {
  if (i + lit.length > b.length) return false;
  for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit[k]) return false;
  return true;
}

// The number at b[i..) ending before the byte stop; [value, next index]
// in out (out[1] < 0: not a number).
function readNum(b, i, stop, out) {
  const start = i;
  let neg = false;
  if (b[i] === 45) { // -
    neg = true;
    i++;
  } else if (b[i] === 43) i++; // +
  let m = 0;
  let digits = 0;
  let frac = 0;
  let dot = false;
  let simple = true;
  for (; i < b.length; i++) {
    const c = b[i];
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      if (dot) frac++;
    } else if (c === 46 && !dot) dot = true;
    else if (c === stop) break;
    else simple = false; // e, E, N, I: the slow way
  }
  if (i >= b.length) {
    out[1] = -1;
    return;
  }
  if (simple && digits > 0 && digits <= 15 && frac <= 22) {
    const v = frac ? m / POW10[frac] : m;
    out[0] = neg ? -v : v;
  } else {
    let s = '';
    for (let k = start; k < i; k++) s += String.fromCharCode(b[k]);
    if (s === 'NaN') out[0] = NaN;
    else if (s === '+Inf') out[0] = Infinity;
    else if (s === '-Inf') out[0] = -Infinity;
    else {
      const v = Number(s);
      if (s === '' || Number.isNaN(v)) {
        out[1] = -1;
        return;
      }
      out[0] = v;
    }
  }
  out[1] = i;
}

// The end (index past the closing brace) of the JSON object at b[i] = '{'.
function objectEnd(b, i) {
  let depth = 0;
  for (; i < b.length; i++) {
    const c = b[i];
    if (c === 34) { // a string: to its closing quote, past escapes
      for (i++; i < b.length && b[i] !== 34; i++) if (b[i] === 92) i++;
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

// One series {metric, ts, vs} at b[i] ('{"metric":...'), and the index past
// it in pos[0]; null when the bytes do not hold a whole series in the
// layout (too few yet, or another layout).
function readSeries(b, i, dec, pos, num) {
  if (!at(b, i, METRIC_B)) return null;
  i += METRIC_B.length;
  const me = objectEnd(b, i);
  if (me < 0) return null;
  let metric;
  try {
    metric = JSON.parse(dec.decode(b.subarray(i, me)));
  } catch {
    return null;
  }
  i = me;
  if (!at(b, i, VALUES_B)) return null;
  i += VALUES_B.length;
  let cap = 1024;
  let ts = new Float64Array(cap);
  let vs = new Float64Array(cap);
  let n = 0;
  if (b[i] === 93) i++;
  else {
    for (;;) {
      if (b[i] !== 91) return null; // [
      readNum(b, i + 1, 44, num); // t ,
      if (num[1] < 0) return null;
      const t = num[0];
      i = num[1] + 1;
      if (b[i] !== 34) return null; // "
      readNum(b, i + 1, 34, num); // v "
      if (num[1] < 0) return null;
      i = num[1] + 1;
      if (b[i] !== 93) return null; // ]
      if (n === cap) {
        cap *= 2;
        const t2 = new Float64Array(cap);
        t2.set(ts);
        ts = t2;
        const v2 = new Float64Array(cap);
        v2.set(vs);
        vs = v2;
      }
      ts[n] = t;
      vs[n] = num[0];
      n++;
      i++;
      if (b[i] === 44) i++; // ,
      else if (b[i] === 93) {
        i++;
        break;
      } else return null;
    }
  }
  if (b[i] !== 125) return null; // }
  pos[0] = i + 1;
  return { metric, ts: ts.slice(0, n), vs: vs.slice(0, n) };
}

// Reads an answer as its bytes arrive: feed() each chunk, then end()
// gives {status, data: {resultType: 'matrix', result: [{metric, ts, vs}]},
// warnings}, or null when the bytes are not in the layout above (then
// bytes() has them all, for JSON.parse). The series are read while the
// rest is on its way; only the bytes not read yet are kept for the
// parser (a part of a series), all of them only for the fallback.
export class MatrixReader {
  // readEvery: bytes gathered before a reading (a megabyte; tests use less)
  constructor(readEvery = 1 << 20) {
    this.readEvery = readEvery;
    this.chunks = [];
    this.work = new Uint8Array(0); // bytes not read yet
    this.stage = 0; // 0 before the result, 1 in it, 2 after it, -1 not the layout
    this.result = [];
    this.dec = new TextDecoder();
    this.pos = [0];
    this.num = [0, 0];
    this.sep = false; // a series was read: a comma or ']' is next
    this.pend = []; // chunks not read yet, after work
    this.pendLen = 0;
  }

  // Chunks are read a megabyte at a time: the browser hands a few kB at
  // once, and each reading copies the part of a series left over from
  // the last one and reads that series again from its start.
  feed(chunk) {
    this.chunks.push(chunk);
    if (this.stage < 0) return;
    this.pend.push(chunk);
    this.pendLen += chunk.length;
    if (this.pendLen >= this.readEvery) this.run();
  }

  run() {
    if (this.stage < 0 || !this.pendLen) return;
    const w = new Uint8Array(this.work.length + this.pendLen);
    w.set(this.work);
    let o = this.work.length;
    for (const c of this.pend) {
      w.set(c, o);
      o += c.length;
    }
    this.pend = [];
    this.pendLen = 0;
    let i = 0;
    if (this.stage === 0) {
      if (w.length < PREFIX_B.length) {
        this.work = w;
        return;
      }
      if (!at(w, 0, PREFIX_B)) {
        this.stage = -1;
        return;
      }
      i = PREFIX_B.length;
      this.stage = 1;
    }
    while (this.stage === 1 && i < w.length) {
      if (this.sep) { // after a series: a comma, or the result's end
        if (w[i] === 44) {
          this.sep = false;
          i++;
          continue;
        }
        if (w[i] !== 93) {
          this.stage = -1;
          return;
        }
      }
      if (w[i] === 93) { // the result's end (or an empty result)
        this.stage = 2;
        i++;
        break;
      }
      const s = readSeries(w, i, this.dec, this.pos, this.num);
      if (!s) break; // the rest of it is on its way (or end() says null)
      this.result.push(s);
      i = this.pos[0];
      this.sep = true;
    }
    this.work = w.subarray(i);
  }

  end() {
    this.run();
    if (this.stage !== 2) return null;
    // what follows the result: "}" closing data, then warnings if any
    const b = this.work;
    if (b[0] !== 125) return null;
    let rest;
    try {
      rest = JSON.parse(`{"_":0${this.dec.decode(b.subarray(1))}`);
    } catch {
      return null;
    }
    return { status: 'success', data: { resultType: 'matrix', result: this.result }, warnings: rest.warnings };
  }

  bytes() {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const all = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    return all;
  }
}

// readMatrix(bytes): the same from the whole answer at once.
export function readMatrix(b) {
  const r = new MatrixReader();
  r.feed(b);
  return r.end();
}

// The same shape from a parsed answer (JSON.parse's, when readMatrix said
// null): values [[t,"v"],...] into ts and vs.
export function toColumns(result) {
  return result.map((s) => {
    const vals = s.values || [];
    const ts = new Float64Array(vals.length);
    const vs = new Float64Array(vals.length);
    vals.forEach(([t, v], i) => {
      ts[i] = +t;
      vs[i] = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : +v;
    });
    return { metric: s.metric, ts, vs };
  });
}
