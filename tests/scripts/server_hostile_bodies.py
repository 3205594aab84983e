"""Hostile request bodies against a real `strata serve` with its default
limits: decompression bombs (snappy bodies of empty messages that decode to
tens of MiB and would unpack to gigabytes of protobuf-c objects, on remote
write and remote read; a gzip body of zeros), multi-member gzip bodies on
every endpoint that takes a body, trailing garbage and truncated members,
and extreme times on every endpoint that takes one. Every answer's status
is checked, the server must stay up, and its peak RSS (VmHWM) must stay
under RSS_BOUND_MIB through all the bombs (RSS_BOUND_SAN_MIB in a
sanitizer build): a memory bound, not a timing.

Run alone with a binary: STRATA_BIN=build/strata python3 tests/scripts/server_hostile_bodies.py
`--bomb-only` sends just the 3.1 MB remote-write bomb and prints the status
and VmHWM (how the figures of the commit were measured)."""
import gzip
import json
import os
import shutil
import struct
import sys
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (PROTO_HEADERS, Server, f2bits, field_bytes, field_varint, parse_read_response,
                         read_request, snappy_decode, snappy_literal, timeseries, tmpdir, varint, write_request)

RSS_BOUND_MIB = 200
# Under ASan the allocator keeps freed blocks in quarantine (256 MiB) and
# adds redzones and shadow: the bound there only has to catch gigabytes.
RSS_BOUND_SAN_MIB = 700
T0 = 1700000000
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def sanitized(s):
    with open("/proc/%d/maps" % s.p.pid) as f:
        return any("libasan" in line or "libtsan" in line for line in f)


