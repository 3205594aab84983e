"""deploy/prometheus-agent.yml as written, on loopback: Prometheus 2.42 in
agent mode scrapes an exporter this test serves and remote-writes to three
strata shards through the file's hashmod relabelling. Every series lands on
exactly the two shards its hash names (shard hash % 3 and the next one,
the hash computed here as Prometheus' hashmod does: the low 8 bytes of the
MD5 of the label values joined by ';', big-endian), and each shard stores
exactly the samples the agent says it sent to it (the agent's own series,
up and scrape_*, included). Only the addresses and the scrape interval of
the file are replaced. Exit 77 when Prometheus cannot be installed. Seed:
STRATA_SEED (printed)."""
import hashlib
import http.server
import os
import random
import re
import signal
import sys
import tempfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prom_util import Prom, ensure_prometheus, metrics_of, wait_until  # noqa: E402
from server_util import Server  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
print("seed", SEED, flush=True)
N_SERIES = 24
SCRAPES = 4


class Exporter(http.server.BaseHTTPRequestHandler):
    rng = None
    scrapes = 0

    def do_GET(self):
        Exporter.scrapes += 1
        body = "".join('agent_demo{i="%d"} %r\n' % (i, Exporter.rng.random()) for i in range(N_SERIES)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def hashmod(values, modulus):
    """Prometheus' relabel hashmod of the source label values."""
    return int.from_bytes(hashlib.md5(";".join(values).encode()).digest()[8:], "big") % modulus


def stored(srv):
    """{sorted label pairs: samples} of everything a shard holds."""
    q = urllib.parse.urlencode({"match[]": '{__name__=~".+"}', "start": "0", "end": str(2**40)})
    return {k: len(pts) for k, pts in srv.export("?" + q).items()}


def main():
    if not ensure_prometheus():
        print("prometheus cannot be installed: skipped")
        return 77
    Exporter.rng = random.Random(SEED)
    base = tempfile.mkdtemp(prefix="strata-shards-agent-")
    shards = [Server(os.path.join(base, "shard%d" % i)).start() for i in range(3)]
    ex = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=ex.serve_forever, daemon=True).start()
    with open(os.path.join(SRC, "deploy", "prometheus-agent.yml")) as f:
        conf = f.read()
    for i, s in enumerate(shards):
        conf = conf.replace("SHARD%d" % i, "127.0.0.1:%d" % s.port)
    conf = conf.replace('"localhost:9100"', '"127.0.0.1:%d"' % ex.server_address[1])
    conf = conf.replace("scrape_interval: 15s", "scrape_interval: 1s")
    fails = []
    agent = Prom(base, "agent", conf, agent=True)
    try:
        wait_until("%d scrapes" % SCRAPES, lambda: Exporter.scrapes >= SCRAPES)
        # stop scraping (the job goes, the remote writes stay), then wait
        # until every queue is drained and its figures stand still
        with open(os.path.join(agent.dir, "prometheus.yml"), "w") as f:
            f.write(re.sub(r"scrape_configs:.*?remote_write:", "scrape_configs: []\nremote_write:", conf, flags=re.S))
        agent.p.send_signal(signal.SIGHUP)
        prev = []

        def drained():
            m = metrics_of(agent.port)
            sent = {u: v for k, v in m.items() if k.startswith("prometheus_remote_storage_samples_total")
                    for u in re.findall(r'url="([^"]+)"', k)}
            pending = sum(v for k, v in m.items() if k.startswith("prometheus_remote_storage_samples_pending"))
            have = [stored(s) for s in shards]
            now = (sorted(sent.items()), [sum(h.values()) for h in have])
            ok = pending == 0 and len(sent) == 3 and prev == [now]
            prev[:] = [now]
            return (m, sent, have) if ok else None
        m, sent, have = wait_until("the agent's queues to drain", drained, 60)
        for i, s in enumerate(shards):
            url = "http://127.0.0.1:%d/api/v1/write" % s.port
            n = sum(have[i].values())
            print("shard%d: agent sent %d samples, stored %d in %d series" % (i, sent.get(url, -1), n, len(have[i])))
            if sent.get(url) != n:
                fails.append("shard%d: agent sent %s samples, shard stored %d" % (i, sent.get(url), n))
        every = set().union(*[set(h) for h in have])
        demo = [k for k in every if dict(k).get("__name__") == "agent_demo"]
        if len(demo) != N_SERIES:
            fails.append("%d agent_demo series stored, %d scraped" % (len(demo), N_SERIES))
        for k in every:
            d = dict(k)
            h = hashmod([d.get("__name__", ""), d.get("job", ""), d.get("instance", "")], 3)
            where = sorted(i for i in range(3) if k in have[i])
            if where != sorted({h, (h + 1) % 3}):
                fails.append("series %s on shards %s, its hash %d says %s" % (d, where, h, sorted({h, (h + 1) % 3})))
                break
    finally:
        agent.stop()
        ex.shutdown()
        for s in shards:
            if s.stop() != 0:
                fails.append("a shard did not stop cleanly")
    for f in fails:
        print("FAIL:", f)
    if not fails:
        print("shards_agent: ok")
    return 1 if fails else 0


sys.exit(main())
