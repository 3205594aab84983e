"""Differential test: strata's PromQL answers against Prometheus' own.

Starts `strata serve` and Debian's Prometheus (2.42, installed with apt-get
when missing; exit 77, CTest's skip, only when it cannot be installed) on
loopback with empty temporary storage, loads the same generated samples into
both through remote write 1.0, checks both hold them, then runs generated
queries (tests/scripts/promql_gen.py) on both as instant queries at several
times and as range queries with several start/end/step, and compares every
answer: status and errorType, result type, series labels exactly, values
within 1e-9 relative (or both NaN, infinities exact), timestamps exactly,
order where Prometheus orders (sort, sort_desc, topk/bottomk). Where 2.42 and
3.x (which strata follows) differ, promql_gen.KNOWN_DIFFERENCES names how.

Usage: python3 tests/scripts/promql_diff.py [--seed N] [--queries N]
  [--hours H] [--subset full|basic] [--instant K] [--range K] [--show N]
  [--out FILE.jsonl] [--keep]
Environment: STRATA_BIN (default build/strata), PROMQL_DIFF_SEED,
PROMQL_DIFF_QUERIES, PROMQL_DIFF_SUBSET, PROMQL_DIFF_HOURS.
Exit 0 when every answer agrees, 1 when any differs (the first --show are
printed with both answers), 77 when Prometheus cannot be installed."""
import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_gen as G  # noqa: E402
from prom_util import Prom, ensure_prometheus, http_call  # noqa: E402
from server_util import PROTO_HEADERS, Server, snappy_literal, tmpdir, write_request  # noqa: E402


class Client:
    """Per-thread keep-alive connections to one server."""

    def __init__(self, port):
        self.port = port
        self.local = threading.local()

    def get(self, path, timeout=60):
        for attempt in range(2):
            c = getattr(self.local, "c", None)
            if c is None:
                c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                c.request("GET", path)
                r = c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                c.close()
                self.local.c = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class DriverClient:
    """The same get() as Client, answered by a program over the database
    directory instead of the server (--driver: lines "I t_ms query" /
    "R start_ms end_ms step_ms query" in, one Prometheus-API JSON line out);
    for an evaluator that is in the library before it is in the server."""

    def __init__(self, argv):
        self.argv = argv
        self.lock = threading.Lock()
        self.p = None
        self.crashes = []
        self.start()

    def start(self):
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def get(self, path, timeout=60):
        u = urllib.parse.urlsplit(path)
        a = dict(urllib.parse.parse_qsl(u.query))
        ms = lambda x: int(round(float(x) * 1000))
        if u.path.endswith("query_range"):
            line = "R %d %d %d %s\n" % (ms(a["start"]), ms(a["end"]), ms(a["step"]), a["query"])
        else:
            line = "I %d %s\n" % (ms(a["time"]), a["query"])
        with self.lock:
            try:
                self.p.stdin.write(line.encode())
                out = self.p.stdout.readline()
            except OSError:
                out = b""
            if not out:
                rc = self.p.wait()
                self.crashes.append((line.strip(), rc))
                self.start()
                raise OSError("driver exited with %s" % rc)
        return 200, out

    def stop(self):
        self.p.stdin.close()
        return self.p.wait()


# ------------------------------------------------------------------ answers
def fval(s):
    return float(s)  # "NaN", "+Inf", "-Inf" parse as floats


def same_value(a, b):
    if a == b:
        return True
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return False
    d = abs(a - b)
    return d <= G.REL_TOL * max(abs(a), abs(b)) or d <= G.ABS_TOL  # kahan-summation


def key(metric):
    return tuple(sorted(metric.items()))


def fmt_labels(k):
    name = dict(k).get("__name__", "")
    return name + "{" + ",".join('%s="%s"' % (n, v) for n, v in k if n != "__name__") + "}"


def parse_answer(status, body):
    """-> dict: status, errorType, error, resultType, result."""
    try:
        d = json.loads(body)
    except ValueError:
        return {"status": "http-%d" % status, "error": body[:300].decode("utf-8", "replace")}
    if not isinstance(d, dict) or "status" not in d:
        return {"status": "http-%d" % status, "error": str(d)[:300]}
    if d["status"] != "success":
        return {"status": d["status"], "errorType": d.get("errorType"), "error": d.get("error"), "http": status}
    data = d.get("data") or {}
    return {"status": "success", "resultType": data.get("resultType"), "result": data.get("result"), "http": status}


