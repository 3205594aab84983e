#!/usr/bin/env python3
"""Round trip: the devops-cpu and node-like data sets written with `strata
write` and read back with `strata export` equal the input as a set of
(series, timestamp, value), judged by this independent checker (its own
line-protocol and JSON parsing), also across a flush and a close/reopen.

Sizes are small so `make test` stays fast; STRATA_RT_HOSTS / STRATA_RT_HOURS
make them larger (make test-long uses roundtrip_lp_long.py).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

BIN = os.environ.get("STRATA_BIN", "build/strata")
# the data sets come from the project's own generator, strata-bench gen,
# built beside the strata binary
GEN = os.environ.get("STRATA_BENCH_BIN", os.path.join(os.path.dirname(BIN), "strata-bench"))


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in ", =\\":
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def split_unescaped(s, sep):
    parts, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def parse_lp(path, precision_ms=1000):
    """(frozen labels, t_ms) -> value bits, later lines win."""
    exp = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, fields, ts = split_unescaped(line, " ")
            kparts = split_unescaped(key, ",")
            meas = unescape(kparts[0])
            tags = []
            for kv in kparts[1:]:
                k, v = split_unescaped(kv, "=")
                tags.append((unescape(k), unescape(v)))
            t = int(ts) * precision_ms
            for fv in split_unescaped(fields, ","):
                k, v = split_unescaped(fv, "=")
                k = unescape(k)
                if v.endswith("i") or v.endswith("u"):
                    val = float(int(v[:-1]))
                else:
                    val = float(v)
                name = meas if k == "value" else meas + "_" + k
                labels = frozenset([("__name__", name)] + [t2 for t2 in tags if t2[1] != ""])
                exp[(labels, t)] = bits(val)
    return exp


def export(db):
    out = subprocess.run([BIN, "export", "-d", db], check=True, capture_output=True, text=True).stdout
    got = {}
    for line in out.splitlines():
        o = json.loads(line)
        labels = frozenset(o["metric"].items())
        assert len(o["values"]) == len(o["timestamps"]), "unequal arrays"
        for v, t in zip(o["values"], o["timestamps"]):
            if (labels, t) in got:
                raise AssertionError("duplicate sample %r at %d" % (dict(labels), t))
            got[(labels, t)] = bits(float(v))
    return got


def compare(exp, got, what):
    if exp == got:
        print("%s: %d samples equal" % (what, len(exp)))
        return
    missing = [k for k in exp if k not in got]
    extra = [k for k in got if k not in exp]
    wrong = [k for k in exp if k in got and exp[k] != got[k]]
    print("%s: MISMATCH missing=%d extra=%d wrong=%d" % (what, len(missing), len(extra), len(wrong)))
    for k in (missing[:3] + extra[:3] + wrong[:3]):
        print("  ", dict(k[0]), k[1], exp.get(k), got.get(k))
    sys.exit(1)


def main():
    hosts = os.environ.get("STRATA_RT_HOSTS")
    hours = os.environ.get("STRATA_RT_HOURS", "1")
    tmp = tempfile.mkdtemp(prefix="strata-rt-")
    try:
        for ds, h in (("devops-cpu", hosts or "5"), ("node-like", hosts or "2")):
            lp = os.path.join(tmp, ds + ".lp")
            with open(lp, "wb") as f:
                subprocess.run([GEN, "gen", ds, "--hosts", h, "--hours", hours], check=True, stdout=f)
            exp = parse_lp(lp)
            db = os.path.join(tmp, "db-" + ds)
            r = subprocess.run([BIN, "write", "-d", db, "--precision", "s", "--partition", "20m", lp],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            assert r.stdout.startswith("%d samples" % len(exp)), r.stdout
            compare(exp, export(db), ds + " after write (head + WAL replay)")
            r = subprocess.run([BIN, "compact", "-d", db], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            compare(exp, export(db), ds + " after flush to tables")
            # write again half of the file: overwrites of equal values, and a reopen
            r = subprocess.run([BIN, "write", "-d", db, "--precision", "s", lp], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            compare(exp, export(db), ds + " after rewrite over tables")
            for planner in ("leveled", "tiered"):
                r = subprocess.run([BIN, "compact", "-d", db, "--planner", planner], capture_output=True, text=True)
                assert r.returncode == 0, r.stderr
                compare(exp, export(db), ds + " after compaction (%s)" % planner)
            r = subprocess.run([BIN, "compact", "-d", db, "--full"], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            compare(exp, export(db), ds + " after full compaction")
            info = json.loads(subprocess.run([BIN, "inspect", "-d", db, "--json"], check=True,
                                             capture_output=True, text=True).stdout)
            assert info["table_samples"] == len(exp), info
            print("  %s: %d files, %.3f bytes/sample, write amplification %.2f" % (
                ds, info["table_files"], info["bytes_per_sample"], info["write_amplification"]))
            r = subprocess.run([BIN, "verify", "-d", db], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr + r.stdout
            shutil.rmtree(db)
    finally:
        shutil.rmtree(tmp)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
