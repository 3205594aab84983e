"""server_validity.py: NUL bytes, invalid UTF-8 and --max-series on every
endpoint of `strata serve`, on loopback.

- A NUL byte in a label name or value (line protocol, JSON lines, remote
  write) or in a parameter (match[], query, on GET and in form bodies) is
  a 400 and never cuts a string: no two series merge, and a delete_series
  whose selector holds one deletes nothing.
- A label that is not valid UTF-8 is refused with a 400; every JSON answer
  (series, labels, label values, export, query, errors that echo the
  input) decodes as strict UTF-8 and parses as JSON.
- --max-series: every write path (line protocol, import, remote write)
  stores the samples of existing series and of new series while room
  remains, refuses the rest with a 400 naming the counts (never a 5xx,
  which remote-write clients retry forever), counts the refusals in
  /metrics, and creates no series without its samples.
"""
import json
import os
import shutil
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (Server, field_bytes, field_double_bits, field_varint, f2bits, read_request,  # noqa: E402
                         snappy_literal, tmpdir)

T0 = 1700000000000
RW_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
              "X-Prometheus-Remote-Write-Version": "0.1.0"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def strict_json(body, what):
    """Parses a JSON answer as a strict client does: UTF-8 or nothing."""
    try:
        return json.loads(body.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError) as e:
        check(False, "%s: not strict JSON (%s): %r" % (what, e, body[:200]))
        return None


def strict_jsonl(body, what):
    out = []
    for line in body.split(b"\n"):
        if line.strip():
            out.append(strict_json(line, what))
    return out


def rw_body(series):
    """series: [([(name_bytes, value_bytes)], [(t_ms, value)])] -> a snappy WriteRequest."""
    msg = b""
    for labels, samples in series:
        ts = b""
        for n, v in labels:
            ts += field_bytes(1, field_bytes(1, n) + field_bytes(2, v))
        for t, x in samples:
            ts += field_bytes(2, field_double_bits(1, f2bits(x)) + field_varint(2, t))
        msg += field_bytes(1, ts)
    return snappy_literal(msg)


