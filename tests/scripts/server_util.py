"""Helpers for the server_*.py tests: start/stop `strata serve`, HTTP calls,
and hand-written encoders for the binary remote-write/read formats (snappy
block format with literals only, and the few protobuf messages used), so the
tests need only the Python standard library. Not a test itself (CTest runs
tests/scripts/*.py, and this file exits 0 when run)."""
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

STRATA = os.environ.get("STRATA_BIN", "build/strata")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, data_dir, *extra):
        self.dir = data_dir
        self.port = free_port()
        self.extra = list(extra)
        self.p = None

    def start(self):
        self.log = open(self.dir + ".log", "ab")
        self.p = subprocess.Popen([STRATA, "serve", "-d", self.dir, "--listen", "127.0.0.1:%d" % self.port] + self.extra,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < 30:
            if self.p.poll() is not None:
                raise RuntimeError("strata serve exited: rc %s, log %s" % (self.p.returncode, self.dir + ".log"))
            try:
                st, _, _ = self.req("GET", "/health", timeout=2)
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)  # polling for readiness of another process, not synchronisation of ours
        raise RuntimeError("server not ready")

    def stop(self, sig=signal.SIGTERM):
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            rc = self.p.wait(timeout=120)
        else:
            rc = self.p.returncode if self.p else None
        self.log.close()
        return rc

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def req(self, method, path, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read(), dict((k.lower(), v) for k, v in r.getheaders())
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None):
        st, b, _ = self.req(method, path, body, headers)
        return st, json.loads(b) if b else None

    def export(self, query=""):
        st, b, _ = self.req("GET", "/api/v1/export" + query)
        assert st == 200, (st, b)
        out = {}
        for line in b.decode().splitlines():
            if line.strip():
                d = json.loads(line)
                key = tuple(sorted(d["metric"].items()))
                out[key] = list(zip(d["timestamps"], d["values"]))
        return out


def tmpdir():
    return tempfile.mkdtemp(prefix="strata-server-test-")


# ------------------------------------------------------------------ snappy
def snappy_literal(data):
    """Snappy block format, every byte a literal: varint(len) then literal
    elements of at most 65536 bytes (tag 61<<2: length-1 in 2 bytes LE)."""
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", n)
        out += chunk
    return bytes(out)


def snappy_decode(data):
    """A full snappy block decoder (literals and the three copy forms)."""
    n, i = read_varint(data, 0)
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        t = tag & 3
        if t == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(data[i:i + nb], "little")
                i += nb
            ln += 1
            out += data[i:i + ln]
            i += ln
            continue
        if t == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | data[i]
            i += 1
        elif t == 2:
            ln = (tag >> 2) + 1
            off = int.from_bytes(data[i:i + 2], "little")
            i += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(data[i:i + 4], "little")
            i += 4
        for _ in range(ln):
            out.append(out[-off])
    assert len(out) == n, (len(out), n)
    return bytes(out)


# ------------------------------------------------------------------ protobuf
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def read_varint(b, i):
    shift = v = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return v, i


def field_bytes(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_double_bits(num, bits):
    return varint(num << 3 | 1) + struct.pack("<Q", bits)


def f2bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def bits2f(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


STALE_NAN = 0x7FF0000000000002


def timeseries(labels, samples):
    """labels: [(name, value)]; samples: [(t_ms, value_bits)]."""
    out = b""
    for n, v in labels:
        out += field_bytes(1, field_bytes(1, n.encode()) + field_bytes(2, v.encode()))
    for t, bits in samples:
        out += field_bytes(2, field_double_bits(1, bits) + field_varint(2, t))
    return out


def write_request(series):
    return b"".join(field_bytes(1, timeseries(l, s)) for l, s in series)


def read_request(queries):
    """queries: [(start_ms, end_ms, [(type, name, value)])]"""
    out = b""
    for start, end, matchers in queries:
        q = field_varint(1, start) + field_varint(2, end)
        for t, n, v in matchers:
            q += field_bytes(3, field_varint(1, t) + field_bytes(2, n.encode()) + field_bytes(3, v.encode()))
        out += field_bytes(1, q)
    return out


def parse_fields(b):
    """[(field, wiretype, value)] of one message; value is bytes or int."""
    i, out = 0, []
    while i < len(b):
        key, i = read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            v = struct.unpack("<Q", b[i:i + 8])[0]
            i += 8
        elif wt == 2:
            ln, i = read_varint(b, i)
            v = b[i:i + ln]
            i += ln
        elif wt == 5:
            v = struct.unpack("<I", b[i:i + 4])[0]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((f, wt, v))
    return out


def parse_read_response(b):
    """-> [ {labels-tuple: [(t, bits)]} ] one dict per query."""
    results = []
    for f, _, qr in parse_fields(b):
        assert f == 1
        res = {}
        for f2, _, ts in parse_fields(qr):
            assert f2 == 1
            labels, samples = [], []
            for f3, _, v in parse_fields(ts):
                if f3 == 1:
                    d = {ff: vv for ff, _, vv in parse_fields(v)}
                    labels.append((d.get(1, b"").decode(), d.get(2, b"").decode()))
                elif f3 == 2:
                    d = {ff: vv for ff, _, vv in parse_fields(v)}
                    t = d.get(2, 0)
                    if t >= 1 << 63:
                        t -= 1 << 64
                    samples.append((t, d.get(1, 0)))
            res[tuple(labels)] = samples
        results.append(res)
    return results


PROTO_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                 "X-Prometheus-Remote-Write-Version": "0.1.0"}

def _self_test():
    """The encoders the other tests rely on agree with their decoders."""
    import random
    rng = random.Random(int(os.environ.get("STRATA_SEED", "1")))
    print("seed", os.environ.get("STRATA_SEED", "1"))
    for n in (0, 1, 59, 60, 61, 255, 256, 65535, 65536, 65537, 200000):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert snappy_decode(snappy_literal(data)) == data, n
    # a copy element: "abcd" then copy offset 4 length 8 (tag type 1)
    assert snappy_decode(bytes([12, 3 << 2]) + b"abcd" + bytes([(4 << 2) | 1, 4])) == b"abcdabcdabcd"
    ts = [([("__name__", "m"), ("a", "b")], [(-5, STALE_NAN), (1700000000000, f2bits(1.5))])]
    got = parse_fields(write_request(ts))
    assert len(got) == 1 and got[0][0] == 1
    rr = field_bytes(1, field_bytes(1, timeseries(*ts[0])))
    assert parse_read_response(rr) == [{(("__name__", "m"), ("a", "b")): [(-5, STALE_NAN), (1700000000000, f2bits(1.5))]}]
    print("ok")


if __name__ == "__main__":
    _self_test()
