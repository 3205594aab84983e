"""The long run of server_isolation.py (make test-long): three times the
sockets of the flood and queries three times as long, under the same
bounds for /health and writes."""
import os
import runpy

os.environ["STRATA_ISOLATION_SCALE"] = "3"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "server_isolation.py"), run_name="__main__")
