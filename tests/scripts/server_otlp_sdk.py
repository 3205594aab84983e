"""OTLP/HTTP metrics ingest with a real client: the OpenTelemetry JavaScript
SDK (tests/otlp/, versions pinned by its package-lock.json, installed here
with npm ci; Node.js and npm from Debian when missing) pushes counters,
up-down counters, gauges and histograms with resource attributes to
/opentelemetry/v1/metrics over protobuf and JSON, plain and gzip; the
stored series, labels and values are then checked against the names
Prometheus 3's OTLP receiver gives them. Debian's Prometheus (2.42) has no
OTLP receiver to compare with, so the expected names below are written out
from Prometheus 3's rules (otlptranslator, UnderscoreEscapingWithSuffixes):
unit words and _total / _ratio suffixes, "." -> "_" in label names,
service.namespace/service.name -> job, service.instance.id -> instance, the
other resource attributes on target_info.

Then hostile bodies (truncated, corrupt, deeply nested protobuf, bad JSON,
huge counts, a gzip bomb, wrong media types) are refused with 4xx and a
google.rpc.Status body, nothing stored before is lost and the server stays
up; partial success (an exponential histogram, --max-series) answers 200
with the refused points counted. Prints the ingest rate of a large push.
Exits 77 (skipped) only when Node.js/npm or the npm packages cannot be
installed."""
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import Server, field_bytes, field_double_bits, field_varint, tmpdir  # noqa: E402

