"""Real remote-write clients against strata, all on loopback, count in =
count out:
  (a) vmagent (Debian's victoria-metrics package): rows pushed to its own
      /api/v1/import/prometheus are forwarded to strata by -remoteWrite.url;
      vmagent's vmagent_rows_inserted_total and
      vmagent_remotewrite_rows_pushed_after_relabel_total equal what strata
      stores, series by series.
  (b) Prometheus 2.42 (Debian's, tests/scripts/prom_util.py) scrapes a small
      exporter served here and remote-writes to strata; the scrape job is
      then removed by a config reload (it scrapes no more), and once its
      queue is drained and quiet its
      prometheus_remote_storage_samples_total equals the samples strata holds,
      and the series it holds itself equal strata's.
  (c) Prometheus 2.42 cannot send remote write 2.0 (2.54 and later can), so a
      2.0 request is built by hand here: the written-count headers and the
      stored data are checked; and a gzip text exposition body goes to
      strata's own /api/v1/import/prometheus.
Each client package is installed with apt-get when missing; the test exits
77 (skipped) only when that is impossible. Usage: server_real_clients.py
[seed] (the seed picks the exporter's values; printed)."""
import gzip
import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (Server, field_bytes, field_double_bits, f2bits, free_port, snappy_literal,  # noqa: E402
                         tmpdir, varint)
from prom_util import (ensure_prometheus, ensure_vmagent, http_call, metric_sum, metrics_of,  # noqa: E402
                       probe_ok, wait_until)

DEADLINE_S = 40  # for a client to deliver what it was given


def strata_series(srv, match):
    """{frozenset of labels: number of samples} from /api/v1/export (stale markers included)."""
    q = urllib.parse.urlencode({"match[]": match, "start": "0", "end": str(2**40)})
    return {frozenset(k): len(pts) for k, pts in srv.export("?" + q).items()}


