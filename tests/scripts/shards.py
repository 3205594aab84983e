"""strata as shards behind the Prometheus world's own distributed layer,
as deploy/README.md sets it up, on loopback: three strata shards, vmagent
(Debian's victoria-metrics package) writing generated data to them with
the hashmod relabelling of deploy/vmagent/ (replication 2) and to a
fourth strata holding everything, a Prometheus query head reading the
shards with deploy/prometheus-head.yml and a reference Prometheus reading
the fourth strata.
- every query of a fixed set (selectors, rate, sum by, topk,
  histogram_quantile, a ratio) answers the same through both;
- one shard is SIGKILLed during the writes: the head still answers
  completely (with a warning), the shard restarts, vmagent's queue
  catches it up, every sample is stored on two shards and reads back
  exactly once through the head.
SHARDS_LONG=1 (shards_long.py) writes more and kills twice.
Seed: STRATA_SEED (printed). Exit 77 when vmagent or Prometheus cannot
be installed."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom_util  # noqa: E402
from prom_util import Prom, ensure_prometheus, ensure_vmagent, http_call, probe_ok  # noqa: E402
from server_util import PROTO_HEADERS, Server, f2bits, free_port, snappy_literal, tmpdir, write_request  # noqa: E402

SRC = os.environ.get("STRATA_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LONG = os.environ.get("SHARDS_LONG") == "1"
SEED = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
print("seed", SEED, "long" if LONG else "", flush=True)
rnd = random.Random(SEED)
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def wait_until(what, fn, deadline_s=90):
    """prom_util's, a miss recorded as a failure instead of raised."""
    try:
        return prom_util.wait_until(what, fn, deadline_s)
    except AssertionError as e:
        check(False, str(e))
        return False


def gen_data(n_inst, steps, t0_ms):
    """[(labels, [(t, bits)])]: a counter, a gauge and a histogram per instance."""
    series = []
    for i in range(n_inst):
        job = "j%d" % (i % 2)
        inst = "host%02d:9100" % i
        base = [("instance", inst), ("job", job)]
        c, g = rnd.randrange(1000), rnd.random() * 100
        cs, gs = [], []
        hs = {le: [] for le in ("0.1", "0.5", "1", "+Inf")}
        hc = {le: 0 for le in hs}
        for k in range(steps):
            t = t0_ms + k * 15000
            c += rnd.randrange(50)
            g += rnd.normalvariate(0, 3)
            cs.append((t, f2bits(float(c))))
            gs.append((t, f2bits(g)))
            add = [rnd.randrange(5) for _ in hs]
            acc = 0
            for le, a in zip(hs, add):
                acc += a
                hc[le] += acc
                hs[le].append((t, f2bits(float(hc[le]))))
        series.append(([("__name__", "req_total")] + base, cs))
        series.append(([("__name__", "temp")] + base, gs))
        for le, ss in hs.items():
            series.append(([("__name__", "lat_bucket")] + base[:1] + [("job", job), ("le", le)], ss))
    for labels, _ in series:
        labels.sort()
    return series


QUERIES = ['req_total', 'temp{job="j1"}', 'rate(req_total[5m])', 'sum by (job) (rate(req_total[5m]))',
           'topk(3, temp)', 'histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m])))',
           'sum(rate(req_total{job="j0"}[5m])) / sum(rate(req_total[5m]))', 'count(temp > 50)',
           'max_over_time(temp[10m])']


