"""Load: concurrent writers (line protocol, remote write, import) and readers
(query, query_range, series, labels, export, remote read) against one server
on loopback for a bounded time (STRATA_LOAD_SECONDS, default 8). Every
sample acknowledged must be stored (count in == count out, also after a
restart), no request may fail, and the server's RSS must stay bounded."""
import http.client
import json
import os
import random
import shutil
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import PROTO_HEADERS, Server, f2bits, read_request, snappy_literal, tmpdir, write_request

SECONDS = float(os.environ.get("STRATA_LOAD_SECONDS", "8"))
SEED = int(os.environ.get("STRATA_SEED", "42"))
RSS_LIMIT_KB = 600 * 1024
T0 = 1700000000000


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = 0
        self.requests = 0
        self.errors = []

    def ok(self, n):
        with self.lock:
            self.acked += n
            self.requests += 1

    def err(self, what):
        with self.lock:
            self.errors.append(what)


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def post(c, path, body, headers):
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.read()


def writer(kind, wid, port, stop, st):
    """Writer wid writes series w<wid>_s<k> at its own timestamps; each batch
    has new timestamps so nothing overwrites anything."""
    rng = random.Random(SEED * 100 + wid)
    c = conn(port)
    batch_no = 0
    while not stop.is_set():
        nser = rng.randint(5, 50)
        npts = rng.randint(1, 40)
        base = T0 + batch_no * 1000 * 40
        n = nser * npts
        if kind == "lp":
            lines = ["load,w=%d,s=%d v=%d.5 %d" % (wid, k, j, (base + j * 1000) * 10**6)
                     for k in range(nser) for j in range(npts)]
            stt, b = post(c, "/write", "\n".join(lines) + "\n", {"Content-Type": "text/plain"})
        elif kind == "rw":
            series = [([("__name__", "load_v"), ("s", str(k)), ("w", str(wid))],
                       [(base + j * 1000, f2bits(j + 0.5)) for j in range(npts)]) for k in range(nser)]
            stt, b = post(c, "/api/v1/write", snappy_literal(write_request(series)), PROTO_HEADERS)
        else:
            lines = [json.dumps({"metric": {"__name__": "load_v", "w": str(wid), "s": str(k)},
                                 "values": [j + 0.5 for j in range(npts)],
                                 "timestamps": [base + j * 1000 for j in range(npts)]}) for k in range(nser)]
            stt, b = post(c, "/api/v1/import", "\n".join(lines) + "\n", {})
        if stt == 204:
            st.ok(n)
        else:
            st.err("%s writer %d: %s %r" % (kind, wid, stt, b[:200]))
        batch_no += 1
    c.close()


def reader(rid, port, stop, st):
    rng = random.Random(SEED * 1000 + rid)
    c = conn(port)
    q = urllib.parse.urlencode
    while not stop.is_set():
        k = rng.randrange(6)
        if k == 5:
            rr = read_request([(T0, T0 + 10**9, [(0, "__name__", "load_v"), (0, "w", str(rng.randrange(4)))])])
            c.request("POST", "/api/v1/read", body=snappy_literal(rr), headers=PROTO_HEADERS)
        else:
            path = ["/api/v1/query?" + q({"query": 'load_v{w="%d"}' % rng.randrange(4), "time": (T0 + 10**6) / 1000}),
                    "/api/v1/query_range?" + q({"query": 'load_v{s="%d"}' % rng.randrange(50), "start": T0 / 1000,
                                                "end": T0 / 1000 + 3600, "step": "60s"}),
                    "/api/v1/series?" + q({"match[]": 'load_v{s="%d"}' % rng.randrange(50)}),
                    "/api/v1/labels",
                    "/api/v1/export?" + q({"match[]": 'load_v{w="%d",s="%d"}' % (rng.randrange(4), rng.randrange(50))}),
                    ][k]
            c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            st.err("reader %d: %s %r" % (rid, r.status, body[:200]))
        else:
            st.ok(0)
    c.close()


def count_stored(s):
    st, b, _ = s.req("GET", "/api/v1/export?" + urllib.parse.urlencode({"match[]": '{__name__=~"load_v"}'}),
                     timeout=300)
    assert st == 200, st
    n = 0
    for line in b.decode().splitlines():
        if line:
            n += len(json.loads(line)["values"])
    return n


def main():
    print("seed", SEED, "seconds", SECONDS)
    base = tmpdir()
    s = Server(os.path.join(base, "db"), "--threads", "4").start()
    fails = []
    try:
        stop = threading.Event()
        wst, rst = Stats(), Stats()
        kinds = ["lp", "lp", "rw", "import"]
        ths = [threading.Thread(target=writer, args=(k, i, s.port, stop, wst)) for i, k in enumerate(kinds)]
        ths += [threading.Thread(target=reader, args=(i, s.port, stop, rst)) for i in range(3)]
        for t in ths:
            t.start()
        peak = 0
        t_end = time.time() + SECONDS
        while time.time() < t_end:
            peak = max(peak, s.rss_kb())
            stop.wait(0.2)  # sampling RSS, not synchronising
        stop.set()
        for t in ths:
            t.join()
        peak = max(peak, s.rss_kb())
        # lp writes measurement "load" field "v": series load_v too
        stored = count_stored(s)
        print("acked samples %d in %d write requests, %d reads, stored %d, peak RSS %d MiB" % (
            wst.acked, wst.requests, rst.requests, stored, peak // 1024))
        if wst.errors or rst.errors:
            fails.append("errors: %r" % (wst.errors + rst.errors)[:5])
        if stored != wst.acked:
            fails.append("stored %d != acknowledged %d" % (stored, wst.acked))
        if wst.acked == 0 or rst.requests == 0:
            fails.append("no traffic")
        if peak > RSS_LIMIT_KB:
            fails.append("peak RSS %d KiB over %d" % (peak, RSS_LIMIT_KB))
        rc = s.stop()
        if rc != 0:
            fails.append("stop rc %s" % rc)
        s2 = Server(s.dir).start()
        again = count_stored(s2)
        if again != wst.acked:
            fails.append("after restart stored %d != acknowledged %d" % (again, wst.acked))
        s2.stop()
    finally:
        if s.p.poll() is None:
            s.stop()
    if fails:
        print("FAIL:", "\n".join(fails))
        sys.exit(1)
    shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