def compare(a, b, ordered):
    """a: strata's answer, b: Prometheus'. -> None when they agree, else a reason."""
    if a["status"] != b["status"]:
        return "status: strata %s, prometheus %s" % (a["status"], b["status"])
    if a["status"] != "success":
        if a.get("errorType") != b.get("errorType"):
            return "errorType: strata %s, prometheus %s" % (a.get("errorType"), b.get("errorType"))
        return None
    if a["resultType"] != b["resultType"]:
        return "resultType: strata %s, prometheus %s" % (a["resultType"], b["resultType"])
    rt, ra, rb = a["resultType"], a["result"], b["result"]
    if rt in ("scalar", "string"):
        if ra[0] != rb[0]:
            return "timestamp: strata %r, prometheus %r" % (ra[0], rb[0])
        if rt == "string":
            return None if ra[1] == rb[1] else "string value"
        return None if same_value(fval(ra[1]), fval(rb[1])) else "value: strata %s, prometheus %s" % (ra[1], rb[1])
    if rt == "vector":
        ma, mb = {}, {}
        for x in ra:
            if key(x["metric"]) in ma:
                return "strata answers a duplicate series %s" % fmt_labels(key(x["metric"]))
            ma[key(x["metric"])] = x["value"]
        for x in rb:
            mb[key(x["metric"])] = x["value"]
        if ma.keys() != mb.keys():
            only_a, only_b = sorted(ma.keys() - mb.keys()), sorted(mb.keys() - ma.keys())
            return "series: only strata %s; only prometheus %s" % (
                ", ".join(map(fmt_labels, only_a[:3])) + (" ...(%d)" % len(only_a) if len(only_a) > 3 else ""),
                ", ".join(map(fmt_labels, only_b[:3])) + (" ...(%d)" % len(only_b) if len(only_b) > 3 else ""))
        for k in ma:
            if ma[k][0] != mb[k][0]:
                return "timestamp of %s: strata %r, prometheus %r" % (fmt_labels(k), ma[k][0], mb[k][0])
            if not same_value(fval(ma[k][1]), fval(mb[k][1])):
                return "value of %s: strata %s, prometheus %s" % (fmt_labels(k), ma[k][1], mb[k][1])
        if ordered:
            va = [fval(x["value"][1]) for x in ra]
            vb = [fval(x["value"][1]) for x in rb]
            if not all(same_value(x, y) for x, y in zip(va, vb)):
                return "order (%s): strata %s, prometheus %s" % (ordered, va[:8], vb[:8])
        return None
    if rt == "matrix":
        ma, mb = {}, {}
        for x in ra:
            if key(x["metric"]) in ma:
                return "strata answers a duplicate series %s" % fmt_labels(key(x["metric"]))
            ma[key(x["metric"])] = x["values"]
        for x in rb:
            mb[key(x["metric"])] = x["values"]
        if ma.keys() != mb.keys():
            only_a, only_b = sorted(ma.keys() - mb.keys()), sorted(mb.keys() - ma.keys())
            return "series: only strata %s; only prometheus %s" % (
                ", ".join(map(fmt_labels, only_a[:3])) + (" ...(%d)" % len(only_a) if len(only_a) > 3 else ""),
                ", ".join(map(fmt_labels, only_b[:3])) + (" ...(%d)" % len(only_b) if len(only_b) > 3 else ""))
        for k in ma:
            pa, pb = ma[k], mb[k]
            ta, tb = [p[0] for p in pa], [p[0] for p in pb]
            if ta != tb:
                sa, sb = set(ta), set(tb)
                return "timestamps of %s: %d vs %d points; only strata %s; only prometheus %s" % (
                    fmt_labels(k), len(ta), len(tb), sorted(sa - sb)[:4], sorted(sb - sa)[:4])
            for (t, x), (_, y) in zip(pa, pb):
                if not same_value(fval(x), fval(y)):
                    return "value of %s at %s: strata %s, prometheus %s" % (fmt_labels(k), t, x, y)
        return None
    return "unknown resultType %s" % rt


FILTER_RE = re.compile(r"(==|!=|>=|<=|(?<![=!<>])>|(?<![=!<>])<)(?!=)(?!\s*bool)")
M2O_MSG = ("multiple matches for labels: many-to-one matching must be explicit",
           "multiple matches for labels: grouping labels must ensure unique matches")


