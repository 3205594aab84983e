#!/usr/bin/env python3
"""Downsampled data through the HTTP API: no gap and no double counting
where raw, 5-minute and 1-hour partitions meet.

`strata serve --downsampling '30d:5m,180d:1h'` (partitions of a day) gets
240 days of three series sampled every 60 s on the minute (a counter with
resets, a gauge of hundredths, a gauge with a missing stretch of days),
through /api/v1/import (JSON lines, ten days a request, days in random
order); then /internal/force_flush and /internal/force_merge run the rules
jobs: partitions that ended 30 days ago or earlier are kept as 5-minute
rows, those that ended 180 days ago or earlier as 1-hour rows.

query_range over the whole 240 days, at steps equal to the window (so
every window holds whole intervals), of count_over_time, sum_over_time,
max_over_time, min_over_time, avg_over_time and increase over [1d] and
rate over [1h], and of a few of them over [1d] at 6-hour steps (sliding
windows whose ends stay on whole hours) and with `offset 6h`, is
compared point by point with the same functions
computed here from the samples sent (Prometheus' semantics: windows
(t - range, t], extrapolatedRate): the same set of points, equal values
(count, max, min and last exactly; sum, avg, increase and rate within 1e-9
relative). Samples fall on day and hour boundaries, so the sample at a
window's end lies in the next partition: the windows at the raw/5m and
5m/1h boundaries are where a gap or a double count would show.

max_source_resolution: `raw` answers from the raw partitions only (the
model restricted to them: the boundary window holds only its raw sample),
`5m` from raw and 5-minute data, `auto` and `1h` from everything, and a bad
value is a 400 in Prometheus' error envelope, on query and query_range;
a form body (POST) carries the parameter as the query string does.

Seed: STRATA_SEED (printed).
"""
import bisect
import json
import math
import os
import random
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import Server, tmpdir  # noqa: E402

SEED = int(os.environ.get("STRATA_SEED", "1414"))
DAY = 86400000
HOUR = 3600000
MIN = 60000
DAYS = 240
RAW_AGE, RAW_RES = 30 * DAY, 0
AGE_5M, RES_5M = 30 * DAY, 5 * MIN
AGE_1H, RES_1H = 180 * DAY, HOUR
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL " + msg)


