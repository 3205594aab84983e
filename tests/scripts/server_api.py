"""Every HTTP endpoint of `strata serve` and its error paths: each bad
request gets a 4xx with a reason, the server keeps running, and the data
stored before stays intact (compared through export after every error)."""
import gzip
import json
import os
import shutil
import signal
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (PROTO_HEADERS, STALE_NAN, Server, bits2f, f2bits, parse_read_response, read_request,
                         snappy_decode, snappy_literal, tmpdir, write_request)

T0 = 1700000000  # seconds
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def q(params):
    return urllib.parse.urlencode(params)


def expect_error(st, body, code, what, needle=None):
    check(st == code, "%s: status %s, want %s (%r)" % (what, st, code, body[:200]))
    try:
        d = json.loads(body)
    except ValueError:
        check(False, "%s: body is not JSON: %r" % (what, body[:200]))
        return
    check(d.get("status") == "error" and d.get("error"), "%s: no error envelope: %r" % (what, d))
    if needle:
        check(needle in d.get("error", ""), "%s: reason %r lacks %r" % (what, d.get("error"), needle))


def main():
    base = tmpdir()
    data = os.path.join(base, "db")
    s = Server(data, "--max-body", "64K", "--max-labels", "8", "--max-label-len", "64").start()
    try:
        run(s, data)
        # graceful stop: rc 0, and everything acknowledged is there after a restart
        before = s.export()
        rc = s.stop()
        check(rc == 0, "SIGTERM: rc %s" % rc)
        s2 = Server(data).start()
        check(s2.export() == before, "restart: data differs after graceful stop")
        rc = s2.stop(signal.SIGINT)
        check(rc == 0, "SIGINT: rc %s" % rc)
        auth_tests(base)
    finally:
        if s.p and s.p.poll() is None:
            s.stop()
    if FAILS:
        print("%d failures" % len(FAILS))
        sys.exit(1)
    shutil.rmtree(base, ignore_errors=True)
    print("ok")


