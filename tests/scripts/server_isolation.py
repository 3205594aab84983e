"""Isolation of request classes, the connection cap and basic auth, on
loopback against a real `strata serve`:

1. saturation: the read pool (--query-max-concurrency 4, --queue-len 4)
   holds 4 running and 4 waiting queries, each sized to run seconds;
   meanwhile /health, a line-protocol write and a remote write
   must each be answered within BOUND_S (a generous functional bound, not a
   timing: before the pools they waited for the queries, 9-17 s), a 9th
   query is refused at once with 503 and Retry-After (the queue is
   bounded), and every query still runs when those answers came.
2. flood: FLOOD sockets (more than libmicrohttpd's own default limit of
   1020) send half a request header and stall; /health asked at once must
   be answered within a client's timeout (FIRST_BOUND_S: the server is
   still accepting the flood), the server must close the connections past
   --max-connections (not leave them queued) and hold no more than that,
   and then, with the cap full of half-open sockets, /health must be
   answered within BOUND_S.
3. basic auth: the scheme name is case-insensitive.

Nothing waits by sleeping: each step waits for a condition (the server's
own gauges in /metrics, a socket's end) under a deadline that fails the
test. STRATA_ISOLATION_SCALE multiplies the sizes (the _long variant)."""
import base64
import os
import re
import resource
import select
import shutil
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import PROTO_HEADERS, Server, f2bits, snappy_literal, tmpdir, write_request

SCALE = int(os.environ.get("STRATA_ISOLATION_SCALE", "1"))
BOUND_S = 2.0               # the bound does not grow with the load
FIRST_BOUND_S = 10.0        # a client's timeout, for the probe racing the flood's accepts
QUERY_S = 4 * SCALE          # about how long each slow query runs alone
FLOOD = 1100 * SCALE
CAP = 512
T0 = 1700000000


def slow_query_path(window_s):
    """A query that needs no stored data and costs CPU in proportion to
    window_s: a quantile over a subquery of window_s points at each of
    11,000 steps (the query engine checks its timeout only between series,
    so the query's length is set by its size, calibrated below, not by a
    timeout)."""
    return "/api/v1/query_range?" + urllib.parse.urlencode({
        "query": "quantile_over_time(0.5, vector(time())[%ds:1s])" % window_s, "start": T0, "end": T0 + 10999,
        "step": "1s"})


def calibrate(s):
    """The window that makes one query run about QUERY_S seconds alone."""
    w = 300
    while True:
        (st, b, _), dt = timed(lambda: s.req("GET", slow_query_path(w), timeout=600))
        assert st == 200, (st, b[:300])
        if dt >= QUERY_S / 4 or w >= 86400:
            break
        w *= 4
    w = min(86400, int(w * QUERY_S / max(dt, 0.01)))
    print("one query over a %d s window takes about %.1f s alone" % (w, QUERY_S))
    return w


def gauges(s):
    (st, b, _), dt = timed(lambda: s.req("GET", "/metrics", timeout=BOUND_S * 5))
    if st != 200:
        return {}
    out = {}
    for line in b.decode().splitlines():
        m = re.match(r'^(strata_http_[a-z_]+)(\{[^}]*\})? ([0-9.e+]+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def wait_for(what, cond, deadline_s):
    """Polls another process' state until cond() holds; fails at the deadline."""
    t_end = time.time() + deadline_s
    while time.time() < t_end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)  # polling the server's gauges, not standing in for synchronisation
    raise AssertionError("timed out waiting for " + what)


def timed(fn):
    """fn()'s answer and how long it took; a timeout or a reset is answered
    (None, the error, {})."""
    t = time.monotonic()
    try:
        r = fn()
    except OSError as e:
        r = (None, repr(e).encode(), {})
    return r, time.monotonic() - t


