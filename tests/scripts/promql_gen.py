"""Deterministic data and PromQL query generation for the differential test
against Prometheus (promql_diff.py, promql_diff_long.py). Not a test itself
(CTest runs tests/scripts/*.py; this file exits 0 when run).

Data: counters with resets, gauges (decimals, negatives, zeros), sparse
series, series with gaps longer than the lookback, staleness markers, a
churned series, classic histograms, several label dimensions; all from one
seed.

Queries: random compositions of PromQL (selectors with every matcher type,
range selectors, offset, @, subqueries, binary operators with vector
matching, every aggregation, every float function Prometheus 2.42 has). Each
query is rendered twice: for strata (Prometheus 3.x semantics) and for
Prometheus 2.42, the two differing only where KNOWN_DIFFERENCES says.

KNOWN_DIFFERENCES: 2.42 (the Prometheus that Debian ships) versus 3.x (what
strata follows). Each one is handled here or in the comparison, by name:

  left-open-windows   3.0 made range selectors and the lookback window
                      left-open (prometheus#13904) and subqueries too
                      (#15431); 2.42 includes a sample exactly at t-range /
                      t-lookback. Avoided by construction: every sample
                      timestamp has a millisecond part that is neither 0 nor
                      500, every evaluation time has the millisecond part 500,
                      and ranges, offsets, steps and @ times are whole seconds
                      (ms part 500 for @), so a window edge (ms 500, or ms 0
                      for the points of a subquery) never meets a sample. For
                      the same reason subqueries are never nested (an inner
                      subquery's points and its windows' edges would both be
                      whole multiples of seconds).
  holt-winters-rename 3.0 renamed holt_winters to double_exponential_smoothing
                      (#14930): strata is sent the 3.x name, Prometheus the
                      2.x name.
  round-drops-name    3.0 fixed round() to drop __name__ (#15250); Prometheus
                      2.42 is sent label_replace(round(...), "__name__", "",
                      "", ""), which is 3.x's round exactly.
  rate-zero-point     3.x clamps the extrapolation towards a counter's zero
                      point after limiting it to half a sample interval
                      (#13725); 2.42 clamps before, so the two differ when a
                      counter's first sample in the window is both far from
                      the window start and small compared to one average
                      increment. Avoided by the data: every counter sampled
                      with gaps or at the start of the data starts high (its
                      value is far above an increment), resets go to a
                      fraction of the value, except zero_reset_total, which
                      resets to zero but is sampled perfectly regularly (its
                      first sample in a window is always within one interval
                      of the window start); rate/increase/irate/resets are
                      only applied to counters.
  stddev-inf          3.0 made stddev/stdvar of a group holding a single
                      Inf/NaN NaN (#14941); 2.42 gives 0. The generator never
                      gives stddev/stdvar an argument that may be non-finite.
  kahan-summation     3.x sums with Kahan compensation in sum, avg,
                      sum/avg_over_time (#14074, #14362, #14413) and averages
                      as sum/count (#16569) where 2.42 keeps an incremental
                      mean: results differ from 2.42 in the last bits, so a
                      value that cancels to zero in one may be 1e-15 in the
                      other. The comparison takes an absolute tolerance
                      ABS_TOL beside the relative one; and a different answer
                      to a query with avg/avg_over_time and an operator that
                      turns a last bit into another answer (^ with a negative
                      base, %, comparisons, floor/ceil/round/sgn, logs near 0,
                      count_values) counts as explained (promql_diff.known).
  nan-k-param         3.x fails topk/bottomk with a NaN k (#16725): never
                      generated.
  atan2-drops-name    2.47 made atan2 drop __name__ like the other arithmetic
                      operators (commit 531567d); Prometheus is sent
                      label_replace((a atan2 b), "__name__", "", "", ""), and
                      unparenthesised chains never use atan2.
  predict-linear-at   2.50 fixed predict_linear over a range selector with @
                      in range queries (#13559: 2.42 slides the fixed window
                      and empties it): no @ on predict_linear's argument.
  count-values-by     2.42's count_values by (...) appends the value label to
                      the expression's own grouping list at every step of a
                      range query (3.x computes it once); harmless only when
                      the label sorts after every grouping label, so with by
                      the label is always "value".
  timestamp-offset-at Prometheus (2.42 and 3.x to date) overwrites the offset
                      in timestamp(x offset o @ t) and answers nothing: a bug,
                      not semantics; never generated (FORBIDDEN).
  filter-many-to-one  3.9 (#17668) checks the one-to-one / many-to-one
                      uniqueness of a filtering comparison's matches before
                      it drops the pairs the comparison filters out; 2.42
                      checks only the pairs it keeps. When strata fails with
                      "multiple matches for labels" and Prometheus answers, on
                      a query with a filtering comparison, the comparison
                      (promql_diff.known) counts it as explained, not as
                      different.
  date-of-non-finite  not a version difference: Prometheus' date functions
                      convert the value with Go's int64(v), which for NaN and
                      +-Inf is whatever the CPU gives; their argument is
                      always finite here.
  go-math-pow         not a version difference: Go's math.Pow is not
                      correctly rounded, so x ^ 10 % y (the remainder of a
                      huge number) is noise; chains never put % after ^.
                      Nor are Go's Exp, Cosh and Sinh, and cos/sin/tan of a
                      huge argument is noise as well: no periodic function
                      is applied to an expression holding ^, exp, cosh or
                      sinh.
"""
import math
import os
import random
import re
import struct

T0_MS = 1700000000000  # a fixed, whole-second origin: the data never depends on the clock
STALE_NAN = 0x7FF0000000000002
NAN_BITS = 0x7FF8000000000001
REL_TOL = 1e-9
ABS_TOL = 1e-9  # kahan-summation