def run(s, data):
    st, b, _ = s.req("GET", "/health")
    check(st == 200, "health")

    # ---------------------------------------------------------------- line protocol
    lp = "cpu,host=a usage=1.5,idle=2i %d\ncpu,host=b usage=3 %d\n" % (T0 * 10**9, T0 * 10**9)
    st, b, _ = s.req("POST", "/write", lp)
    check(st == 204, "write ns: %s %r" % (st, b))
    for prec, mul in (("s", 1), ("ms", 1000), ("us", 10**6), ("u", 10**6), ("n", 10**9), ("ns", 10**9)):
        st, b, _ = s.req("POST", "/api/v2/write?precision=" + prec, "prec,p=%s v=1 %d\n" % (prec, (T0 + 10) * mul))
        check(st == 204, "write precision=%s: %s %r" % (prec, st, b))
    ex = s.export()
    for prec in ("s", "ms", "us", "u", "n", "ns"):
        key = (("__name__", "prec_v"), ("p", prec))
        check(ex.get(key) == [((T0 + 10) * 1000, 1)], "precision %s stored as %r" % (prec, ex.get(key)))
    check(ex.get((("__name__", "cpu_idle"), ("host", "a"))) == [(T0 * 1000, 2)], "integer field")
    st, b, _ = s.req("POST", "/write?precision=h", lp)
    expect_error(st, b, 400, "bad precision", "precision")

    gz = gzip.compress(b"gz,host=a v=7 %d\n" % (T0 * 10**9))
    st, b, _ = s.req("POST", "/write", gz, {"Content-Encoding": "gzip"})
    check(st == 204, "gzip write: %s %r" % (st, b))
    check(s.export("?" + q({"match[]": "gz_v"})) == {(("__name__", "gz_v"), ("host", "a")): [(T0 * 1000, 7)]},
          "gzip stored")

    good = s.export()  # the reference: every later bad request must leave it so

    def intact(what):
        check(s.export() == good, "data changed after: " + what)

    st, b, _ = s.req("POST", "/write", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"})
    expect_error(st, b, 400, "bad gzip", "gzip")
    st, b, _ = s.req("POST", "/write", gz[:-9], {"Content-Encoding": "gzip"})
    expect_error(st, b, 400, "truncated gzip")
    st, b, _ = s.req("POST", "/write", lp, {"Content-Encoding": "br"})
    expect_error(st, b, 415, "unknown encoding", "Content-Encoding")
    st, b, _ = s.req("POST", "/write", lp, {"Content-Type": "application/x-protobuf"})
    expect_error(st, b, 415, "protobuf to /write", "Content-Type")
    intact("bad encodings")

    # partial write: valid lines stored, the bad ones named
    mixed = "part,h=a v=1 %d\nthis is not lp\npart,h=b v=2 %d\npart,h=c v=notanumber %d\n" % (
        T0 * 10**9, T0 * 10**9, T0 * 10**9)
    st, b, _ = s.req("POST", "/write", mixed)
    expect_error(st, b, 400, "partial write", "line 2")
    d = json.loads(b)
    check([x["line"] for x in d.get("first_rejected", [])] == [2, 4], "rejected lines named: %r" % d)
    ex = s.export("?" + q({"match[]": "part_v"}))
    check(len(ex) == 2, "partial write kept the 2 valid lines: %r" % ex)
    good = s.export()

    # over the body limit (64K), plain and decompressed
    big = ("big,h=a v=1 %d\n" % (T0 * 10**9)) * 6000
    st, b, _ = s.req("POST", "/write", big)
    expect_error(st, b, 413, "oversized body", "limit")
    st, b, _ = s.req("POST", "/write", gzip.compress(big.encode()), {"Content-Encoding": "gzip"})
    expect_error(st, b, 413, "oversized gzip body", "limit")
    # too many tags for the line-protocol parser (its limit: 256)
    tags = ",".join("t%d=v" % i for i in range(300))
    st, b, _ = s.req("POST", "/write", "many,%s v=1 %d\n" % (tags, T0 * 10**9))
    expect_error(st, b, 400, "too many tags")
    intact("oversized bodies")

    # ---------------------------------------------------------------- remote write / read
    nan_payload = 0x7FF8000000000123
    series = [
        ([("__name__", "rw"), ("job", "x")],
         [((T0 + i) * 1000, f2bits(float(i))) for i in range(10)] + [((T0 + 10) * 1000, STALE_NAN)]),
        ([("__name__", "rw"), ("job", "y")], [((T0 + 1) * 1000, nan_payload), ((T0 + 2) * 1000, f2bits(-0.0))]),
    ]
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(series)), PROTO_HEADERS)
    check(st == 204, "remote write: %s %r" % (st, b))
    rr = read_request([(T0 * 1000, (T0 + 100) * 1000, [(0, "__name__", "rw")]),
                       (T0 * 1000, (T0 + 100) * 1000, [(0, "__name__", "rw"), (1, "job", "x")]),
                       (T0 * 1000, (T0 + 100) * 1000, [(2, "job", "x|y"), (3, "job", "y")]),
                       (T0 * 1000, (T0 + 100) * 1000, [(2, "__name__", "rw"), (2, "job", "nope")])])
    st, b, h = s.req("POST", "/api/v1/read", snappy_literal(rr), PROTO_HEADERS)
    check(st == 200 and h.get("content-encoding") == "snappy", "remote read: %s %r" % (st, h))
    if st == 200:
        res = parse_read_response(snappy_decode(b))
        want_x = {(("__name__", "rw"), ("job", "x")): series[0][1]}
        want_y = {(("__name__", "rw"), ("job", "y")): series[1][1]}
        check(len(res) == 4, "remote read: %d results" % len(res))
        check(res[0] == {**want_x, **want_y}, "remote read EQ: bit-exact samples incl. staleness NaN: %r" % res[0])
        check(res[1] == {(("__name__", "rw"), ("job", "y")): series[1][1]}, "remote read NEQ: %r" % res[1])
        check(res[2] == want_x, "remote read RE+NRE: %r" % res[2])
        check(res[3] == {}, "remote read no match: %r" % res[3])
    good = s.export()

    st, b, _ = s.req("POST", "/api/v1/write", b"\xff\xff\xff\xff\xff\xff", PROTO_HEADERS)
    expect_error(st, b, 400, "bad snappy", "snappy")
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(b"\x0a\x05\x0a\x03abc\xff\xff"), PROTO_HEADERS)
    expect_error(st, b, 400, "bad protobuf", "protobuf")
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(series)),
                     {"Content-Type": "application/json", "Content-Encoding": "snappy"})
    expect_error(st, b, 415, "remote write content type", "Content-Type")
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(series)),
                     {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    expect_error(st, b, 415, "remote write encoding")
    many = [([("__name__", "many")] + [("l%d" % i, "v") for i in range(9)], [(T0 * 1000, f2bits(1))])]
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(series + many)), PROTO_HEADERS)
    expect_error(st, b, 400, "too many labels", "labels")
    long_ = [([("__name__", "long"), ("l", "x" * 65)], [(T0 * 1000, f2bits(1))])]
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(long_)), PROTO_HEADERS)
    expect_error(st, b, 400, "label too long", "limit")
    dup = [([("__name__", "dup"), ("a", "1"), ("a", "2")], [(T0 * 1000, f2bits(1))])]
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(dup)), PROTO_HEADERS)
    expect_error(st, b, 400, "duplicate label", "duplicate")
    # snappy header claiming a huge decompressed size
    st, b, _ = s.req("POST", "/api/v1/write", b"\xff\xff\xff\xff\x0f\x00", PROTO_HEADERS)
    expect_error(st, b, 413, "snappy bomb", "limit")
    st, b, _ = s.req("POST", "/api/v1/read", snappy_literal(b"\x0a\x03\x1a\x01"), PROTO_HEADERS)
    expect_error(st, b, 400, "bad read request")
    rr_bad = read_request([(0, 10**13, [(2, "job", "(unclosed")])])
    st, b, _ = s.req("POST", "/api/v1/read", snappy_literal(rr_bad), PROTO_HEADERS)
    expect_error(st, b, 400, "bad regex in remote read")
    intact("bad remote write/read")

    # ---------------------------------------------------------------- queries
    st, d = s.json("GET", "/api/v1/query?" + q({"query": 'cpu_usage{host="a"}', "time": T0 + 60}))
    check(st == 200 and d["data"]["resultType"] == "vector" and d["data"]["result"] ==
          [{"metric": {"__name__": "cpu_usage", "host": "a"}, "value": [T0 + 60, "1.5"]}], "instant query: %r" % d)
    # lookback: 5 minutes
    st, d = s.json("GET", "/api/v1/query?" + q({"query": "cpu_usage", "time": T0 + 301}))
    check(st == 200 and d["data"]["result"] == [], "lookback over 5m: %r" % d)
    st, d = s.json("GET", "/api/v1/query?" + q({"query": "cpu_usage", "time": T0 + 299.5}))
    check(st == 200 and len(d["data"]["result"]) == 2, "lookback within 5m: %r" % d)
    check(d["data"]["result"][0]["value"][0] == T0 + 299.5, "fractional time echoed: %r" % d)
    # staleness marker: rw{job="x"} ends with one at T0+10
    st, d = s.json("GET", "/api/v1/query?" + q({"query": 'rw{job="x"}', "time": T0 + 9}))
    check(st == 200 and d["data"]["result"][0]["value"][1] == "9", "before staleness: %r" % d)
    st, d = s.json("GET", "/api/v1/query?" + q({"query": 'rw{job="x"}', "time": T0 + 11}))
    check(st == 200 and d["data"]["result"] == [], "staleness marker hides the series: %r" % d)
    st, d = s.json("GET", "/api/v1/query?" + q({"query": 'rw{job="x"}[1m]', "time": T0 + 30}))
    vals = d["data"]["result"][0]["values"] if st == 200 and d["data"]["result"] else []
    check(d["data"]["resultType"] == "matrix" and len(vals) == 10 and vals[0] == [T0, "0"],
          "range selector drops the marker: %r" % d)
    st, d = s.json("GET", "/api/v1/query?" + q({"query": 'rw{job="y"}[1m]', "time": T0 + 30}))
    check(st == 200 and [v[1] for v in d["data"]["result"][0]["values"]] == ["NaN", "-0"], "NaN / -0: %r" % d)
    # RFC 3339 time, POST form
    st, d = s.json("POST", "/api/v1/query", q({"query": "gz_v", "time": "2023-11-14T22:13:20Z"}),
                   {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and d["data"]["result"][0]["value"] == [T0, "7"], "POST form + RFC3339: %r" % d)
    st, d = s.json("GET", "/api/v1/query_range?" + q({"query": 'cpu_usage{host="b"}', "start": T0 - 10,
                                                      "end": T0 + 20, "step": "10s"}))
    check(st == 200 and d["data"]["result"][0]["values"] == [[T0, "3"], [T0 + 10, "3"], [T0 + 20, "3"]],
          "query_range: %r" % d)
    st, d = s.json("GET", "/api/v1/query_range?" + q({"query": 'cpu_usage{host="b"}', "start": T0,
                                                      "end": T0 + 20, "step": "20"}))
    check(st == 200 and len(d["data"]["result"][0]["values"]) == 2, "query_range numeric step: %r" % d)
    for params, what in (({"query": "cpu_usage", "time": "yesterday-ish"}, "bad time"),
                         ({"query": "cpu_usage{"}, "bad selector"),
                         ({"time": T0}, "missing query"),
                         ({"query": "sum(rate(x[5m])) by (", "time": T0}, "bad expression"),
                         ({"query": "histogram_count(x)", "time": T0}, "native-histogram function")):
        st, b, _ = s.req("GET", "/api/v1/query?" + q(params))
        expect_error(st, b, 400, what)
    for params, what in (({"query": "x", "start": T0, "end": T0 - 1, "step": 1}, "end before start"),
                         ({"query": "x", "start": T0, "end": T0 + 1, "step": 0}, "zero step"),
                         ({"query": "x", "start": T0, "end": T0 + 1, "step": "-1s"}, "negative step"),
                         ({"query": "x", "start": "bad", "end": T0, "step": 1}, "bad start"),
                         ({"query": "x", "start": T0, "end": T0 + 86400, "step": 1}, "too many points"),
                         ({"query": "x[5m]", "start": T0, "end": T0 + 1, "step": 1}, "range vector in range query")):
        st, b, _ = s.req("GET", "/api/v1/query_range?" + q(params))
        expect_error(st, b, 400, what)

    # expressions: aggregations and range functions (Prometheus' arithmetic)
    lines = "".join("ctr,j=a,k=x v=%d %d\nctr,j=b,k=y v=%d %d\n" % (10 * i, (T0 + 10 * i) * 10**9, 20 * i,
                                                                    (T0 + 10 * i) * 10**9) for i in range(31))
    st, b, _ = s.req("POST", "/write", lines)
    check(st == 204, "counter write %s %r" % (st, b))
    for query, want in (("rate(ctr_v[60s])", {"a": "1", "b": "2"}),
                        ("increase(ctr_v[60s])", {"a": "60", "b": "120"}),
                        ("avg_over_time(ctr_v[60s])", {"a": "275", "b": "550"}),
                        ("max_over_time(ctr_v[1m])", {"a": "300", "b": "600"}),
                        ("count_over_time(ctr_v[1m])", {"a": "6", "b": "6"}),
                        ("sum by (j) (rate(ctr_v[60s]))", {"a": "1", "b": "2"}),
                        ("sum(rate(ctr_v[60s]))", {None: "3"}),
                        ("avg(ctr_v)", {None: "450"}),
                        ("count without (j, k) (ctr_v)", {None: "2"}),
                        ("max(ctr_v) by (k)", {"x": "300", "y": "600"})):
        st, d = s.json("GET", "/api/v1/query?" + q({"query": query, "time": T0 + 300}))
        got = {}
        if st == 200:
            for x in d["data"]["result"]:
                m = x["metric"]
                check("__name__" not in m, "%s keeps __name__: %r" % (query, m))
                got[m.get("j", m.get("k"))] = x["value"][1]
        check(st == 200 and got == want, "%s: %r, want %r" % (query, d, want))
    st, d = s.json("GET", "/api/v1/query_range?" + q({"query": "sum(rate(ctr_v[60s]))", "start": T0 + 200,
                                                      "end": T0 + 300, "step": 50}))
    check(st == 200 and d["data"]["result"][0]["values"] == [[T0 + 200, "3"], [T0 + 250, "3"], [T0 + 300, "3"]],
          "range query of an expression: %r" % d)
    for bad in ("rate(ctr_v)", "sum(ctr_v[1m])", "sum by (j (ctr_v)", "rate(ctr_v[1m]) +", "topk(ctr_v)"):
        st, b, _ = s.req("GET", "/api/v1/query?" + q({"query": bad, "time": T0 + 300}))
        expect_error(st, b, 400, "bad expression " + bad)
    # what the old evaluator refused is PromQL, answered as Prometheus does
    for expr, want in (("rate(ctr_v[1m]) + 1", {(("j", "a"), ("k", "x")): "2", (("j", "b"), ("k", "y")): "3"}),
                       ("topk(1, ctr_v)", {(("__name__", "ctr_v"), ("j", "b"), ("k", "y")): "600"})):
        st, d = s.json("GET", "/api/v1/query?" + q({"query": expr, "time": T0 + 300}))
        got = {tuple(sorted(x["metric"].items())): x["value"][1] for x in d["data"]["result"]} if st == 200 else d
        check(got == want, "%s: %r, want %r" % (expr, got, want))
    good = s.export()

    # ---------------------------------------------------------------- series, labels, values
    st, d = s.json("GET", "/api/v1/series?" + q([("match[]", "cpu_usage"), ("match[]", '{__name__=~"cpu_.*",host="a"}')]))
    got = sorted(json.dumps(x, sort_keys=True) for x in d["data"]) if st == 200 else []
    want = sorted(json.dumps(x, sort_keys=True) for x in [
        {"__name__": "cpu_usage", "host": "a"}, {"__name__": "cpu_usage", "host": "b"},
        {"__name__": "cpu_idle", "host": "a"}])
    check(got == want, "series union, no duplicates: %r" % d)
    st, d = s.json("GET", "/api/v1/series?" + q({"match[]": "cpu_usage", "start": T0 + 1000, "end": T0 + 2000}))
    check(st == 200 and d["data"] == [], "series outside the time range: %r" % d)
    st, b, _ = s.req("GET", "/api/v1/series")
    expect_error(st, b, 400, "series without match[]", "match[]")
    st, b, _ = s.req("GET", "/api/v1/series?" + q({"match[]": '{a=~"("}'}))
    expect_error(st, b, 400, "series bad regex")
    st, b, _ = s.req("GET", "/api/v1/series?" + q({"match[]": "cpu_usage", "start": "nope"}))
    expect_error(st, b, 400, "series bad start")
    st, d = s.json("GET", "/api/v1/labels")
    check(st == 200 and d["data"] == ["__name__", "h", "host", "j", "job", "k", "p"], "labels: %r" % d)
    st, d = s.json("GET", "/api/v1/labels?" + q([("match[]", "rw"), ("match[]", "prec_v")]))
    check(st == 200 and d["data"] == ["__name__", "job", "p"], "labels with match[]: %r" % d)
    st, d = s.json("GET", "/api/v1/label/host/values")
    check(st == 200 and d["data"] == ["a", "b"], "label values: %r" % d)
    st, d = s.json("GET", "/api/v1/label/__name__/values?" + q({"match[]": '{host="b"}'}))
    check(st == 200 and d["data"] == ["cpu_usage"], "label values with match[]: %r" % d)
    # Prometheus 3 takes any UTF-8 label name (2.x refused bad-name)
    st, d = s.json("GET", "/api/v1/label/bad-name/values")
    check(st == 200 and d["data"] == [], "UTF-8 label name: %r" % d)
    st, b, _ = s.req("GET", "/api/v1/label/host/values?" + q({"match[]": "{"}))
    expect_error(st, b, 400, "label values bad matcher")

    # ---------------------------------------------------------------- export / import
    ex = s.export("?" + q({"match[]": "cpu_usage", "start": T0, "end": T0}))
    check(len(ex) == 2, "export with match[] and range: %r" % ex)
    ex = s.export("?" + q({"match[]": "cpu_usage", "start": T0 + 1}))
    check(ex == {}, "export after the data: %r" % ex)
    st, b, _ = s.req("GET", "/api/v1/export?" + q({"end": "garbage"}))
    expect_error(st, b, 400, "export bad end")
    st, b, _ = s.req("GET", "/api/v1/export?" + q({"match[]": '{x=~"["}'}))
    expect_error(st, b, 400, "export bad regex")
    imp = (json.dumps({"metric": {"__name__": "imp", "k": "1"}, "values": [1.5, "NaN", 3],
                       "timestamps": [T0 * 1000, T0 * 1000 + 1, T0 * 1000 + 2]}) + "\n" +
           '{"metric":{"__name__":"imp","k":"2"},"values":[1],"timestamps":[]}\n' +
           json.dumps({"metric": {"__name__": "imp", "k": "3"}, "values": [4], "timestamps": [T0 * 1000]}) + "\n" +
           json.dumps({"metric": dict([("__name__", "imp")] + [("l%d" % i, "v") for i in range(9)]),
                       "values": [4], "timestamps": [T0 * 1000]}) + "\n")
    st, b, _ = s.req("POST", "/api/v1/import", imp)
    expect_error(st, b, 400, "import with bad lines", "line 2")
    d = json.loads(b)
    check([x["line"] for x in d.get("first_rejected", [])] == [2, 4], "import rejects named: %r" % d)
    ex = s.export("?" + q({"match[]": "imp"}))
    check(len(ex) == 2 and ex[(("__name__", "imp"), ("k", "3"))] == [(T0 * 1000, 4)], "import stored: %r" % ex)
    check(str(ex[(("__name__", "imp"), ("k", "1"))][1][1]) == "nan", "import NaN: %r" % ex)
    st, b, _ = s.req("POST", "/api/v1/import", gzip.compress(imp.splitlines()[2].encode() + b"\n"),
                     {"Content-Encoding": "gzip"})
    check(st == 204, "gzip import: %s %r" % (st, b))
    good = s.export()

    # ---------------------------------------------------------------- delete
    st, b, _ = s.req("POST", "/api/v1/admin/tsdb/delete_series")
    expect_error(st, b, 400, "delete without match[]")
    st, b, _ = s.req("POST", "/api/v1/admin/tsdb/delete_series?" + q({"match[]": "{"}))
    expect_error(st, b, 400, "delete bad matcher")
    st, b, _ = s.req("POST", "/api/v1/admin/tsdb/delete_series?" + q({"match[]": "cpu_usage", "start": "x"}))
    expect_error(st, b, 400, "delete bad time")
    intact("bad deletes")
    st, b, _ = s.req("POST", "/api/v1/admin/tsdb/delete_series?" + q({"match[]": 'rw{job="x"}', "start": T0 + 5}))
    check(st == 204, "delete: %s %r" % (st, b))
    ex = s.export("?" + q({"match[]": 'rw{job="x"}'}))
    check([t for t, _ in list(ex.values())[0]] == [(T0 + i) * 1000 for i in range(5)], "delete range: %r" % ex)
    good = s.export()

    # ---------------------------------------------------------------- snapshot, flush, merge
    st, d = s.json("POST", "/api/v1/admin/tsdb/snapshot?name=../../escape")
    name = d["data"]["name"] if st == 200 else ""
    check(st == 200 and "/" not in name and ".." not in name and
          os.path.isdir(os.path.join(data, "snapshots", name)), "snapshot: %r" % d)
    check(not os.path.exists(os.path.join(data, "..", "..", "escape")), "snapshot name from request ignored")
    st, b, _ = s.req("POST", "/internal/force_flush")
    check(st == 200, "force_flush %s" % st)
    st, b, _ = s.req("POST", "/internal/force_merge?full=1")
    check(st == 200, "force_merge %s" % st)
    intact("flush/merge")
    st, b, _ = s.req("GET", "/metrics")
    text = b.decode()
    for name in ("strata_ingested_samples_total{protocol=\"influx\"}", "strata_series ", "strata_head_bytes",
                 "strata_wal_bytes", "strata_flushes_total", "strata_compactions_total",
                 'strata_http_errors_total{reason="bad_encoding"}',
                 'strata_http_request_duration_seconds_bucket{handler="write",le="+Inf"}'):
        check(name in text, "/metrics lacks " + name)
    check('strata_http_errors_total{reason="too_large"} 0' not in text, "errors counted by reason")

    # ---------------------------------------------------------------- routing
    st, b, _ = s.req("GET", "/nope")
    expect_error(st, b, 404, "unknown path")
    st, b, _ = s.req("GET", "/write")
    expect_error(st, b, 405, "GET /write")
    st, b, _ = s.req("DELETE", "/api/v1/query")
    expect_error(st, b, 405, "DELETE query")
    intact("everything")


def auth_tests(base):
    s = Server(os.path.join(base, "auth"), "--auth-token", "s3cret", "--basic-auth", "user:pa:ss").start()
    try:
        st, _, _ = s.req("GET", "/health")
        check(st == 200, "health without auth")
        for path, method in (("/api/v1/labels", "GET"), ("/metrics", "GET"), ("/write", "POST"),
                             ("/api/v1/admin/tsdb/snapshot", "POST")):
            st, b, h = s.req(method, path, "x v=1 1\n" if method == "POST" else None)
            check(st == 401 and "www-authenticate" in h, "%s without auth: %s %r" % (path, st, h))
        st, _, _ = s.req("POST", "/write", "x v=1 1\n", {"Authorization": "Bearer wrong"})
        check(st == 401, "wrong bearer")
        st, _, _ = s.req("POST", "/write", "x v=1 1\n", {"Authorization": "Bearer s3cret"})
        check(st == 204, "bearer")
        import base64
        ok = "Basic " + base64.b64encode(b"user:pa:ss").decode()
        bad = "Basic " + base64.b64encode(b"user:nope").decode()
        st, _, _ = s.req("GET", "/api/v1/labels", None, {"Authorization": bad})
        check(st == 401, "wrong basic")
        st, d = s.json("GET", "/api/v1/labels", None, {"Authorization": ok})
        check(st == 200 and d["data"] == ["__name__"], "basic: %s %r" % (st, d))
    finally:
        check(s.stop() == 0, "auth server stop")


if __name__ == "__main__":
    main()