def q(params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def series_of(srv, match):
    st, b, _ = srv.req("GET", "/api/v1/series?" + q([("match[]", match)]))
    check(st == 200, "series %s: %d %r" % (match, st, b[:200]))
    d = strict_json(b, "series")
    return sorted(tuple(sorted(s.items())) for s in d["data"]) if d else []


def metric(srv, name):
    st, b, _ = srv.req("GET", "/metrics")
    for line in b.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_nul_and_utf8(srv):
    # line protocol: a NUL in a tag value, the measurement, a field key
    lp = (b"m,host=a\x00b value=1 1700000000000\n"
          b"m,host=a value=2 1700000000000\n"
          b"m\x00x,host=c value=3 1700000000000\n"
          b"m,host=d f\x00g=4 1700000000000\n"
          b"m,host=\xff\xfe value=5 1700000000000\n")
    st, b, _ = srv.req("POST", "/write?precision=ms", lp)
    check(st == 400, "lp with NUL/invalid UTF-8: want 400, got %d" % st)
    d = strict_json(b, "lp reject body")
    check(d is not None and d.get("rejected_lines") == 4, "lp: 4 lines rejected: %r" % d)
    check(series_of(srv, '{__name__=~"m.*"}') == [(("__name__", "m"), ("host", "a"))],
          "lp: only m{host=a} stored, got %r" % series_of(srv, '{__name__=~"m.*"}'))
    st, b, _ = srv.req("GET", "/api/v1/export?" + q([("match[]", 'm{host="a"}')]))
    rows = strict_jsonl(b, "export m")
    check(len(rows) == 1 and rows[0]["values"] == [2], "lp: m{host=a} holds only its own sample: %r" % rows)

    # JSON lines: \u0000, a raw NUL, raw invalid UTF-8
    imp = (b'{"metric":{"__name__":"j","k":"a\\u0000b"},"values":[1],"timestamps":[1700000000000]}\n'
           b'{"metric":{"__name__":"j","k":"a\x00b"},"values":[1],"timestamps":[1700000000000]}\n'
           b'{"metric":{"__name__":"j","k":"\xc0\xaf"},"values":[1],"timestamps":[1700000000000]}\n'
           b'{"metric":{"__name__":"j","k":"a"},"values":[7],"timestamps":[1700000000000]}\n')
    st, b, _ = srv.req("POST", "/api/v1/import", imp)
    check(st == 400, "import with NUL/invalid UTF-8: want 400, got %d" % st)
    d = strict_json(b, "import reject body")
    check(d is not None and d.get("rejected_lines") == 3, "import: 3 lines rejected: %r" % d)
    check(series_of(srv, "j") == [(("__name__", "j"), ("k", "a"))], "import: only j{k=a}: %r" % series_of(srv, "j"))

    # remote write: a NUL in a value or a name refuses the request (nothing stored)
    for labels in ([(b"__name__", b"r"), (b"k", b"a\x00b")], [(b"__name__", b"r"), (b"k\x00z", b"a")]):
        body = rw_body([([(b"__name__", b"r"), (b"k", b"ok")], [(T0, 1)]), (labels, [(T0, 2)])])
        st, b, _ = srv.req("POST", "/api/v1/write", body, RW_HEADERS)
        check(st == 400, "remote write with NUL: want 400, got %d %r" % (st, b[:200]))
        strict_json(b, "remote write NUL error")
    check(series_of(srv, "r") == [], "remote write NUL: nothing stored: %r" % series_of(srv, "r"))
    # remote write: invalid UTF-8 refuses that series alone
    body = rw_body([([(b"__name__", b"r"), (b"k", b"ok")], [(T0, 1)]),
                    ([(b"__name__", b"r"), (b"k", b"\xed\xa0\x80")], [(T0, 2)])])
    st, b, _ = srv.req("POST", "/api/v1/write", body, RW_HEADERS)
    check(st == 400, "remote write invalid UTF-8: want 400, got %d" % st)
    d = strict_json(b, "remote write UTF-8 error")
    check(d is not None and d.get("refused_series") == 1 and d.get("samples") == 1,
          "remote write invalid UTF-8: 1 refused, 1 stored: %r" % d)
    check(series_of(srv, "r") == [(("__name__", "r"), ("k", "ok"))], "remote write: r{k=ok} only")

    # selectors and parameters with a NUL: 400 everywhere, GET and form body
    srv.req("POST", "/write?precision=ms", b"up,job=a value=1 1700000000000\nup,job=b value=1 1700000000000\n")
    before = series_of(srv, "up")
    check(len(before) == 2, "two up series: %r" % before)
    nul_selectors = ['up\x00{job="a"}', 'up{job="a"}\x00', 'up{job="a\x00"}']
    gets = ["/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values", "/api/v1/export"]
    for sel in nul_selectors:
        for path in gets:
            st, b, _ = srv.req("GET", path + "?" + q([("match[]", sel)]))
            check(st == 400, "GET %s match[]=%r: want 400, got %d" % (path, sel, st))
            strict_json(b, "error of %s" % path)
            st, b, _ = srv.req("POST", path, q([("match[]", sel)]), FORM)
            check(st == 400, "POST form %s match[]=%r: want 400, got %d" % (path, sel, st))
        for method, hdrs, path, body in (("POST", {}, "/api/v1/admin/tsdb/delete_series?" + q([("match[]", sel)]), None),
                                         ("POST", FORM, "/api/v1/admin/tsdb/delete_series", q([("match[]", sel)]))):
            st, b, _ = srv.req(method, path, body, hdrs)
            check(st == 400, "delete_series match[]=%r: want 400, got %d" % (sel, st))
        for path in ("/api/v1/query", "/api/v1/query_range"):
            extra = [("start", "1700000000"), ("end", "1700000060"), ("step", "15")] if "range" in path else [
                ("time", "1700000000")]
            st, b, _ = srv.req("GET", path + "?" + q([("query", sel)] + extra))
            check(st == 400, "GET %s query=%r: want 400, got %d" % (path, sel, st))
            strict_json(b, "error of %s" % path)
    # remote read: a NUL in a matcher is refused (it would match job="")
    for matcher in ((0, "job", "a\x00"), (0, "j\x00ob", "a"), (2, "job", "a\x00.*")):
        body = snappy_literal(read_request([(T0 - 1000, T0 + 1000, [(0, "__name__", "up"), matcher])]))
        st, b, _ = srv.req("POST", "/api/v1/read", body, RW_HEADERS)
        check(st == 400, "remote read matcher %r: want 400, got %d" % (matcher, st))
    body = snappy_literal(read_request([(T0 - 1000, T0 + 1000, [(0, "__name__", "up"), (0, "job", "a")])]))
    st, b, _ = srv.req("POST", "/api/v1/read", body, RW_HEADERS)
    check(st == 200, "remote read without NUL: 200, got %d" % st)
    # PromQL escapes of NUL inside strings: refused too, nothing deleted
    for sel in ['up{job="\\x00"}', 'up{job="\\u0000"}', 'up{job="\\000"}']:
        st, b, _ = srv.req("POST", "/api/v1/admin/tsdb/delete_series?" + q([("match[]", sel)]))
        check(st == 400, "delete_series match[]=%r: want 400, got %d" % (sel, st))
        st, b, _ = srv.req("GET", "/api/v1/series?" + q([("match[]", sel)]))
        check(st == 400, "series match[]=%r: want 400, got %d" % (sel, st))
    check(series_of(srv, "up") == before, "no up series deleted: %r" % series_of(srv, "up"))

    # JSON answers are strict UTF-8 even when they echo invalid bytes
    for path in ("/api/v1/series?match[]=%ff%fe", "/api/v1/query?query=%ff", "/api/v1/query?query=up%7Bjob%3D%22%c0%22%7D",
                 "/api/v1/export?match[]=%ff", "/api/v1/labels?match[]=%c3", "/api/v1/label/job/values?match[]=%e2%82"):
        st, b, _ = srv.req("GET", path)
        check(st == 400, "%s: want 400, got %d" % (path, st))
        strict_json(b, path)
    for path in ("/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D", "/api/v1/labels", "/api/v1/label/k/values",
                 "/api/v1/label/__name__/values", "/api/v1/query?query=m&time=1700000000"):
        st, b, _ = srv.req("GET", path)
        check(st == 200, "%s: 200, got %d" % (path, st))
        strict_json(b, path)
    st, b, _ = srv.req("GET", "/api/v1/export")
    strict_jsonl(b, "export all")


def test_max_series(srv):
    # 3 series allowed; line protocol takes 2 of a 3-field line's series
    st, b, _ = srv.req("POST", "/write?precision=ms", b"cpu,host=a user=1 1700000000000\n")
    check(st == 204, "first series: 204, got %d" % st)
    st, b, _ = srv.req("POST", "/write?precision=ms",
                       b"cpu,host=b user=2,system=3,idle=4 1700000000000\ncpu,host=a user=5 1700000001000\n")
    check(st == 400, "lp over max-series: want 400, got %d %r" % (st, b[:300]))
    d = strict_json(b, "lp max-series body")
    check(d is not None and d.get("samples") == 3 and d.get("rejected_lines") == 1 and
          "max_series" in d.get("error", ""), "lp: 3 samples stored, 1 line reported: %r" % d)
    # remote write: an existing series, a new one beyond the limit
    body = rw_body([([(b"__name__", b"cpu_user"), (b"host", b"a")], [(T0 + 2000, 6), (T0 + 3000, 7)]),
                    ([(b"__name__", b"rw"), (b"k", b"new")], [(T0, 1), (T0 + 1000, 2)])])
    for attempt in range(2):
        st, b, _ = srv.req("POST", "/api/v1/write", body, RW_HEADERS)
        check(st == 400, "remote write over max-series (attempt %d): want 400 (not retried), got %d %r" %
              (attempt, st, b[:300]))
        d = strict_json(b, "remote write max-series body")
        check(d is not None and d.get("samples") == 2 and d.get("refused_series") == 1 and
              d.get("refused_samples") == 2, "remote write: 2 stored, 1 series refused: %r" % d)
    # import: a line of an existing series and one of a new series
    imp = (b'{"metric":{"__name__":"cpu_user","host":"a"},"values":[8],"timestamps":[1700000004000]}\n'
           b'{"metric":{"__name__":"imp","k":"new"},"values":[1,2,3],"timestamps":[1700000000000,1700000001000,1700000002000]}\n')
    st, b, _ = srv.req("POST", "/api/v1/import", imp)
    check(st == 400, "import over max-series: want 400, got %d %r" % (st, b[:300]))
    d = strict_json(b, "import max-series body")
    check(d is not None and d.get("samples") == 1 and d.get("rejected_lines") == 1, "import: 1 stored: %r" % d)
    # what is stored: exactly the three series, each with its samples
    st, b, _ = srv.req("GET", "/api/v1/export")
    rows = strict_jsonl(b, "export")
    got = {tuple(sorted(r["metric"].items())): r["values"] for r in rows}
    want = {(("__name__", "cpu_user"), ("host", "a")): [1, 5, 6, 7, 8],
            (("__name__", "cpu_user"), ("host", "b")): [2],
            (("__name__", "cpu_system"), ("host", "b")): [3]}
    check(got == want, "stored under max-series: %r" % got)
    check(metric(srv, "strata_series") == 3, "index holds 3 series (none empty): %r" % metric(srv, "strata_series"))
    # refusals: lp idle (1 sample), remote write twice (2+2), import (3)
    check(metric(srv, "strata_samples_refused_total") == 8,
          "strata_samples_refused_total: want 8, got %r" % metric(srv, "strata_samples_refused_total"))
    check(metric(srv, "strata_series_refused_total") == 4,
          "strata_series_refused_total: want 4, got %r" % metric(srv, "strata_series_refused_total"))
    check(metric(srv, 'strata_http_errors_total{reason="internal"}') in (None, 0.0), "no internal errors")


def test_form_typed_line_protocol(srv):
    # curl --data-binary sends application/x-www-form-urlencoded: the body
    # is still line protocol, never decoded as a form ('+' kept, '%' kept)
    st, b, _ = srv.req("POST", "/write?precision=ms", b"plus,tag=a%41 value=1e+10 1700000000000\n", FORM)
    check(st == 204, "form-typed line protocol: 204, got %d %r" % (st, b[:200]))
    st, b, _ = srv.req("GET", "/api/v1/export?" + q([("match[]", "plus")]))
    rows = strict_jsonl(b, "export plus")
    check(len(rows) == 1 and rows[0] and rows[0]["metric"].get("tag") == "a%41" and rows[0]["values"] == [1e10],
          "form-typed line protocol stored as written: %r" % rows)


def test_cli(root):
    # strata write / strata import: the same rules through the library
    import subprocess
    from server_util import STRATA
    d = os.path.join(root, "cli")
    lp = b"m,host=a\x00b value=1 1700000000000\nm,host=\xff value=1 1700000000000\nm,host=a value=2 1700000000000\n"
    p = subprocess.run([STRATA, "write", "-d", d, "--precision", "ms", "-"], input=lp, capture_output=True)
    check(p.returncode == 1 and b"line 1: NUL" in p.stderr and b"line 2:" in p.stderr and b"UTF-8" in p.stderr,
          "strata write: lines 1 and 2 refused: rc %d %r" % (p.returncode, p.stderr))
    imp = (b'{"metric":{"__name__":"j","k":"a\\u0000b"},"values":[1],"timestamps":[1700000000000]}\n'
           b'{"metric":{"__name__":"j","k":"\xc3"},"values":[1],"timestamps":[1700000000000]}\n')
    p = subprocess.run([STRATA, "import", "-d", d, "-"], input=imp, capture_output=True)
    check(p.returncode == 1 and b"line 1:" in p.stderr and b"line 2:" in p.stderr,
          "strata import: both lines refused: rc %d %r" % (p.returncode, p.stderr))
    p = subprocess.run([STRATA, "export", "-d", d], capture_output=True)
    rows = strict_jsonl(p.stdout, "strata export")
    check(None not in rows and [r["metric"] for r in rows] == [{"__name__": "m", "host": "a"}] and
          rows[0]["values"] == [2],
          "strata export after refusals: %r" % rows)


def main():
    root = tmpdir()
    try:
        test_cli(root)
        srv = Server(os.path.join(root, "a")).start()
        try:
            test_nul_and_utf8(srv)
            test_form_typed_line_protocol(srv)
        finally:
            srv.stop()
        srv = Server(os.path.join(root, "b"), "--max-series", "3").start()
        try:
            test_max_series(srv)
        finally:
            srv.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