def saturation(base, fails):
    s = Server(os.path.join(base, "sat"), "--threads", "2", "--write-threads", "2", "--query-max-concurrency", "4",
               "--queue-len", "4").start()
    done = []
    lock = threading.Lock()

    window = calibrate(s)
    # The calibration's answer can reach us before its worker has left the
    # read pool: wait until the pool is idle, or the ninth place it still
    # holds turns one of the eight queries below into a 503.
    wait_for("the read pool idle after calibrating",
             lambda: (lambda g: g if (g.get('strata_http_workers_busy{class="read"}') == 0 and
                                      g.get('strata_http_queue_waiting{class="read"}') == 0) else None)(gauges(s)),
             60)

    def query(i):
        st, b, _ = s.req("GET", slow_query_path(window), timeout=QUERY_S * 20 + 300)
        with lock:
            done.append((i, st, time.monotonic()))

    try:
        ths = [threading.Thread(target=query, args=(i,)) for i in range(8)]
        for t in ths:
            t.start()
        last = [None]

        def saturated():
            g = last[0] = gauges(s)
            return g if (g.get('strata_http_workers_busy{class="read"}') == 4 and
                         g.get('strata_http_queue_waiting{class="read"}') == 4) else None
        try:
            g = wait_for("4 queries running and 4 waiting", saturated, 60)
        except AssertionError:
            print("gauges", {k: v for k, v in (last[0] or {}).items() if "class" in k}, "queries answered", done)
            raise
        print("read pool saturated:", {k: v for k, v in g.items() if "class" in k})
        t_sat = time.monotonic()
        worst = 0.0
        for _ in range(20):
            (st, b, _), dt = timed(lambda: s.req("GET", "/health", timeout=30))
            worst = max(worst, dt)
            if st != 200:
                fails.append("/health under saturation: %s" % st)
        print("/health x20 under saturation: worst %.3f s" % worst)
        if worst > BOUND_S:
            fails.append("/health took %.2f s while queries saturate the read pool (bound %.1f s)" % (worst, BOUND_S))
        lp = "".join("iso,host=h%d v=%d %d\n" % (i % 10, i, (T0 + i) * 10**9) for i in range(1000))
        (st, b, _), dt = timed(lambda: s.req("POST", "/write", lp, timeout=30))
        print("line protocol write of 1000 samples under saturation: %s in %.3f s" % (st, dt))
        if st != 204 or dt > BOUND_S:
            fails.append("write under saturation: %s in %.2f s %r" % (st, dt, b[:200]))
        series = [([("__name__", "iso_rw"), ("k", str(k))], [(T0 * 1000 + j, f2bits(j)) for j in range(100)])
                  for k in range(10)]
        (st, b, _), dt = timed(lambda: s.req("POST", "/api/v1/write", snappy_literal(write_request(series)),
                                             PROTO_HEADERS, timeout=30))
        print("remote write of 1000 samples under saturation: %s in %.3f s" % (st, dt))
        if st != 204 or dt > BOUND_S:
            fails.append("remote write under saturation: %s in %.2f s %r" % (st, dt, b[:200]))
        (st, b, h), dt = timed(lambda: s.req("GET", slow_query_path(window), timeout=30))
        print("a 9th query with the queue full: %s in %.3f s, Retry-After %s" % (st, dt, h.get("retry-after")))
        if st != 503 or "retry-after" not in h or dt > BOUND_S:
            fails.append("9th query: %s in %.2f s, headers %r" % (st, dt, h))
        with lock:
            early = [d for d in done]
        if early:
            fails.append("queries finished while measuring (%r): not saturated, the test proves nothing" % early)
        print("measured in %.2f s, all 8 queries still running" % (time.monotonic() - t_sat))
        # a graceful stop now: the 4 running and the 4 queued finish, then the server exits
        rc = s.stop()
        for t in ths:
            t.join(QUERY_S * 20 + 330)
        codes = sorted(st for _, st, _ in done)
        print("SIGTERM with 4 queries running and 4 queued: exit %s, queries answered %r" % (rc, codes))
        if rc != 0 or codes != [200] * 8:
            fails.append("stop with queries in flight: exit %s, answers %r (want 0 and 8 x 200)" % (rc, codes))
    finally:
        if s.p.poll() is None:
            s.stop()


