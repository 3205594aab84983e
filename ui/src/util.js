// util.js: DOM building, the API client, formatting, the hash router's
// state. Everything the views share.
import { MatrixReader, toColumns } from './matrix.js';
import { authFetch, askToken } from './auth.js';

// h('div.cls#id', {attrs, on: {click}}, ...children)
export function h(tag, attrs, ...kids) {
  const m = tag.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs != null && attrs !== false && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    kids.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && k !== 'list' && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// The result of an API call: {ok, status, data, error, errorType}. A 404
// is "not available on this server" for the views that depend on
// endpoints an older strata lacks. opts: post (the parameters as a form),
// signal (an AbortSignal), matrix (a range query for the chart: a matrix's
// series come as {metric, ts, vs}, see matrix.js).
export async function api(path, params, opts = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v == null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => qs.append(k, x));
    else qs.append(k, String(v));
  }
  const post = opts.post;
  const url = post || !qs.toString() ? path : `${path}?${qs}`;
  let resp;
  try {
    resp = await authFetch(url, post ? {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: qs.toString(),
      signal: opts.signal,
    } : { signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return { ok: false, status: 0, error: `cannot reach the server: ${e.message}` };
  }
  let body = null;
  let text = '';
  const tHead = performance.now();
  let tBody = tHead;
  if (resp.ok && opts.matrix) {
    // a range query's answer read into typed arrays as it arrives
    // (matrix.js), JSON.parse only when it is not in strata's layout
    const rd = new MatrixReader();
    const reader = resp.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rd.feed(value);
    }
    tBody = performance.now();
    body = rd.end();
    if (!body) {
      try {
        body = JSON.parse(new TextDecoder().decode(rd.bytes()));
        if (body && body.data && body.data.resultType === 'matrix') body.data.result = toColumns(body.data.result);
      } catch {
        body = null;
      }
    }
  } else if (resp.ok) {
    // the answer parsed as it arrives, without a copy of it as text
    try {
      body = await resp.json();
    } catch {
      body = null;
    }
  } else {
    text = await resp.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  window.__apiTiming = { head: tHead, body: tBody, parsed: performance.now() };
  if (resp.ok && body && body.status === 'success') return { ok: true, status: resp.status, data: body.data, body };
  if (resp.status === 404) return { ok: false, status: 404, missing: true, error: `${path} is not available on this server` };
  if (resp.status === 401 && /bearer/i.test(resp.headers.get('WWW-Authenticate') || '')) askToken(`${path}: 401`);
  return {
    ok: false,
    status: resp.status,
    errorType: body && body.errorType,
    error: (body && body.error) || text || resp.statusText,
  };
}

export function missingNote(path) {
  return h('div.note.missing', { 'data-testid': 'not-available' },
    `Not available on this server: ${path} answered 404 (this strata build has no such endpoint yet).`);
}

export function fmtNum(v) {
  if (v == null || Number.isNaN(v)) return String(v);
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e15 || a < 1e-4)) return v.toExponential(3);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(6)).toString();
}

export function fmtBytes(n) {
  if (n == null) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${u[i]}`;
}

export function fmtTime(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

// Prometheus duration text (5m, 1h30m, 1d) to milliseconds; null if bad.
export function parseDuration(s) {
  if (!s) return null;
  s = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const re = /(\d+)(ms|y|w|d|h|m|s)/g;
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 };
  let total = 0;
  let pos = 0;
  let m;
  while ((m = re.exec(s))) {
    if (m.index !== pos) return null;
    total += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  return pos === s.length && total > 0 ? total : null;
}

export function fmtDuration(ms) {
  const parts = [];
  for (const [u, n] of [['d', 864e5], ['h', 36e5], ['m', 6e4], ['s', 1e3]]) {
    if (ms >= n) {
      parts.push(Math.floor(ms / n) + u);
      ms %= n;
    }
  }
  if (ms) parts.push(`${ms}ms`);
  return parts.join('') || '0s';
}

// A time as the user typed it: empty or "now" is now; RFC 3339, a date,
// or Unix seconds. Milliseconds, or null if unreadable.
export function parseTime(s) {
  if (!s || s.trim() === '' || s.trim() === 'now') return Date.now();
  s = s.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) || !/T/.test(s) ? s : `${s}Z`);
  return Number.isNaN(t) ? null : t;
}

export function labelsText(metric) {
  const name = metric.__name__ || '';
  const rest = Object.keys(metric).filter((k) => k !== '__name__').sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`);
  return rest.length || !name ? `${name}{${rest.join(', ')}}` : name;
}

// The hash route: #/view?k=v&... as {view, params}.
export function readRoute() {
  const hsh = location.hash.replace(/^#\/?/, '');
  const q = hsh.indexOf('?');
  const view = (q < 0 ? hsh : hsh.slice(0, q)) || 'query';
  const params = new URLSearchParams(q < 0 ? '' : hsh.slice(q + 1));
  return { view, params };
}

export function writeRoute(view, params, push = false) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') qs.set(k, v);
  const s = qs.toString();
  const url = `#/${view}${s ? `?${s}` : ''}`;
  if (url === location.hash) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

export function table(cols, rows, attrs = {}) {
  return h('table.grid', attrs,
    h('thead', h('tr', cols.map((c) => h('th', typeof c === 'string' ? c : c.title)))),
    h('tbody', rows.map((r) => h('tr', r.map((c) => h('td', c))))));
}

// A palette with distinct neighbours for many series.
export function color(i) {
  const hue = (i * 137.508) % 360;
  const light = 42 + ((i * 7) % 3) * 8;
  return `hsl(${hue.toFixed(1)}, 65%, ${light}%)`;
}
