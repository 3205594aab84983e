"""Remote write into a full disk: strata answers 503 with Retry-After
(agents keep the samples queued and send them again), never a 4xx that
would make them drop the samples; the server stays up and stops cleanly.
The disk is a 6 MiB tmpfs (needs root to mount: skipped, exit 77, when it
cannot be mounted). Seed: STRATA_SEED (printed)."""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import PROTO_HEADERS, Server, f2bits, snappy_literal, write_request

SEED = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
print("seed", SEED, flush=True)
rnd = random.Random(SEED)
mnt = tempfile.mkdtemp(prefix="strata-diskfull-")
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt], capture_output=True).returncode:
    print("cannot mount a tmpfs: skipped")
    os.rmdir(mnt)
    sys.exit(77)
fails = []
try:
    s = Server(mnt + "/db").start()
    T0 = 1700000000000
    codes = {}
    try:
        for k in range(1000):
            series = [([("__name__", "m"), ("i", "%d_%d" % (k, j)), ("pad", "x" * 200)],
                       [(T0 + i * 15000, f2bits(rnd.random())) for i in range(50)]) for j in range(50)]
            st, b, h = s.req("POST", "/api/v1/write", snappy_literal(write_request(series)), PROTO_HEADERS)
            codes[st] = codes.get(st, 0) + 1
            if st != 204:
                if st != 503 or not h.get("retry-after") or b"no space" not in b:
                    fails.append("full disk: %s %r %r" % (st, h.get("retry-after"), b[:200]))
                if codes[st] >= 3:
                    break
        print("answers:", codes)
        if not codes.get(503):
            fails.append("the disk never filled: %r" % codes)
        st, _, _ = s.req("GET", "/-/healthy")
        if st != 200:
            fails.append("server unhealthy after a full disk: %s" % st)
    finally:
        s.stop()
finally:
    subprocess.run(["umount", mnt])
    shutil.rmtree(mnt, ignore_errors=True)
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
