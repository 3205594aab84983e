"""The status and probe endpoints against Prometheus' own on the same data.

Starts `strata serve` and Debian's Prometheus (remote-write receiver on;
exit 77, CTest's skip, only when it cannot be installed), remote-writes the
same generated series to both, then compares:
- /api/v1/status/tsdb: every list (series by metric name, distinct values
  and bytes by label name, series by label pair) exactly, as sets with a
  large limit and as the ranked figures with a small one (memory by label
  name is 2.42's, the bytes of the distinct values, which is what strata's
  interned index holds; Prometheus 3 estimates Go's memory per label copy
  instead, meaningless here); headStats'
  numSeries and numLabelPairs; every list whole against a model of the
  pushed label sets (2.42 answers only its top 10); `limit` refused as
  Prometheus 3 refuses it;
- /api/v1/status/{buildinfo,flags,runtimeinfo,config}: success with the
  fields and JSON types Prometheus answers with (values are strata's own);
- /api/v1/rules, /alerts, /targets, /query_exemplars: Prometheus' answer
  (no rules, alerts, targets or exemplars on either side); format_query as
  Prometheus formats; parse_query (3.x only) the AST;
- /-/healthy and /-/ready: 200 without credentials when auth is on;
- the calls Grafana's Prometheus data source makes when saved and when a
  dashboard loads (health check 1+1 by form POST, buildinfo, labels with
  match[] and limit=40000, label values, metadata, exemplars, query_range,
  series): Prometheus' statuses and answers.
Then, on strata alone: tsdb over a time range and with match[] counts only
the series selected, and a deleted series no longer counts nor shows in
label names and values (before and after a full merge); remote write's
metadata reaches /api/v1/metadata (filters, limits, durable over a restart);
UTF-8 names, U__ escapes in paths and limit on series and label answers. Seed printed; STRATA_SEED replays."""
import json
import os
import random
import shutil
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prom_util import Prom, ensure_prometheus, http_call  # noqa: E402
from server_util import (PROTO_HEADERS, Server, f2bits, field_bytes, field_varint, snappy_literal, tmpdir,  # noqa: E402
                         write_request)

T0 = 1_700_000_000_000


def gen_series(rng):
    """Series of a few metrics with labels of uneven cardinality."""
    out = []
    for m in range(6):
        name = "metric_%d_total" % m
        for i in range(rng.randrange(1, 40)):
            labels = {"__name__": name, "job": rng.choice(["api", "web", "db"]),
                      "instance": "host-%d" % rng.randrange(0, 25), "idx": str(i)}
            if rng.random() < 0.3:
                labels["zone"] = rng.choice(["eu", "us", "ap-southeast"])
            out.append(labels)
    # duplicates of a label set are one series
    uniq = {tuple(sorted(l.items())): l for l in out}
    return list(uniq.values())


def push(port, series, t_ms):
    ts = [(sorted(l.items()), [(t_ms, f2bits(1.0))]) for l in series]
    body = snappy_literal(write_request(ts))
    st, resp, _ = http_call(port, "POST", "/api/v1/write", body, PROTO_HEADERS)
    assert st in (200, 204), (st, resp)


def get_json(port, path, headers=None):
    st, body, _ = http_call(port, "GET", path, headers=headers)
    return st, json.loads(body) if body else None


