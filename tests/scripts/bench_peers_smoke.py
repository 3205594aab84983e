"""Smoke test of bench/peers/peers.py on a tiny data set (1 hour, 2 hosts,
both data sets): strata always, VictoriaMetrics too when it is installed or
apt-get installs it without fuss (a failed install only leaves it out; strata
alone still runs, so this test is never skipped). Checks that the script
exits 0, prints a table with a row per peer and data set, and writes one JSON
whose figures are sane: the samples it counted equal those the generator
printed (counted here independently), every peer stores them all, the raw
series reads back exactly (strata) and bytes/sample, ingest rate and RSS are
positive."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("STRATA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("STRATA_BUILD", os.path.join(SRC, "build"))
STRATA = os.environ.get("STRATA_BIN", os.path.join(BUILD, "strata"))
BENCH = os.path.join(BUILD, "strata-bench")
DATASETS = ["devops-cpu", "node-like"]
HOURS, HOSTS = 1, 2


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def generated_samples(ds):
    out = subprocess.run([BENCH, "gen", ds, "--hours", str(HOURS), "--hosts", str(HOSTS)],
                         capture_output=True, check=True).stdout
    return sum(line.rsplit(b" ", 2)[1].count(b",") + 1 for line in out.splitlines())


def main():
    for b in (STRATA, BENCH):
        if not os.access(b, os.X_OK):
            fail("%s not built" % b)
    peers = ["strata"]
    if not shutil.which("victoria-metrics") and (os.geteuid() == 0 or shutil.which("sudo")):
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "victoria-metrics"],
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if shutil.which("victoria-metrics"):
        peers.append("vm")
    out = tempfile.mkdtemp(prefix="strata-peers-smoke.")
    try:
        t0 = time.time()
        cmd = [sys.executable, os.path.join(SRC, "bench", "peers", "peers.py"), "--peers", ",".join(peers),
               "--datasets", ",".join(DATASETS), "--hours", str(HOURS), "--hosts", str(HOSTS),
               "--query-repeats", "2", "--out", out, "--scratch", out, "--no-install",
               "--strata-bin", STRATA, "--strata-bench", BENCH]
        print(" ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        print(r.stdout)
        if r.returncode != 0:
            print(r.stderr[-4000:])
            fail("peers.py exited %d" % r.returncode)
        print("peers.py took %.1f s" % (time.time() - t0))
        rows = [l for l in r.stdout.splitlines() if l.startswith("| strata |")]
        if len(rows) != len(DATASETS):
            fail("expected a strata row per data set, got %r" % rows)
        if "vm" in peers and sum(l.startswith("| VictoriaMetrics |") for l in r.stdout.splitlines()) != len(DATASETS):
            fail("expected a VictoriaMetrics row per data set")
        files = glob.glob(os.path.join(out, "peers-*.json"))
        if len(files) != 1:
            fail("expected one JSON in --out, found %r" % files)
        with open(files[0]) as f:
            doc = json.load(f)
        for ds in DATASETS:
            want = generated_samples(ds)
            meta = doc["datasets"][ds]
            if meta["samples"] != want:
                fail("%s: peers.py counted %d samples, the generator printed %d" % (ds, meta["samples"], want))
            runs = [x for x in doc["runs"] if x["dataset"] == ds]
            if sorted(x["peer"] for x in runs) != sorted(peers):
                fail("%s: runs for %r, expected %r" % (ds, [x["peer"] for x in runs], peers))
            for x in runs:
                what = "%s %s" % (x["peer"], ds)
                if x["stored_samples"] != want:
                    fail("%s: %r samples stored, %d generated" % (what, x["stored_samples"], want))
                if not x["disk"]["bytes_per_sample"] > 0:
                    fail("%s: bytes/sample %r" % (what, x["disk"]["bytes_per_sample"]))
                if not x["ingest"]["samples_per_s"] > 0 or not x["peak_rss_kb"] > 0:
                    fail("%s: ingest or RSS figure missing" % what)
                if x["raw_query"]["points"] != meta["raw"]["points"] or meta["raw"]["points"] == 0:
                    fail("%s: raw series %d points, %d generated" % (what, x["raw_query"]["points"],
                                                                       meta["raw"]["points"]))
                if x["peer"] == "strata" and x["raw_query"]["verdict"] != "exact":
                    fail("%s: raw series read back %s" % (what, x["raw_query"]["verdict"]))
                if x["stop_rc"] != 0:
                    fail("%s: server exited %r" % (what, x["stop_rc"]))
                if len(x["dashboard"]) != 5:
                    fail("%s: %d dashboard panels" % (what, len(x["dashboard"])))
            print("%s: %d samples, peers %s: ok" % (ds, want, ",".join(peers)))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