KNOWN_DIFFERENCES = ["left-open-windows", "holt-winters-rename", "round-drops-name", "rate-zero-point",
                     "stddev-inf", "kahan-summation", "nan-k-param", "atan2-drops-name", "predict-linear-at",
                     "count-values-by", "timestamp-offset-at", "go-math-pow", "filter-many-to-one", "date-of-non-finite"]


def f2bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _fix_ms(t):
    """A sample timestamp never has the millisecond part 0 or 500 (left-open-windows)."""
    while t % 1000 in (0, 500):
        t += 1
    return t


# ------------------------------------------------------------------ data
INSTANCES = ["i0", "i1", "i2"]
JOBS = ["api", "web"]
LES = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]

# family -> kind ('counter' or 'gauge') and label names: the query generator
# only uses what this table says.
FAMILIES = {
    "http_requests_total": ("counter", ["job", "instance", "method", "code"]),
    "node_cpu_seconds_total": ("counter", ["job", "instance", "cpu", "mode"]),
    "zero_reset_total": ("counter", ["job", "instance"]),
    "gappy_requests_total": ("counter", ["job", "instance"]),
    "stale_requests_total": ("counter", ["job", "instance"]),
    "request_duration_seconds_bucket": ("counter", ["job", "instance", "le"]),
    "request_duration_seconds_sum": ("counter", ["job", "instance"]),
    "request_duration_seconds_count": ("counter", ["job", "instance"]),
    "temperature_celsius": ("gauge", ["job", "instance", "location"]),
    "queue_depth": ("gauge", ["job", "instance"]),
    "sparse_gauge": ("gauge", ["job", "instance"]),
    "gappy_gauge": ("gauge", ["job", "instance"]),
    "stale_gauge": ("gauge", ["job", "instance"]),
}
LABEL_VALUES = {
    "job": JOBS, "instance": INSTANCES, "method": ["get", "post"], "code": ["200", "500"],
    "cpu": ["0", "1"], "mode": ["idle", "user", "system"], "location": ["north", "south"], "le": LES,
}