def make_data(rng, d0):
    """{name: (labels, [t], [v])}: one sample a minute over DAYS days from d0."""
    n = DAYS * 1440
    ts = [d0 + i * MIN for i in range(n)]
    series = {}
    v, c = [], 0.0
    for i in range(n):
        if i and rng.random() < 1 / 3000:
            c = float(rng.randrange(5))  # a reset
        else:
            c += rng.randrange(0, 20)
        v.append(c)
    series["counter"] = ({"__name__": "ds_requests_total", "job": "api"}, ts, v)
    g = [round(rng.uniform(-500, 500), 2) for _ in range(n)]
    series["gauge"] = ({"__name__": "ds_temperature", "job": "api"}, ts, g)
    # a gauge with a hole of 12 days across the 5m/1h boundary's
    # neighbourhood and 3 days inside the raw period
    hole = set(range(50, 62)) | set(range(DAYS - 10, DAYS - 7))
    keep = [i for i in range(n) if (i // 1440) not in hole]
    series["sparse"] = ({"__name__": "ds_queue", "job": "api"}, [ts[i] for i in keep],
                        [round(rng.uniform(0, 100), 1) for _ in keep])
    return series


def fmt_value(x):
    return repr(float(x))


def import_data(srv, series, rng):
    days = list(range(DAYS))
    rng.shuffle(days)
    for k in range(0, len(days), 10):
        lines = []
        for d in days[k:k + 10]:
            for labels, ts, vs in series.values():
                d0 = series["counter"][1][0] + d * DAY
                lo = bisect.bisect_left(ts, d0)
                hi = bisect.bisect_left(ts, d0 + DAY)
                if lo == hi:
                    continue
                lines.append('{"metric":%s,"values":[%s],"timestamps":[%s]}' % (
                    json.dumps(labels), ",".join(fmt_value(x) for x in vs[lo:hi]),
                    ",".join(str(t) for t in ts[lo:hi])))
        st, body, _ = srv.req("POST", "/api/v1/import", ("\n".join(lines) + "\n").encode())
        if st not in (200, 204):
            sys.exit("FAIL: import: %d %s" % (st, body[:300]))


def resolution_of(t, now, part=DAY):
    """The resolution the rules give the partition holding t (0: raw)."""
    end = t - t % part + part
    if end + AGE_1H <= now:
        return RES_1H
    if end + AGE_5M <= now:
        return RES_5M
    return 0


# ------------------------------------------------------------------ the model
def model(fn, ts, vs, start, end, step, rng_ms):
    """{t: value} of fn(x[rng_ms]) at start, start+step, ..., end."""
    out = {}
    t = start
    while t <= end:
        lo = bisect.bisect_right(ts, t - rng_ms)
        hi = bisect.bisect_right(ts, t)
        w = vs[lo:hi]
        if w:
            if fn == "count_over_time":
                out[t] = float(len(w))
            elif fn == "sum_over_time":
                out[t] = math.fsum(w)
            elif fn == "avg_over_time":
                out[t] = math.fsum(w) / len(w)
            elif fn == "max_over_time":
                out[t] = max(w)
            elif fn == "min_over_time":
                out[t] = min(w)
            elif fn == "last_over_time":
                out[t] = w[-1]
            elif fn in ("rate", "increase") and len(w) >= 2:
                out[t] = extrapolated(ts[lo:hi], w, t, rng_ms, fn == "rate")
        t += step
    return out


def extrapolated(ts, vs, wend, rng_ms, is_rate):
    """Prometheus 3's extrapolatedRate for a counter."""
    result = vs[-1] - vs[0]
    for a, b in zip(vs, vs[1:]):
        if b < a:
            result += a
    to_start = (ts[0] - (wend - rng_ms)) / 1000
    to_end = (wend - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    avg = sampled / (len(vs) - 1)
    threshold = avg * 1.1
    if to_start >= threshold:
        to_start = avg / 2
    to_zero = to_start
    if result > 0 and vs[0] >= 0:
        to_zero = sampled * (vs[0] / result)
    to_start = min(to_start, to_zero)
    if to_end >= threshold:
        to_end = avg / 2
    factor = (sampled + to_start + to_end) / sampled if sampled else 1.0
    if is_rate:
        factor /= rng_ms / 1000
    return result * factor


def close(a, b, exact):
    if exact:
        return a == b
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def query_range(srv, q, start, end, step, msr=None):
    p = {"query": q, "start": "%.3f" % (start / 1000), "end": "%.3f" % (end / 1000), "step": "%ds" % (step // 1000)}
    if msr is not None:
        p["max_source_resolution"] = msr
    st, body = srv.json("GET", "/api/v1/query_range?" + urllib.parse.urlencode(p))
    if st != 200 or body.get("status") != "success":
        sys.exit("FAIL: %s: %d %s" % (q, st, json.dumps(body)[:500]))
    res = body["data"]["result"]
    if len(res) > 1:
        sys.exit("FAIL: %s: %d series" % (q, len(res)))
    return {int(round(float(t) * 1000)): float(v) for t, v in res[0]["values"]} if res else {}


def compare(srv, fn, name, ts, vs, rng_ms, start, end, msr, what, boundaries, step=None, offset=0):
    """fn(name[rng_ms] offset) at steps of step (default rng_ms) against the model."""
    step = step or rng_ms
    sel = '%s{job="api"}' % name
    q = "%s(%s[%s]%s)" % (fn, sel, "1d" if rng_ms == DAY else "1h", " offset %dh" % (offset // HOUR) if offset else "")
    got = query_range(srv, q, start, end, step, msr)
    want = {t + offset: v for t, v in model(fn, ts, vs, start - offset, end - offset, step, rng_ms).items()}
    exact = fn in ("count_over_time", "max_over_time", "min_over_time", "last_over_time")
    bad = []
    for t in sorted(set(got) | set(want)):
        if t not in want:
            bad.append("at %d: only strata answers (%r)" % (t, got[t]))
        elif t not in got:
            bad.append("at %d: strata has no point (the model %r)" % (t, want[t]))
        elif not close(got[t], want[t], exact):
            bad.append("at %d: %r, the model %r" % (t, got[t], want[t]))
    if bad:
        near = [b for b in bad if any(abs(int(b.split()[1].rstrip(":")) - x) <= 2 * DAY for x in boundaries)]
        fail("%s (%s): %d of %d points differ (%d near a resolution boundary): %s" %
             (q, what, len(bad), len(want), len(near), "; ".join(bad[:4])))
    return len(want)


def main():
    print("seed: %d (set STRATA_SEED to replay)" % SEED)
    rng = random.Random(SEED)
    top = tmpdir()
    srv = None
    try:
        today = int(time.time() * 1000) // DAY * DAY
        d0 = today - DAYS * DAY
        series = make_data(rng, d0)
        data = os.path.join(top, "data")
        srv = Server(data, "--downsampling", "30d:5m,180d:1h", "--compaction-threads", "1").start()
        t0 = time.monotonic()
        import_data(srv, series, rng)
        t1 = time.monotonic()
        for path in ("/internal/force_flush", "/internal/force_merge"):
            st, body, _ = srv.req("POST", path, timeout=600)
            if st not in (200, 204):
                sys.exit("FAIL: %s: %d %s" % (path, st, body[:300]))
        now = int(time.time() * 1000)
        if now // DAY != today // DAY:  # midnight passed: one more partition is due
            st, body, _ = srv.req("POST", "/internal/force_merge", timeout=600)
            now = int(time.time() * 1000)
        t2 = time.monotonic()
        n_samples = sum(len(s[1]) for s in series.values())
        print("imported %d samples over %d days in %.1f s; flush and rules jobs %.1f s" %
              (n_samples, DAYS, t1 - t0, t2 - t1))

        # the partitions where the resolution changes
        b_raw = min(t for t in range(d0, today, DAY) if resolution_of(t, now) == 0)
        b_5m = min(t for t in range(d0, today, DAY) if resolution_of(t, now) == RES_5M)
        print("1h rows before %s, 5m rows before %s, raw after (ages %.0f d and %.0f d)" %
              (time.strftime("%Y-%m-%d", time.gmtime(b_5m / 1000)), time.strftime("%Y-%m-%d", time.gmtime(b_raw / 1000)),
               (now - b_5m) / DAY, (now - b_raw) / DAY))
        if not (d0 < b_5m < b_raw < today):
            sys.exit("FAIL: the data does not span the three resolutions")

        # the old data really is rows: raw-only reads see none of it
        st, info = srv.json("GET", "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": "count_over_time(ds_temperature[1d])", "start": (d0 + 2 * DAY) / 1000,
             "end": (b_raw - DAY) / 1000, "step": "1d", "max_source_resolution": "raw"}))
        if st != 200 or info["data"]["result"]:
            fail("max_source_resolution=raw answers for days kept as aggregates: %d %s" % (st, json.dumps(info)[:300]))

        start, end = d0 + DAY, today
        points = 0
        fns_day = ["count_over_time", "sum_over_time", "max_over_time", "min_over_time", "avg_over_time"]
        for key, (labels, ts, vs) in series.items():
            name = labels["__name__"]
            fns = fns_day + (["increase"] if key == "counter" else [])
            for fn in fns:
                for msr in (None, "auto", "1h"):
                    if msr == "1h" and fn not in ("count_over_time", "sum_over_time"):
                        continue
                    points += compare(srv, fn, name, ts, vs, DAY, start, end, msr, "max_source_resolution=%s" % msr,
                                      (b_raw, b_5m))
            if key == "counter":
                points += compare(srv, "rate", name, ts, vs, HOUR, start, end, None, "auto", (b_raw, b_5m))
            # sliding windows (a step of 6 h, a day's window: the ends stay
            # on whole hours) and an offset of 6 h
            for fn in ["count_over_time", "sum_over_time", "max_over_time", "last_over_time"] + \
                    (["increase"] if key == "counter" else []):
                points += compare(srv, fn, name, ts, vs, DAY, start, end, None, "6 h steps", (b_raw, b_5m),
                                  step=6 * HOUR)
            points += compare(srv, "sum_over_time", name, ts, vs, DAY, start + DAY, end, None, "offset 6h",
                              (b_raw, b_5m), offset=6 * HOUR)
            # only the raw partitions, then raw and 5m: the model of those samples
            for msr, limit in (("raw", 0), ("5m", RES_5M), ("0s", 0), ("300s", RES_5M)):
                keep = [i for i, t in enumerate(ts) if resolution_of(t, now) <= limit]
                kts, kvs = [ts[i] for i in keep], [vs[i] for i in keep]
                for fn in ("count_over_time", "max_over_time", "sum_over_time"):
                    points += compare(srv, fn, name, kts, kvs, DAY, start, end, msr,
                                      "max_source_resolution=%s" % msr, (b_raw, b_5m))
                if key == "counter" and msr == "5m":
                    points += compare(srv, "rate", name, kts, kvs, HOUR, start, end, msr,
                                      "max_source_resolution=%s" % msr, (b_raw, b_5m))
        t3 = time.monotonic()
        print("%d points compared in %.1f s" % (points, t3 - t2))

        # a form body (POST) carries it as the query string does
        p = {"query": "count_over_time(ds_temperature[1d])", "start": start / 1000, "end": end / 1000, "step": "1d"}
        for msr in ("raw", "5m", "auto"):
            via_get = query_range(srv, p["query"], start, end, DAY, msr)
            st, body = srv.json("POST", "/api/v1/query_range", urllib.parse.urlencode(dict(p, max_source_resolution=msr)),
                                {"Content-Type": "application/x-www-form-urlencoded"})
            via_post = {int(round(float(t) * 1000)): float(v) for t, v in body["data"]["result"][0]["values"]} \
                if st == 200 and body["data"]["result"] else None
            if via_post != via_get:
                fail("POST query_range with max_source_resolution=%s: %d, %s points, GET %d points" %
                     (msr, st, len(via_post) if via_post else None, len(via_get)))

        # a bad max_source_resolution: 400, Prometheus' envelope
        for path, extra in (("/api/v1/query_range", {"start": start / 1000, "end": end / 1000, "step": "1d"}),
                            ("/api/v1/query", {"time": end / 1000})):
            for bad in ("5x", "-5m", "fast"):
                p = dict(extra, query="count_over_time(ds_temperature[1d])", max_source_resolution=bad)
                st, body = srv.json("GET", path + "?" + urllib.parse.urlencode(p))
                if st != 400 or body.get("status") != "error" or body.get("errorType") != "bad_data" or \
                        "max_source_resolution" not in body.get("error", ""):
                    fail("%s max_source_resolution=%s: %d %s (want 400, bad_data naming the parameter)" %
                         (path, bad, st, json.dumps(body)[:300]))
        # instant queries take it too: raw hides the 1h period
        t_old = b_5m - 10 * DAY
        for msr, want in (("auto", 1440.0), ("raw", None), ("5m", None), ("1h", 1440.0)):
            p = {"query": "count_over_time(ds_temperature[1d])", "time": t_old / 1000}
            p["max_source_resolution"] = msr
            st, body = srv.json("GET", "/api/v1/query?" + urllib.parse.urlencode(p))
            res = body["data"]["result"] if st == 200 else None
            got = float(res[0]["value"][1]) if res else None
            if st != 200 or got != want:
                fail("instant count_over_time at %d with max_source_resolution=%s: %s, want %s" % (t_old, msr, got, want))

        rc = srv.stop()
        srv = None
        if rc != 0:
            fail("strata serve exited %s" % rc)
        if FAILS:
            sys.exit("FAIL: %d check(s) failed" % len(FAILS))
        print("ok")
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
