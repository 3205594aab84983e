"""A real Prometheus against strata. Prometheus #1 scrapes itself every 1 s
and remote-writes to strata; after ~40 s a second Prometheus with no data of
its own and remote_read (read_recent: true) pointing at strata must answer
PromQL queries exactly as #1 answers them from its local storage at the same
evaluation times; strata's own /api/v1/query must agree with #1 on the
aggregations and range functions it implements. Installs Debian's prometheus when missing; exits 77
(CTest: skipped) only when apt cannot install it."""
import math
import os
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prom_util import Prom, ensure_prometheus  # noqa: E402
from server_util import Server, tmpdir

SCRAPE_SECONDS = int(os.environ.get("STRATA_PROM_SECONDS", "40"))
QUERIES = [
    "rate(prometheus_http_requests_total[30s])",
    "sum by (job) (up)",
    "histogram_quantile(0.9, rate(prometheus_http_request_duration_seconds_bucket[1m]))",
    'prometheus_tsdb_head_samples_appended_total{job="self"}',
]


# strata's own PromQL against Prometheus' answers from its local storage.
# strata follows Prometheus 3, which changed how rate() extrapolates toward
# a counter's zero point (prometheus#13725); the windows are short enough
# that no counter here comes near it, so 2.42 and 3.x agree.
DIRECT = [
    "rate(prometheus_http_requests_total[10s])",
    "sum by (job) (up)",
    "sum by (handler) (increase(prometheus_http_requests_total[10s]))",
    "max_over_time(prometheus_tsdb_head_series[20s])",
]


def strata_query(s, q, t):
    st, d = s.json("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t}))
    assert st == 200, (q, st, d)
    return {tuple(sorted(x["metric"].items())): x["value"][1] for x in d["data"]["result"]}


def close(a, b):
    """Equal up to the order of floating-point sums (1e-12 relative)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = float(a[k]), float(b[k])
        if not (x == y or (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-12 * max(abs(x), abs(y))):
            return False
    return True


def same(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = float(a[k]), float(b[k])
        if math.isnan(x) and math.isnan(y):
            continue
        if x != y:
            return False
    return True


def main():
    if not ensure_prometheus():
        print("SKIP: prometheus is not installed and apt-get could not install it")
        sys.exit(77)
    base = tmpdir()
    s = Server(os.path.join(base, "strata")).start()
    p1 = p2 = None
    fails = []
    try:
        p1 = Prom(base, "p1", """global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['127.0.0.1:PORT']
remote_write:
  - url: http://127.0.0.1:%d/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 2000
""" % s.port)
        t_start = time.time()
        # keep Prometheus' HTTP counters moving so rate() has something to say
        while time.time() - t_start < SCRAPE_SECONDS:
            p1.query("up", time.time())
            time.sleep(0.5)  # pacing the traffic, not synchronisation
        t_eval = [math.floor(time.time()) - 8 - k * 5 for k in range(3)]
        # wait until #1 has sent strata everything up to the evaluation times
        t0 = time.time()
        while time.time() - t0 < 60:
            sent = p1.query("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", time.time())
            if sent and min(float(v) for v in sent.values()) >= max(t_eval) + 2:
                break
            time.sleep(0.5)
        else:
            fails.append("remote write did not catch up")
        p2 = Prom(base, "p2", """global:
  scrape_interval: 1m
scrape_configs: []
remote_read:
  - url: http://127.0.0.1:%d/api/v1/read
    read_recent: true
""" % s.port)
        for t in t_eval:
            for q in QUERIES:
                a, b = p1.query(q, t), p2.query(q, t)
                ok = same(a, b) and len(a) > 0
                print("%s t=%d: %d series local, %d via strata: %s" % (q, t, len(a), len(b), "same" if ok else "DIFFERENT"))
                if not ok:
                    fails.append("%s at %d:\n local %r\n strata %r" % (q, t, sorted(a.items())[:5], sorted(b.items())[:5]))
            for q in DIRECT:
                # half a second off the scrape grid: Prometheus 3 (which
                # strata follows) made range windows left-open, 2.42 keeps
                # a sample exactly at t - range (prometheus#13904)
                a, b = p1.query(q, t + 0.5), strata_query(s, q, t + 0.5)
                ok = close(a, b) and len(a) > 0
                print("strata %s t=%d: %d series local, %d strata: %s" % (q, t, len(a), len(b), "same" if ok else "DIFFERENT"))
                if not ok:
                    fails.append("strata %s at %d:\n local %r\n strata %r" % (q, t, sorted(a.items())[:5], sorted(b.items())[:5]))
        st, b, _ = s.req("GET", "/metrics")
        line = [x for x in b.decode().splitlines() if x.startswith('strata_ingested_samples_total{protocol="promremotewrite"}')]
        print(line[0] if line else "no ingest metric")
    finally:
        for p in (p1, p2):
            if p:
                p.stop()
        rc = s.stop()
        if rc != 0:
            fails.append("strata stop rc %s" % rc)
    if fails:
        print("FAIL:\n" + "\n".join(fails))
        sys.exit(1)
    shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
