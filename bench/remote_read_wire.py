"""Remote read, SAMPLES vs STREAMED_XOR_CHUNKS: bytes on the wire and
strata's CPU per answer, and a Prometheus 2.42 head's CPU per query over
remote read (SAMPLES: what Prometheus 2.x asks for). Optional argument: a
file to save the streamed body to (for a decoder to time).
  STRATA_BIN=build/strata python3 bench/remote_read_wire.py [/tmp/body]
Data: SERIES counters (default 1000) of 1440 samples (6 h at 15 s)."""
import os
import random
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "scripts"))
from prom_util import Prom, http_call  # noqa: E402
from server_util import (PROTO_HEADERS, Server, f2bits, field_bytes, field_varint, snappy_literal,  # noqa: E402
                         tmpdir)

N = int(os.environ.get("SERIES", "1000"))
STEPS = 1440
rnd = random.Random(1)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        x = f.read().rsplit(")", 1)[1].split()
    return (int(x[11]) + int(x[12])) / os.sysconf("SC_CLK_TCK")


def main():
    d = tmpdir()
    s = Server(d + "/db").start()
    t0 = (int(time.time()) - 7 * 3600) // 60 * 60 * 1000
    for k in range(0, N, 50):
        parts = []
        for i in range(k, min(N, k + 50)):
            v = 0.0
            lab = b"".join(field_bytes(1, field_bytes(1, a.encode()) + field_bytes(2, b.encode()))
                           for a, b in (("__name__", "m"), ("instance", "host%04d" % i), ("job", "node")))
            pts = []
            for j in range(STEPS):
                v += rnd.randrange(100)
                pts.append(field_bytes(2, b"\x09" + struct.pack("<Q", f2bits(v)) + field_varint(2, t0 + j * 15000)))
            parts.append(field_bytes(1, lab + b"".join(pts)))
        st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(b"".join(parts)), PROTO_HEADERS)
        assert st == 204, (st, b)
    end = t0 + STEPS * 15000
    q = field_bytes(1, field_varint(1, t0) + field_varint(2, end) +
                    field_bytes(3, field_varint(1, 0) + field_bytes(2, b"__name__") + field_bytes(3, b"m")))
    print("%d series x %d samples = %d samples" % (N, STEPS, N * STEPS))
    for name, acc in (("SAMPLES", 0), ("STREAMED_XOR_CHUNKS", 1)):
        body = snappy_literal(q + field_varint(2, acc))
        reps, size = 5, 0
        c0, w0 = cpu_s(s.p.pid), time.time()
        for _ in range(reps):
            st, b, _ = s.req("POST", "/api/v1/read", body, PROTO_HEADERS)
            assert st == 200
            size = len(b)
            if acc and len(sys.argv) > 1:
                with open(sys.argv[1], "wb") as f:
                    f.write(b)
        c1, w1 = cpu_s(s.p.pid), time.time()
        print("%-20s %10d bytes (%.2f bytes/sample)  strata CPU %.3f s/answer  wall %.3f s" %
              (name, size, size / (N * STEPS), (c1 - c0) / reps, (w1 - w0) / reps))
    p = Prom(d, "head", "remote_read:\n  - url: http://127.0.0.1:%d/api/v1/read\n    read_recent: true\n" % s.port)
    try:
        for query in ("count_over_time(m[6h])", "sum(rate(m[5m]))"):
            args = {"query": query, "time": end / 1000}
            if "rate" in query:
                args = {"query": query, "start": t0 / 1000 + 300, "end": end / 1000, "step": 60}
            path = ("/api/v1/query_range?" if "rate" in query else "/api/v1/query?") + urllib.parse.urlencode(args)
            http_call(p.port, "GET", path)
            reps = 5
            c0, s0, w0 = cpu_s(p.p.pid), cpu_s(s.p.pid), time.time()
            for _ in range(reps):
                st, b, _ = http_call(p.port, "GET", path)
                assert st == 200, b[:300]
            c1, s1, w1 = cpu_s(p.p.pid), cpu_s(s.p.pid), time.time()
            print("head (Prometheus 2.42, SAMPLES) %-26s head CPU %.3f s/query, strata CPU %.3f s, wall %.3f s" %
                  (query, (c1 - c0) / reps, (s1 - s0) / reps, (w1 - w0) / reps))
    finally:
        p.stop()
        s.stop()


main()