def flood(base, fails):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FLOOD + 200), hard))
    s = Server(os.path.join(base, "flood"), "--threads", "2", "--max-connections", str(CAP)).start()
    socks = []
    try:
        for i in range(FLOOD):
            k = socket.socket()
            k.setblocking(True)
            k.settimeout(10)
            try:
                k.connect(("127.0.0.1", s.port))
                k.sendall(b"GET /api/v1/labels HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            except OSError:
                pass  # refused or reset: the server closed it, as it may past the cap
            socks.append(k)
        print("%d sockets sent half a header" % len(socks))
        # at once: the server still works through the sockets it has not
        # accepted yet, so the bound is a client's timeout (before the cap
        # this never came: libmicrohttpd stopped accepting at 1020)
        (st, b, _), dt = timed(lambda: s.req("GET", "/health", timeout=30))
        print("/health right after the flood: %s in %.3f s" % (st, dt))
        if st != 200 or dt > FIRST_BOUND_S:
            fails.append("/health right after %d half-open sockets: %s in %.2f s (bound %.1f s)" % (
                FLOOD, st, dt, FIRST_BOUND_S))
        # the server closes what is past its cap: count the sockets that see their end
        closed = set()
        by_fd = {k.fileno(): k for k in socks if k.fileno() >= 0}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        t_end = time.time() + 60
        while len(closed) < FLOOD - CAP and time.time() < t_end:
            for fd, ev in poller.poll(500):
                poller.unregister(fd)
                try:
                    by_fd[fd].setblocking(False)
                    if by_fd[fd].recv(4096) == b"":
                        closed.add(fd)
                except OSError:
                    closed.add(fd)
        # the flood taken in, CAP half-open sockets still held: /health is prompt
        worst = 0.0
        for _ in range(5):
            (st, b, _), dt = timed(lambda: s.req("GET", "/health", timeout=30))
            worst = max(worst, dt)
            if st != 200:
                fails.append("/health during the flood: %s" % st)
        print("/health x5 with the server full of half-open sockets: worst %.3f s" % worst)
        if worst > BOUND_S:
            fails.append("/health took %.2f s with %d half-open sockets (bound %.1f s)" % (worst, CAP, BOUND_S))
        print("server closed %d of %d half-open sockets (cap %d)" % (len(closed), FLOOD, CAP))
        if len(closed) < FLOOD - CAP:
            fails.append("only %d of %d sockets closed past the cap of %d" % (len(closed), FLOOD, CAP))
        g = gauges(s)
        print("connections %s, evicted %s" % (g.get("strata_http_connections"),
                                              g.get("strata_http_connections_evicted_total")))
        if g.get("strata_http_connections", CAP + 1) > CAP:
            fails.append("%s connections open past the cap of %d" % (g.get("strata_http_connections"), CAP))
    finally:
        for k in socks:
            k.close()
        rc = s.stop()
        if rc != 0:
            fails.append("stop rc %s" % rc)


def basic_auth(base, fails):
    s = Server(os.path.join(base, "auth"), "--basic-auth", "user:pa:ss").start()
    try:
        cred = base64.b64encode(b"user:pa:ss").decode()
        bad = base64.b64encode(b"user:wrong").decode()
        for scheme, c, want in [("Basic", cred, 200), ("basic", cred, 200), ("BASIC", cred, 200),
                                ("bAsIc", cred, 200), ("Basic ", cred, 200), ("basic", bad, 401),
                                ("Basic", cred + "x", 401), ("Basicx", cred, 401), ("Bearer", cred, 401)]:
            st, _, _ = s.req("GET", "/api/v1/labels", headers={"Authorization": "%s %s" % (scheme, c)})
            if st != want:
                fails.append("Authorization %r %s: %s, want %s" % (scheme, c, st, want))
        st, _, _ = s.req("GET", "/api/v1/labels")
        if st != 401:
            fails.append("no Authorization: %s" % st)
        print("basic auth: scheme case-insensitive, wrong credentials refused")
    finally:
        s.stop()


def main():
    base = tmpdir()
    fails = []
    for name, fn in [("basic_auth", basic_auth), ("flood", flood), ("saturation", saturation)]:
        print("==", name)
        fn(base, fails)
    if fails:
        print("FAIL:\n" + "\n".join(fails))
        sys.exit(1)
    shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