SRC = os.environ.get("STRATA_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OTLP_DIR = os.path.join(SRC, "tests", "otlp")
PATH = "/opentelemetry/v1/metrics"
BENCH_POINTS = int(os.environ.get("OTLP_BENCH_POINTS", "20000"))


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def ensure_node():
    missing = [pkg for cmd, pkg in (("node", "nodejs"), ("npm", "npm")) if not shutil.which(cmd)]
    if missing:
        sudo = [] if os.geteuid() == 0 or not shutil.which("sudo") else ["sudo", "-n"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env)
        if not shutil.which("node") or not shutil.which("npm"):
            skip("node/npm cannot be installed")
    lock = os.path.join(OTLP_DIR, "package-lock.json")
    stamp = os.path.join(OTLP_DIR, "node_modules", ".package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(lock) > os.path.getmtime(stamp):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=OTLP_DIR)
        if r.returncode != 0:
            skip("npm ci failed (no registry?)")


def query(s, q):
    st, d = s.json("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    assert st == 200, (st, d)
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in d["data"]["result"]}


def one(s, q):
    r = query(s, q)
    assert len(r) == 1, (q, r)
    return list(r.values())[0]


def series_count(s, instance):
    st, d = s.json("GET", "/api/v1/series?" + urllib.parse.urlencode({"match[]": '{instance="%s"}' % instance}))
    assert st == 200, (st, d)
    return len(d["data"])


def check_sdk_series(s, inst):
    sel = 'job="test/shop",instance="%s"' % inst
    assert one(s, 'http_requests_total{%s,http_method="GET"}' % sel) == 5
    assert one(s, 'http_requests_total{%s,http_method="POST"}' % sel) == 3
    assert one(s, "queue_depth{%s}" % sel) == 6          # up-down counter: a gauge, no suffix ({item})
    assert one(s, 'cpu_temperature_celsius{%s,core="0"}' % sel) == 41.5
    assert one(s, "system_load_ratio{%s}" % sel) == 0.75  # gauge of unit 1: _ratio
    buckets = query(s, 'http_server_duration_milliseconds_bucket{%s,route="/a"}' % sel)
    by_le = {dict(k)["le"]: v for k, v in buckets.items()}
    assert by_le == {"5": 1, "10": 2, "100": 3, "+Inf": 4}, by_le
    assert one(s, "http_server_duration_milliseconds_sum{%s}" % sel) == 340
    assert one(s, "http_server_duration_milliseconds_count{%s}" % sel) == 4
    ti = query(s, "target_info{%s}" % sel)
    assert len(ti) == 1, ti
    labels = dict(list(ti.keys())[0])
    assert labels["host_name"] == "h1" and labels["telemetry_sdk_language"] == "nodejs", labels
    assert "service_name" not in labels and "service_instance_id" not in labels, labels
    assert series_count(s, inst) == 12, series_count(s, inst)


def check_metadata(s):
    st, d = s.json("GET", "/api/v1/metadata")
    assert st == 200, d
    md = d["data"]
    want = {"http_requests_total": ("counter", "Requests served", ""),
            "queue_depth": ("gauge", "Items waiting", ""),
            "cpu_temperature_celsius": ("gauge", "Die temperature", "celsius"),
            "http_server_duration_milliseconds": ("histogram", "Request duration", "milliseconds")}
    for name, (typ, help_, unit) in want.items():
        assert name in md, (name, md)
        e = md[name][0]
        assert (e["type"], e["help"], e["unit"]) == (typ, help_, unit), (name, e)


# ------------------------------------------------------------------ protobuf by hand
def fixed64(num, v):
    return field_double_bits(num, v)


def kv(key, value):
    return field_bytes(1, key.encode()) + field_bytes(2, field_bytes(1, value.encode()))


def gauge_request(n, t_ns, service="bench", name="bench.gauge"):
    pts = bytearray()
    for k in range(n):
        p = field_bytes(7, kv("series", str(k))) + fixed64(3, t_ns) + field_double_bits(4, _bits(float(k)))
        pts += field_bytes(1, p)
    metric = field_bytes(1, name.encode()) + field_bytes(5, bytes(pts))
    scope = field_bytes(2, metric)
    resource = field_bytes(1, kv("service.name", service))
    rm = field_bytes(1, resource) + field_bytes(2, scope)
    return field_bytes(1, rm)


def _bits(x):
    import struct
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def post(s, body, ctype="application/x-protobuf", enc=None):
    h = {"Content-Type": ctype}
    if enc:
        h["Content-Encoding"] = enc
    return s.req("POST", PATH, body, h)


def assert_status(st, body, hdrs, code, ctype="application/x-protobuf"):
    assert st == code, (st, body[:300])
    assert hdrs.get("content-type", "").startswith(ctype), hdrs
    if ctype == "application/json":
        d = json.loads(body)
        assert d["code"] == 3 and d["message"], d
    else:
        assert body[:2] == b"\x08\x03" and b"\x12" in body[:4], body[:40]  # Status{code=3, message}


def hostile(s, t_ns):
    good = gauge_request(50, t_ns, service="hostile")
    st, b, h = post(s, good)
    assert st == 200, (st, b)
    n_before = len(query(s, '{job="hostile"}'))
    assert n_before == 50
    cases = [
        ("truncated", good[: len(good) // 2]),
        ("corrupt", b"\xff" * 64),
        ("huge length", b"\x0a\xff\xff\xff\xff\xff\xff\xff\x7f"),
        ("wire type 7", b"\x0f"),
        ("nul in string", field_bytes(1, field_bytes(1, kv("service.name", "a\x00b")))),
    ]
    deep = b""
    for i in range(3000):
        deep = field_bytes(5 if i % 2 else 1, deep)
    cases.append(("deep", field_bytes(1, field_bytes(1, field_bytes(1, field_bytes(2, deep))))))
    for name, body in cases:
        st, b, h = post(s, body)
        assert_status(st, b, h, 400), name
    for body in [b"{", b"[]", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","histogram":'
                 b'{"aggregationTemporality":2,"dataPoints":[{"count":"99999999999999999999999"}]}}]}]}]}',
                 b'{"resourceMetrics":7}']:
        st, b, h = post(s, body, "application/json")
        assert_status(st, b, h, 400, "application/json")
    # huge but valid counts are stored as they are
    huge = json.dumps({"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "hostile"}}]}, "scopeMetrics": [{"metrics": [
            {"name": "huge", "histogram": {"aggregationTemporality": 2, "dataPoints": [
                {"timeUnixNano": str(t_ns), "count": "18446744073709551615", "bucketCounts": ["18446744073709551615"]}]}}]}]}]})
    st, b, h = post(s, huge.encode(), "application/json")
    assert st == 200 and json.loads(b) == {}, (st, b)
    assert one(s, 'huge_bucket{le="+Inf"}') == 18446744073709551615.0
    bomb = gzip.compress(b"\0" * (80 << 20), 9)
    st, b, h = post(s, bomb, enc="gzip")
    assert st == 413, (st, b[:200])
    st, b, h = post(s, b"garbage", enc="gzip")
    assert_status(st, b, h, 400)
    st, b, h = post(s, good, enc="br")
    assert st == 415, (st, b)
    st, b, h = post(s, good, "text/plain")
    assert st == 415, (st, b)
    st, b, h = s.req("GET", PATH)
    assert st == 405, st
    st, _, _ = s.req("GET", "/health")
    assert st == 200
    assert len(query(s, '{job="hostile",__name__="bench_gauge"}')) == 50  # nothing lost