def gen_data(seed, hours):
    """-> (list of (labels [(name, value)] sorted, samples [(t_ms, bits)]), end_ms).
    Deterministic in (seed, hours)."""
    rng = random.Random("data:%s" % seed)
    end = T0_MS + int(hours * 3600 * 1000)
    out = []

    def times(interval_s, jitter_ms=0):
        off = rng.randrange(1, interval_s * 1000)
        ts, t = [], T0_MS + off
        while t < end:
            ts.append(_fix_ms(t + (rng.randrange(-jitter_ms, jitter_ms + 1) if jitter_ms else 0)))
            t += interval_s * 1000
        return ts

    def series(name, labels, samples):
        ls = sorted([("__name__", name)] + list(labels.items()))
        out.append((ls, samples))

    # counters: high start values, resets to a fraction (rate-zero-point)
    for job in JOBS:
        for inst in INSTANCES:
            for method in ("get", "post"):
                for code in ("200", "500"):
                    if code == "500" and method == "post" and inst == "i2":
                        continue  # not every combination exists
                    v = float(rng.randrange(5000, 50000))
                    resets = set()
                    n = len(range(0, end - T0_MS, 15000))
                    if rng.random() < 0.4:
                        resets.add(rng.randrange(min(240, n // 2), n))  # >= 1h in (15 s samples) when there is room
                    s = []
                    for k, t in enumerate(times(15)):
                        if k in resets:
                            v = math.floor(v * rng.uniform(0.2, 0.6))
                        v += rng.randrange(0, 40 if code == "200" else 4)
                        s.append((t, f2bits(v)))
                    series("http_requests_total", {"job": job, "instance": inst, "method": method, "code": code}, s)
    for inst in INSTANCES:
        for cpu in ("0", "1"):
            for mode in ("idle", "user", "system"):
                v = rng.uniform(10000, 90000)
                s = []
                for t in times(30):
                    v += rng.uniform(0, 30) if mode == "idle" else rng.uniform(0, 5)
                    s.append((t, f2bits(v)))  # unrounded: topk/bottomk of its rates never meet a tie
                series("node_cpu_seconds_total", {"job": "node", "instance": inst, "cpu": cpu, "mode": mode}, s)
    # resets to zero, perfectly regular samples (rate-zero-point)
    for inst in INSTANCES:
        v = float(rng.randrange(3000, 9000))
        s = []
        ts = times(15)
        resets = {rng.randrange(min(120, len(ts) // 2), len(ts)) for _ in range(2)}
        for k, t in enumerate(ts):
            v = 0.0 if k in resets else v + rng.randrange(0, 12)
            s.append((t, f2bits(v)))
        series("zero_reset_total", {"job": "api", "instance": inst}, s)
    # counter with gaps longer than the lookback
    for inst in INSTANCES:
        v = float(rng.randrange(10000, 20000))
        s = []
        gap_until = 0
        for t in times(15):
            if t < gap_until:
                continue
            if rng.random() < 0.004:
                gap_until = t + rng.randrange(7, 25) * 60000
                continue
            v += rng.randrange(1, 9)
            s.append((t, f2bits(v)))
        series("gappy_requests_total", {"job": "web", "instance": inst}, s)
    # counter and gauge with staleness markers (a target that goes away and comes back)
    for name in ("stale_requests_total", "stale_gauge"):
        for inst in INSTANCES:
            v = float(rng.randrange(10000, 20000))
            s = []
            away_until = 0
            ts = times(15)
            for k, t in enumerate(ts):
                if t < away_until:
                    continue
                if rng.random() < 0.005 and k > 0:
                    s.append((t, STALE_NAN))
                    away_until = t + rng.randrange(1, 20) * 60000
                    continue
                if name == "stale_gauge":
                    v = round(rng.uniform(-5, 5), 1)
                else:
                    v += rng.randrange(0, 20)
                s.append((t, f2bits(v)))
            series(name, {"job": "api", "instance": inst}, s)
    # a churned series: ends with a staleness marker at a third of the data
    ts = times(15)
    cut = len(ts) // 3
    s = [(t, f2bits(round(rng.uniform(0, 3), 2))) for t in ts[:cut]] + [(ts[cut], STALE_NAN)]
    series("stale_gauge", {"job": "web", "instance": "i9"}, s)
    # gauges: decimals, negatives, zeros
    for job in JOBS:
        for inst in INSTANCES:
            for loc in ("north", "south"):
                v = rng.uniform(-10, 30)
                s = []
                for t in times(30):
                    r = rng.random()
                    if r < 0.03:
                        v = 0.0
                    elif r < 0.05:
                        v = -v
                    else:
                        v = round(v + rng.uniform(-1.5, 1.5), 3)
                    s.append((t, f2bits(v)))
                series("temperature_celsius", {"job": job, "instance": inst, "location": loc}, s)
            s = [(t, f2bits(float(max(0, rng.randrange(-20, 40))))) for t in times(60)]
            series("queue_depth", {"job": job, "instance": inst}, s)
    # sparse gauge: irregular, 1 to 10 minutes apart
    for inst in INSTANCES:
        s, t = [], _fix_ms(T0_MS + rng.randrange(1, 60000))
        while t < end:
            s.append((t, f2bits(round(rng.uniform(-100, 100), 6))))
            t = _fix_ms(t + rng.randrange(60, 600) * 1000 + rng.randrange(1, 1000))
        series("sparse_gauge", {"job": "web", "instance": inst}, s)
    # gauge with gaps longer than the lookback
    for inst in INSTANCES:
        s, gap_until = [], 0
        for t in times(15, jitter_ms=400):
            if t < gap_until:
                continue
            if rng.random() < 0.005:
                gap_until = t + rng.randrange(6, 30) * 60000
                continue
            s.append((t, f2bits(round(rng.uniform(0, 1), 4))))
        series("gappy_gauge", {"job": "web", "instance": inst}, s)
    # classic histograms: cumulative integer buckets, high start (rate-zero-point)
    bounds = [0.05, 0.1, 0.25, 0.5, 1, 2.5]
    for job in JOBS:
        for inst in INSTANCES:
            counts = [0] * len(LES)
            total = 0.0
            for _ in range(3000):
                x = rng.lognormvariate(-1.5, 1.2)
                total += x
                for i, b in enumerate(bounds + [math.inf]):
                    if x <= b:
                        counts[i] += 1
            counts = [c + 200 for c in counts]  # every bucket far above an increment
            counts = [sum(counts[:i + 1]) - 200 * i for i in range(len(counts))]  # keep cumulative
            counts = [max(counts[i], counts[i - 1] if i else 0) for i in range(len(counts))]
            ts = times(30)
            reset_at = rng.randrange(min(80, len(ts) // 2), len(ts)) if (job, inst) == ("api", "i1") else -1
            ser = [[] for _ in LES]
            sums, cnts = [], []
            for k, t in enumerate(ts):
                if k == reset_at:
                    a = rng.uniform(0.2, 0.6)
                    counts = [math.floor(c * a) for c in counts]
                    total = round(total * a, 6)
                for _ in range(rng.randrange(0, 25)):
                    x = rng.lognormvariate(-1.5, 1.2)
                    total += x
                    for i, b in enumerate(bounds + [math.inf]):
                        if x <= b:
                            counts[i] += 1
                for i in range(len(LES)):
                    ser[i].append((t, f2bits(float(counts[i]))))
                sums.append((t, f2bits(round(total, 6))))
                cnts.append((t, f2bits(float(counts[-1]))))
            for i, le in enumerate(LES):
                series("request_duration_seconds_bucket", {"job": job, "instance": inst, "le": le}, ser[i])
            series("request_duration_seconds_sum", {"job": job, "instance": inst}, sums)
            series("request_duration_seconds_count", {"job": job, "instance": inst}, cnts)
    return out, end


_FAMILY_VALUES = {}


def family_values(fam):
    """label name -> the values that family's series hold (the label sets
    do not depend on the seed)."""
    if not _FAMILY_VALUES:
        data, _ = gen_data(0, 0.05)
        for labels, _ in data:
            d = dict(labels)
            fv = _FAMILY_VALUES.setdefault(d["__name__"], {})
            for n, v in labels:
                if n != "__name__" and v not in fv.setdefault(n, []):
                    fv[n].append(v)
    return _FAMILY_VALUES.get(fam, {})


def write_batches(data, slice_ms=10 * 60000):
    """The samples in time slices (Prometheus' head takes samples in time order
    across series); -> [ [(labels, samples)] ]."""
    lo = min(s[0][0] for _, s in data if s)
    hi = max(s[-1][0] for _, s in data if s)
    out = []
    t = lo - lo % slice_ms
    while t <= hi:
        b = []
        for labels, samples in data:
            part = [x for x in samples if t <= x[0] < t + slice_ms]
            if part:
                b.append((labels, part))
        if b:
            out.append(b)
        t += slice_ms
    return out


# ------------------------------------------------------------------ queries
class Q:
    """A generated expression, rendered for strata (s) and Prometheus 2.42 (p).
    typ: 'vector', 'scalar', 'matrix', 'string'. finite: cannot hold Inf/NaN.
    labels: label names the result may carry (for by/on clauses). kind:
    'counter' when the values are counters (rate and friends apply)."""
    __slots__ = ("s", "p", "typ", "finite", "labels", "kind", "sub")

    def __init__(self, s, p=None, typ="vector", finite=True, labels=(), kind="gauge", sub=False):
        self.s, self.p = s, (s if p is None else p)
        self.typ, self.finite, self.labels, self.kind, self.sub = typ, finite, tuple(labels), kind, sub


def ill_conditioned(q):
    """Values near 1.7e9 (timestamps) spread by seconds: their variance
    cancels catastrophically, so it depends on the order the series are
    summed in (Prometheus' own order is random in range queries)."""
    return "timestamp(" in q.s or "time()" in q.s


def both(fmt, *qs):
    return fmt.format(*[q.s for q in qs]), fmt.format(*[q.p for q in qs])


RANGE_COUNTER = ["rate", "increase", "irate", "resets"]
RANGE_GAUGE = ["delta", "idelta", "deriv", "changes", "avg_over_time", "min_over_time", "max_over_time",
               "sum_over_time", "count_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
               "present_over_time"]
MATH_FUNCS = ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "acos", "acosh", "asin", "asinh",
              "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "rad"]
# go-math-pow: Go's Pow, Exp, Cosh and Sinh are not correctly rounded, and a
# periodic function of a huge argument turns that last bit into the answer.
PERIODIC = {"cos", "sin", "tan"}
LAST_BIT_NOISE = ("^", "exp(", "cosh(", "sinh(")
FINITE_SAFE = {"abs", "ceil", "floor", "sgn", "atan", "cos", "sin", "deg", "rad", "asinh", "tanh"}
DATE_FUNCS = ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"]
AGGS = ["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
        "quantile"]
ARITH = ["+", "-", "*", "/", "%", "^", "atan2"]
COMPARE = ["==", "!=", ">", "<", ">=", "<="]
SETOPS = ["and", "or", "unless"]
RANGES = ["1m", "2m", "5m", "10m", "15m", "30m", "1h"]
OFFSETS = ["1m", "5m", "30m", "1h", "-5m", "-30m", "90s"]
SUBSTEPS = ["", "30s", "1m", "2m", "45s"]

BASIC_RANGE = ["rate", "increase", "delta", "irate", "idelta", "avg_over_time", "sum_over_time", "min_over_time",
               "max_over_time", "count_over_time", "last_over_time"]
BASIC_AGGS = ["sum", "avg", "min", "max", "count"]


# Always run first: Grafana's health check and the shapes of the dashboard
# panels that bench/peers/peers.py times, over this data.
FIXED_QUERIES = [
    "1+1",
    'sum by (instance) (rate(http_requests_total[5m]))',
    '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))',
    '1 - request_duration_seconds_sum / request_duration_seconds_count',
    '100 * request_duration_seconds_sum / request_duration_seconds_count',
    'topk(3, rate(node_cpu_seconds_total[1h]))',
    'avg by (job) (temperature_celsius)',
    'request_duration_seconds_sum{instance="i0"} + request_duration_seconds_count{instance="i0"}',
    'count(temperature_celsius > 20)',
    'max by (instance) (max_over_time(temperature_celsius[1h]))',
    'topk(5, avg_over_time(node_cpu_seconds_total[1h]))',
    'histogram_quantile(0.9, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))',
]
FIXED_BASIC = [FIXED_QUERIES[1], FIXED_QUERIES[6], FIXED_QUERIES[9]]


# timestamp-offset-at: Prometheus (2.42, and 3.x to date: engine.go
# rangeEvalTimestampFunctionOverVectorSelector) overwrites the offset of
# timestamp(x offset o @ t) and finds nothing; a bug, not a semantics to copy.
FORBIDDEN = re.compile(r"timestamp\([^()]*(\boffset\b[^()]*@|@[^()]*\boffset\b)")


class Gen:
    def __init__(self, seed, subset="full", at_times=()):
        self.rng = random.Random("queries:%s" % seed)
        self.subset = subset
        self.at_times = list(at_times)  # @ literal times, ms part 500

    def pick(self, xs):
        return self.rng.choice(xs)

    def chance(self, p):
        return self.rng.random() < p

    # ---- selectors
    def matchers(self, fam, labels):
        ms = []
        n = self.rng.choice([0, 0, 1, 1, 2])
        for _ in range(n):
            ln = self.pick(labels)
            vals = family_values(fam).get(ln) or LABEL_VALUES.get(ln, ["x"])
            op = self.pick(["=", "=", "!=", "=~", "!~"])
            if op in ("=", "!="):
                v = self.pick(vals + (["nonexistent"] if self.chance(0.1) else []))
            else:
                k = self.rng.randrange(1, min(3, len(vals)) + 1)
                alts = self.rng.sample(vals, k)
                v = "|".join(a.replace("+", "\\\\+").replace(".", "\\\\.") for a in alts)
                if self.chance(0.2):
                    v = self.pick([".*", ".+", "i.*", "[a-z]+"])
            ms.append('%s%s"%s"' % (ln, op, v))
        if self.chance(0.05):
            ms.append('absent_label=""')
        return ms

    def selector(self, kind=None, counter_only=False):
        fams = [f for f, (k, _) in FAMILIES.items() if (not counter_only or k == "counter") and (kind is None or k == kind)]
        fam = self.pick(fams)
        k, labels = FAMILIES[fam]
        ms = self.matchers(fam, labels)
        if self.subset == "full" and self.chance(0.08):
            # name as a matcher, sometimes a regex over families of the same kind
            same = [f for f, (kk, _) in FAMILIES.items() if kk == k and f != fam and FAMILIES[f][1] == labels]
            if same and self.chance(0.5):
                other = self.pick(same)
                ms.insert(0, '__name__=~"%s|%s"' % (fam, other))
            else:
                ms.insert(0, '__name__="%s"' % fam)
            sel = "{%s}" % ",".join(ms)
        else:
            sel = fam + ("{%s}" % ",".join(ms) if ms else "")
        return Q(sel, labels=["__name__"] + labels, kind=k)

    def modifiers(self, at=True):
        out = ""
        if self.chance(0.15):
            out += " offset " + self.pick(OFFSETS if self.subset == "full" else [o for o in OFFSETS if o[0] != "-"])
        if self.subset == "full" and at and self.chance(0.08):
            out += " @ " + self.pick(["start()", "end()"] + ["%.3f" % t for t in self.at_times])
        return out

    def instant_selector(self, kind=None):
        q = self.selector(kind)
        m = self.modifiers()
        return Q(q.s + m, labels=q.labels, kind=q.kind)

    def range_arg(self, counter, depth, at=True):
        """A range vector: a selector with a range, or a (non-nested) subquery."""
        r = self.pick(RANGES)
        if self.subset == "full" and depth > 0 and self.chance(0.15):
            if counter:
                inner = self.pick([lambda: self.selector(counter_only=True),
                                   lambda: self.agg_simple(self.selector(counter_only=True), ["sum"])])()
            else:
                inner = self.vector(depth - 1, nosub=True)
            step = self.pick(SUBSTEPS)
            s, p = both("({0})[%s:%s]" % (r, step), inner)
            m = self.modifiers(at)
            return Q(s + m, p + m, typ="matrix", finite=inner.finite, labels=inner.labels, kind=inner.kind, sub=True)
        sel = self.selector(counter_only=counter)
        m = self.modifiers(at)
        return Q("%s[%s]%s" % (sel.s, r, m), typ="matrix", labels=sel.labels, kind=sel.kind)

    def agg_simple(self, q, ops):
        op = self.pick(ops)
        by = self.grouping(q.labels)
        s, p = both(op + by + " ({0})", q)
        return Q(s, p, finite=q.finite, labels=self.grouped(q.labels, by), kind=q.kind)

    def grouping(self, labels, allow_empty=True):
        labels = [l for l in labels if l != "__name__"]
        if not labels or self.chance(0.2 if allow_empty else 0):
            return ""
        k = self.rng.randrange(1, min(2, len(labels)) + 1)
        names = self.rng.sample(labels, k)
        if self.chance(0.05):
            names.append("nolabel")
        return " %s (%s)" % (self.pick(["by", "by", "without"]), ", ".join(names))

    @staticmethod
    def grouped(labels, by):
        if not by:
            return ()
        inner = [x.strip() for x in by[by.index("(") + 1:-1].split(",")]
        if by.strip().startswith("by"):
            return tuple(l for l in inner if l in labels)
        return tuple(l for l in labels if l not in inner and l != "__name__")

    # ---- expressions
    def scalar(self, depth):
        r = self.rng.random()
        if r < 0.45 or depth <= 0:
            v = self.pick(["1", "2", "0", "-1", "0.5", "10", "3.25", "100", "1e3", "0x10", "-0.25"] +
                          (["Inf", "NaN", "-Inf"] if self.chance(0.1) else []))
            return Q(v, typ="scalar", finite=v not in ("Inf", "NaN", "-Inf"))
        if r < 0.6:
            return Q("time()", typ="scalar")
        if r < 0.65:
            return Q("pi()", typ="scalar")
        if r < 0.8:
            v = self.vector(depth - 1)
            s, p = both("scalar({0})", v)
            return Q(s, p, typ="scalar", finite=False)
        a, b = self.scalar(depth - 1), self.scalar(depth - 1)
        op = self.pick(ARITH[:6] + ["==", "!=", ">", "<"])
        if op in COMPARE:
            op += " bool"
        s, p = both("({0} %s {1})" % op, a, b)
        return Q(s, p, typ="scalar", finite=False)

    def vector(self, depth, nosub=False):
        if self.subset == "basic":
            return self.vector_basic(depth)
        if depth <= 0:
            return self.instant_selector()
        choices = [
            (14, lambda: self.instant_selector()),
            (14, lambda: self.range_func(depth, nosub)),
            (14, lambda: self.aggregation(depth, nosub)),
            (14, lambda: self.binary(depth, nosub)),
            (4, lambda: self.chain(depth, nosub)),
            (10, lambda: self.instant_func(depth, nosub)),
            (3, lambda: self.label_func(depth, nosub)),
            (3, lambda: self.histogram_quantile(depth, nosub)),
            (2, lambda: self.misc_vector(depth, nosub)),
        ]
        total = sum(w for w, _ in choices)
        x = self.rng.uniform(0, total)
        for w, f in choices:
            x -= w
            if x <= 0:
                return f()
        return choices[0][1]()

    def vector_basic(self, depth):
        """The subset the server's first evaluator understands: selectors,
        rate-family/_over_time of a selector with a range, and five
        aggregations over either."""
        r = self.rng.random()
        if depth <= 0 or r < 0.3:
            return self.instant_selector()
        if r < 0.65:
            fn = self.pick(BASIC_RANGE)
            counter = fn in ("rate", "increase", "irate")
            arg = self.range_arg(counter, 0)
            return Q("%s(%s)" % (fn, arg.s), labels=[l for l in arg.labels if l != "__name__"], kind="gauge")
        inner = self.vector_basic(depth - 1)
        op = self.pick(BASIC_AGGS)
        by = self.grouping(inner.labels)
        if self.chance(0.3) and by:
            return Q("%s(%s)%s" % (op, inner.s, by), labels=self.grouped(inner.labels, by))
        return Q("%s%s (%s)" % (op, by, inner.s), labels=self.grouped(inner.labels, by))

    def range_func(self, depth, nosub):
        nolabels = lambda q: [l for l in q.labels if l != "__name__"]
        r = self.rng.random()
        if r < 0.35:
            fn = self.pick(RANGE_COUNTER)
            arg = self.range_arg(True, 0 if nosub else depth)
            s, p = both(fn + "({0})", arg)
            return Q(s, p, labels=nolabels(arg), finite=arg.finite)
        if r < 0.9:
            fn = self.pick(RANGE_GAUGE + ["quantile_over_time", "predict_linear", "holt_winters", "absent_over_time"])
            # predict-linear-at: no @ on predict_linear's range
            arg = self.range_arg(False, 0 if nosub else depth, at=fn != "predict_linear")
            fin = arg.finite and fn not in ("deriv", "predict_linear", "holt_winters", "stddev_over_time",
                                            "stdvar_over_time", "quantile_over_time")
            keeps = fn == "last_over_time"
            labels = arg.labels if keeps else nolabels(arg)
            if fn == "quantile_over_time":
                phi = self.pick(["0", "0.5", "0.9", "0.99", "1", "-0.5", "1.5"])
                s, p = both("quantile_over_time(%s, {0})" % phi, arg)
                return Q(s, p, labels=labels, finite=False)
            if fn == "predict_linear":
                s, p = both("predict_linear({0}, %s)" % self.pick(["0", "60", "3600", "-600"]), arg)
                return Q(s, p, labels=labels, finite=False)
            if fn == "holt_winters":  # holt-winters-rename
                sf, tf = self.pick(["0.1", "0.5", "0.9"]), self.pick(["0.1", "0.5", "0.9"])
                return Q("double_exponential_smoothing(%s, %s, %s)" % (arg.s, sf, tf),
                         "holt_winters(%s, %s, %s)" % (arg.p, sf, tf), labels=labels, finite=False)
            if fn == "absent_over_time":
                s, p = both("absent_over_time({0})", arg)
                return Q(s, p, labels=(), finite=True)
            s, p = both(fn + "({0})", arg)
            return Q(s, p, labels=labels, finite=fin)
        # a range function applied to something that is not a plain selector
        inner = self.vector(depth - 1, nosub=True)
        if nosub:
            return inner
        fn = self.pick(["max_over_time", "avg_over_time", "last_over_time", "count_over_time", "min_over_time"])
        rr, step = self.pick(RANGES[:5]), self.pick(SUBSTEPS)
        s, p = both(fn + "(({0})[%s:%s])" % (rr, step), inner)
        return Q(s, p, labels=inner.labels if fn == "last_over_time" else [l for l in inner.labels if l != "__name__"],
                 finite=inner.finite and fn != "avg_over_time")

    def aggregation(self, depth, nosub):
        op = self.pick(AGGS)
        inner = self.vector(depth - 1, nosub)
        if op in ("stddev", "stdvar") and (not inner.finite or ill_conditioned(inner)):  # stddev-inf
            inner = self.pick([lambda: self.instant_selector(), lambda: self.range_func(0, True)])()
            if not inner.finite or ill_conditioned(inner):
                inner = self.instant_selector()
        if op == "count_values":
            # the values become label values: only integers print the same whatever the summation order
            inner = self.integer_valued(depth, nosub)
        if op in ("topk", "bottomk"):  # which of equal values is kept is Prometheus' heap's accident
            inner = self.tie_free()
        by = self.grouping(inner.labels)
        param = ""
        labels = self.grouped(inner.labels, by)
        finite = inner.finite
        if op in ("topk", "bottomk"):
            param = self.pick(["1", "2", "3", "0", "100"]) + ", "  # nan-k-param: never NaN
            labels = inner.labels
        elif op == "quantile":
            param = self.pick(["0", "0.25", "0.5", "0.9", "1", "-1", "2"]) + ", "
            finite = False
        elif op == "count_values":
            # count-values-by: 2.42 appends the value label to the query's own grouping list at
            # every step of a range query; with a label that sorts last the list stays intact
            param = '"%s", ' % (self.pick(["value", "instance", "bucket"]) if not by.strip().startswith("by") else "value")
            labels = tuple(labels) + ("value", "bucket")
        elif op in ("stddev", "stdvar", "avg"):
            finite = inner.finite
        if self.chance(0.25) and by:
            s, p = both("%s(%s{0})%s" % (op, param, by), inner)
        else:
            s, p = both("%s%s (%s{0})" % (op, by, param), inner)
        return Q(s, p, labels=labels, finite=finite, kind=inner.kind if op in ("sum", "max", "min", "topk", "bottomk") else "gauge")

    def integer_valued(self, depth, nosub):
        r = self.rng.random()
        if r < 0.3:
            fam = self.pick(["queue_depth", "http_requests_total", "zero_reset_total", "request_duration_seconds_bucket"])
            ms = self.matchers(fam, FAMILIES[fam][1])
            return Q(fam + ("{%s}" % ",".join(ms) if ms else "") + self.modifiers(), labels=["__name__"] + FAMILIES[fam][1])
        if r < 0.6:
            fn = self.pick(["count_over_time", "changes", "resets", "present_over_time"])
            arg = self.range_arg(fn == "resets", 0 if nosub else depth - 1)
            return Q("%s(%s)" % (fn, arg.s), "%s(%s)" % (fn, arg.p), labels=[l for l in arg.labels if l != "__name__"])
        inner = self.vector(depth - 1, nosub)
        fn = self.pick(["floor", "ceil", "sgn", "count", "group"])
        if fn in ("count", "group"):
            by = self.grouping(inner.labels)
            s, p = both(fn + by + " ({0})", inner)
            return Q(s, p, labels=self.grouped(inner.labels, by))
        s, p = both("clamp(%s({0}), -1e6, 1e6)" % fn, inner)  # NaN stays NaN, Inf is clamped
        return Q(s, p, labels=[l for l in inner.labels if l != "__name__"])

    def tie_free(self):
        """An expression whose series practically never hold equal values at
        one time (topk/bottomk keep an arbitrary one of equal values)."""
        fam = self.pick(["node_cpu_seconds_total", "sparse_gauge", "request_duration_seconds_sum"])
        labels = FAMILIES[fam][1]
        ms = self.matchers(fam, labels)
        sel = fam + ("{%s}" % ",".join(ms) if ms else "")
        r = self.rng.random()
        if r < 0.5:
            return Q(sel + self.modifiers(), labels=["__name__"] + labels, kind=FAMILIES[fam][0])
        if fam == "sparse_gauge":
            return Q("avg_over_time(%s[%s])" % (sel, self.pick(RANGES[3:])), labels=labels)
        return Q("rate(%s[%s])" % (sel, self.pick(RANGES[1:])), labels=labels)

    def matching(self, a, b):
        common = [l for l in a.labels if l in b.labels and l != "__name__"]
        r = self.rng.random()
        if r < 0.5 or not common:
            return "", ""
        k = self.rng.randrange(1, min(2, len(common)) + 1)
        names = self.rng.sample(common, k)
        if r < 0.8:
            return " on (%s)" % ", ".join(names), ""
        return " ignoring (%s)" % ", ".join(names), ""

    def binary(self, depth, nosub):
        r = self.rng.random()
        if r < 0.3:
            # vector op scalar / scalar op vector
            v, sc = self.vector(depth - 1, nosub), self.scalar(depth - 1)
            op = self.pick(ARITH + COMPARE)
            if op in COMPARE and self.chance(0.4):
                op += " bool"
            fmt = "({0} %s {1})" % op if self.chance(0.6) else "({1} %s {0})" % op
            s, p = both(fmt, v, sc)
            if op == "atan2":  # atan2-drops-name
                p = 'label_replace(%s, "__name__", "", "", "")' % p
            return Q(s, p, labels=v.labels if op in COMPARE else [l for l in v.labels if l != "__name__"],
                     finite=False)
        # vector op vector: the same family on both sides, or aggregated sides with on/ignoring
        if r < 0.6:
            sel = self.selector(kind=self.pick(["counter", "gauge"]))
            a = self.wrap_same(sel, depth, nosub)
            b = self.wrap_same(sel, depth, nosub)
        else:
            a, b = self.vector(depth - 1, nosub), self.vector(depth - 1, nosub)
        op = self.pick(ARITH + COMPARE + SETOPS)
        if op in COMPARE and self.chance(0.4):
            op += " bool"
        match, _ = self.matching(a, b)
        group = ""
        if match and op not in SETOPS and self.chance(0.3):
            extra = [l for l in b.labels if l not in a.labels and l != "__name__"]
            inc = ""
            if extra and self.chance(0.5):
                inc = "(%s)" % self.pick(extra)
            group = " %s%s" % (self.pick(["group_left", "group_right"]), inc)
        s, p = both("({0} %s%s%s {1})" % (op, match, group), a, b)
        if op == "atan2":  # atan2-drops-name
            p = 'label_replace(%s, "__name__", "", "", "")' % p
        labels = a.labels if op in SETOPS or (op.split()[0] in COMPARE and "bool" not in op) else \
            [l for l in a.labels if l != "__name__"]
        return Q(s, p, labels=labels, finite=False)

    def chain(self, depth, nosub):
        """Operators without parentheses: precedence and associativity
        (right-associative ^, unary minus binding looser than ^, comparisons
        and set operators at their levels) exactly as Prometheus parses."""
        sel = self.selector(kind=self.pick(["counter", "gauge"]))
        parts = []
        n = self.rng.randrange(2, 5)
        for i in range(n + 1):
            r = self.rng.random()
            if r < 0.45:
                parts.append(self.wrap_same(sel, depth, nosub).s)
            else:
                parts.append(self.pick(["2", "0.5", "3", "-1", "1e1", "0"]))
        if all(not any(c.isalpha() for c in x) for x in parts):
            parts[0] = sel.s
        ops = []
        for i in range(n):
            # no atan2 here (atan2-drops-name is handled by parenthesised rewriting only); no % after ^
            # (x ^ 10 % y: the last bit of Go's math.Pow, not correctly rounded, becomes the whole answer)
            op = self.pick(["+", "-", "*", "/", "%", "^", "^", "==", ">", "<=", "and", "or", "unless"])
            if op == "%" and "^" in ops:
                op = "*"
            if op == "^" and "%" in ops:
                op = "-"
            vec_l = any(c.isalpha() for c in parts[i])
            vec_r = any(c.isalpha() for c in parts[i + 1])
            if op in ("and", "or", "unless") and not (vec_l and vec_r):
                op = "+"
            if op in ("==", ">", "<=") and (self.chance(0.5) or not (vec_l or vec_r)):
                op += " bool"
            ops.append(op)
        out = parts[0]
        for op, x in zip(ops, parts[1:]):
            out += " %s %s" % (op, x)
        if self.chance(0.2):
            out = "-" + out
        return Q(out, labels=[l for l in sel.labels if l != "__name__"], finite=False)

    def wrap_same(self, sel, depth, nosub):
        """An expression over one selector that keeps its series' identities."""
        r = self.rng.random()
        m = self.modifiers()
        base = Q(sel.s + m, labels=sel.labels, kind=sel.kind)
        nolab = [l for l in sel.labels if l != "__name__"]
        if r < 0.4:
            return base
        if r < 0.7:
            fn = self.pick(RANGE_COUNTER[:3] if sel.kind == "counter" else RANGE_GAUGE)
            rr = self.pick(RANGES)
            return Q("%s(%s[%s]%s)" % (fn, sel.s, rr, m), labels=nolab)
        fn = self.pick(["abs", "ceil", "floor", "sgn", "timestamp"])
        return Q("%s(%s)" % (fn, base.s), labels=nolab)

    def instant_func(self, depth, nosub):
        inner = self.vector(depth - 1, nosub)
        nolab = [l for l in inner.labels if l != "__name__"]
        r = self.rng.random()
        if r < 0.4:
            fn = self.pick(MATH_FUNCS)
            if fn in PERIODIC and any(x in inner.s for x in LAST_BIT_NOISE):  # go-math-pow
                fn = "atan"
            s, p = both(fn + "({0})", inner)
            return Q(s, p, labels=nolab, finite=inner.finite and fn in FINITE_SAFE)
        if r < 0.5:  # round-drops-name
            to = self.pick(["", ", 0.5", ", 10", ", 0.1"])
            return Q("round(%s%s)" % (inner.s, to),
                     'label_replace(round(%s%s), "__name__", "", "", "")' % (inner.p, to), labels=nolab,
                     finite=inner.finite)
        if r < 0.65:
            fn = self.pick(["clamp", "clamp_min", "clamp_max"])
            a = self.pick(["0", "-1", "5", "100", "-2.5"])
            if fn == "clamp":
                b = self.pick(["0", "10", "1000", "-5"])
                s, p = both("clamp({0}, %s, %s)" % (a, b), inner)
            else:
                s, p = both("%s({0}, %s)" % (fn, a), inner)
            return Q(s, p, labels=nolab, finite=inner.finite)
        if r < 0.75:
            fn = self.pick(["sort", "sort_desc"])
            s, p = both(fn + "({0})", inner)
            return Q(s, p, labels=inner.labels, finite=inner.finite, kind=inner.kind)
        if r < 0.85:
            s, p = both("timestamp({0})", inner)
            return Q(s, p, labels=nolab)
        if r < 0.95:
            fn = self.pick(DATE_FUNCS)
            if self.chance(0.3):
                return Q(fn + "()", labels=())
            # date-of-non-finite: Prometheus converts the value with Go's int64(v), which
            # for NaN and +-Inf is whatever the CPU gives (amd64: minute(+Inf) = 30)
            direct = inner.finite and self.chance(0.5)
            s, p = both(fn + "({0})" if direct else fn + "(timestamp({0}))", inner)
            return Q(s, p, labels=nolab, finite=True)
        s, p = both("(-{0})", inner)
        return Q(s, p, labels=nolab, finite=inner.finite)

    def label_func(self, depth, nosub):
        inner = self.vector(depth - 1, nosub)
        src = self.pick([l for l in inner.labels] + ["__name__", "nolabel"]) if inner.labels else "instance"
        if self.chance(0.6):
            dst = self.pick(["dst", "instance", "job", "__name__"])
            regex = self.pick(["(.*)", "i(.)", "(.+)-(.+)", ".*", "(a|w).*", "[", ""])
            repl = self.pick(["$1", "x-$1", "${1}y", "$2", "", "const"])
            esc = lambda x: x.replace("{", "{{").replace("}", "}}")
            s, p = both('label_replace({0}, "%s", "%s", "%s", "%s")' % (dst, esc(repl), src, esc(regex)), inner)
            return Q(s, p, labels=tuple(set(inner.labels) | {dst}), finite=inner.finite)
        dst = self.pick(["dst", "instance", "joined"])
        srcs = self.rng.sample([l for l in inner.labels if l != "__name__"] or ["job"], 1) + [src]
        sep = self.pick(["-", ",", ""])
        s, p = both('label_join({0}, "%s", "%s", %s)' % (dst, sep, ", ".join('"%s"' % x for x in srcs)), inner)
        return Q(s, p, labels=tuple(set(inner.labels) | {dst}), finite=inner.finite)

    def histogram_quantile(self, depth, nosub):
        phi = self.pick(["0.5", "0.9", "0.99", "0", "1", "-0.1", "1.1", "0.25"])
        r = self.pick(["1m", "5m", "10m", "30m"])
        m = self.modifiers()
        ms = self.matchers("request_duration_seconds_bucket", ["job", "instance"])
        sel = "request_duration_seconds_bucket" + ("{%s}" % ",".join(ms) if ms else "")
        c = self.rng.random()
        if c < 0.4:
            arg = "rate(%s[%s]%s)" % (sel, r, m)
            labels = ("job", "instance")
        elif c < 0.8:
            by = self.pick(["le", "le, job", "le, instance"])
            arg = "sum by (%s) (rate(%s[%s]%s))" % (by, sel, r, m)
            labels = tuple(x.strip() for x in by.split(",") if x.strip() != "le")
        else:
            arg = sel + m
            labels = ("job", "instance")
        return Q("histogram_quantile(%s, %s)" % (phi, arg), labels=labels, finite=False)

    def misc_vector(self, depth, nosub):
        r = self.rng.random()
        if r < 0.35:
            sc = self.scalar(depth - 1)
            s, p = both("vector({0})", sc)
            return Q(s, p, labels=(), finite=sc.finite)
        if r < 0.7:
            sel = self.selector()
            return Q("absent(%s)" % sel.s, labels=())
        return Q("vector(time())", labels=())

    def query(self, depth=None):
        """-> Q for a top-level query."""
        for _ in range(50):
            q = self._query(depth)
            if not FORBIDDEN.search(q.s):
                return q
        return q

    def _query(self, depth=None):
        if depth is None:
            depth = self.rng.choice([1, 2, 2, 3, 3, 4])
        if self.subset == "basic":
            return self.vector_basic(depth)
        r = self.rng.random()
        if r < 0.07:
            return self.scalar(depth)
        if r < 0.09:
            arg = self.range_arg(self.chance(0.5), depth)
            return arg
        if r < 0.095:
            return Q('"a string"', typ="string")
        return self.vector(depth)


def _close_paren(s, i):
    """Index of the parenthesis closing the one at s[i] (strings skipped)."""
    depth, q = 0, None
    while i < len(s):
        c = s[i]
        if q:
            if c == "\\":
                i += 1
            elif c == q:
                q = None
        elif c in "\"'`":
            q = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def ordered_kind(q):
    """How Prometheus orders an instant query's result: 'sort' when the
    outermost function is sort/sort_desc, 'topk' when it is topk/bottomk
    without grouping (one group: values in order), else None (a set)."""
    s = q.strip()
    while s.startswith("(") and _close_paren(s, 0) == len(s) - 1:
        s = s[1:-1].strip()
    m = re.match(r"(sort|sort_desc|topk|bottomk)\s*\(", s)
    if not m:
        return None
    close = _close_paren(s, m.end() - 1)
    if close != len(s) - 1:
        return None  # a binary operator after it, or a trailing by/without
    return "sort" if m.group(1).startswith("sort") else "topk"


if __name__ == "__main__":
    d, end = gen_data(1, 0.5)
    assert d and all(t % 1000 not in (0, 500) for _, s in d for t, _ in s)
    g = Gen(1, at_times=[T0_MS / 1000 + 600.5])
    for _ in range(200):
        q = g.query()
        assert q.s and q.p
    print("ok")