# ------------------------------------------------------------------ (a) vmagent
def check_vmagent(base, srv, rng):
    port = free_port()
    log = open(os.path.join(base, "vmagent.log"), "wb")
    p = subprocess.Popen(["vmagent", "-httpListenAddr=127.0.0.1:%d" % port,
                          "-remoteWrite.url=http://127.0.0.1:%d/api/v1/write" % srv.port,
                          "-remoteWrite.tmpDataPath=" + os.path.join(base, "vmagent-queue"),
                          "-remoteWrite.flushInterval=100ms", "-loggerLevel=ERROR"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until("vmagent ready", lambda: probe_ok(port, "/health"), DEADLINE_S)
        t0 = 1700000000000
        lines, want = [], {}
        for i in range(40):
            name = "vm_push_total" if i % 2 else "vm_push_gauge"
            labels = {"__name__": name, "job": "vmagent_test", "instance": "i%d" % (i % 5), "shard": str(i % 3)}
            key = frozenset(labels.items())
            n = 1 + rng.randrange(20)
            want[key] = want.get(key, 0) + n
            for k in range(n):
                # distinct timestamps per series: i picks the series, so offset by i
                lines.append('%s{job="vmagent_test",instance="i%d",shard="%d"} %r %d' %
                             (name, i % 5, i % 3, rng.random() * 100, t0 + (i * 1000 + k) * 1000))
        total = sum(want.values())
        st, body, _ = http_call(port, "POST", "/api/v1/import/prometheus", ("\n".join(lines) + "\n").encode())
        assert st in (200, 204), (st, body)

        def delivered():
            m = metrics_of(port)
            got = strata_series(srv, '{job="vmagent_test"}')
            pending = metric_sum(m, "vmagent_remotewrite_pending_data_bytes")
            ok = sum(v for k, v in m.items()
                     if k.startswith("vmagent_remotewrite_requests_total") and 'status_code="2XX"' in k)
            return (m, got) if sum(got.values()) >= total and pending == 0 and ok else None
        m, got = wait_until("vmagent to deliver %d rows" % total, delivered, DEADLINE_S)
        inserted = m['vmagent_rows_inserted_total{type="prometheus"}']
        pushed = metric_sum(m, "vmagent_remotewrite_rows_pushed_after_relabel_total")
        ok_requests = sum(v for k, v in m.items()
                          if k.startswith("vmagent_remotewrite_requests_total") and 'status_code="2XX"' in k)
        errors = metric_sum(m, "vmagent_remotewrite_errors_total")
        print("vmagent: %d rows pushed, vmagent counted %d in and %d forwarded in %d requests (%d errors); "
              "strata stored %d in %d series" % (total, inserted, pushed, ok_requests, errors,
                                                 sum(got.values()), len(got)))
        assert inserted == total and pushed == total, (inserted, pushed, total)
        assert ok_requests >= 1
        assert got == want, "series or counts differ: strata %s, sent %s" % (sorted(got.items())[:3],
                                                                           sorted(want.items())[:3])
    finally:
        p.terminate()
        p.wait(timeout=60)
        log.close()


# ------------------------------------------------------------------ (b) Prometheus
class Exporter(http.server.BaseHTTPRequestHandler):
    rng = None
    scrapes = 0

    def do_GET(self):
        Exporter.scrapes += 1
        n = Exporter.scrapes
        body = ("# HELP demo_requests_total Requests served.\n# TYPE demo_requests_total counter\n"
                'demo_requests_total{path="/a"} %d\ndemo_requests_total{path="/b",code="500"} %d\n'
                "# HELP demo_temp_celsius A gauge.\n# TYPE demo_temp_celsius gauge\n"
                'demo_temp_celsius{room="x y \\"q\\""} %r\n' % (n, 2 * n, Exporter.rng.random() * 30)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


PROM_CONF = """global:
  scrape_interval: 1s
  evaluation_interval: 1m
scrape_configs:%s
remote_write:
  - url: http://127.0.0.1:%d/api/v1/write
    queue_config:
      batch_send_deadline: 200ms
      min_backoff: 100ms
"""


def check_prometheus(base, srv, rng):
    Exporter.rng = rng
    ex = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=ex.serve_forever, daemon=True).start()
    job = ("\n  - job_name: demo\n    static_configs:\n      - targets: ['127.0.0.1:%d']" % ex.server_address[1])
    port = free_port()
    d = os.path.join(base, "prometheus")
    os.makedirs(d)
    conf = os.path.join(d, "prometheus.yml")
    with open(conf, "w") as f:
        f.write(PROM_CONF % (job, srv.port))
    log = open(d + ".log", "wb")
    p = subprocess.Popen(["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + d + "/data",
                          "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn", "--web.enable-lifecycle"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until("prometheus ready", lambda: probe_ok(port, "/-/ready"), DEADLINE_S)
        wait_until("five scrapes", lambda: Exporter.scrapes >= 5, DEADLINE_S)
        # no more scrapes: the job goes
        with open(conf, "w") as f:
            f.write(PROM_CONF % (" []", srv.port))
        st, body, _ = http_call(port, "POST", "/-/reload")
        assert st == 200, (st, body)

        last, prev = [], []

        def drained():
            m = metrics_of(port)
            sent = metric_sum(m, "prometheus_remote_storage_samples_total")
            pending = metric_sum(m, "prometheus_remote_storage_samples_pending")
            hi = metric_sum(m, "prometheus_remote_storage_highest_timestamp_in_seconds")
            hi_sent = metric_sum(m, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
            got = strata_series(srv, '{job="demo"}')
            stored = sum(got.values())
            # the same figures twice, 1.5 scrape intervals apart: nothing
            # is scraped or sent any more
            now = (sent, stored)
            last[:] = [("sent", sent), ("stored", stored), ("pending", pending), ("highest", hi),
                       ("highest sent", hi_sent), ("scrapes", Exporter.scrapes)]
            if pending == 0 and hi_sent >= hi > 0 and sent == stored > 0 and prev == [now]:
                return m, got
            prev[:] = [now]
            time.sleep(1.5)  # a quiet period is the condition being checked, not a stand-in for one
            return None
        m, got = wait_until("prometheus to drain its queue", drained, DEADLINE_S, last)
        scrapes = Exporter.scrapes
        sent = metric_sum(m, "prometheus_remote_storage_samples_total")
        failed = metric_sum(m, "prometheus_remote_storage_samples_failed_total")
        retried = metric_sum(m, "prometheus_remote_storage_samples_retried_total")
        dropped = metric_sum(m, "prometheus_remote_storage_samples_dropped_total")
        stored = sum(got.values())
        print("prometheus: %d scrapes; it sent %d samples (%d failed, %d retried, %d dropped); strata stored %d "
              "in %d series" % (scrapes, sent, failed, retried, dropped, stored, len(got)))
        assert failed == 0 and retried == 0 and dropped == 0, (failed, retried, dropped)
        assert stored == sent, (stored, sent)
        # the same series, with the same labels, on both sides
        q = urllib.parse.urlencode({"match[]": '{job="demo"}', "start": "0", "end": str(2**31)})
        st, body, _ = http_call(port, "GET", "/api/v1/series?" + q)
        theirs = {frozenset(x.items()) for x in json.loads(body)["data"]}
        assert theirs == set(got), (sorted(theirs - set(got)), sorted(set(got) - theirs))
        assert len(theirs) == 8, sorted(theirs)  # 3 exported + up and 4 scrape_* series
        assert stored % 8 == 0 and stored >= 40, stored  # whole scrapes, five at least
    finally:
        p.terminate()
        p.wait(timeout=60)
        log.close()
        ex.shutdown()


# ------------------------------------------------------------------ (c) remote write 2.0 by hand
def rw2_request(symbols, series):
    """series: [(label refs, [(value, ts, start_ts)], (type, help ref, unit ref) or None)]"""
    out = b"".join(field_bytes(4, s.encode()) for s in symbols)
    for refs, samples, md in series:
        ts = field_bytes(1, b"".join(varint(r) for r in refs))  # packed labels_refs
        for v, t, st in samples:
            s = field_double_bits(1, f2bits(v)) + bytes([0x10]) + varint(t & (2**64 - 1))
            if st:
                s += bytes([0x18]) + varint(st)
            ts += field_bytes(2, s)
        if md:
            ts += field_bytes(5, bytes([0x08]) + varint(md[0]) + bytes([0x18]) + varint(md[1]) +
                              bytes([0x20]) + varint(md[2]))
        out += field_bytes(5, ts)
    return snappy_literal(out)


def check_rw2(srv):
    syms = ["", "__name__", "rw2_requests_total", "job", "rw2", "path", "/x", "/y", "Requests.", "requests"]
    t0 = 1700000100000
    body = rw2_request(syms, [([1, 2, 3, 4, 5, 6], [(1, t0, t0 - 10000), (3, t0 + 1000, t0 - 10000)], (1, 8, 9)),
                              ([1, 2, 3, 4, 5, 7], [(5, t0, 0)], (1, 8, 9))])
    h = {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
         "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "2.0.0"}
    st, resp, hd = srv.req("POST", "/api/v1/write", body, h)
    assert st == 204, (st, resp)
    assert hd.get("x-prometheus-remote-write-samples-written") == "3", hd
    assert hd.get("x-prometheus-remote-write-histograms-written") == "0", hd
    assert hd.get("x-prometheus-remote-write-exemplars-written") == "0", hd
    got = strata_series(srv, '{job="rw2"}')
    want = {frozenset({"__name__": "rw2_requests_total", "job": "rw2", "path": "/x"}.items()): 3,  # the zero at start
            frozenset({"__name__": "rw2_requests_total", "job": "rw2", "path": "/y"}.items()): 1}
    assert got == want, got
    st, resp, _ = srv.req("GET", "/api/v1/metadata?metric=rw2_requests_total")
    md = json.loads(resp)["data"]["rw2_requests_total"]
    assert md == [{"type": "counter", "help": "Requests.", "unit": "requests"}], md
    # a reference outside the symbol table: 400, nothing stored
    bad = rw2_request(syms, [([1, 2, 3, 40], [(1, t0, 0)], None)])
    st, resp, hd = srv.req("POST", "/api/v1/write", bad, h)
    assert st == 400 and b"outside the symbol table" in resp, (st, resp)
    assert hd.get("x-prometheus-remote-write-samples-written") == "0", hd
    h2 = dict(h, **{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v9.Request"})
    st, resp, _ = srv.req("POST", "/api/v1/write", body, h2)
    assert st == 415, (st, resp)
    print("remote write 2.0 by hand: 3 samples written (+1 zero at the created timestamp), metadata listed, "
          "bad reference 400, unknown proto 415")


def check_text_import(srv):
    """The text exposition strata takes itself (/api/v1/import/prometheus), gzip-compressed."""
    text = ('# HELP txt_jobs_total Jobs done.\n# TYPE txt_jobs_total counter\n# UNIT txt_jobs_total jobs\n'
            'txt_jobs_total{q="a\\"b"} 1 1700000200000\ntxt_jobs_total{q="a\\"b"} 2 1700000201000\n'
            'txt_neg -1.5e3 1700000200000\n')
    st, resp, _ = srv.req("POST", "/api/v1/import/prometheus", gzip.compress(text.encode()),
                          {"Content-Encoding": "gzip"})
    assert st == 204, (st, resp)
    got = strata_series(srv, '{__name__=~"txt_.*"}')
    assert got == {frozenset({"__name__": "txt_jobs_total", "q": 'a"b'}.items()): 2,
                   frozenset({"__name__": "txt_neg"}.items()): 1}, got
    st, resp, _ = srv.req("GET", "/api/v1/metadata?metric=txt_jobs_total")
    md = json.loads(resp)["data"]["txt_jobs_total"]
    assert md == [{"type": "counter", "help": "Jobs done.", "unit": "jobs"}], md
    # as curl --data-binary sends it: the form Content-Type does not make the body a form
    st, resp, _ = srv.req("POST", "/api/v1/import/prometheus", b"ok 1\nbad{a=b} 1\n",
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 400 and b"line 2" in resp, (st, resp)
    print("text exposition import: gzip body stored with its metadata, a bad line 400")


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    have_vm, have_prom = ensure_vmagent(), ensure_prometheus()
    if not have_vm and not have_prom:
        print("neither vmagent nor prometheus can be installed: skipped")
        sys.exit(77)
    base = tmpdir()
    srv = Server(os.path.join(base, "db")).start()
    try:
        check_rw2(srv)
        check_text_import(srv)
        if have_vm:
            check_vmagent(base, srv, rng)
        else:
            print("vmagent cannot be installed: that part skipped")
        if have_prom:
            check_prometheus(base, srv, rng)
        else:
            print("prometheus cannot be installed: that part skipped")
    finally:
        assert srv.stop() == 0
    shutil.rmtree(base, ignore_errors=True)
    print("server_real_clients: ok")


if __name__ == "__main__":
    main()