def partial(s, t_ns):
    body = json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "ok.gauge", "gauge": {"dataPoints": [{"asDouble": 1, "timeUnixNano": str(t_ns)}]}},
        {"name": "exp", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [{}, {}]}}]}]}]})
    st, b, h = post(s, body.encode(), "application/json")
    assert st == 200, (st, b)
    d = json.loads(b)
    assert d["partialSuccess"]["rejectedDataPoints"] == "2", d
    assert "exponential" in d["partialSuccess"]["errorMessage"], d
    # the same answer in protobuf: partial_success{rejected_data_points=2}
    st, b, h = post(s, _exp_pb(), "application/x-protobuf")
    assert st == 200 and b[:1] == b"\x0a" and b"\x08\x01" in b, (st, b)


def _exp_pb():
    metric = field_bytes(1, b"exp") + field_bytes(10, field_varint(2, 2) + field_bytes(1, b""))
    return field_bytes(1, field_bytes(2, field_bytes(2, metric)))


def max_series(base, t_ns):
    s = Server(os.path.join(base, "limited"), "--max-series", "3").start()
    try:
        st, b, h = post(s, gauge_request(5, t_ns), "application/x-protobuf")
        assert st == 200, (st, b)
        assert b[:1] == b"\x0a" and b"\x08\x02" in b and b"max_series" in b, b
    finally:
        s.stop()


def bench(s, t_ns):
    body = gauge_request(BENCH_POINTS, t_ns, service="bench2", name="bench.load")
    t0 = time.time()
    st, b, h = post(s, body)
    dt_new = time.time() - t0
    assert st == 200 and b == b"", (st, b)
    body = gauge_request(BENCH_POINTS, t_ns + 15 * 10**9, service="bench2", name="bench.load")
    t0 = time.time()
    st, b, h = post(s, body)
    dt = time.time() - t0
    assert st == 200, (st, b)
    print("OTLP protobuf push of %d points (%d bytes): %.0f samples/s into new series, %.0f samples/s into "
          "existing ones" % (BENCH_POINTS, len(body), BENCH_POINTS / dt_new, BENCH_POINTS / dt))


def main():
    ensure_node()
    base = tmpdir()
    s = Server(os.path.join(base, "data")).start()
    try:
        url = "http://127.0.0.1:%d%s" % (s.port, PATH)
        for proto in ("proto", "json"):
            for comp in ("none", "gzip"):
                inst = "i-%s-%s" % (proto, comp)
                r = subprocess.run(["node", os.path.join(OTLP_DIR, "push.mjs"), url, proto, comp, inst],
                                   cwd=OTLP_DIR, capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, (inst, r.stdout, r.stderr)
                check_sdk_series(s, inst)
        # the other path takes the same
        r = subprocess.run(["node", os.path.join(OTLP_DIR, "push.mjs"),
                            "http://127.0.0.1:%d/api/v1/otlp/v1/metrics" % s.port, "proto", "none", "i-alt"],
                           cwd=OTLP_DIR, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        check_sdk_series(s, "i-alt")
        check_metadata(s)
        t_ns = int(time.time()) * 10**9
        hostile(s, t_ns)
        partial(s, t_ns)
        for inst in ("i-proto-none", "i-json-gzip"):  # nothing lost to the hostile bodies
            check_sdk_series(s, inst)
        bench(s, t_ns)
    finally:
        rc = s.stop()
    assert rc == 0, rc
    max_series(base, int(time.time()) * 10**9)
    shutil.rmtree(base, ignore_errors=True)
    print("server_otlp_sdk: ok")


if __name__ == "__main__":
    main()