def known(q, a, b):
    """The name of the 2.42 vs 3.x difference that explains a difference, or None.
    filter-many-to-one: 3.9 (prometheus#17668) checks one-to-one and
    many-to-one matches of filtering comparisons before dropping the pairs the
    comparison filters out; 2.42 only checks the pairs it keeps. So strata
    (3.x) may fail with "multiple matches for labels" where 2.42 answers."""
    if a["status"] == "error" and b["status"] == "success" and a.get("errorType") == "execution" and \
            str(a.get("error")).startswith(M2O_MSG) and \
            FILTER_RE.search(re.sub(r"\{[^{}]*\}", "", re.sub(r'"(\\.|[^"\\])*"', '""', q.s))):
        return "filter-many-to-one"
    if a["status"] == "success" and b["status"] == "success" and re.search(r"\bavg(_over_time)?\b", q.s) and \
            re.search(r"\^|%|[<>=]=?|!=|\b(floor|ceil|round|sgn|count_values|ln|log2|log10)\b", q.s):
        # kahan-summation, amplified: 3.x averages as sum/count (#16569), 2.42 with an
        # incremental mean; the last bit differs, and ^ with a negative base, %,
        # comparisons and rounding turn one bit into a different answer
        return "kahan-summation (avg, amplified)"
    return None


def short(ans, n=700):
    if ans["status"] != "success":
        s = "%s %s: %s" % (ans["status"], ans.get("errorType"), ans.get("error"))
    else:
        r = ans["result"]
        if ans["resultType"] in ("vector", "matrix"):
            parts = []
            for x in r[:4]:
                v = x.get("value") or (x.get("values")[:3] + ([["..."]] if len(x.get("values")) > 3 else []))
                parts.append("%s %s" % (fmt_labels(key(x["metric"])), json.dumps(v)))
            s = "%s (%d series) %s" % (ans["resultType"], len(r), "; ".join(parts) + (" ..." if len(r) > 4 else ""))
        else:
            s = "%s %s" % (ans["resultType"], json.dumps(r))
    return s if len(s) <= n else s[:n] + "..."


# ------------------------------------------------------------------ the run
def load(data, targets):
    batches = G.write_batches(data)
    n = 0
    for b in batches:
        body = snappy_literal(write_request(b))
        for name, port in targets:
            st, resp, _ = http_call(port, "POST", "/api/v1/write", body, PROTO_HEADERS, timeout=120)
            if st not in (200, 204):
                raise RuntimeError("remote write to %s: HTTP %d %s" % (name, st, resp[:300]))
        n += sum(len(s) for _, s in b)
    return n


