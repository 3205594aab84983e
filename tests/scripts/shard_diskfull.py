"""A shard whose disk fills while an agent writes to it loses nothing the
agent sent: vmagent (Debian's victoria-metrics package) forwards rows
pushed to it into a strata on a small tmpfs kept nearly full by a ballast
file; strata answers the writes it cannot store 503 with Retry-After, so
vmagent keeps them queued and retries; once the ballast is removed every
row arrives, each series with exactly the samples sent (a retried request
that was half stored before the disk filled stores nothing twice). The
server stays up throughout. Needs root to mount the tmpfs (exit 77 when it
cannot be mounted or vmagent cannot be installed). Seed: STRATA_SEED
(printed)."""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prom_util import ensure_vmagent, http_call, metric_sum, metrics_of, probe_ok, wait_until  # noqa: E402
from server_util import Server, free_port  # noqa: E402

SEED = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
print("seed", SEED, flush=True)
rnd = random.Random(SEED)
T0 = 1700000000000
SERIES, PER_SERIES = 1500, 8
PAD = "x" * 400  # long labels: the series records fill the last megabyte fast


def stored(srv):
    """{series id label: [(t, value)]} from /api/v1/export."""
    q = urllib.parse.urlencode({"match[]": '{__name__="df_gauge"}', "start": "0", "end": str(2**40)})
    return {dict(k)["s"]: pts for k, pts in srv.export("?" + q).items()}


def status_count(m, klass):
    """vmagent's requests answered with a status of class klass ("2XX",
    "5XX": it labels 2xx as "2XX" and others by their code)."""
    return sum(v for k, v in m.items()
               if k.startswith("vmagent_remotewrite_requests_total") and 'status_code="%s' % klass[0] in k)


def main():
    if not ensure_vmagent():
        print("vmagent cannot be installed: skipped")
        return 77
    mnt = tempfile.mkdtemp(prefix="strata-shard-diskfull-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], capture_output=True).returncode:
        print("cannot mount a tmpfs: skipped")
        os.rmdir(mnt)
        return 77
    base = tempfile.mkdtemp(prefix="strata-shard-diskfull-q-")
    fails = []
    vm = None
    try:
        srv = Server(mnt + "/db").start()
        try:
            # leave about 64 KiB free beside the database
            free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
            with open(os.path.join(mnt, "ballast"), "wb") as f:
                f.write(b"\0" * max(0, free - (64 << 10)))
            port = free_port()
            vm_log = open(os.path.join(base, "vmagent.log"), "wb")
            vm = subprocess.Popen(["vmagent", "-httpListenAddr=127.0.0.1:%d" % port,
                                   "-remoteWrite.url=http://127.0.0.1:%d/api/v1/write" % srv.port,
                                   "-remoteWrite.tmpDataPath=" + os.path.join(base, "queue"),
                                   "-remoteWrite.flushInterval=100ms", "-loggerLevel=ERROR"],
                                  stdout=vm_log, stderr=subprocess.STDOUT)
            wait_until("vmagent ready", lambda: probe_ok(port, "/health"))
            want = {}
            lines = []
            for i in range(SERIES):
                key = "%d" % i
                want[key] = []
                for k in range(PER_SERIES):
                    t = T0 + k * 15000
                    v = rnd.randrange(1000000)
                    want[key].append((t, v))
                    lines.append('df_gauge{s="%s",pad="%s"} %d %d' % (key, PAD, v, t))
            st, body, _ = http_call(port, "POST", "/api/v1/import/prometheus", ("\n".join(lines) + "\n").encode())
            if st not in (200, 204):
                fails.append("push to vmagent: %s %r" % (st, body[:200]))
            total = SERIES * PER_SERIES
            # the disk fills: strata refuses with 5xx, vmagent keeps the rows
            seen = {}

            def refused():
                m = metrics_of(port)
                seen.update({c: status_count(m, c) for c in ("2XX", "4XX", "5XX")})
                return seen["5XX"] > 0
            wait_until("strata to refuse a write with 5xx", refused, 60, seen)
            st, _, _ = srv.req("GET", "/-/healthy")
            if st != 200:
                fails.append("server unhealthy while the disk is full: %s" % st)
            os.unlink(os.path.join(mnt, "ballast"))

            def delivered():
                m = metrics_of(port)
                got = stored(srv)
                n = sum(len(v) for v in got.values())
                done = n >= total and status_count(m, "2XX") > 0
                return (m, got) if done and metric_sum(m, "vmagent_remotewrite_pending_data_bytes") == 0 else None
            m, got = wait_until("every row after the space came back", delivered, 120)
            dropped = metric_sum(m, "vmagent_remotewrite_packets_dropped_total")
            print("vmagent: %d rows, %d requests 5XX then %d 2XX, %d dropped; strata stored %d samples in %d series"
                  % (total, status_count(m, "5XX"), status_count(m, "2XX"), dropped,
                     sum(len(v) for v in got.values()), len(got)))
            if dropped:
                fails.append("vmagent dropped %d packets" % dropped)
            if status_count(m, "4XX"):
                fails.append("strata answered %d writes 4xx (not retried)" % status_count(m, "4XX"))
            for key, pts in want.items():
                have = [(t, float(v)) for t, v in got.get(key, [])]
                if have != [(t, float(v)) for t, v in pts]:
                    fails.append("series %s: stored %r, sent %r" % (key, have[:4], pts[:4]))
                    break
            if sorted(got) != sorted(want):
                fails.append("series differ: %d stored, %d sent" % (len(got), len(want)))
        finally:
            if vm:
                vm.terminate()
                vm.wait(timeout=60)
            rc = srv.stop()
            if rc != 0:
                fails.append("strata exited %s" % rc)
    finally:
        subprocess.run(["umount", mnt])
        shutil.rmtree(mnt, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    for f in fails:
        print("FAIL:", f)
    if not fails:
        print("shard_diskfull: ok")
    return 1 if fails else 0


sys.exit(main())
