#!/usr/bin/env python3
"""Crash through the command line: `strata write --sync always` fed line
protocol from a pipe and killed with SIGKILL at random moments, again and
again on one directory (with a tiny --head-budget so flushes run all the
time). After each kill `strata verify -d` exits 0 and `strata export`
returns only samples that were written, with their exact values, and at
least every line of every earlier run that exited normally.

The C test db_crash checks acknowledged writes one by one through the API;
this one covers the CLI's path (line-protocol parsing, strata_write_lp,
open/close of the binary). Seeded: STRATA_SEED (printed), STRATA_CRASH_KILLS.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("STRATA_BIN", "build/strata")
T0 = 1700000000  # seconds


def line(n, k):
    """Line n writes host k; the value is a pure function of (n, k)."""
    return "crash,host=h%d v=%d.%d,w=%di %d" % (k, n * 7 + k, k, n, T0 + n)


def value(n, k):
    return float("%d.%d" % (n * 7 + k, k))


def main():
    seed = int(os.environ.get("STRATA_SEED", "4242"))
    kills = int(os.environ.get("STRATA_CRASH_KILLS", "16"))
    print("seed: %d (set STRATA_SEED to replay)" % seed)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="strata-crash-cli-")
    d = os.path.join(tmp, "db")
    failures = []
    must = set()  # (n, k) of runs that finished normally
    written = 0   # lines handed to any writer so far
    killed = 0
    t_start = time.monotonic()
    try:
        for i in range(kills + 1):
            final = i == kills  # the last run is not killed: it must finish
            p = subprocess.Popen([BIN, "write", "-d", d, "--sync", "always", "--precision", "s",
                                  "--head-budget", "1", "-"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            n_lines = rng.randrange(2000, 20000)
            start = written
            data = "".join(line(n, k) + "\n" for n in range(start, start + n_lines) for k in range(3)).encode()
            written += n_lines
            delay = rng.uniform(0.0, 0.06)
            if final:
                out, err = p.communicate(data, timeout=120)
                if p.returncode != 0:
                    failures.append("final run exited %d: %s" % (p.returncode, err.decode()[-300:]))
                for n in range(start, start + n_lines):
                    for k in range(3):
                        must.add((n, k))
                break
            # feed everything (and EOF) from a thread; kill at the chosen moment
            def feed():
                try:
                    p.stdin.write(data)
                    p.stdin.close()
                except (BrokenPipeError, ValueError):
                    pass
            th = threading.Thread(target=feed)
            th.start()
            try:
                p.wait(timeout=delay)  # the kill moment, not a synchronisation
            except subprocess.TimeoutExpired:
                pass
            finished = p.poll() is not None
            if not finished:
                p.send_signal(signal.SIGKILL)
            p.wait()
            th.join()
            if finished:
                # it beat the kill: everything it was given must be there
                if p.returncode != 0:
                    failures.append("run %d exited %d on its own" % (i, p.returncode))
                for n in range(start, start + n_lines):
                    for k in range(3):
                        must.add((n, k))
            else:
                killed += 1
            p.stdout.close()
            p.stderr.close()
            # verify, then export and judge
            v = subprocess.run([BIN, "verify", "-d", d], capture_output=True, text=True)
            if v.returncode not in (0,) and os.path.exists(os.path.join(d, "CURRENT")):
                failures.append("kill %d: strata verify -d exited %d: %s" % (i, v.returncode, (v.stdout + v.stderr)[-400:]))
        # the final state
        v = subprocess.run([BIN, "verify", "-d", d], capture_output=True, text=True)
        if v.returncode != 0:
            failures.append("final: strata verify -d exited %d: %s" % (v.returncode, (v.stdout + v.stderr)[-400:]))
        e = subprocess.run([BIN, "export", "-d", d], capture_output=True, text=True)
        if e.returncode != 0:
            failures.append("final: export exited %d: %s" % (e.returncode, e.stderr[-400:]))
        got = set()
        wrong = 0
        for l in e.stdout.splitlines():
            o = json.loads(l)
            m = o["metric"]
            if m.get("__name__") == "crash_w":
                continue
            if m.get("__name__") != "crash_v" or not m.get("host", "").startswith("h"):
                wrong += 1
                continue
            k = int(m["host"][1:])
            for t, val in zip(o["timestamps"], o["values"]):
                n = t // 1000 - T0
                if not (0 <= n < written) or val != value(n, k):
                    wrong += 1
                    if wrong <= 5:
                        print("wrong sample: host h%d t=%d value %r (want %r)" % (k, t, val, value(n, k)))
                got.add((n, k))
        if wrong:
            failures.append("%d samples that were never written (or wrong values)" % wrong)
        lost = must - got
        if lost:
            failures.append("%d samples of the run that finished normally are missing, e.g. %s" % (
                len(lost), sorted(lost)[:5]))
        print("%d runs killed (of %d), %d samples offered, %d samples found, %d required, %.1f s" % (
            killed, kills, written * 3, len(got), len(must), time.monotonic() - t_start))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