def shape(v):
    """The JSON types of a value, keys included for objects."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def as_dict(lst):
    return {e["name"]: e["value"] for e in lst}


TSDB_LISTS = ["seriesCountByMetricName", "labelValueCountByLabelName", "memoryInBytesByLabelName",
              "seriesCountByLabelValuePair"]


def model_tsdb(series):
    """The four lists, whole, computed from the label sets pushed."""
    pairs = {}
    for l in series:
        for k, v in l.items():
            pairs[(k, v)] = pairs.get((k, v), 0) + 1
    values, size = {}, {}
    for (k, v), n in pairs.items():
        values[k] = values.get(k, 0) + 1
        size[k] = size.get(k, 0) + len(v.encode())
    return {"seriesCountByMetricName": {v: n for (k, v), n in pairs.items() if k == "__name__"},
            "labelValueCountByLabelName": values, "memoryInBytesByLabelName": size,
            "seriesCountByLabelValuePair": {"%s=%s" % kv: n for kv, n in pairs.items()}}, len(pairs)


def ranked(lst):
    return [e["value"] for e in lst]


def check_tsdb(sport, pport, series):
    """Whole lists against the model; Prometheus' default top 10 against
    Prometheus (2.42 takes no limit; 3.x's default is 10)."""
    want, n_pairs = model_tsdb(series)
    st, a = get_json(sport, "/api/v1/status/tsdb?limit=100000")
    assert st == 200, (st, a)
    for k in TSDB_LISTS:
        assert as_dict(a["data"][k]) == want[k], (k, a["data"][k], want[k])
        assert ranked(a["data"][k]) == sorted(ranked(a["data"][k]), reverse=True), (k, a["data"][k])
    assert a["data"]["headStats"]["numSeries"] == len(series) and a["data"]["headStats"]["numLabelPairs"] == n_pairs
    st, a = get_json(sport, "/api/v1/status/tsdb")
    st2, b = get_json(pport, "/api/v1/status/tsdb")
    assert st == st2 == 200, (st, st2)
    for k in TSDB_LISTS:  # names may differ among ties at the cut
        assert ranked(a["data"][k]) == ranked(b["data"][k]), (k, a["data"][k], b["data"][k])
        top = as_dict(a["data"][k])
        assert all(want[k][n] == v for n, v in top.items()), (k, top)
    for k in ("numSeries", "numLabelPairs"):
        assert a["data"]["headStats"][k] == b["data"]["headStats"][k], (k, a["data"]["headStats"], b["data"]["headStats"])
    assert set(a["data"]["headStats"]) >= set(b["data"]["headStats"]), (a["data"]["headStats"], b["data"]["headStats"])
    st, a = get_json(sport, "/api/v1/status/tsdb?limit=3")
    assert st == 200 and all(len(a["data"][k]) == min(3, len(want[k])) for k in TSDB_LISTS), a
    for bad in ("0", "-1", "x"):  # Prometheus 3: "limit must be a positive number" (2.42 has no limit)
        st, a = get_json(sport, "/api/v1/status/tsdb?limit=" + bad)
        assert st == 400 and a["errorType"] == "bad_data", (bad, st, a)


def check_shapes(sport, pport):
    for path in ("/api/v1/status/buildinfo", "/api/v1/status/flags", "/api/v1/status/runtimeinfo",
                 "/api/v1/status/config"):
        st, a = get_json(sport, path)
        st2, b = get_json(pport, path)
        assert st == st2 == 200, (path, st, st2)
        assert a["status"] == b["status"] == "success"
        if path.endswith("flags"):  # a map of strings on both sides, names differ
            assert all(isinstance(v, str) for v in a["data"].values()) and a["data"], a
            continue
        sa, sb = shape(a["data"]), shape(b["data"])
        if path.endswith("runtimeinfo"):  # Go's runtime fields have no meaning in strata
            for k in ("goroutineCount", "GOMAXPROCS", "GOGC", "GODEBUG", "GOMEMLIMIT"):
                sb.pop(k, None)
        missing = {k: v for k, v in sb.items() if sa.get(k) != v}
        assert not missing, (path, missing, sa)
    st, a = get_json(sport, "/api/v1/status/buildinfo")
    major = int(a["data"]["version"].split(".")[0])
    assert major >= 2, a  # Grafana's feature gates read it as a Prometheus version
    for path in ("/api/v1/rules", "/api/v1/alerts", "/api/v1/targets",
                 "/api/v1/query_exemplars?query=metric_0_total&start=%d&end=%d" % (T0 // 1000 - 60, T0 // 1000 + 60)):
        st, a = get_json(sport, path)
        st2, b = get_json(pport, path)
        assert st == st2 == 200, (path, st, st2, a, b)
        if "targets" in path:  # Prometheus without scrape configs still answers an empty list
            b["data"].setdefault("droppedTargets", [])
            b["data"].pop("droppedTargetCounts", None)
        assert a == b, (path, a, b)
    for q in ("sum(rate(metric_0_total{job='api'}[5m])) by (job)", "1+1", "a" * 90 + " / on(x) group_left " + "b" * 20,
              'label_replace(up, "a", "$1", "b", "(.*)") > bool 0.5'):
        path = "/api/v1/format_query?" + urllib.parse.urlencode({"query": q})
        st, a = get_json(sport, path)
        st2, b = get_json(pport, path)
        assert st == st2 == 200 and a == b, (q, a, b)
    st, a = get_json(sport, "/api/v1/format_query?query=sum(")
    st2, b = get_json(pport, "/api/v1/format_query?query=sum(")
    assert st == st2 == 400 and a["errorType"] == b["errorType"] == "bad_data", (a, b)
    # parse_query is Prometheus 3's (2.42 has none): the AST as JSON
    st, a = get_json(sport, "/api/v1/parse_query?" + urllib.parse.urlencode({"query": "sum by (job) (up)"}))
    assert st == 200 and a["data"]["type"] == "aggregation" and a["data"]["op"] == "sum", a
    st, a = get_json(sport, "/api/v1/query_exemplars?query=rate(")
    st2, b = get_json(pport, "/api/v1/query_exemplars?query=rate(")
    assert st == st2 == 400 and a["errorType"] == b["errorType"], (st, st2, a, b)
    for path in ("/-/healthy", "/-/ready"):
        st, _, _ = http_call(sport, "GET", path)
        st2, _, _ = http_call(pport, "GET", path)
        assert st == st2 == 200, (path, st, st2)


def grafana_calls(port, metric):
    """The requests Grafana's Prometheus data source makes when it is saved
    (health check) and when a dashboard with a label browser loads, in
    order; the answers of each, as (status, JSON)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    end = T0 // 1000 + 60
    start = end - 3600
    calls = [
        ("POST", "/api/v1/query", urllib.parse.urlencode({"query": "1+1", "time": end})),
        ("GET", "/api/v1/status/buildinfo", None),
        ("GET", "/api/v1/labels?" + urllib.parse.urlencode({"match[]": metric, "start": start, "end": end,
                                                              "limit": 40000}), None),
        ("GET", "/api/v1/label/__name__/values?" + urllib.parse.urlencode({"start": start, "end": end,
                                                                           "limit": 40000}), None),
        ("GET", "/api/v1/label/job/values?" + urllib.parse.urlencode({"match[]": metric, "start": start,
                                                                        "end": end}), None),
        ("GET", "/api/v1/metadata?" + urllib.parse.urlencode({"metric": metric}), None),
        ("POST", "/api/v1/query_exemplars", urllib.parse.urlencode({"query": metric, "start": start, "end": end})),
        ("POST", "/api/v1/query_range", urllib.parse.urlencode({"query": "sum by (job) (%s)" % metric,
                                                                "start": start, "end": end, "step": 60})),
        ("POST", "/api/v1/series", urllib.parse.urlencode({"match[]": metric, "start": start, "end": end})),
    ]
    out = []
    for method, path, body in calls:
        st, b, _ = http_call(port, method, path, body, form if body else None)
        out.append((path.split("?")[0], st, json.loads(b)))
    return out


def check_grafana(sport, pport, metric):
    """Every call answers with Prometheus' status and shape, and the data
    calls with Prometheus' data (metadata: 2.42 keeps none from remote write,
    strata has none for this metric either)."""
    a, b = grafana_calls(sport, metric), grafana_calls(pport, metric)
    for (path, sa, ja), (_, sb, jb) in zip(a, b):
        assert sa == sb == 200, (path, sa, sb, ja, jb)
        if path.endswith("buildinfo"):
            assert shape(ja["data"]).items() >= shape(jb["data"]).items(), (ja, jb)
            continue
        ja.pop("warnings", None)
        jb.pop("warnings", None)
        if path.endswith("series"):
            key = lambda m: sorted(m.items())  # noqa: E731
            ja["data"].sort(key=key)
            jb["data"].sort(key=key)
        assert ja == jb, (path, ja, jb)


def check_strata_only(base, series):
    """Auth spares the probes; tsdb follows start/end and match[]."""
    s = Server(os.path.join(base, "strata-auth"), "--auth-token", "sekrit").start()
    try:
        for path in ("/-/healthy", "/-/ready"):
            st, _, _ = s.req("GET", path)
            assert st == 200, (path, st)
        st, _, _ = s.req("GET", "/api/v1/status/buildinfo")
        assert st == 401, st
        auth = {"Authorization": "Bearer sekrit"}
        early = series[: len(series) // 2]
        late = series[len(series) // 2:]
        push_to(s, early, T0, auth)
        push_to(s, late, T0 + 3600_000, auth)
        st, a = s.json("GET", "/api/v1/status/tsdb?limit=1000", headers=auth)
        assert st == 200 and a["data"]["headStats"]["numSeries"] == len(series), a["data"]["headStats"]
        q = urllib.parse.urlencode({"start": (T0 + 1800_000) / 1000, "end": (T0 + 7200_000) / 1000, "limit": 1000})
        st, a = s.json("GET", "/api/v1/status/tsdb?" + q, headers=auth)
        assert st == 200 and a["data"]["headStats"]["numSeries"] == len(late), (a["data"]["headStats"], len(late))
        want = {}
        for l in late:
            want[l["__name__"]] = want.get(l["__name__"], 0) + 1
        assert as_dict(a["data"]["seriesCountByMetricName"]) == want, (a["data"]["seriesCountByMetricName"], want)
        q = urllib.parse.urlencode({"match[]": '{job="api"}', "limit": 1000})
        st, a = s.json("GET", "/api/v1/status/tsdb?" + q, headers=auth)
        n_api = sum(1 for l in series if l["job"] == "api")
        assert st == 200 and a["data"]["headStats"]["numSeries"] == n_api, (a["data"]["headStats"], n_api)
        pairs = as_dict(a["data"]["seriesCountByLabelValuePair"])
        assert pairs.get("job=api") == n_api and "job=web" not in pairs, pairs
        st, a = s.json("GET", "/api/v1/status/tsdb?start=10&end=5", headers=auth)
        assert st == 400, (st, a)
        # a deleted series is no longer counted
        gone = series[0]["__name__"]
        q = urllib.parse.urlencode({"match[]": '{__name__="%s"}' % gone})
        st, _, _ = s.req("POST", "/api/v1/admin/tsdb/delete_series?" + q, headers=auth)
        assert st == 204, st
        st, a = s.json("GET", "/api/v1/status/tsdb?limit=1000", headers=auth)
        left = sum(1 for l in series if l["__name__"] != gone)
        assert a["data"]["headStats"]["numSeries"] == left, (a["data"]["headStats"], left)
        assert gone not in as_dict(a["data"]["seriesCountByMetricName"]), a["data"]["seriesCountByMetricName"]
        # and label answers no longer list it, before and after a full merge
        for merge in (False, True):
            if merge:
                st, _, _ = s.req("POST", "/internal/force_flush", headers=auth)
                assert st in (200, 204), st
                st, _, _ = s.req("POST", "/internal/force_merge", headers=auth)
                assert st in (200, 204), st
            st, a = s.json("GET", "/api/v1/label/__name__/values", headers=auth)
            assert st == 200 and gone not in a["data"] and a["data"], (merge, a)
            want_names = sorted({k for l in series if l["__name__"] != gone for k in l})
            st, a = s.json("GET", "/api/v1/labels", headers=auth)
            assert st == 200 and a["data"] == want_names, (merge, a["data"], want_names)
    finally:
        s.stop()


def check_metadata(base):
    """Remote write's metadata is stored once per distinct entry, survives a
    restart, and /api/v1/metadata filters and limits it as Prometheus does."""
    types = {"counter": 1, "gauge": 2, "histogram": 3, "summary": 5}

    def md(name, typ, help_, unit=""):
        return field_bytes(3, field_varint(1, types[typ]) + field_bytes(2, name.encode()) +
                           field_bytes(4, help_.encode()) + field_bytes(5, unit.encode()))
    entries = [("http_requests_total", "counter", "Requests served.", ""),
               ("node_memory_bytes", "gauge", "Memory in use.", "bytes"),
               ("rpc_seconds", "summary", "RPC latency.", "seconds"),
               ("up", "gauge", "Target up.", "")]
    body = write_request([([("__name__", "up")], [(T0, f2bits(1.0))])])
    body += b"".join(md(*e) for e in entries) + md("up", "gauge", "Target up.")  # a repeat
    body += field_bytes(3, field_varint(1, 2) + field_bytes(2, b"bad\x00name"))  # a NUL: skipped
    s = Server(os.path.join(base, "strata-md")).start()
    try:
        st, resp, _ = s.req("POST", "/api/v1/write", snappy_literal(body), PROTO_HEADERS)
        assert st == 204, (st, resp)
        want = {e[0]: [{"type": e[1], "help": e[2], "unit": e[3]}] for e in entries}
        st, a = s.json("GET", "/api/v1/metadata")
        assert st == 200 and a == {"status": "success", "data": want}, a
        s.stop()
        s.start()
        st, a = s.json("GET", "/api/v1/metadata")
        assert st == 200 and a["data"] == want, a
        st, a = s.json("GET", "/api/v1/metadata?metric=up")
        assert a["data"] == {"up": want["up"]}, a
        st, a = s.json("GET", "/api/v1/metadata?limit=2")
        assert list(a["data"]) == sorted(want)[:2], a
        st, a = s.json("GET", "/api/v1/metadata?limit=0")
        assert a["data"] == {}, a
        st, a = s.json("GET", "/api/v1/metadata?limit=-1&limit_per_metric=1")
        assert a["data"] == want, a
        st, a = s.json("GET", "/api/v1/metadata?limit=x")
        assert st == 400 and a["errorType"] == "bad_data", (st, a)
    finally:
        s.stop()


def check_names_and_limits(base):
    """Prometheus 3 (2.42 has neither): UTF-8 names stored and queried with
    quoted selectors; U__-escaped names in label-values paths decoded, as
    Grafana sends them; limit on series, labels and label values cuts the
    answer with Prometheus' warning, and a bad limit is a 400."""
    s = Server(os.path.join(base, "strata-names")).start()
    try:
        body = write_request([([("__name__", "my.metric"), ("a_b", "1"), ("service.name", "x"), ("zone/ü", "y")],
                               [(T0, f2bits(1.0))]),
                              ([("__name__", "other")] + [("l%d" % i, "v%d" % i) for i in range(5)],
                               [(T0, f2bits(2.0))])])
        st, resp, _ = s.req("POST", "/api/v1/write", snappy_literal(body), PROTO_HEADERS)
        assert st == 204, (st, resp)
        for path, want in [("/api/v1/label/U__service_2e_name/values", ["x"]),
                           ("/api/v1/label/U__zone_2f__fc_/values", ["y"]),
                           ("/api/v1/label/U__a__b/values", ["1"]),
                           ("/api/v1/label/a_b/values", ["1"]),
                           ("/api/v1/label/U__bad_zz_/values", []),  # not an escape: the name as sent
                           ("/api/v1/label/__name__/values", ["my.metric", "other"])]:
            st, a = s.json("GET", path)
            assert st == 200 and a["data"] == want and "warnings" not in a, (path, a)
        cut = ["results truncated due to limit"]
        for path, n in [("/api/v1/labels?limit=2", 2), ("/api/v1/label/__name__/values?limit=1", 1),
                        ("/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D&limit=1", 1)]:
            st, a = s.json("GET", path)
            assert st == 200 and len(a["data"]) == n and a["warnings"] == cut, (path, a)
        st, a = s.json("GET", "/api/v1/labels?limit=0")
        assert st == 200 and len(a["data"]) == 9 and "warnings" not in a, a
        st, a = s.json("GET", "/api/v1/label/__name__/values?limit=2")
        assert st == 200 and "warnings" not in a, a  # exactly at the limit: not cut
        for bad in ("-1", "x"):
            st, a = s.json("GET", "/api/v1/labels?limit=" + bad)
            assert st == 400 and a["errorType"] == "bad_data", (bad, a)
        q = urllib.parse.urlencode({"query": '{"my.metric", "service.name"="x"}', "time": T0 / 1000})
        st, a = s.json("GET", "/api/v1/query?" + q)
        assert st == 200 and [x["metric"]["zone/ü"] for x in a["data"]["result"]] == ["y"], a
    finally:
        s.stop()


def push_to(s, series, t_ms, headers):
    ts = [(sorted(l.items()), [(t_ms, f2bits(1.0))]) for l in series]
    st, resp, _ = s.req("POST", "/api/v1/write", snappy_literal(write_request(ts)), dict(PROTO_HEADERS, **headers))
    assert st in (200, 204), (st, resp)


def main():
    seed = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
    print("seed: %d (set STRATA_SEED to replay)" % seed)
    rng = random.Random(seed)
    series = gen_series(rng)
    base = tmpdir()
    ok = False
    try:
        check_strata_only(base, series)
        check_metadata(base)
        check_names_and_limits(base)
        if not ensure_prometheus():
            print("prometheus cannot be installed: skipping the comparison")
            sys.exit(77)
        s = Server(os.path.join(base, "strata")).start()
        p = Prom(base)
        try:
            push(s.port, series, T0)
            push(p.port, series, T0)
            check_tsdb(s.port, p.port, series)
            check_shapes(s.port, p.port)
            check_grafana(s.port, p.port, series[0]["__name__"])
        finally:
            p.stop()
            s.stop()
        ok = True
        print("ok: %d series, tsdb, status, probes and empty features agree with Prometheus" % len(series))
    finally:
        if ok:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept", base)


if __name__ == "__main__":
    main()