def hwm_kib(s):
    with open("/proc/%d/status" % s.p.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def snappy_lit(b):
    """A snappy literal element (length-1 in the tag, or in 1 or 2 bytes)."""
    n = len(b) - 1
    if n < 60:
        return bytes([n << 2]) + b
    if n < 256:
        return bytes([60 << 2, n]) + b
    return bytes([61 << 2]) + struct.pack("<H", n) + b


def snappy_repeat(unit, total):
    """A snappy block of `unit` repeated up to `total` bytes (a multiple of
    len(unit), which divides 64): one literal of 64 bytes, then copies of
    64 bytes at offset 64, 3 bytes each: a 21x ratio, snappy's best."""
    assert 64 % len(unit) == 0 and total % 64 == 0
    lit = unit * (64 // len(unit))
    out = bytearray(varint(total))
    out += snappy_lit(lit)
    copy = bytes([((64 - 1) << 2) | 2]) + struct.pack("<H", 64)
    out += copy * ((total - 64) // 64)
    return bytes(out)


def snappy_nested(outer_field, inner_unit, total):
    """One length-delimited outer field (a message) holding inner_unit
    repeated: the outer header as a literal, then the repetition."""
    head = varint(outer_field << 3 | 2) + varint(total)
    n = len(head) + total
    lit = head + inner_unit * (64 // len(inner_unit))
    out = bytearray(varint(n))
    out += snappy_lit(lit)
    done = len(lit)
    copy = bytes([((64 - 1) << 2) | 2]) + struct.pack("<H", 64)
    while n - done >= 64:
        out += copy
        done += 64
    rest = n - done
    if rest:
        out.append(((rest - 1) << 2) | 2)
        out += struct.pack("<H", 64)
    return bytes(out)


MIB = 1 << 20


def expect(st, body, code, what, needle=None):
    check(st == code, "%s: status %s, want %s (%r)" % (what, st, code, body[:300]))
    if needle:
        check(needle in body.decode(errors="replace"), "%s: %r lacks %r" % (what, body[:300], needle))


def bombs(s):
    """Decompression and allocation bombs: each refused with 413, cheaply."""
    rw, rr = "/api/v1/write", "/api/v1/read"
    empty_ts = b"\x0a\x00"   # WriteRequest.timeseries = {} (also ReadRequest.queries = {})
    cases = [
        # 64 MiB of empty TimeSeries in a 3.1 MB body: over --max-decoded-bytes by its header
        ("rw empty TimeSeries 64 MiB", rw, snappy_repeat(empty_ts, 64 * MIB), 413, "over the limit"),
        # 31 MiB: under the decoded cap; its objects (some 100 bytes each) are not
        ("rw empty TimeSeries 31 MiB", rw, snappy_repeat(empty_ts, 31 * MIB), 413, "objects"),
        # one TimeSeries of 31 MiB of empty Labels, of empty Samples
        ("rw empty Labels", rw, snappy_nested(1, b"\x0a\x00", 31 * MIB), 413, "objects"),
        ("rw empty Samples", rw, snappy_nested(1, b"\x12\x00", 31 * MIB), 413, "objects"),
        # unknown fields are kept by protobuf-c (a record and a copy each)
        ("rw unknown fields", rw, snappy_repeat(b"\x78\x00", 31 * MIB), 413, "objects"),
        # remote read: empty Queries, one Query of empty matchers
        ("rr empty Queries", rr, snappy_repeat(empty_ts, 31 * MIB), 413, "objects"),
        ("rr empty matchers", rr, snappy_nested(1, b"\x1a\x00", 31 * MIB), 413, "objects"),
        ("rr 64 MiB", rr, snappy_repeat(empty_ts, 64 * MIB), 413, "over the limit"),
    ]
    for what, path, body, code, needle in cases:
        st, b, _ = s.req("POST", path, body, PROTO_HEADERS, timeout=300)
        expect(st, b, code, what, needle)
        print("%-28s %7d bytes: %s, VmHWM %d MiB" % (what, len(body), st, hwm_kib(s) // 1024), flush=True)
    # gzip bomb: 256 MiB of zeros in ~250 KiB, over --max-body (64M)
    zo = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * MIB
    gz = b"".join(zo.compress(chunk) for _ in range(256)) + zo.flush()
    for path in ("/write", "/api/v1/import", "/api/v1/query"):
        st, b, _ = s.req("POST", path, gz, {"Content-Encoding": "gzip",
                                             "Content-Type": "application/x-www-form-urlencoded" if "query" in path
                                             else "text/plain"})
        expect(st, b, 413, "gzip bomb on " + path, "over the limit")
    hwm = hwm_kib(s) // 1024
    bound = RSS_BOUND_SAN_MIB if sanitized(s) else RSS_BOUND_MIB
    print("peak RSS after the bombs: %d MiB (bound %d)" % (hwm, bound), flush=True)
    check(hwm < bound, "peak RSS %d MiB under the bombs, bound %d MiB" % (hwm, bound))


def realistic_write(s):
    """A large realistic request (node_exporter-like series: ten labels, one
    sample each) close to the decoded cap is stored: the object budget (4x
    the decoded cap) leaves room for real requests."""
    series = []
    for i in range(60000):
        labels = [("__name__", "node_cpu_seconds_total"), ("cpu", str(i % 64)), ("instance", "host-%05d:9100" % (i // 64)),
                  ("job", "node"), ("mode", "idle"), ("region", "eu-west-1"), ("env", "prod"),
                  ("team", "infra"), ("dc", "dc%d" % (i % 7)), ("rack", "r%03d" % (i % 300))]
        series.append((labels, [(T0 * 1000, f2bits(float(i)))]))
    raw = write_request(series)
    print("realistic request: %d series, %.1f MiB decoded" % (len(series), len(raw) / MIB), flush=True)
    st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(raw), PROTO_HEADERS, timeout=300)
    expect(st, b, 204, "realistic 60000-series request")


def gz(b):
    return gzip.compress(b.encode() if isinstance(b, str) else b)


def multi_member(s):
    """Every member of a multi-member gzip body counts; garbage after the
    last member and a truncated member are 400; on every endpoint that
    takes a body."""
    form = {"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"}
    lp1 = "mm,k=a v=1 %d\n" % (T0 * 10**9)
    lp2 = "mm,k=b v=2 %d\n" % (T0 * 10**9)
    for path in ("/write", "/api/v2/write"):
        st, b, _ = s.req("POST", path + "?precision=ns", gz(lp1) + gz(lp2), {"Content-Encoding": "gzip"})
        expect(st, b, 204, "two members on " + path)
    st, b, _ = s.req("POST", "/write", zlib.compress(lp1.encode()), {"Content-Encoding": "deflate"})
    expect(st, b, 204, "deflate on /write")
    j1 = '{"metric":{"__name__":"mmj","k":"a"},"values":[1],"timestamps":[%d]}\n' % (T0 * 1000)
    j2 = '{"metric":{"__name__":"mmj","k":"b"},"values":[2],"timestamps":[%d]}\n' % (T0 * 1000)
    st, b, _ = s.req("POST", "/api/v1/import", gz(j1) + gz(j2), {"Content-Encoding": "gzip"})
    expect(st, b, 204, "two members on /api/v1/import")
    ex = s.export("?" + urllib.parse.urlencode({"match[]": '{__name__=~"mm_v|mmj"}'}))
    keys = sorted(dict(k)["k"] + ":" + dict(k)["__name__"] for k in ex)
    check(keys == ["a:mm_v", "a:mmj", "b:mm_v", "b:mmj"], "multi-member bodies stored every member: %s" % keys)

    # form bodies: the second member carries a parameter the answer depends on
    q1, q2 = "query=count(%7B__name__%3D~%22mm_v%7Cmmj%22%7D)&", "time=%d" % (T0 + 1)
    st, b, _ = s.req("POST", "/api/v1/query", gz(q1) + gz(q2), form)
    expect(st, b, 200, "two members on /api/v1/query")
    if st == 200:
        d = json.loads(b)
        check(d["data"]["result"][0]["value"] == [T0 + 1, "4"], "query over two members: %r" % d)
    st, b, _ = s.req("POST", "/api/v1/query_range", gz(q1) + gz("start=%d&end=%d&step=1" % (T0, T0 + 2)), form)
    expect(st, b, 200, "two members on /api/v1/query_range")
    sel = "match%5B%5D=mmj&"
    for path, code in (("/api/v1/series", 200), ("/api/v1/labels", 200), ("/api/v1/label/k/values", 200),
                       ("/api/v1/export", 200)):
        st, b, _ = s.req("POST", path, gz(sel) + gz("start=%d&end=%d" % (T0 - 1, T0 + 1)), form)
        expect(st, b, code, "two members on " + path, {"/api/v1/labels": '"k"', "/api/v1/label/k/values": '"b"'}.get(path, "mmj"))
    # the start of the second member matters: an end before the data finds nothing
    st, b, _ = s.req("POST", "/api/v1/series", gz(sel) + gz("end=%d" % (T0 - 1)), form)
    expect(st, b, 200, "series, end in the second member")
    check(b"mmj" not in b, "series honours end= from the second member: %r" % b[:200])

    bad = [
        ("trailing garbage", gz(lp1) + b"garbage", "trailing data"),
        ("trailing zeros", gz(lp1) + b"\0" * 8, "trailing data"),
        ("truncated second member", gz(lp1) + gz(lp2)[:15], "truncated"),
        ("magic alone", gz(lp1) + b"\x1f\x8b", "truncated"),
        ("second member corrupt", gz(lp1) + gz(lp2)[:10] + b"\xff" * 20, "bad gzip body"),
    ]
    for what, body, needle in bad:
        for path in ("/write", "/api/v1/import"):
            st, b, _ = s.req("POST", path, body, {"Content-Encoding": "gzip"})
            expect(st, b, 400, "%s on %s" % (what, path), needle)
        st, b, _ = s.req("POST", "/api/v1/query", body, form)
        expect(st, b, 400, "%s on /api/v1/query" % what, needle)
    st, b, _ = s.req("POST", "/write", zlib.compress(lp1.encode()) + b"x", {"Content-Encoding": "deflate"})
    expect(st, b, 400, "trailing data after deflate", "trailing data")
    # nothing of the refused bodies was stored
    ex2 = s.export("?" + urllib.parse.urlencode({"match[]": '{__name__=~"mm_v|mmj"}'}))
    check(ex2 == ex, "refused gzip bodies stored nothing")
    # an unknown encoding on a form endpoint is refused, not read as a form
    st, b, _ = s.req("POST", "/api/v1/query", b"query=1", {"Content-Type": "application/x-www-form-urlencoded",
                                                          "Content-Encoding": "br"})
    expect(st, b, 415, "Content-Encoding br on /api/v1/query")


EXTREME_TIMES = ["-9223372036854775", "9223372036854779", "9223372036854775807", "-9223372036854775808",
                 "99999999999999999999999", "4611686018427388", "1e300", "-1e300", "1e19", "NaN", "nan", "Inf",
                 "+Inf", "-Inf", "infinity", "99999-01-01T00:00:00Z", "292277025-08-18T07:12:54Z",
                 "now-9999999999999999d", "now+106751991167d", "-9999999999999999d", "9999999999999999d",
                 "now-999999999y", "now+5000000000000000s", "1e"]
EXTREME_DURATIONS = ["9999999999999999d", "1e300", "-1", "NaN", "Inf", "-Inf", "106751991167d",
                     "9223372036854775807ms", "99999999999999999999s", "0", "1e"]
# durations a request may give that are valid: a timeout or lookback this
# long is narrowed (timeout: the server's) or bounded (lookback: 2^61 ms);
# a step beyond 2^61 ms is refused by the evaluator
HUGE_VALID = {("timeout", "106751991167d"), ("lookback_delta", "106751991167d")}


def extreme_times(s):
    """Every endpoint that takes a time: a clear 400 bad_data for each
    extreme value, never a crash or a wrapped time; the edge of the range
    (2^62 ms) and Prometheus' 'no bound' strings are answered."""
    sel = {"match[]": "mm"}
    endpoints = [
        ("GET", "/api/v1/query", {"query": "1"}, ["time"]),
        ("GET", "/api/v1/query_range", {"query": "1", "start": str(T0), "end": str(T0 + 60), "step": "15"},
         ["start", "end"]),
        ("GET", "/api/v1/series", sel, ["start", "end"]),
        ("GET", "/api/v1/labels", {}, ["start", "end"]),
        ("GET", "/api/v1/label/k/values", {}, ["start", "end"]),
        ("GET", "/api/v1/export", sel, ["start", "end"]),
        ("POST", "/api/v1/admin/tsdb/delete_series", {"match[]": "does_not_exist"}, ["start", "end"]),
    ]
    for method, path, base, names in endpoints:
        for name in names:
            for v in EXTREME_TIMES:
                p = dict(base)
                p[name] = v
                st, b, _ = s.req(method, path + "?" + urllib.parse.urlencode(p))
                expect(st, b, 400, "%s %s=%s" % (path, name, v), "bad_data")
    for name in ("step", "timeout", "lookback_delta"):
        for v in EXTREME_DURATIONS:
            p = {"query": "1", "start": str(T0), "end": str(T0 + 60), "step": "15"}
            p[name] = v
            st, b, _ = s.req("GET", "/api/v1/query_range?" + urllib.parse.urlencode(p))
            want = 200 if (name, v) in HUGE_VALID else 400
            expect(st, b, want, "query_range %s=%s" % (name, v), None if want == 200 else "bad_data")
    # the edges: +-2^62 ms are times; one ms beyond is not
    edge_s = "4611686018427387.904"
    for v, code in ((edge_s, 200), ("-" + edge_s, 200), ("4611686018427387.905", 400), ("-4611686018427387.905", 400),
                    ("-292273086-05-16T16:47:06Z", 200), ("292277025-08-18T07:12:54.999999999Z", 200)):
        st, b, _ = s.req("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": "time()", "time": v}))
        expect(st, b, code, "query time=%s" % v)
        st, b, _ = s.req("GET", "/api/v1/series?" + urllib.parse.urlencode({"match[]": "mmj", "end": v}))
        expect(st, b, code, "series end=%s" % v)
    st, b, _ = s.req("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": "time()", "time": edge_s}))
    check(st == 200 and b'"result":[4611686018427387.904,' in b,
          "time() at 2^62 ms: %r" % b[:200])
    # the widest range series/labels/export/delete take: all of the data
    wide = {"start": "-292273086-05-16T16:47:06Z", "end": "292277025-08-18T07:12:54.999999999Z"}
    st, b, _ = s.req("GET", "/api/v1/series?" + urllib.parse.urlencode(dict(wide, **{"match[]": "mmj"})))
    expect(st, b, 200, "series over Prometheus' widest range", "mmj")
    st, b, _ = s.req("GET", "/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": "1", "start": "-" + edge_s, "end": edge_s, "step": "1000000000000000"}))
    expect(st, b, 200, "query_range over the whole range, a huge step")
    # remote read: start/end are any int64 (never parsed as text); extremes answer
    for start, end in ((-(1 << 63), (1 << 63) - 1), ((1 << 63) - 1, -(1 << 63)), (-(1 << 63), -(1 << 63))):
        body = snappy_literal(read_request([(start, end, [(0, "__name__", "mmj")])]))
        st, b, _ = s.req("POST", "/api/v1/read", body, PROTO_HEADERS)
        expect(st, b, 200, "remote read %d..%d" % (start, end))
        if st == 200:
            res = parse_read_response(snappy_decode(b))
            n = sum(len(v) for v in res[0].values())
            check(n == (2 if start < end else 0), "remote read %d..%d: %d samples" % (start, end, n))


def cli_times(data):
    """The command line's --start/--end/--step: the same refusals (exit 2)."""
    import subprocess
    strata = os.environ.get("STRATA_BIN", "build/strata")
    for v in EXTREME_TIMES:
        for args in (["export", "--start", v], ["export", "--end", v], ["query", "1", "--end", v],
                     ["delete", "--match", "none", "--start", v], ["query", "1", "--start", v, "--end", "0"]):
            p = subprocess.run([strata] + args[:1] + ["-d", data] + args[1:], capture_output=True, timeout=60)
            check(p.returncode == 2 and b"bad time" in p.stderr,
                  "strata %s: rc %d %r" % (" ".join(args), p.returncode, p.stderr[-200:]))
    for v in EXTREME_DURATIONS[:5]:
        p = subprocess.run([strata, "query", "-d", data, "1", "--start", "0", "--end", "60", "--step", v],
                           capture_output=True, timeout=60)
        check(p.returncode == 2, "strata query --step %s: rc %d %r" % (v, p.returncode, p.stderr[-200:]))


def main():
    base = tmpdir()
    data = os.path.join(base, "db")
    if "--bomb-only" in sys.argv:
        s = Server(data).start()
        body = snappy_repeat(b"\x0a\x00", 64 * MIB)
        h0 = hwm_kib(s)
        st, b, _ = s.req("POST", "/api/v1/write", body, PROTO_HEADERS, timeout=600)
        print("body %d bytes, decodes to %d bytes: status %s %r; VmHWM %d MiB before, %d MiB after"
              % (len(body), 64 * MIB, st, b[:120], h0 // 1024, hwm_kib(s) // 1024))
        s.stop()
        shutil.rmtree(base, ignore_errors=True)
        return
    s = Server(data).start()
    try:
        bombs(s)
        multi_member(s)
        extreme_times(s)
        st, _, _ = s.req("GET", "/health")
        check(st == 200, "server alive after everything")
        realistic_write(s)
        rc = s.stop()
        check(rc == 0, "graceful stop: rc %s" % rc)
        cli_times(data)
    finally:
        if s.p and s.p.poll() is None:
            s.stop()
    if FAILS:
        print("%d failures" % len(FAILS))
        sys.exit(1)
    shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
