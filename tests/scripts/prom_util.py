"""Debian's Prometheus on loopback for the differential tests: installed
with apt-get when missing (a test exits 77, CTest's skip, only when that
fails), temporary storage, no scrape targets, the remote-write receiver on."""
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


def ensure_prometheus():
    if shutil.which("prometheus"):
        return True
    sudo = [] if os.geteuid() == 0 or not shutil.which("sudo") else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env)
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], env=env)
    return r.returncode == 0 and shutil.which("prometheus")


NO_SCRAPES = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n"


class Prom:
    """Prometheus on loopback: temporary storage in base/name, the given
    configuration (PORT in it becomes its own port; default: no scrape
    targets), the remote-write receiver on, default lookback delta."""

    def __init__(self, base, name="prometheus", config=NO_SCRAPES):
        self.port = free_port()
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(config.replace("PORT", str(self.port)))
        self.logf = open(self.dir + ".log", "wb")
        self.p = subprocess.Popen(["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + self.dir + "/data",
                                   "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn",
                                   "--web.enable-remote-write-receiver"],
                                  stdout=self.logf, stderr=subprocess.STDOUT)
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