def check_loaded(data, end_ms, clients):
    """Both hold every sample: count_over_time and sum_over_time per series
    (staleness markers are not counted) equal what was written."""
    rng_s = int((end_ms - G.T0_MS) / 1000) + 7200
    t = "%.3f" % (end_ms / 1000 + 60.5)
    expect = {}
    for labels, samples in data:
        vals = [G.struct.unpack("<d", G.struct.pack("<Q", b))[0] for _, b in samples if b != G.STALE_NAN]
        expect[tuple(x for x in labels if x[0] != "__name__"), dict(labels)["__name__"]] = (len(vals), sum(vals))
    problems = []
    for fam in G.FAMILIES:
        for fn in ("count_over_time", "sum_over_time"):
            q = "%s(%s[%ds])" % (fn, fam, rng_s)
            for name, c in clients:
                st, body = c.get("/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t}))
                ans = parse_answer(st, body)
                if ans["status"] != "success":
                    problems.append("%s: %s: %s" % (name, q, short(ans)))
                    continue
                got = {key(x["metric"]): fval(x["value"][1]) for x in ans["result"]}
                want = {k[0]: v[0 if fn == "count_over_time" else 1] for k, v in expect.items() if k[1] == fam}
                if got.keys() != want.keys():
                    problems.append("%s: %s: series %d, expected %d" % (name, q, len(got), len(want)))
                    continue
                for k in want:
                    if not same_value(got[k], want[k]) and not (fn == "sum_over_time" and
                                                                abs(got[k] - want[k]) <= 1e-6 * abs(want[k])):
                        problems.append("%s: %s %s: %r, expected %r" % (name, q, fmt_labels(k), got[k], want[k]))
                        break
    return problems


def plan(seed, n_queries, subset, hours, n_inst, n_range):
    """-> [(query Q, kind 'instant'|'range', params dict)], deterministic."""
    t0, end = G.T0_MS / 1000, G.T0_MS / 1000 + hours * 3600
    rng = random.Random("plan:%s" % seed)
    at_times = [t0 + 1800.5, t0 + int(hours * 1800) + 0.5]
    gen = G.Gen(seed, subset, at_times)
    times = [t0 - 120.5, t0 + 30.5, t0 + 299.5, end - 0.5, end + 240.5, end + 900.5]
    out = []
    seen = set()
    fixed = [G.Q(x) for x in (G.FIXED_BASIC if subset == "basic" else G.FIXED_QUERIES)]
    for i in range(n_queries):
        for _ in range(20):  # distinct queries
            q = fixed[i] if i < len(fixed) else gen.query()
            if q.s not in seen:
                break
        seen.add(q.s)
        for i in range(n_inst):
            t = rng.choice(times) if i == 0 and rng.random() < 0.3 else int(rng.uniform(t0 + 60, end + 300)) + 0.5
            out.append((q, "instant", {"time": "%.1f" % t}))
        for _ in range(n_range):
            step = rng.choice([15, 30, 60, 60, 97, 300, 600])
            npts = rng.randrange(5, 120)
            start = int(rng.uniform(t0 - 600, end - step * npts / 2)) + 0.5
            out.append((q, "range", {"start": "%.1f" % start, "end": "%.1f" % (start + step * npts), "step": str(step)}))
    return out


def main(defaults=None):
    d = dict(seed=int(os.environ.get("PROMQL_DIFF_SEED", "1")), queries=int(os.environ.get("PROMQL_DIFF_QUERIES", "2000")),
             hours=float(os.environ.get("PROMQL_DIFF_HOURS", "3")), subset=os.environ.get("PROMQL_DIFF_SUBSET", "full"),
             instant=3, range=2, show=25, threads=3)
    d.update(defaults or {})
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=d["seed"])
    ap.add_argument("--queries", type=int, default=d["queries"])
    ap.add_argument("--hours", type=float, default=d["hours"])
    ap.add_argument("--subset", choices=["full", "basic"], default=d["subset"])
    ap.add_argument("--instant", type=int, default=d["instant"], help="instant evaluations per query")
    ap.add_argument("--range", type=int, default=d["range"], help="range evaluations per query")
    ap.add_argument("--show", type=int, default=d["show"], help="differences printed in full")
    ap.add_argument("--threads", type=int, default=d["threads"])
    ap.add_argument("--out", help="write every difference to this file, one JSON object a line")
    ap.add_argument("--self-check", action="store_true",
                    help="ask Prometheus both sides (the 2.42 form): proves the comparison and the generated "
                         "queries are deterministic; every answer must agree")
    ap.add_argument("--driver", default=os.environ.get("PROMQL_DIFF_DRIVER"),
                    help="ask this program (given the data directory) instead of strata's server, after the "
                         "server loaded the data (see DriverClient)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    args = ap.parse_args()

    print("promql_diff: seed %d (PROMQL_DIFF_SEED), %d queries, %d instant + %d range evaluations each, "
          "%.1f h of data, subset %s" % (args.seed, args.queries, args.instant, args.range, args.hours, args.subset))
    print("known 2.42 vs 3.x differences handled: " + ", ".join(G.KNOWN_DIFFERENCES))
    if not ensure_prometheus():
        print("SKIP: prometheus is not installed and apt-get could not install it")
        sys.exit(77)
    t_start = time.time()
    base = tmpdir()
    s = Server(os.path.join(base, "strata")).start()
    p = None
    fails = []
    try:
        p = Prom(base)
        data, end_ms = G.gen_data(args.seed, args.hours)
        n = load(data, [("strata", s.port), ("prometheus", p.port)])
        print("loaded %d samples in %d series into both (%.1f s)" % (n, len(data), time.time() - t_start))
        cs, cp = Client(s.port), Client(p.port)
        problems = check_loaded(data, end_ms, [("strata", cs), ("prometheus", cp)])
        if problems:
            print("the two do not hold the same data:\n  " + "\n  ".join(problems[:20]))
            fails.append("data check")
            if any(x.startswith("prometheus") for x in problems):
                raise SystemExit(1)  # the reference itself is wrong: nothing to compare
        else:
            print("data check: count_over_time and sum_over_time of all %d series agree with what was written, "
                  "in both" % len(data))
        driver = None
        if args.driver:
            rc = s.stop()
            if rc != 0:
                fails.append("strata stop rc %s" % rc)
            driver = cs = DriverClient([args.driver, s.dir])
            problems = check_loaded(data, end_ms, [("strata via driver", cs)])
            if not problems:
                print("data check through the driver: the same")
            else:
                print("the driver does not see the data:\n  " + "\n  ".join(problems[:20]))
                fails.append("driver data check")
        if args.self_check:
            cs = cp
        work = plan(args.seed, args.queries, args.subset, args.hours, args.instant, args.range)
        t_q = time.time()

        def run(item):
            q, kind, params = item
            path = "/api/v1/query" if kind == "instant" else "/api/v1/query_range"
            try:
                st, body = cs.get(path + "?" + urllib.parse.urlencode(dict(params, query=q.p if args.self_check else q.s)))
                a = parse_answer(st, body)
            except (OSError, http.client.HTTPException) as e:
                a = {"status": "no-answer", "error": repr(e)}
            st, body = cp.get(path + "?" + urllib.parse.urlencode(dict(params, query=q.p)))
            b = parse_answer(st, body)
            ordered = G.ordered_kind(q.p) if kind == "instant" else None
            return compare(a, b, ordered), a, b

        stats = {"same": 0, "different": 0, "both_error": 0, "same_nonempty": 0}
        explained = {}
        prom_stats = {"error": 0, "empty": 0, "non-empty": 0}
        prom_errors = {}
        diffs = []
        kinds = {}
        diff_queries = set()
        all_queries = set()
        with ThreadPoolExecutor(args.threads) as ex:
            for item, (why, a, b) in zip(work, ex.map(run, work)):
                q, kind, params = item
                all_queries.add(q.s)
                if b["status"] != "success":
                    prom_stats["error"] += 1
                    e = re.sub(r"[0-9]+|\{.*|\[.*|\".*", "", str(b.get("error")))[:70]
                    prom_errors.setdefault(e, [0, q.p, b.get("error")])[0] += 1
                else:
                    prom_stats["empty" if not b["result"] else "non-empty"] += 1
                if why is None:
                    stats["same"] += 1
                    if a["status"] != "success":
                        stats["both_error"] += 1
                    elif a["result"]:
                        stats["same_nonempty"] += 1
                    continue
                k = known(q, a, b)
                if k:
                    explained[k] = explained.get(k, 0) + 1
                    continue
                stats["different"] += 1
                diff_queries.add(q.s)
                cat = why.split(":")[0] if not why.startswith("status") else "status strata %s / prometheus %s" % (
                    a["status"], b["status"])
                kinds[cat] = kinds.get(cat, 0) + 1
                diffs.append((q, kind, params, why, a, b))
                if not driver and s.p.poll() is not None:
                    print("strata exited (rc %s) after: %s %s %s" % (s.p.returncode, kind, params, q.s))
                    fails.append("strata crashed")
                    break
        el = time.time() - t_q
        if driver:
            for line, rc in driver.crashes:
                print("driver crashed (rc %s) on: %s" % (rc, line))
                fails.append("driver crashed")
            driver.stop()
        print("\n%d evaluations of %d queries in %.1f s: %d same (%d both errors, %d non-empty answers), %d different "
              "(%d of the queries)" % (len(work), len(all_queries), el, stats["same"], stats["both_error"],
                                       stats["same_nonempty"], stats["different"], len(diff_queries)))
        for k, n in sorted(explained.items()):
            print("%d differences explained by %s (not counted as different)" % (n, k))
        print("prometheus answered %(non-empty)d non-empty, %(empty)d empty, %(error)d errors" % prom_stats)
        for e, (k, eq, ee) in sorted(prom_errors.items(), key=lambda x: -x[1][0])[:10]:
            print("  %6d  %s\n          e.g. %s" % (k, ee[:150], eq[:200]))
        print("differences:")
        for c, k in sorted(kinds.items(), key=lambda x: -x[1]):
            print("  %6d  %s" % (k, c))
        if args.out:
            with open(args.out, "w") as f:
                for q, kind, params, why, a, b in diffs:
                    f.write(json.dumps({"query": q.s, "prometheus_query": q.p, "kind": kind, "params": params,
                                        "why": why, "strata": a, "prometheus": b}) + "\n")
        # the first differences of each kind first, then the rest in order
        shown, seen_cat, order = 0, set(), []
        for dd in diffs:
            cat = dd[3].split(":")[0]
            if cat not in seen_cat:
                seen_cat.add(cat)
                order.append(dd)
        order += [dd for dd in diffs if dd not in order]
        for q, kind, params, why, a, b in order[:args.show]:
            print("\n--- %s %s\n  query:      %s%s\n  difference: %s\n  strata:     %s\n  prometheus: %s" % (
                kind, " ".join("%s=%s" % kv for kv in sorted(params.items())), q.s,
                "" if q.p == q.s else "\n  (2.42 form: %s)" % q.p, why, short(a), short(b)))
        if diffs:
            fails.append("%d evaluations differ" % len(diffs))
    finally:
        if p:
            p.stop()
        rc = s.stop()
        if rc not in (0, None):
            fails.append("strata stop rc %s" % rc)
    print("\ntotal %.1f s" % (time.time() - t_start))
    if fails:
        print("FAIL: " + "; ".join(fails) + " (seed %d)" % args.seed)
        if args.keep:
            print("kept " + base)
        sys.exit(1)
    if args.keep:
        print("kept " + base)
    else:
        shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
