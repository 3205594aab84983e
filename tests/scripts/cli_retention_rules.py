#!/usr/bin/env python3
"""Retention per series and downsampling rules from the command line and
the server (README "Keeping years"):

- every command that opens the database documents --retention-filter and
  --downsampling in --help;
- good flags (repeated, comma lists, ':' and ',' inside quoted values and
  braces) are shown by `inspect` (text, and a "rules" object in --json) in
  the order given;
- bad text is a usage error (exit 2) naming the flag; rules the engine
  refuses (durations not positive, downsampling out of order, a resolution
  not dividing the partition width) exit 2 with the engine's reason;
- a series' samples older than its rule's retention are hidden from export
  at once, other series keep theirs; line protocol older than the longest
  retention is rejected with the retention reason;
- `strata serve` lists the flags as given in /api/v1/status/flags, and the
  per-series rules in runtimeinfo's storageRetention; its export hides the
  same samples; a bad rule stops it with exit 2.

Deterministic: the data is written relative to the wall clock at whole
hours well away from every cut. Needs STRATA_BIN (set by CTest).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import Server  # noqa: E402

BIN = os.environ.get("STRATA_BIN", "build/strata")
OPENING = ["serve", "write", "import", "export", "query", "delete", "inspect", "compact"]
HOUR = 3600
failures = []


def run(args, stdin=None):
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def check(cond, what, detail=""):
    if not cond:
        failures.append(what)
        print("FAIL: %s%s" % (what, ("\n      " + detail.strip().replace("\n", "\n      ")) if detail else ""))
    return cond


def test_help():
    for c in OPENING:
        rc, out, err = run([c, "--help"])
        check(rc == 0 and "--retention-filter" in out and "--downsampling" in out,
              "strata %s --help documents --retention-filter and --downsampling" % c, out[-400:])


GOOD = ["--retention", "30d",
        "--retention-filter", '{env="dev"}:7d',
        "--retention-filter", 'up{path="/a:b,c"}:1h,{team=~"x|y"}:90d',
        "--downsampling", "30d:5m,180d:1h",
        "--downsampling", '{env="dev",team="a"}:7d:1h']


def test_inspect(tmp):
    d = os.path.join(tmp, "insp")
    rc, out, err = run(["inspect", "-d", d, "--json"] + GOOD)
    if not check(rc == 0, "inspect --json with good rules exits 0 (exit %d)" % rc, err):
        return
    r = json.loads(out)["rules"]
    check(r["retention"] == "30d" and r["retention_ms"] == 30 * 86400000, "inspect --json: the global retention",
          str(r))
    check([(x["selector"], x["retention"], x["retention_ms"]) for x in r["retention_filters"]] == [
        ('{env="dev"}', "7d", 7 * 86400000), ('up{path="/a:b,c"}', "1h", 3600000),
        ('{team=~"x|y"}', "90d", 90 * 86400000)], "inspect --json: retention filters in order, split right", str(r))
    check([(x["selector"], x["age"], x["resolution"]) for x in r["downsampling"]] == [
        ("", "30d", "5m"), ("", "180d", "1h"), ('{env="dev",team="a"}', "7d", "1h")],
        "inspect --json: downsampling rules in order", str(r))
    rc, out, err = run(["inspect", "-d", d] + GOOD)
    check(rc == 0 and re.search(r'filter\s+\{env="dev"\}: 7d', out) and re.search(r"others\s+30d", out) and
          re.search(r"every series\s+older than 180d: every 1h", out),
          "inspect shows the rules in text", out)
    rc, out, err = run(["inspect", "-d", d, "--json"])
    r = json.loads(out)["rules"]
    check(rc == 0 and r == {"retention": "", "retention_ms": 0, "retention_filters": [], "downsampling": []},
          "inspect --json without rules: an empty rules object", out[-300:])


BAD_TEXT = [
    (["--retention-filter", "7d"], r"--retention-filter.*SELECTOR:DURATION"),
    (["--retention-filter", ":7d"], r"selector is needed"),
    (["--retention-filter", '{env="dev"}:'], r"bad duration"),
    (["--retention-filter", '{env="dev"}:soon'], r"bad duration 'soon'"),
    (["--retention-filter", '{env="dev"'], r"--retention-filter"),
    (["--retention-filter", '{env="dev"}[5m]:7d'], r"no range"),
    (["--retention-filter", "{}:7d"], r"bad selector"),
    (["--retention-filter", ""], r"must not be empty"),
    (["--downsampling", "30d"], r"--downsampling.*AGE:RESOLUTION"),
    (["--downsampling", "30d:5q"], r"bad resolution"),
    (["--downsampling", "x30d:5m,180d:1h"], r"bad selector|bad age"),
    (["--downsampling", ":30d:5m"], r"empty selector"),
    (["--downsampling", '{env="dev"}:7d:1h,'], r"--downsampling"),
]

BAD_RULES = [  # well-formed text the engine refuses, with its reason
    (["--retention-filter", '{env="dev"}:0s'], r"positive retention"),
    (["--downsampling", "30d:0s"], r"must be positive"),
    (["--downsampling", "30d:1h,180d:5m"], r"coarser resolution"),
    (["--downsampling", "30d:2m,180d:5m"], r"multiple"),
    (["--downsampling", "30d:7m"], r"divide the partition width \(1d\)"),
    (["--partition", "2h", "--downsampling", "30d:3h"], r"divide the partition width \(2h\)"),
]


def test_bad(tmp):
    d = os.path.join(tmp, "bad")
    for args, pat in BAD_TEXT + BAD_RULES:
        for c in (["inspect"], ["export"]):
            rc, out, err = run(c + ["-d", d] + args)
            check(rc == 2 and re.search(pat, err), "strata %s %s: exit 2 saying /%s/ (exit %d)" % (
                c[0], " ".join(args), pat, rc), err)
    check(not os.path.exists(os.path.join(d, "CURRENT")), "a refused rule creates no database")


def lp_lines(now):
    """Hourly samples of a dev and a prod series over the last 72 h (at
    whole hours plus 30 min: never within minutes of a cut of whole days)."""
    base = (now // HOUR) * HOUR - 72 * HOUR + 1800
    ts = [base + i * HOUR for i in range(72) if base + i * HOUR < now - 60]
    lines = []
    for env in ("dev", "prod"):
        lines += ["m,env=%s v=%d %d" % (env, t, t) for t in ts]
    return ts, "".join(l + "\n" for l in lines)


def exported(args):
    rc, out, err = run(["export"] + args)
    check(rc == 0, "export %s exits 0" % " ".join(args), err)
    got = {}
    for line in out.splitlines():
        o = json.loads(line)
        got[o["metric"]["env"]] = [t // 1000 for t in o["timestamps"]]
    return got


def test_data(tmp):
    now = int(time.time())
    ts, text = lp_lines(now)
    d = os.path.join(tmp, "data")
    rule = ["--retention-filter", '{env="dev"}:1d']
    rc, out, err = run(["write", "-d", d, "--precision", "s", "-"] + rule, stdin=text)
    check(rc == 0 and "0 rejected" in out, "write with a rule but no global retention takes every line", out + err)
    got = exported(["-d", d] + rule)
    cut = time.time() - 86400
    check(got.get("dev") == [t for t in ts if t >= cut], "export hides dev's samples older than its 1d rule",
          str(got.get("dev"))[:300])
    check(got.get("prod") == ts, "export keeps every prod sample (no rule, no global retention)")
    got = exported(["-d", d])
    check(got.get("dev") == ts, "without the rule (nothing compacted) dev's samples read again")
    # with a global retention of 2d, lines older than the longest retention are rejected
    d2 = os.path.join(tmp, "data2")
    rc, out, err = run(["write", "-d", d2, "--precision", "s", "--retention", "2d", "-"] + rule, stdin=text)
    old = sum(1 for t in ts if t < now - 2 * 86400) * 2
    check(rc == 1 and ("%d rejected" % old) in out and "older than the retention period" in err,
          "write with --retention 2d rejects the %d lines older than 2 days" % old, out + err[-300:])
    got = exported(["-d", d2, "--retention", "2d"] + rule)
    check(got.get("dev") == [t for t in ts if t >= cut] and got.get("prod") == [t for t in ts if t >= now - 2 * 86400],
          "each series keeps its own retention (dev 1d, prod 2d)", str(got)[:300])
    return d


def test_server(tmp, data_dir):
    bad = subprocess.run([BIN, "serve", "-d", os.path.join(tmp, "sbad"), "--listen", "127.0.0.1:1",
                          "--downsampling", "30d:1h,60d:5m"], capture_output=True, text=True, timeout=60)
    check(bad.returncode == 2 and "coarser resolution" in bad.stderr, "serve with a bad rule exits 2 with the reason",
          bad.stderr)
    args = ["--retention-filter", '{env="dev"}:1d', "--retention-filter", 'up{a="b:c,d"}:1h,{env="x"}:2h',
            "--downsampling", "30d:5m,180d:1h", "--downsampling", '{env="dev"}:7d:1h']
    s = Server(data_dir, *args).start()
    try:
        st, j = s.json("GET", "/api/v1/status/flags")
        f = j["data"]
        check(st == 200 and f.get("retention-filter") == '{env="dev"}:1d,up{a="b:c,d"}:1h,{env="x"}:2h' and
              f.get("downsampling") == '30d:5m,180d:1h,{env="dev"}:7d:1h' and f.get("retention") == "0s",
              "/api/v1/status/flags lists the rule flags as given", json.dumps(f))
        st, j = s.json("GET", "/api/v1/status/runtimeinfo")
        check(st == 200 and j["data"]["storageRetention"] == 'unlimited, per series: {env="dev"}:1d,'
              'up{a="b:c,d"}:1h,{env="x"}:2h', "runtimeinfo's storageRetention names the rules", json.dumps(j))
        got = s.export("?match[]=m_v")
        dev = [t // 1000 for (k, v) in got.items() if ("env", "dev") in k for t, _ in v]
        prod = [t // 1000 for (k, v) in got.items() if ("env", "prod") in k for t, _ in v]
        cut = time.time() - 86400
        check(dev and min(dev) >= cut - 60 and len(prod) > len(dev) and min(prod) < cut - 86400,
              "the server's export hides dev's expired samples only", "dev %s prod %s" % (dev[:3], prod[:3]))
    finally:
        check(s.stop() == 0, "the server stops cleanly")


def main():
    if not os.path.exists(BIN):
        print("FAIL: strata binary not found at %s (set STRATA_BIN)" % BIN)
        return 1
    tmp = tempfile.mkdtemp(prefix="strata-rules-")
    t0 = time.monotonic()
    try:
        test_help()
        test_inspect(tmp)
        test_bad(tmp)
        d = test_data(tmp)
        test_server(tmp, d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("cli_retention_rules: %d failures, %.1f s" % (len(failures), time.monotonic() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
