#!/usr/bin/env python3
"""bench/isolation.py: /health latency and ingest rate of `strata serve`
while PromQL queries run flat out, beside the same figures without query
load, measured in one run.

    python3 bench/isolation.py [--strata build/strata] [--queries 8] [--seconds 10] [--writers 2]

Phases, each --seconds long, against one fresh server on loopback:
  1. baseline: --writers threads post line protocol (1000 samples a
     request, new series and timestamps each time) as fast as the server
     answers, while a prober asks GET /health on a new connection every
     10 ms;
  2. saturated: the same, plus --queries threads that each loop on a slow
     range query (a quantile over a subquery of --query-window points at
     each of 11,000 steps: CPU-bound, little memory, no stored data), so
     the query side is never idle.
It prints /health p50/p99/max and ingest samples/s of both phases and
their ratio. Figures, not a pass/fail: the machine is shared and noisy.
Extra arguments after -- go to `strata serve` (e.g. -- --threads 2)."""
import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

T0 = 1700000000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(port, method, path, body=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def phase(port, seconds, writers, queries, query_window, batch_no):
    stop = threading.Event()
    lat, samples, qdone, errors = [], [0], [0], []
    lock = threading.Lock()

    def writer(w):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        n = 0
        while not stop.is_set():
            b = batch_no[0] = batch_no[0] + 1
            body = "".join("bench_iso,w=%d,s=%d v=%d %d\n" % (w, k, b, (T0 + b) * 10**9) for k in range(1000))
            c.request("POST", "/write", body=body)
            r = c.getresponse()
            r.read()
            if r.status != 204:
                errors.append("write %d" % r.status)
            else:
                n += 1000
        c.close()
        with lock:
            samples[0] += n

    def query():
        path = "/api/v1/query_range?" + urllib.parse.urlencode({
            "query": "quantile_over_time(0.5, vector(time())[%ds:1s])" % query_window, "start": T0,
            "end": T0 + 10999, "step": "1s"})
        while not stop.is_set():
            try:
                req(port, "GET", path, timeout=600)
            except OSError as e:
                errors.append("query %s" % e)
            with lock:
                qdone[0] += 1

    def prober():
        while not stop.is_set():
            t = time.monotonic()
            try:
                st, _ = req(port, "GET", "/health", timeout=60)
            except OSError as e:
                errors.append("health %s" % e)
                continue
            lat.append(time.monotonic() - t)
            if st != 200:
                errors.append("health %d" % st)
            stop.wait(0.01)

    ths = [threading.Thread(target=query) for _ in range(queries)]
    for t in ths:
        t.start()
    if queries:
        stop.wait(1.0)  # let the queries take the pool before measuring
    wts = [threading.Thread(target=writer, args=(w,)) for w in range(writers)] + [threading.Thread(target=prober)]
    t0 = time.monotonic()
    for t in wts:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in wts:
        t.join()
    dt = time.monotonic() - t0
    for t in ths:
        t.join()
    return {"rate": samples[0] / dt, "lat": lat, "errors": errors, "queries": qdone[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strata", default=os.environ.get("STRATA_BIN", "build/strata"))
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--query-window", type=int, default=3600,
                    help="seconds of the subquery window: the cost of one query (3600: about 4 s alone here)")
    ap.add_argument("serve_args", nargs="*")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="strata-bench-iso-")
    port = free_port()
    log = open(os.path.join(d, "serve.log"), "wb")
    p = subprocess.Popen([a.strata, "serve", "-d", os.path.join(d, "db"), "--listen", "127.0.0.1:%d" % port]
                         + a.serve_args, stdout=log, stderr=subprocess.STDOUT)
    try:
        t_end = time.time() + 30
        while True:
            try:
                if req(port, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > t_end or p.poll() is not None:
                sys.exit("server did not start; log in " + d)
            time.sleep(0.05)
        batch_no = [0]
        base = phase(port, a.seconds, a.writers, 0, a.query_window, batch_no)
        sat = phase(port, a.seconds, a.writers, a.queries, a.query_window, batch_no)
    finally:
        p.terminate()
        p.wait(timeout=300)
        log.close()
    print("strata isolation bench: %s %s, %d writers x 1000 samples/request, /health probe every 10 ms, %g s a phase"
          % (a.strata, " ".join(a.serve_args), a.writers, a.seconds))
    print("| phase | /health n | p50 ms | p99 ms | max ms | ingest samples/s | queries done |")
    print("|---|---|---|---|---|---|---|")
    for name, r in [("no queries", base), ("%d queries flat out" % a.queries, sat)]:
        L = r["lat"]
        print("| %s | %d | %.1f | %.1f | %.1f | %.0f | %d |" % (name, len(L), pct(L, 50) * 1e3, pct(L, 99) * 1e3,
                                                             max(L) * 1e3 if L else float("nan"), r["rate"],
                                                             r["queries"]))
    print("ingest under query saturation / without: %.2f" % (sat["rate"] / base["rate"] if base["rate"] else 0))
    errs = base["errors"] + sat["errors"]
    if errs:
        print("errors (%d): %s" % (len(errs), ", ".join(sorted(set(errs))[:10])))
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
