#!/usr/bin/env python3
"""strata beside VictoriaMetrics, InfluxDB 1.x and Prometheus on the same data.

  python3 bench/peers/peers.py [--peers strata,vm,influx,prom]
                               [--datasets devops-cpu,node-like] [--hours 24]
                               [--hosts N] [--repeats N] [--out DIR]

Steps (README.md beside this file says more):
 1. Installs the peers that are missing with apt-get (Debian packages
    victoria-metrics, influxdb, prometheus).
 2. Generates each data set once with the project's generator,
    `build/strata-bench gen DATASET --hours H [--hosts N]` (Influx line
    protocol, second timestamps), and counts its lines, samples and series.
 3. For each data set, peer and repeat: starts the peer on 127.0.0.1 with a
    free port and a fresh data dir under a scratch dir, POSTs the same bytes
    (same client: --connections keep-alive connections, batches of lines),
    flushes and merges as the peer allows, measures the data dir, times one
    raw series over the whole range and the dashboard panels, then stops the
    peer by its PID (SIGTERM, SIGKILL after a deadline). Prometheus takes no
    line protocol: the data is converted to OpenMetrics and backfilled with
    `promtool tsdb create-blocks-from openmetrics`, so its ingest figures are
    promtool's, not comparable, and marked so.
 4. Prints Markdown tables (figures and ratios to strata) and writes one
    JSON per invocation into --out.

Python standard library only. Nothing listens on other than 127.0.0.1.
"""
import argparse
import http.client
import json
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_DEADLINE_S = 60
PEERS = ["strata", "vm", "influx", "prom"]
PEER_NAMES = {"strata": "strata", "vm": "VictoriaMetrics", "influx": "InfluxDB", "prom": "Prometheus"}
PACKAGES = {"vm": ("victoria-metrics", "victoria-metrics"), "influx": ("influxdb", "influxd"),
            "prom": ("prometheus", "prometheus")}  # peer: (Debian package, binary)

# The raw query: one series over the whole range. (measurement, field); the
# tags are those of the first line of that measurement in the data.
RAW = {"devops-cpu": ("cpu", "usage_user"), "node-like": ("node_network_receive_bytes_total", "value")}

# Dashboard panels as Grafana would issue them, five per data set: range
# queries at a 60 s step from the end of the first hour (the 1h windows are
# full) to the end, instant queries near the last sample. Evaluation times
# sit 7 s off the samples' grid so that no sample lies on a window's edge,
# where Prometheus 2.x (closed windows) and 3.x (left-open) disagree.
DASHBOARD = {
    "devops-cpu": [
        ("avg_by_region", "range", 'avg by (region) (cpu_usage_user)'),
        ("host_user_plus_system", "range",
         'cpu_usage_user{hostname="host_0"} + cpu_usage_system{hostname="host_0"}'),
        ("busy_hosts", "range", 'count(cpu_usage_user > 90)'),
        ("max_by_host_1h", "instant", 'max by (hostname) (max_over_time(cpu_usage_user[1h]))'),
        ("top5_hosts_1h", "instant", 'topk(5, avg_over_time(cpu_usage_user[1h]))'),
    ],
    "node-like": [
        ("net_rx_by_instance", "range", 'sum by (instance) (rate(node_network_receive_bytes_total[5m]))'),
        ("cpu_busy_pct", "range",
         '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'),
        ("mem_used_ratio", "range", '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes'),
        ("disk_free_pct", "instant", '100 * node_filesystem_avail_bytes / node_filesystem_size_bytes'),
        ("top3_disk_busy_1h", "instant", 'topk(3, rate(node_disk_io_time_seconds_total[1h]))'),
    ],
}
REL_TOL = 1e-9


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ packages
def pkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def peer_pids(binary):
    """PIDs of running processes whose executable is named `binary`."""
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.path.basename(os.readlink("/proc/%s/exe" % d)) == binary:
                    out.add(int(d))
            except OSError:
                pass
    return out


def install(peers):
    """apt-get install the missing peers. Returns {peer: error} for those that
    could not be installed. A package's maintainer script may start its daemon
    (not in a container whose policy-rc.d forbids it); such a daemon listens on
    every address, so it is stopped at once, by PID: only processes that appeared
    during the install and were not started with a 127.0.0.1 address (every run
    of ours, and of the project's tests, names one)."""
    need = [p for p in peers if p in PACKAGES and not shutil.which(PACKAGES[p][1])]
    if not need:
        return {}
    pkgs = [PACKAGES[p][0] for p in need]
    if os.geteuid() != 0 and not shutil.which("sudo"):
        return {p: "not root and no sudo: cannot install %s" % PACKAGES[p][0] for p in need}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    before = {p: peer_pids(PACKAGES[p][1]) for p in need}
    log("apt-get install", " ".join(pkgs))
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env)
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + pkgs,
                       env=env, stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        log("apt-get install failed, rc", r.returncode)
    for p in need:
        for pid in peer_pids(PACKAGES[p][1]) - before[p]:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    args = f.read()
            except OSError:
                continue
            if b"127.0.0.1" not in args:
                log("the %s package started pid %d (%s); stopping it" % (pkgs[need.index(p)], pid,
                                                                         args.replace(b"\0", b" ").decode()))
                os.kill(pid, signal.SIGTERM)
    return {p: "apt-get could not install %s" % PACKAGES[p][0] for p in need if not shutil.which(PACKAGES[p][1])}


