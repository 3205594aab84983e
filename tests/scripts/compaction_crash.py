#!/usr/bin/env python3
"""Crash during compaction: `strata compact --full` killed with SIGKILL at
random moments, many times, with the manifest rewriting itself every 4 KiB
of edits (--manifest-rewrite-bytes 4096), so kills land inside
flushes, compaction merges, installs and manifest rewrites. After each kill:

  - `strata verify -d` passes (before and after recovery);
  - the database opens (`strata inspect --json`), and after that open no
    orphan is left in tables/: every *.tbl there is listed by inspect and
    there is no *.tmp;
  - `strata export` equals the model (the data written, overwrites and a
    delete applied), judged here by value equality per (series, t).

The database is built with `strata write` (partition 1h, a tiny head budget,
no compaction threads): many small level-0 files per partition, blocks that
overlap (later writes overwrite earlier ones, out of order), a delete and
writes into the deleted range after it, and data left in the WAL. Each
round either starts again from that template or kills again the database
the previous kill left (kills during recovery and on half-done work).
Planners alternate at random (tiered, leveled).

Seed: STRATA_SEED (printed). Kills: STRATA_CRASH_KILLS (default 12);
compaction_crash_long.py runs 150 on more data.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("STRATA_BIN", "build/strata")
SEED = int(os.environ.get("STRATA_SEED", "4242"))
KILLS = int(os.environ.get("STRATA_CRASH_KILLS", "12"))
HOSTS = int(os.environ.get("STRATA_CRASH_HOSTS", "6"))
HOURS = int(os.environ.get("STRATA_CRASH_HOURS", "6"))
FIELDS = "abcd"
T0 = 472222 * 3600  # seconds, hour-aligned (Nov 2023)
STEP = 10
PASSES = 7  # level-0 files per partition (tiered merges 8)
# manifest rewrite thresholds drawn per run: 4096 (every few edits) and
# 512 (every edit: this manifest's snapshot alone is larger)
REWRITES = os.environ.get("STRATA_CRASH_REWRITE_BYTES", "4096,512").split(",")
ENV = dict(os.environ, STRATA_NO_PROGRESS="1")
# the commands that open the database take the engine's options
ENGINE_COMMANDS = ("write", "import", "export", "compact", "delete", "inspect", "query")


def run(args, check=True, **kw):
    if args and args[0] in ENGINE_COMMANDS:
        args = args + ["--manifest-rewrite-bytes", REWRITES[0]]
    p = subprocess.run([BIN] + args, capture_output=True, text=True, env=ENV, **kw)
    if check and p.returncode != 0:
        sys.exit("FAIL: strata %s -> %d\nstdout: %s\nstderr: %s" % (" ".join(args), p.returncode, p.stdout[-2000:],
                                                                   p.stderr[-2000:]))
    return p


def write_lp(db, lines, model, rng, flush=True):
    """Writes lines [(host, field, t, value)] in a shuffled order (the model
    keeps the last value written per key: later lines win), then, when
    flush, `strata compact` with the tiered planner: a flush and no merge
    while a partition has fewer than 8 level-0 files, so one level-0 file
    per partition the lines touch, deterministically."""
    rng.shuffle(lines)
    path = db + ".lp"
    with open(path, "w") as f:
        for host, field, t, v in lines:
            f.write("cpu,host=%s %s=%r %d\n" % (host, field, v, t))
            model[("cpu_" + field, host, t * 1000)] = v
    run(["write", "-d", db, "--precision", "s", "--partition", "1h", "--compaction-threads", "0", path])
    os.unlink(path)
    if flush:
        run(["compact", "-d", db, "--planner", "tiered", "--compaction-threads", "0"])


def build_template(db, rng):
    model = {}
    ticks = HOURS * 3600 // STEP
    # PASSES passes: all, then overwrites of random stretches, out of order
    for p in range(PASSES):
        lines = []
        for h in range(HOSTS):
            for fld in FIELDS:
                lo = 0 if p == 0 else rng.randrange(ticks)
                hi = ticks if p == 0 else min(ticks, lo + rng.randrange(ticks // 2))
                for k in range(lo, hi):
                    lines.append(("h%d" % h, fld, T0 + k * STEP, round(rng.uniform(-1000, 1000), rng.randrange(4))))
        write_lp(db, lines, model, rng)
    # a delete across two partitions, then writes into its range, left in
    # the WAL (the compaction's flush writes them)
    lo, hi = T0 + 3000, T0 + 9000
    run(["delete", "-d", db, "--match", 'cpu_a{host="h1"}', "--start", str(lo), "--end", str(hi)])
    for key in [k for k in model if k[0] == "cpu_a" and k[1] == "h1" and lo * 1000 <= k[2] <= hi * 1000]:
        del model[key]
    write_lp(db, [("h1", "a", t, float(t % 97)) for t in range(lo + 500, lo + 1500, STEP)], model, rng, flush=False)
    return model


def exported(db):
    p = run(["export", "-d", db])
    got = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        m = o["metric"]
        for t, v in zip(o["timestamps"], o["values"]):
            got[(m["__name__"], m["host"], t)] = v
    return got


def compare(model, got, what):
    if model == got:
        return
    missing = [k for k in model if k not in got]
    extra = [k for k in got if k not in model]
    wrong = [k for k in model if k in got and got[k] != model[k]]
    sys.exit("FAIL %s: %d missing (%s), %d unexpected (%s), %d wrong (%s)" %
             (what, len(missing), missing[:3], len(extra), extra[:3], len(wrong),
              [(k, model[k], got[k]) for k in wrong[:3]]))


def tables_dir(db):
    return sorted(os.listdir(os.path.join(db, "tables")))


def check(db, model, what):
    run(["verify", "-d", db])  # before recovery: what is referenced is sound
    info = json.loads(run(["inspect", "-d", db, "--json"]).stdout)  # opens: recovery
    listed = {"%012d.tbl" % f["file"] for f in info["files"]}
    on_disk = tables_dir(db)
    orphans = [n for n in on_disk if n not in listed]
    if orphans:
        sys.exit("FAIL %s: orphans left in tables/ after recovery: %s" % (what, orphans[:10]))
    missing = [n for n in listed if n not in on_disk]
    if missing:
        sys.exit("FAIL %s: listed but not on disk: %s" % (what, missing[:10]))
    compare(model, exported(db), what)
    run(["verify", "-d", db])
    return info


def main():
    print("seed: %d (set STRATA_SEED to replay), %d kills" % (SEED, KILLS))
    rng = random.Random(SEED)
    top = tempfile.mkdtemp(prefix="compaction_crash.")
    try:
        template = os.path.join(top, "template")
        model = build_template(template, rng)
        info = check(template, model, "template")
        l0 = sum(1 for f in info["files"] if f["level"] == 0)
        print("template: %d samples, %d files (%d at level 0), WAL %d bytes" %
              (len(model), len(info["files"]), l0, info["wal_bytes"]))
        if l0 < 16:
            sys.exit("FAIL: template has only %d level-0 files; the test needs many" % l0)

        # how long an uninterrupted run takes: kills are spread over it
        cal = {}
        for planner in ("tiered", "leveled"):
            work = os.path.join(top, "cal-" + planner)
            shutil.copytree(template, work)
            t = time.monotonic()
            run(["compact", "-d", work, "--full", "--planner", planner])
            cal[planner] = time.monotonic() - t
            info = check(work, model, "uninterrupted " + planner)
            print("uninterrupted %s: %.3f s, %d files after, %d compactions" %
                  (planner, cal[planner], len(info["files"]), info["compactions"]))
            shutil.rmtree(work)

        work = os.path.join(top, "work")
        stats = {"finished": 0, "tmp_left": 0, "orphans_left": 0, "manifest_rewrite_cut": 0, "fresh": 0, "rewrites": 0}
        for i in range(KILLS):
            if not os.path.exists(work) or rng.random() < 0.5:
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(template, work)
                stats["fresh"] += 1
            planner = rng.choice(("tiered", "leveled"))
            delay = rng.uniform(0, cal[planner] * 1.1)
            before = set(tables_dir(work))
            manifests = {n for n in os.listdir(work) if n.startswith("MANIFEST-")}
            p = subprocess.Popen([BIN, "compact", "-d", work, "--full", "--planner", planner,
                                  "--manifest-rewrite-bytes", rng.choice(REWRITES)], env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(delay)  # the kill's moment, not a synchronisation
            p.send_signal(signal.SIGKILL)
            _, err = p.communicate()
            if p.returncode == 0:
                stats["finished"] += 1
            elif p.returncode != -signal.SIGKILL:
                sys.exit("FAIL kill %d: strata compact exited %d before the kill: %s" % (i, p.returncode, err))
            after = tables_dir(work)
            if any(n.endswith(".tmp") for n in after):
                stats["tmp_left"] += 1
            if set(after) - before:
                stats["orphans_left"] += 1  # new files (installed or not)
            now = {n for n in os.listdir(work) if n.startswith("MANIFEST-")}
            if len(now) > 1:
                stats["manifest_rewrite_cut"] += 1
            if now - manifests:
                stats["rewrites"] += 1
            check(work, model, "kill %d (%s, %.3f s)" % (i, planner, delay))
        # and then the work completes
        run(["compact", "-d", work, "--full"])
        check(work, model, "final compaction")
        print("kills: %d; rounds from the template %d; compact finished before the kill %d; "
              "*.tmp present at the kill %d; new table files at the kill %d; manifest rewritten before the kill %d; "
              "two MANIFEST files at the kill %d" %
              (KILLS, stats["fresh"], stats["finished"], stats["tmp_left"], stats["orphans_left"], stats["rewrites"],
               stats["manifest_rewrite_cut"]))
        print("ok")
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
