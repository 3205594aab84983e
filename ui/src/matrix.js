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

// {status, data: {resultType: 'matrix', result: [{metric, ts, vs}]}, warnings}
// from the bytes of an answer, or null when they are not in the layout above.
export function readMatrix(b) {
  if (!at(b, 0, PREFIX_B)) return null;
  const dec = new TextDecoder();
  const result = [];
  const num = [0, 0];
  let i = PREFIX_B.length;
  let ts = new Float64Array(1024);
  let vs = new Float64Array(1024);
  if (b[i] === 93) i++; // an empty result
  else {
    for (;;) {
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
          if (n === ts.length) {
            const t2 = new Float64Array(n * 2);
            t2.set(ts);
            ts = t2;
            const v2 = new Float64Array(n * 2);
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
      result.push({ metric, ts: ts.slice(0, n), vs: vs.slice(0, n) });
      if (b[i] !== 125) return null; // }
      i++;
      if (b[i] === 44) i++;
      else if (b[i] === 93) {
        i++;
        break;
      } else return null;
    }
  }
  // what follows the result: "}" closing data, then warnings if any
  if (b[i] !== 125) return null;
  let rest;
  try {
    rest = JSON.parse(`{"_":0${dec.decode(b.subarray(i + 1))}`);
  } catch {
    return null;
  }
  return { status: 'success', data: { resultType: 'matrix', result }, warnings: rest.warnings };
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
