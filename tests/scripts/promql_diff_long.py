"""The long differential run against Prometheus (CTest label `long`, run by
`make test-long`): promql_diff.py with more data (6 h, so Prometheus also
answers from a compacted block), more queries and more evaluations per
query. Same options and environment as promql_diff.py; PROMQL_DIFF_SEED
(default 2, another seed than the bounded run's)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_diff  # noqa: E402

if __name__ == "__main__":
    promql_diff.main({"seed": int(os.environ.get("PROMQL_DIFF_SEED", "2")),
                      "queries": int(os.environ.get("PROMQL_DIFF_QUERIES", "4000")),
                      "hours": float(os.environ.get("PROMQL_DIFF_HOURS", "6")),
                      "instant": 3, "range": 3})