# ------------------------------------------------------------------ processes and HTTP
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_req(method, port, path, body=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


RUNNING = []  # servers to stop if the script is interrupted


class Server:
    def __init__(self, name, cmd, logpath):
        self.name, self.cmd, self.logpath, self.p = name, cmd, logpath, None

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.p = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        RUNNING.append(self)
        log("started %s pid %d: %s" % (self.name, self.p.pid, " ".join(self.cmd)))

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def cpu_s(self):
        with open("/proc/%d/stat" % self.p.pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK_TCK  # utime + stime

    def status_kb(self, key):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def wait_ready(self, port, path, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if not self.alive():
                raise RuntimeError("%s exited early, rc %s" % (self.name, self.p.returncode))
            try:
                if http_req("GET", port, path, timeout=5)[0] in (200, 204):
                    return
            except OSError:
                pass
            time.sleep(0.2)  # polling another process for readiness
        raise RuntimeError("%s not ready after %d s" % (self.name, timeout))

    def stop(self):
        if self in RUNNING:
            RUNNING.remove(self)
        if not self.alive():
            return self.p.returncode if self.p else None
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            log("%s pid %d did not stop in %d s: SIGKILL" % (self.name, self.p.pid, STOP_DEADLINE_S))
            self.p.kill()
            rc = self.p.wait()
        self.logf.close()
        log("stopped %s pid %d rc %s" % (self.name, self.p.pid, rc))
        return rc


def du(path):
    """(apparent bytes, allocated bytes) of a tree, each inode once."""
    seen, app, alloc = set(), 0, 0
    for root, dirs, files in os.walk(path):
        for n in files + dirs:
            try:
                st = os.lstat(os.path.join(root, n))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                app += st.st_size if n in files else 0
                alloc += st.st_blocks * 512
    return app, alloc


# ------------------------------------------------------------------ data
def split_unescaped(s, sep):
    """Splits line-protocol text at `sep` not preceded by a backslash."""
    if "\\" not in s:
        return s.split(sep)
    out, cur, i = [], [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if s[i] == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(s[i])
        i += 1
    out.append("".join(cur))
    return out


def unescape(s):
    return s.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ").replace("\\\\", "\\") if "\\" in s else s


def metric_name(measurement, field):
    """The Prometheus name of an Influx field, as strata and VictoriaMetrics
    (-influxSkipSingleField) name it: a field called value gives the
    measurement's name, any other measurement_field."""
    return measurement if field == "value" else measurement + "_" + field


def om_label_value(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def make_dataset(a, ds, scratch, want_om):
    """Generates DS.lp with strata-bench, then reads it once: counts, the raw
    series' points (the truth its query is checked against) and, for
    Prometheus, DS.om in OpenMetrics (one sample a line, same value text)."""
    lp = os.path.join(scratch, ds + ".lp")
    cmd = [a.strata_bench, "gen", ds, "--hours", str(a.hours)] + (["--hosts", str(a.hosts)] if a.hosts else [])
    log("generating:", " ".join(cmd))
    t0 = time.time()
    with open(lp, "wb") as f:
        subprocess.run(cmd, stdout=f, check=True)
    gen_s = time.time() - t0
    raw_meas, raw_field = RAW[ds]
    raw_key, raw_pts = None, []
    lines = samples = 0
    series, tmin, tmax = set(), None, None
    om = open(os.path.join(scratch, ds + ".om"), "w") if want_om else None
    with open(lp) as f:
        for line in f:
            key, fields, ts = line.rstrip("\n").rsplit(" ", 2)
            t = int(ts)
            tmin = t if tmin is None or t < tmin else tmin
            tmax = t if tmax is None or t > tmax else tmax
            lines += 1
            parts = split_unescaped(key, ",")
            meas = unescape(parts[0])
            if raw_key is None and meas == raw_meas:
                raw_key = key
            labels = None
            if om:
                labels = ",".join('%s="%s"' % (unescape(k), om_label_value(unescape(v)))
                                  for k, v in (split_unescaped(p, "=") for p in parts[1:]))
            out = []
            for fv in split_unescaped(fields, ","):
                fk, v = fv.split("=", 1)
                samples += 1
                series.add((key, fk))
                if key == raw_key and fk == raw_field:
                    raw_pts.append((t, float(v.rstrip("i"))))
                if om:
                    out.append("%s{%s} %s %d\n" % (metric_name(meas, unescape(fk)), labels, v.rstrip("i"), t))
            if om:
                om.write("".join(out))
    if om:
        om.write("# EOF\n")
        om.close()
    match = {unescape(k): unescape(v) for k, v in (split_unescaped(p, "=") for p in split_unescaped(raw_key, ",")[1:])}
    meta = {"dataset": ds, "hours": a.hours, "hosts": a.hosts or "default", "gen_cmd": " ".join(cmd),
            "gen_s": round(gen_s, 2), "lp_bytes": os.path.getsize(lp), "lines": lines, "samples": samples,
            "series": len(series), "start": tmin, "last_ts": tmax,
            "raw": {"measurement": raw_meas, "field": raw_field, "match": match,
                    "metric": metric_name(raw_meas, raw_field), "points": len(raw_pts)}}
    log("data set %s: %d lines, %d samples, %d series, %d bytes" % (ds, lines, samples, len(series),
                                                                     meta["lp_bytes"]))
    return meta, raw_pts, lp


def load_batches(path, lines_per_batch):
    batches, cur = [], []
    with open(path, "rb") as f:
        for line in f:
            cur.append(line)
            if len(cur) == lines_per_batch:
                batches.append(b"".join(cur))
                cur = []
    if cur:
        batches.append(b"".join(cur))
    return batches


# ------------------------------------------------------------------ measuring
def ingest(srv, port, path, batches, conns, samples):
    """POSTs every batch over `conns` keep-alive connections, each taking the
    next batch in file order. A failed batch fails the run."""
    lock, nxt, errors = threading.Lock(), [0], []

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while not errors:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(batches):
                break
            try:
                c.request("POST", path, body=batches[i], headers={"Content-Type": "text/plain"})
                r = c.getresponse()
                body = r.read()
                if r.status not in (200, 204):
                    errors.append("batch %d: HTTP %d %s" % (i, r.status, body[:200]))
            except (OSError, http.client.HTTPException) as e:
                errors.append("batch %d: %r" % (i, e))
        c.close()

    cpu0 = srv.cpu_s()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    ths = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    if errors:
        raise RuntimeError("ingest failed: " + errors[0])
    scpu = srv.cpu_s() - cpu0
    return {"how": "HTTP POST %s, %d connections, %d batches" % (path, conns, len(batches)),
            "wall_s": round(wall, 3), "samples_per_s": samples / wall,
            "server_cpu_s": round(scpu, 3), "server_cpu_us_per_sample": scpu / samples * 1e6,
            "client_cpu_s": round(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime, 3),
            "comparable": True}


def time_query(port, path, repeats):
    """First request, then `repeats` more on the same connection: (timings, JSON body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    times, body = [], b""
    try:
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            times.append(time.perf_counter() - t0)
            if r.status != 200:
                raise RuntimeError("HTTP %d %s" % (r.status, body[:300].decode("utf-8", "replace").strip()))
    finally:
        c.close()
    return {"first_ms": times[0] * 1e3, "warm_median_ms": statistics.median(times[1:]) * 1e3,
            "response_bytes": len(body)}, json.loads(body)


def check_raw(pts, truth):
    """How the raw series read back against the generated points."""
    if len(pts) != len(truth):
        return {"verdict": "%d of %d points" % (len(pts), len(truth)), "points": len(pts)}
    if any(int(float(p[0])) != t[0] for p, t in zip(pts, truth)):
        return {"verdict": "timestamps differ", "points": len(pts)}
    err = max((rel_err(float(p[1]), t[1]) for p, t in zip(pts, truth)), default=0.0)
    return {"verdict": "exact" if err == 0 else "rel.err %.0e" % err, "points": len(pts), "max_rel_err": err}


def rel_err(x, y):
    if x == y or (math.isnan(x) and math.isnan(y)):
        return 0.0
    return abs(x - y) / max(abs(x), abs(y), 1e-300)


def raw_promql(port, meta, repeats, extra):
    r = meta["raw"]
    sel = "%s{%s}" % (r["metric"], ",".join('%s="%s"' % kv for kv in sorted(r["match"].items())))
    rng = meta["last_ts"] - meta["start"] + 1
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": "%s[%ds]" % (sel, rng), "time": meta["last_ts"]})
    t, body = time_query(port, path + extra, repeats)
    res = body["data"]["result"]
    t["query"] = "%s[%ds] at %d" % (sel, rng, meta["last_ts"])
    return t, (res[0]["values"] if len(res) == 1 else [])


def raw_influxql(port, meta, repeats, db):
    r = meta["raw"]
    where = " AND ".join("\"%s\"='%s'" % kv for kv in sorted(r["match"].items()))
    q = 'SELECT "%s" FROM "%s" WHERE %s AND time >= %ds AND time <= %ds' % (
        r["field"], r["measurement"], where, meta["start"], meta["last_ts"])
    t, body = time_query(port, "/query?" + urllib.parse.urlencode({"db": db, "epoch": "s", "q": q}), repeats)
    t["query"] = q
    series = body["results"][0].get("series", [])
    return t, (series[0]["values"] if series else [])


def stored_promql(port, meta, extra):
    """Samples the peer holds: sum(count_over_time({__name__=~".+"}[range]))."""
    rng = meta["last_ts"] - meta["start"] + 1
    q = 'sum(count_over_time({__name__=~".+"}[%ds]))' % rng
    st, body = http_req("GET", port, "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": meta["last_ts"]}) + extra)
    if st != 200:
        raise RuntimeError("HTTP %d %s" % (st, body[:300].decode("utf-8", "replace").strip()))
    res = json.loads(body)["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


def stored_export(port, meta, extra):
    """Samples the peer holds, counted from its JSON-lines export
    (/api/v1/export, one series a line). Used for strata, which follows
    Prometheus 3: count_over_time drops __name__, so summing it over every
    metric fails on series whose other labels coincide, as in Prometheus."""
    q = urllib.parse.urlencode({"match[]": '{__name__=~".+"}', "start": meta["start"], "end": meta["last_ts"]})
    st, body = http_req("GET", port, "/api/v1/export?" + q + extra)
    if st != 200:
        raise RuntimeError("HTTP %d %s" % (st, body[:300].decode("utf-8", "replace").strip()))
    return sum(len(json.loads(line)["values"]) for line in body.splitlines() if line.strip())


def stored_influxql(port, meta, db):
    q = "SELECT count(*) FROM /.*/ WHERE time >= %ds AND time <= %ds" % (meta["start"], meta["last_ts"])
    st, body = http_req("GET", port, "/query?" + urllib.parse.urlencode({"db": db, "q": q}))
    if st != 200:
        raise RuntimeError("HTTP %d %s" % (st, body[:300].decode("utf-8", "replace").strip()))
    return sum(int(x) for sr in json.loads(body)["results"][0].get("series", [])
               for row in sr["values"] for x in row[1:] if x is not None)


def stored(fn, *args):
    try:
        return fn(*args)
    except (RuntimeError, KeyError, ValueError, IndexError, OSError) as e:
        return "error: %s" % str(e)[:200]


def panel_args(meta, kind, expr):
    first = 3600 if meta["last_ts"] - meta["start"] >= 7200 else 300
    if kind == "range":
        return "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": expr, "start": meta["start"] + first + 7, "end": meta["last_ts"] - 3, "step": 60})
    return "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": meta["last_ts"] - 3})


def answer(body):
    """{sorted label tuple: [(t, value)]} of a query's JSON answer."""
    out = {}
    for r in body["data"]["result"]:
        vals = r["values"] if "values" in r else [r["value"]]
        out[tuple(sorted(r.get("metric", {}).items()))] = [(float(t), float(v)) for t, v in vals]
    return out


def dashboard(port, meta, repeats, extra):
    """Times each panel of the data set; keeps each answer for the comparison."""
    out, answers = {}, {}
    for name, kind, expr in DASHBOARD.get(meta["dataset"], []):
        try:
            t, body = time_query(port, panel_args(meta, kind, expr) + extra, repeats)
            answers[name] = answer(body)
            t["series"] = len(answers[name])
            t["points"] = sum(len(v) for v in answers[name].values())
        except (RuntimeError, KeyError, ValueError, OSError) as e:
            t = {"error": str(e)[:300]}
        t.update(kind=kind, expr=expr)
        out[name] = t
    return out, answers


def compare(a, ref):
    """'same' when label sets are equal and every point's time equals and
    value agrees within REL_TOL; else a short reason."""
    if set(a) != set(ref):
        mine, theirs = sorted(set(a) - set(ref)), sorted(set(ref) - set(a))
        return "DIFFERENT: label sets differ, %d series vs Prometheus' %d; first only here %s, only there %s" % (
            len(a), len(ref), dict(mine[0]) if mine else "-", dict(theirs[0]) if theirs else "-")
    for k in sorted(ref):
        x, y = a[k], ref[k]
        if len(x) != len(y) or any(p[0] != q[0] for p, q in zip(x, y)):
            return "DIFFERENT: timestamps differ for %s (%d points vs Prometheus' %d)" % (dict(k), len(x), len(y))
        for p, q in zip(x, y):
            if rel_err(p[1], q[1]) > REL_TOL:
                return "DIFFERENT: %s at %d: %r vs Prometheus' %r" % (dict(k), p[0], p[1], q[1])
    return "same"


# ------------------------------------------------------------------ peers
def run_http_peer(a, peer, meta, lp, ddir, truth):
    """strata, VictoriaMetrics and InfluxDB: all take the same line protocol."""
    port = free_port()
    os.makedirs(ddir)
    res = {"peer": peer}
    extra = ""
    if peer == "strata":
        cmd = [a.strata_bin, "serve", "-d", os.path.join(ddir, "data"), "--listen", "127.0.0.1:%d" % port]
        res["version"] = subprocess.run([a.strata_bin, "--version"], capture_output=True, text=True).stdout.strip()
        write, ready = "/write?precision=s", "/health"
    elif peer == "vm":
        cmd = ["victoria-metrics", "-storageDataPath=" + os.path.join(ddir, "data"),
               "-httpListenAddr=127.0.0.1:%d" % port, "-retentionPeriod=100y", "-influxSkipSingleField"]
        res["version"] = pkg_version("victoria-metrics")
        write, ready, extra = "/write?precision=s", "/health", "&nocache=1"
    else:
        conf = os.path.join(ddir, "influxdb.conf")
        with open(conf, "w") as f:
            rpc = free_port()
            while rpc == port:
                rpc = free_port()
            f.write(INFLUX_CONF.format(d=os.path.join(ddir, "data"), port=port, rpc=rpc))
        cmd = ["influxd", "run", "-config", conf]
        res["version"] = pkg_version("influxdb")
        write, ready = "/write?db=bench&precision=s", "/ping"
    res["server_cmd"] = " ".join(cmd)
    srv = Server(peer, cmd, ddir + ".log")
    srv.start()
    try:
        srv.wait_ready(port, ready)
        if peer == "influx":
            st, body = http_req("POST", port, "/query?q=CREATE+DATABASE+bench")
            if st != 200:
                raise RuntimeError("CREATE DATABASE: %d %s" % (st, body[:200]))
        batches = load_batches(lp, a.lines_per_batch[meta["dataset"]])
        res["ingest"] = ingest(srv, port, write, batches, a.connections, meta["samples"])
        del batches
        log("%s ingest: %.0f samples/s" % (peer, res["ingest"]["samples_per_s"]))
        cpu0, t0 = srv.cpu_s(), time.time()
        res["compaction"] = {"strata": strata_settle, "vm": vm_settle, "influx": influx_settle}[peer](port, meta)
        res["compaction"].update(wall_s=round(time.time() - t0, 2), server_cpu_s=round(srv.cpu_s() - cpu0, 2))
        app, alloc = du(os.path.join(ddir, "data"))
        res["disk"] = {"apparent_bytes": app, "allocated_bytes": alloc, "bytes_per_sample": alloc / meta["samples"]}
        if peer == "influx":
            res["stored_samples"] = stored(stored_influxql, port, meta, "bench")
            res["raw_query"], pts = raw_influxql(port, meta, a.query_repeats, "bench")
        elif peer == "strata":
            res["stored_samples"] = stored(stored_export, port, meta, extra)
            res["raw_query"], pts = raw_promql(port, meta, a.query_repeats, extra)
        else:
            res["stored_samples"] = stored(stored_promql, port, meta, extra)
            res["raw_query"], pts = raw_promql(port, meta, a.query_repeats, extra)
        res["raw_query"].update(check_raw(pts, truth))
        answers = {}
        if peer != "influx":
            res["dashboard"], answers = dashboard(port, meta, a.query_repeats, extra)
        res["peak_rss_kb"] = srv.status_kb("VmHWM")
    finally:
        res["stop_rc"] = srv.stop()
    return res, answers


def strata_settle(port, meta):
    st1, b1 = http_req("POST", port, "/internal/force_flush")
    st2, b2 = http_req("POST", port, "/internal/force_merge?full=1")
    if st1 != 200 or st2 != 200:
        raise RuntimeError("strata flush/merge: %d %s / %d %s" % (st1, b1[:200], st2, b2[:200]))
    return {"how": "POST /internal/force_flush, POST /internal/force_merge?full=1 (both return when done)"}


def prom_metrics(port):
    out = {}
    for line in http_req("GET", port, "/metrics", timeout=30)[1].decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def vm_settle(port, meta, quiet_s=5, deadline_s=600):
    """force_flush until every row is in a part, then force_merge the month
    partition, then wait until no merge runs and the part counts have stood
    still for quiet_s seconds (VictoriaMetrics merges in the background)."""
    t0 = time.time()
    rows = ('vm_rows{type="storage/small"}', 'vm_rows{type="storage/big"}')
    while True:
        http_req("GET", port, "/internal/force_flush")
        if sum(prom_metrics(port).get(k, 0) for k in rows) >= meta["samples"]:
            break
        if time.time() - t0 > deadline_s:
            raise RuntimeError("VictoriaMetrics did not flush every row")
        time.sleep(0.5)  # polling another process
    part = time.strftime("%Y_%m", time.gmtime(meta["start"]))
    http_req("GET", port, "/internal/force_merge?partition_prefix=" + part)
    last, still = None, 0
    while still < quiet_s:
        time.sleep(1)  # polling another process
        m = prom_metrics(port)
        state = tuple(sorted((k, v) for k, v in m.items() if k.startswith(("vm_parts{", "vm_active_merges{",
                                                                              "vm_active_force_merges"))))
        busy = any(v for k, v in state if "active" in k)
        still = still + 1 if state == last and not busy else 0
        last = state
        if time.time() - t0 > deadline_s:
            raise RuntimeError("VictoriaMetrics merges did not settle")
    return {"how": "GET /internal/force_flush until vm_rows == samples, GET /internal/force_merge?partition_prefix=%s, "
                   "then no active merge and part counts unchanged for %d s" % (part, quiet_s)}


INFLUX_CONF = """reporting-enabled = false
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "30s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
"""


def influx_settle(port, meta, quiet_s=20, deadline_s=900):
    """InfluxDB has no flush or merge call: its config makes a shard cold after
    10 s (cache snapshot to TSM) and 30 s (full compaction); wait until cache
    and WAL are empty, no compaction is active, a full compaction ran (or each
    shard is one TSM file) and that state has held for quiet_s seconds."""
    t0, last, still = time.time(), None, 0
    while True:
        time.sleep(1)  # polling another process
        d = json.loads(http_req("GET", port, "/debug/vars", timeout=30)[1])
        active = files = shards = cache = wal = full = 0
        for v in d.values():
            if not isinstance(v, dict) or (v.get("tags") or {}).get("database") != "bench":
                continue
            vals = v.get("values") or {}
            if v.get("name") == "tsm1_engine":
                # only the *Active gauges: 1.6 can leave a *Queue gauge at 1 for good
                active += sum(x for k, x in vals.items() if k.endswith("Active"))
                full += vals.get("tsmFullCompactions", 0) + vals.get("tsmOptimizeCompactions", 0)
            elif v.get("name") == "tsm1_filestore":
                files += vals.get("numFiles", 0)
                shards += 1
            elif v.get("name") == "tsm1_cache":
                cache += vals.get("memBytes", 0)
            elif v.get("name") == "tsm1_wal":
                wal += vals.get("currentSegmentDiskBytes", 0) + vals.get("oldSegmentsDiskBytes", 0)
        state = (active, files, shards, cache, wal, full)
        done = active == 0 and cache == 0 and wal == 0 and (full > 0 or files <= shards)
        still = still + 1 if state == last and done else 0
        last = state
        if still >= quiet_s and time.time() - t0 >= 30 + quiet_s:
            break
        if time.time() - t0 > deadline_s:
            raise RuntimeError("InfluxDB compaction did not settle: %r" % (state,))
    return {"how": "cache-snapshot-write-cold-duration=10s, compact-full-write-cold-duration=30s; waited until "
                   "cache and WAL empty, no compaction active, a full compaction done (or one TSM file per "
                   "shard), unchanged for %d s" % quiet_s, "tsm_files": files}


def prom_block_samples(data):
    n = 0
    for b in os.listdir(data):
        if os.path.isfile(os.path.join(data, b, "meta.json")):
            with open(os.path.join(data, b, "meta.json")) as f:
                n += json.load(f)["stats"]["numSamples"]
    return n


def run_prom(a, meta, om, ddir, truth):
    """Backfill with promtool (one block up to 54 h: the data starts on a 54 h
    boundary), measure the blocks, then serve them and query."""
    os.makedirs(ddir)
    data = os.path.join(ddir, "data")
    res = {"peer": "prom", "version": pkg_version("prometheus")}
    cmd = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=54h", om, data]
    log("running", " ".join(cmd))
    t0 = time.perf_counter()
    with open(ddir + ".promtool.log", "wb") as logf:
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("promtool failed, see %s.promtool.log" % ddir)
    cpu = ru.ru_utime + ru.ru_stime
    res["ingest"] = {"how": " ".join(cmd), "wall_s": round(wall, 3), "samples_per_s": meta["samples"] / wall,
                     "server_cpu_s": round(cpu, 3), "server_cpu_us_per_sample": cpu / meta["samples"] * 1e6,
                     "promtool_max_rss_kb": ru.ru_maxrss, "comparable": False}
    app, alloc = du(data)
    res["disk"] = {"apparent_bytes": app, "allocated_bytes": alloc, "bytes_per_sample": alloc / meta["samples"]}
    res["compaction"] = {"how": "blocks as promtool wrote them (one block per 54 h)"}
    port = free_port()
    conf = os.path.join(ddir, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    cmd = ["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + data,
           "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:%d" % port]
    res["server_cmd"] = " ".join(cmd)
    srv = Server("prometheus", cmd, ddir + ".log")
    srv.start()
    try:
        srv.wait_ready(port, "/-/ready")
        # Prometheus refuses sum(count_over_time({__name__=~".+"}[..])): the series
        # collide once the name is dropped. The blocks' meta.json count them.
        res["stored_samples"] = prom_block_samples(data)
        res["raw_query"], pts = raw_promql(port, meta, a.query_repeats, "")
        res["raw_query"].update(check_raw(pts, truth))
        res["dashboard"], answers = dashboard(port, meta, a.query_repeats, "")
        res["peak_rss_kb"] = srv.status_kb("VmHWM")
    finally:
        res["stop_rc"] = srv.stop()
    return res, answers


# ------------------------------------------------------------------ report
def fmt_rate(v, unit_of=None):
    """Samples/s in M, or in k below 100 k; unit_of picks the unit (one per cell)."""
    return "%.2f M" % (v / 1e6) if (unit_of or v) >= 1e5 else "%.0f k" % (v / 1e3)


def ratio(v, base):
    return " (%.2f×)" % (v / base) if base else ""


def summarise(runs):
    """One row from the repeats of (peer, data set): medians; peak RSS the max."""
    r0 = runs[0]
    med = lambda f: statistics.median(f(r) for r in runs)
    row = {"peer": r0["peer"], "version": r0.get("version", ""), "n": len(runs),
           "comparable": r0["ingest"]["comparable"],
           "rate": med(lambda r: r["ingest"]["samples_per_s"]),
           "rate_min": min(r["ingest"]["samples_per_s"] for r in runs),
           "rate_max": max(r["ingest"]["samples_per_s"] for r in runs),
           "cpu": med(lambda r: r["ingest"]["server_cpu_us_per_sample"]),
           "rss": max(r["peak_rss_kb"] for r in runs) / 1024,
           "bps": med(lambda r: r["disk"]["bytes_per_sample"]),
           "raw": med(lambda r: r["raw_query"]["warm_median_ms"]),
           "readback": r0["raw_query"]["verdict"], "stored": r0["stored_samples"]}
    return row


def table(results, datasets, peers, query_repeats):
    lines = []
    for ds, meta in datasets.items():
        rows = [summarise(results[(p, ds)]) for p in peers if results.get((p, ds))]
        if not rows:
            continue
        base = next((r for r in rows if r["peer"] == "strata"), None)
        lines.append("\n### %s: %d h, %d series, %d samples (%d lines)\n" % (
            ds, meta["hours"], meta["series"], meta["samples"], meta["lines"]))
        lines.append("| peer | version | ingest samples/s | server CPU µs/sample | peak RSS MiB | bytes/sample on disk "
                     "| raw series query ms | raw series read back | samples stored |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            b = base if base and r is not base else None
            rate = fmt_rate(r["rate"])
            if r["n"] > 1:
                rate += " [%s-%s]" % (fmt_rate(r["rate_min"], r["rate"]), fmt_rate(r["rate_max"], r["rate"]))
            cpu = "%.2f" % r["cpu"]
            if r["comparable"]:
                rate += ratio(r["rate"], b["rate"]) if b else ""
                cpu += ratio(r["cpu"], b["cpu"]) if b else ""
            else:
                rate, cpu = "(promtool backfill: %s)" % rate, "(promtool: %s)" % cpu
            st = r["stored"]
            st = "all" if st == meta["samples"] else ("%s of %d" % (st, meta["samples"]) if isinstance(st, int)
                                                       else "query failed")
            lines.append("| %s | %s | %s | %s | %.0f%s | %.3f%s | %.2f%s | %s (%d points) | %s |" % (
                PEER_NAMES[r["peer"]], r["version"], rate, cpu, r["rss"], ratio(r["rss"], b["rss"]) if b else "",
                r["bps"], ratio(r["bps"], b["bps"]) if b else "", r["raw"], ratio(r["raw"], b["raw"]) if b else "",
                r["readback"], meta["raw"]["points"], st))
        dash_peers = [p for p in peers if results.get((p, ds)) and "dashboard" in results[(p, ds)][0]]
        if dash_peers and DASHBOARD.get(ds):
            lines.append("\n%s dashboard panels, warm median ms of %d%s:\n" % (
                ds, query_repeats, "; answer vs Prometheus'" if "prom" in dash_peers else ""))
            lines.append("| panel | kind | " + " | ".join(PEER_NAMES[p] for p in dash_peers) + " |")
            lines.append("|---|---|" + "---|" * len(dash_peers))
            for name, kind, _ in DASHBOARD[ds]:
                cells = []
                for p in dash_peers:
                    runs = results[(p, ds)]
                    d = runs[0]["dashboard"][name]
                    if "error" in d:
                        cells.append("error")
                        continue
                    c = "%.1f" % statistics.median(r["dashboard"][name]["warm_median_ms"] for r in runs)
                    if "vs_prom" in d:
                        c += " " + d["vs_prom"].split(":")[0]
                    cells.append(c)
                lines.append("| %s | %s | %s |" % (name, kind, " | ".join(cells)))
            errs = ["%s %s: %s" % (PEER_NAMES[p], n, d["error"]) for p in dash_peers
                    for n, d in results[(p, ds)][0]["dashboard"].items() if "error" in d]
            diffs = ["%s %s: %s" % (PEER_NAMES[p], n, d["vs_prom"]) for p in dash_peers
                     for n, d in results[(p, ds)][0]["dashboard"].items() if d.get("vs_prom", "same") != "same"]
            if errs or diffs:
                lines.append("")
                lines += ["- " + e.replace("|", "\\|") for e in errs + diffs]
    lines.append("\n(×) is the peer's figure divided by strata's. Ingest: the same client and batches for every "
                 "peer that takes line protocol; Prometheus has none, so its figures are promtool's backfill and "
                 "are not comparable, and its peak RSS is the server's serving the backfilled blocks. "
                 "Bytes/sample: allocated bytes of the whole data dir after the peer's flush and merge. Raw "
                 "series: one series over the whole range, warm median; read back against the generated "
                 "values. Samples stored: what the peer counts, against what was generated.")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default="strata,vm,influx,prom", help="comma-separated: " + ",".join(PEERS))
    ap.add_argument("--datasets", default="devops-cpu,node-like")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--hosts", type=int, default=0, help="devops-cpu hosts / node-like instances "
                                                         "(default: the generator's, 200 / 16)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per peer and data set, each on a fresh dir")
    ap.add_argument("--query-repeats", type=int, default=10, help="warm repeats of each query")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--lines-per-batch", type=int, default=0,
                    help="default: 5000 for devops-cpu (10 samples a line), 10000 for node-like")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "peers"), help="JSON and table.md go here")
    ap.add_argument("--scratch", default=None, help="parent of the scratch dir (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dir (data sets, data dirs, logs)")
    ap.add_argument("--no-install", action="store_true", help="do not run apt-get; skip missing peers")
    ap.add_argument("--strata-bin", default=os.environ.get("STRATA_BIN", os.path.join(ROOT, "build", "strata")))
    ap.add_argument("--strata-bench", default=None, help="default: strata-bench beside --strata-bin")
    ap.add_argument("--report", metavar="JSON", help="only print the tables of a JSON this script wrote")
    a = ap.parse_args()
    if a.report:
        with open(a.report) as f:
            doc = json.load(f)
        results = {}
        for r in doc["runs"]:
            results.setdefault((r["peer"], r["dataset"]), []).append(r)
        print(table(results, doc["datasets"], doc["peers"], doc.get("query_repeats", 10)))
        return 0
    peers = [p for p in a.peers.split(",") if p]
    datasets = [d for d in a.datasets.split(",") if d]
    for p in peers:
        if p not in PEERS:
            ap.error("unknown peer %s" % p)
    for d in datasets:
        if d not in RAW:
            ap.error("unknown data set %s" % d)
    a.strata_bin = os.path.abspath(a.strata_bin)
    a.strata_bench = os.path.abspath(a.strata_bench or os.path.join(os.path.dirname(a.strata_bin), "strata-bench"))
    a.lines_per_batch = {d: a.lines_per_batch or (5000 if d == "devops-cpu" else 10000) for d in datasets}

    def on_signal(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)

    skipped = {} if a.no_install else install(peers)
    for p in peers:
        if p in PACKAGES and p not in skipped and not shutil.which(PACKAGES[p][1]):
            skipped[p] = "%s not installed" % PACKAGES[p][1]
    if "prom" in peers and "prom" not in skipped and not shutil.which("promtool"):
        skipped["prom"] = "promtool not installed"
    for p, why in skipped.items():
        log("skipping %s: %s" % (p, why))
    peers = [p for p in peers if p not in skipped]
    if not peers:
        log("no peer to run")
        return 3

    load_before = os.getloadavg()
    scratch = tempfile.mkdtemp(prefix="strata-peers.", dir=a.scratch)
    log("scratch dir", scratch)
    metas, results, runs, failed = {}, {}, [], []
    try:
        for ds in datasets:
            meta, truth, lp = make_dataset(a, ds, scratch, "prom" in peers)
            metas[ds] = meta
            answers = {}
            for p in peers:
                for rep in range(a.repeats):
                    ddir = os.path.join(scratch, "%s-%s-r%d" % (p, ds, rep + 1))
                    try:
                        if p == "prom":
                            res, ans = run_prom(a, meta, os.path.join(scratch, ds + ".om"), ddir, truth)
                        else:
                            res, ans = run_http_peer(a, p, meta, lp, ddir, truth)
                    except (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
                        # one peer failing does not lose the others' figures
                        tail = ""
                        if os.path.exists(ddir + ".log"):
                            with open(ddir + ".log", "rb") as f:
                                tail = f.read()[-2000:].decode("utf-8", "replace")
                        log("%s %s r%d FAILED: %s\n%s" % (p, ds, rep + 1, e, tail))
                        failed.append({"peer": p, "dataset": ds, "repeat": rep + 1, "error": str(e)[:500],
                                       "log_tail": tail})
                        continue
                    finally:
                        if not a.keep:
                            shutil.rmtree(ddir, ignore_errors=True)
                    res.update(dataset=ds, repeat=rep + 1)
                    answers.setdefault(p, ans)
                    results.setdefault((p, ds), []).append(res)
                    runs.append(res)
                    log("%s %s r%d: %.3f bytes/sample, raw query %.2f ms, %s" % (
                        p, ds, rep + 1, res["disk"]["bytes_per_sample"], res["raw_query"]["warm_median_ms"],
                        res["raw_query"]["verdict"]))
            if "prom" in answers:
                for p in peers:
                    for res in results.get((p, ds), []) if p != "prom" else []:
                        for name, d in res.get("dashboard", {}).items():
                            if "error" not in d and name in answers["prom"] and name in answers[p]:
                                d["vs_prom"] = compare(answers[p][name], answers["prom"][name])
            for name in ("lp", "om"):
                if not a.keep and os.path.exists(os.path.join(scratch, ds + "." + name)):
                    os.remove(os.path.join(scratch, ds + "." + name))
    finally:
        for s in list(RUNNING):
            s.stop()
        if a.keep:
            log("scratch kept:", scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    md = table(results, metas, peers, a.query_repeats)
    if failed:
        md += "\nFailed runs:\n\n" + "".join("- %s %s r%d: %s\n" % (PEER_NAMES[f["peer"]], f["dataset"], f["repeat"],
                                                                    f["error"].replace("|", "\\|")) for f in failed)
    print(md)
    os.makedirs(a.out, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    doc = {"command": " ".join([os.path.relpath(sys.argv[0], ROOT) if sys.argv[0].startswith(ROOT) else sys.argv[0]]
                               + sys.argv[1:]),
           "when_utc": stamp, "host": {"nproc": os.cpu_count(), "kernel": os.uname().release,
                                       "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
           "peers": peers, "skipped": skipped, "query_repeats": a.query_repeats, "datasets": metas, "dashboard": DASHBOARD,
           "runs": runs, "failed": failed, "table_md": md}
    path = os.path.join(a.out, "peers-%s.json" % stamp)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(md)
    log("wrote", path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
