"""Debian's Prometheus and vmagent on loopback for the tests that use them:
installed with apt-get when missing (a test exits 77, CTest's skip, only
when that fails); Prometheus with temporary storage, no scrape targets, the
remote-write receiver on; waiting on other processes with a deadline."""
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import free_port  # noqa: E402


def _ensure(program, package):
    if shutil.which(program):
        return True
    sudo = [] if os.geteuid() == 0 or not shutil.which("sudo") else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env)
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], env=env)
    return r.returncode == 0 and shutil.which(program)


def ensure_prometheus():
    return _ensure("prometheus", "prometheus")


def ensure_vmagent():
    """vmagent comes with Debian's victoria-metrics package."""
    return _ensure("vmagent", "victoria-metrics")


NO_SCRAPES = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n"


class Prom:
    """Prometheus on loopback: temporary storage in base/name, the given
    configuration (PORT in it becomes its own port; default: no scrape
    targets), the remote-write receiver on, default lookback delta."""

    def __init__(self, base, name="prometheus", config=NO_SCRAPES, agent=False):
        """agent: Prometheus in agent mode (scrape and remote-write only)."""
        self.port = free_port()
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(config.replace("PORT", str(self.port)))
        self.logf = open(self.dir + ".log", "wb")
        mode = (["--enable-feature=agent", "--storage.agent.path=" + self.dir + "/data"] if agent else
                ["--storage.tsdb.path=" + self.dir + "/data", "--web.enable-remote-write-receiver"])
        self.p = subprocess.Popen(["prometheus", "--config.file=" + conf, "--web.listen-address=127.0.0.1:%d" % self.port,
                                   "--log.level=warn"] + mode, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError("prometheus exited, see " + self.dir + ".log")
            try:
                st, _, _ = http_call(self.port, "GET", "/-/ready", timeout=2)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling another process's readiness, with a deadline
        raise RuntimeError("prometheus not ready")

    def query(self, q, t):
        """An instant query's vector as {labels: value text}."""
        st, body, _ = http_call(self.port, "GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t}))
        d = json.loads(body)
        assert st == 200 and d["status"] == "success", d
        return {tuple(sorted(x["metric"].items())): x["value"][1] for x in d["data"]["result"]}

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()


def http_call(port, method, path, body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), r.getheaders()
    finally:
        c.close()




def probe_ok(port, path):
    """Whether GET path answers 200 (False while the process is not listening)."""
    try:
        return http_call(port, "GET", path, timeout=2)[0] == 200
    except OSError:
        return False


def wait_until(what, fn, deadline_s=60, state=None):
    """Polls another process's state until fn() is true and returns it; a
    deadline, not a sleep standing in for synchronisation. AssertionError
    naming what (and state, which fn may keep up to date) when the deadline
    passes."""
    t0 = time.time()
    while time.time() - t0 < deadline_s:
        r = fn()
        if r:
            return r
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s; last seen %s" % (what, state))


def metrics_of(port, path="/metrics"):
    """A /metrics page as {series text: float}."""
    st, body, _ = http_call(port, "GET", path, timeout=10)
    assert st == 200, st
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def metric_sum(m, prefix):
    """The sum of every series of metric prefix in metrics_of's answer."""
    return sum(v for k, v in m.items() if k == prefix or k.startswith(prefix + "{"))
