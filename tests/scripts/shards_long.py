"""shards.py at a larger size (40 instances, 480 steps) with two shards
killed in turn during the writes; for make test-long."""
import os
import sys

os.environ["SHARDS_LONG"] = "1"
here = os.path.dirname(os.path.abspath(__file__))
sys.argv[0] = os.path.join(here, "shards.py")
with open(sys.argv[0]) as f:
    code = compile(f.read(), sys.argv[0], "exec")
exec(code, {"__name__": "__main__", "__file__": sys.argv[0]})