def prom_query(p, q, t):
    st, body, _ = http_call(p.port, "GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t}))
    d = json.loads(body)
    return st, d


def norm(d):
    r = d["data"]["result"]
    if d["data"]["resultType"] in ("vector",):
        return sorted((tuple(sorted(x["metric"].items())), x["value"][1]) for x in r)
    if d["data"]["resultType"] == "matrix":
        return sorted((tuple(sorted(x["metric"].items())), tuple(tuple(v) for v in x["values"])) for x in r)
    return r


def main():
    if not ensure_prometheus() or not ensure_vmagent():
        print("prometheus or vmagent not installable: skipped")
        sys.exit(77)
    base = tmpdir()
    procs = []
    shards = [Server(os.path.join(base, "shard%d" % i)) for i in range(3)]
    ref = Server(os.path.join(base, "ref"))
    vm = None
    heads = []
    try:
        for s in shards + [ref]:
            s.start()
        # vmagent: one remote write URL per shard with its relabelling from deploy/, one to ref
        keep_all = os.path.join(base, "all.yml")
        with open(keep_all, "w") as f:
            f.write('- {source_labels: [__name__], regex: ".+", action: keep}\n')
        vm_port = free_port()
        args = ["vmagent", "-httpListenAddr=127.0.0.1:%d" % vm_port, "-loggerLevel=ERROR",
                "-remoteWrite.tmpDataPath=" + os.path.join(base, "vmagent-queue"), "-remoteWrite.flushInterval=100ms"]
        for i, s in enumerate(shards):
            args += ["-remoteWrite.url=http://127.0.0.1:%d/api/v1/write" % s.port,
                     "-remoteWrite.urlRelabelConfig=" + os.path.join(SRC, "deploy", "vmagent", "shard%d.yml" % i)]
        args += ["-remoteWrite.url=http://127.0.0.1:%d/api/v1/write" % ref.port, "-remoteWrite.urlRelabelConfig=" + keep_all]
        vm_log = open(os.path.join(base, "vmagent.log"), "wb")
        vm = subprocess.Popen(args, stdout=vm_log, stderr=subprocess.STDOUT)
        wait_until("vmagent up", lambda: probe_ok(vm_port, "/health"))
        with open(os.path.join(SRC, "deploy", "prometheus-head.yml")) as f:
            head_conf = f.read()
        for i, s in enumerate(shards):
            head_conf = head_conf.replace("SHARD%d" % i, "127.0.0.1:%d" % s.port)
        head = Prom(base, "head", head_conf)
        heads.append(head)
        refp = Prom(base, "refhead", "remote_read:\n  - url: http://127.0.0.1:%d/api/v1/read\n    read_recent: true\n" %
                    ref.port)
        heads.append(refp)

        n_inst, steps = (40, 480) if LONG else (8, 120)
        t0 = (int(time.time()) - 3 * 3600) // 60 * 60 * 1000
        data = gen_data(n_inst, steps, t0)
        batch = 10
        kills = [steps // 3, steps * 2 // 3] if LONG else [steps // 3]
        killed = None
        for k in range(0, steps, batch):
            if k in kills or (killed is None and any(k <= x < k + batch for x in kills)):
                killed = rnd.randrange(3)
                pushed = sum(min(k, len(s)) for _, s in data)
                wait_until("what was pushed so far on two shards",
                           lambda: sum(sum(len(p) for p in sh.export().values()) for sh in shards) == 2 * pushed)
                print("SIGKILL shard", killed, "at step", k, flush=True)
                shards[killed].stop(signal.SIGKILL)
                # the head answers from the replicas, with a warning
                st, d = prom_query(head, "count(req_total)", (t0 + (k - 1) * 15000) / 1000)
                check(st == 200 and d["data"]["result"] and d["data"]["result"][0]["value"][1] == str(n_inst),
                      "head answers completely with a shard down: %r" % d)
                print("head's warning with a shard down:", d.get("warnings"), flush=True)
                check(d.get("warnings"), "the head warns of the missing shard")
            part = [(l, s[k:k + batch]) for l, s in data]
            st, b, _ = http_call(vm_port, "POST", "/api/v1/write", snappy_literal(write_request(part)), PROTO_HEADERS)
            check(st in (200, 204), "push to vmagent: %s %r" % (st, b[:200]))
            if killed is not None and k >= min(kills) + batch * 3:
                shards[killed].start()
                print("restarted shard", killed, flush=True)
                killed = None
        if killed is not None:
            shards[killed].start()
        want = {tuple(l): s for l, s in data}
        n_samples = sum(len(s) for s in want.values())

        def on_two():
            have = {}
            for s in shards:
                for key, pts in s.export().items():
                    for p in pts:
                        have[(key, p[0])] = have.get((key, p[0]), 0) + 1
            return len(have) == n_samples and all(v == 2 for v in have.values())

        wait_until("every sample on two shards (vmagent caught the restarted shard up)", on_two)
        wait_until("every sample on the reference", lambda: sum(len(p) for p in ref.export().values()) == n_samples)
        t_end = (t0 + (steps - 1) * 15000) / 1000
        # exactly once through the head: a range selector over everything
        st, d = prom_query(head, '{__name__=~"req_total|temp|lat_bucket"}[4h]', t_end)
        got = {tuple(sorted(x["metric"].items())): x["values"] for x in d["data"]["result"]} if st == 200 else {}
        exact = len(got) == len(want)
        for key, pts in want.items():
            g = got.get(key, [])
            if len(g) != len(pts) or any(abs(a[0] * 1000 - b[0]) > 0.5 for a, b in zip(g, pts)):
                exact = False
        check(exact, "every sample read back exactly once through the head (%d series)" % len(got))
        for q in QUERIES:
            for t in (t_end, t_end - 600):
                st1, d1 = prom_query(head, q, t)
                st2, d2 = prom_query(refp, q, t)
                check(st1 == st2 == 200 and norm(d1) == norm(d2) and norm(d1),
                      "%s at %s: head %s, reference %s" % (q, t, str(norm(d1))[:300], str(norm(d2))[:300]))
        print("%d series, %d samples, %d queries compared" % (len(want), n_samples, len(QUERIES) * 2), flush=True)
    finally:
        for h in heads:
            h.stop()
        if vm:
            vm.terminate()
            vm.wait(timeout=60)
        for s in shards + [ref]:
            if s.p:
                s.stop()
        if not FAILS:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("logs in", base)
    if FAILS:
        print("%d failures" % len(FAILS))
        sys.exit(1)
    print("ok")


main()
