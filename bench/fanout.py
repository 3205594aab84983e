"""A Prometheus 2.42 query head over 1, 2, 4 and 8 strata shards holding
the same data split by series (SERIES counters of 1440 samples, 6 h at
15 s): head CPU, shards' CPU and wall time per query as the fan-out grows.
  STRATA_BIN=build/strata python3 bench/fanout.py"""
import os
import random
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "scripts"))
from prom_util import Prom, http_call  # noqa: E402
from server_util import PROTO_HEADERS, Server, f2bits, field_bytes, field_varint, snappy_literal, tmpdir  # noqa: E402

N = int(os.environ.get("SERIES", "1000"))
STEPS = 1440


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        x = f.read().rsplit(")", 1)[1].split()
    return (int(x[11]) + int(x[12])) / os.sysconf("SC_CLK_TCK")


def main():
    t0 = (int(time.time()) - 7 * 3600) // 60 * 60 * 1000
    end = t0 + STEPS * 15000
    print("%d series x %d samples; queries: count_over_time(m[6h]) instant, sum(rate(m[5m])) range at 60 s" % (N, STEPS))
    for n in (1, 2, 4, 8):
        d = tmpdir()
        shards = [Server("%s/s%d" % (d, i)).start() for i in range(n)]
        rnd = random.Random(1)
        for k in range(0, N, 50):
            per = {}
            for i in range(k, min(N, k + 50)):
                v = 0.0
                lab = b"".join(field_bytes(1, field_bytes(1, a.encode()) + field_bytes(2, b.encode()))
                               for a, b in (("__name__", "m"), ("instance", "host%04d" % i), ("job", "node")))
                pts = []
                for j in range(STEPS):
                    v += rnd.randrange(100)
                    pts.append(field_bytes(2, b"\x09" + struct.pack("<Q", f2bits(v)) + field_varint(2, t0 + j * 15000)))
                per.setdefault(i % n, []).append(field_bytes(1, lab + b"".join(pts)))
            for si, parts in per.items():
                st, b, _ = shards[si].req("POST", "/api/v1/write", snappy_literal(b"".join(parts)), PROTO_HEADERS)
                assert st == 204, (st, b)
        conf = "remote_read:\n" + "".join("  - url: http://127.0.0.1:%d/api/v1/read\n    read_recent: true\n" % s.port
                                          for s in shards)
        p = Prom(d, "head", conf)
        try:
            for query, args, path in (
                    ("count_over_time(m[6h])", {"query": "count_over_time(m[6h])", "time": end / 1000}, "/api/v1/query?"),
                    ("sum(rate(m[5m]))", {"query": "sum(rate(m[5m]))", "start": t0 / 1000 + 300, "end": end / 1000,
                                          "step": 60}, "/api/v1/query_range?")):
                url = path + urllib.parse.urlencode(args)
                http_call(p.port, "GET", url)
                reps = 3
                c0, s0, w0 = cpu_s(p.p.pid), sum(cpu_s(s.p.pid) for s in shards), time.time()
                for _ in range(reps):
                    st, b, _ = http_call(p.port, "GET", url)
                    assert st == 200, b[:300]
                c1, s1, w1 = cpu_s(p.p.pid), sum(cpu_s(s.p.pid) for s in shards), time.time()
                print("shards %d  %-24s head CPU %.3f s  shards CPU %.3f s  wall %.3f s per query" %
                      (n, query, (c1 - c0) / reps, (s1 - s0) / reps, (w1 - w0) / reps), flush=True)
        finally:
            p.stop()
            for s in shards:
                s.stop()


main()
