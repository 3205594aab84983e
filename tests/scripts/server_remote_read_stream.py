"""Remote read as STREAMED_XOR_CHUNKS (Prometheus' streamed remote read):
frames (uvarint length, CRC-32C, ChunkedReadResponse) decoded here with a
port of Prometheus' XOR chunk reader (tsdb/chunkenc/xor.go) give the same
samples, bit for bit, as the SAMPLES answer of the same request; chunks
hold at most 120 samples; several queries keep their index; ReadHints
narrow the range; a series larger than a frame goes on in the next frame;
the client that hangs up mid-answer leaves the server serving.
External labels (--external-label): on every series of both answers and
of the query API, a series' own label winning; a remote read matcher on
one matches the series (Prometheus' rule).
Seed: STRATA_SEED (printed)."""
import os
import random
import shutil
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (PROTO_HEADERS, STALE_NAN, Server, f2bits, field_bytes, field_varint, parse_fields,
                         parse_read_response, read_varint, snappy_decode, snappy_literal, tmpdir)

FAILS = []
SEED = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
print("seed", SEED, flush=True)
rnd = random.Random(SEED)


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def _crc_table():
    t = []
    for i in range(256):
        r = i
        for _ in range(8):
            r = (r >> 1) ^ (0x82F63B78 if r & 1 else 0)
        t.append(r)
    return t


CRC_T = _crc_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = CRC_T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class Bits:
    """Prometheus' bstreamReader: bits most significant first."""

    def __init__(self, b):
        self.b, self.pos = b, 0

    def bit(self):
        v = (self.b[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return v

    def bits(self, n):
        v = 0
        for _ in range(n):
            v = v << 1 | self.bit()
        return v

    def uvarint(self):
        v = shift = 0
        while True:
            x = self.bits(8)
            v |= (x & 0x7F) << shift
            shift += 7
            if x < 0x80:
                return v


def s64(u):
    u &= (1 << 64) - 1
    return u - (1 << 64) if u >> 63 else u


def xor_decode(chunk):
    """-> [(t, value_bits)], as xorIterator.Next."""
    n = chunk[0] << 8 | chunk[1]
    r = Bits(chunk[2:])
    out = []
    t = tdelta = v = 0
    leading = trailing = 0
    for i in range(n):
        if i == 0:
            zz = r.uvarint()
            t = (zz >> 1) ^ -(zz & 1)
            v = r.bits(64)
        else:
            if i == 1:
                tdelta = r.uvarint()
            else:
                d = 0
                for _ in range(4):
                    if not r.bit():
                        break
                    d += 1
                sz = {0: 0, 1: 14, 2: 17, 3: 20, 4: 64}[d]
                dod = 0
                if sz:
                    dod = r.bits(sz)
                    if sz != 64 and dod > (1 << (sz - 1)):
                        dod -= 1 << sz
                    dod = s64(dod)
                tdelta = (tdelta + dod) & ((1 << 64) - 1)
            t = s64(t + tdelta)
            if r.bit():
                if r.bit():
                    leading = r.bits(5)
                    sig = r.bits(6) or 64
                    trailing = 64 - leading - sig
                sig = 64 - leading - trailing
                v ^= r.bits(sig) << trailing
        out.append((t, v))
    return out


def parse_stream(body, nq):
    """-> ([ {labels: [(t,bits)]} per query ], frames, max chunk samples); checks CRCs."""
    res = [dict() for _ in range(nq)]
    i = frames = maxn = 0
    last = None
    while i < len(body):
        ln, i = read_varint(body, i)
        crc = struct.unpack(">I", body[i:i + 4])[0]
        data = body[i + 4:i + 4 + ln]
        i += 4 + ln
        check(len(data) == ln, "frame cut short")
        check(crc32c(data) == crc, "frame %d: CRC-32C" % frames)
        frames += 1
        qi, series = 0, []
        for f, _, v in parse_fields(data):
            if f == 1:
                series.append(v)
            elif f == 2:
                qi = v
        check(len(series) == 1, "one series per frame")
        for cs in series:
            labels, samples = [], []
            for f, _, v in parse_fields(cs):
                d = {ff: vv for ff, _, vv in parse_fields(v)}
                if f == 1:
                    labels.append((d.get(1, b"").decode(), d.get(2, b"").decode()))
                elif f == 2:
                    check(d.get(3) == 1, "chunk type XOR")
                    got = xor_decode(d[4])
                    maxn = max(maxn, len(got))
                    check(got and got[0][0] == s64(d.get(1, 0)) and got[-1][0] == s64(d.get(2, 0)),
                          "chunk min/max time")
                    samples += got
            key = tuple(labels)
            if key in res[qi]:
                check(last == (qi, key), "a series split over frames comes in consecutive frames")
                res[qi][key] += samples
            else:
                res[qi][key] = samples
            last = (qi, key)
    return res, frames, maxn


def write_fast(series):
    """write_request without its quadratic concatenation, for long series."""
    out = []
    for labels, samples in series:
        parts = [field_bytes(1, field_bytes(1, n.encode()) + field_bytes(2, v.encode())) for n, v in labels]
        parts += [field_bytes(2, b"\x09" + struct.pack("<Q", bits) + field_varint(2, t)) for t, bits in samples]
        out.append(field_bytes(1, b"".join(parts)))
    return b"".join(out)


def read(s, queries, accept, hints=None):
    out = b""
    for k, (start, end, matchers) in enumerate(queries):
        q = field_varint(1, start) + field_varint(2, end)
        for t, n, v in matchers:
            q += field_bytes(3, field_varint(1, t) + field_bytes(2, n.encode()) + field_bytes(3, v.encode()))
        if hints and hints[k]:
            q += field_bytes(4, field_varint(3, hints[k][0]) + field_varint(4, hints[k][1]))
        out += field_bytes(1, q)
    for a in accept:
        out += field_varint(2, a)
    return s.req("POST", "/api/v1/read", snappy_literal(out), PROTO_HEADERS)


def external_labels():
    import json
    import subprocess
    from server_util import STRATA
    d = tmpdir()
    for bad in ["__x=1", "x", "1a=b", "a="]:
        p = subprocess.run([STRATA, "serve", "-d", d + "/bad", "--external-label", bad], capture_output=True)
        check(p.returncode != 0 and b"external-label" in p.stderr, "--external-label %s refused: %r" % (bad, p.stderr))
    s = Server(d + "/db", "--external-label", "shard=a", "--external-label", "job=ext").start()
    try:
        T0 = 1700000000000
        series = [([("__name__", "e"), ("job", "own")], [(T0, f2bits(1.0)), (T0 + 15000, f2bits(2.0))]),
                  ([("__name__", "e"), ("x", "1")], [(T0, f2bits(3.0))])]
        st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_fast(series)), PROTO_HEADERS)
        check(st == 204, "write: %s" % st)
        want = {(("__name__", "e"), ("job", "own"), ("shard", "a")): series[0][1],
                (("__name__", "e"), ("job", "ext"), ("shard", "a"), ("x", "1")): series[1][1]}
        for matchers in ([(0, "__name__", "e")], [(0, "__name__", "e"), (0, "shard", "a")]):
            qs = [(T0, T0 + 60000, matchers)]
            st, b, _ = read(s, qs, [0])
            check(st == 200 and parse_read_response(snappy_decode(b))[0] == want, "ext labels, SAMPLES %r" % matchers)
            st, b, _ = read(s, qs, [1])
            check(st == 200 and parse_stream(b, 1)[0][0] == want, "ext labels, streamed %r" % matchers)
        st, b, _ = read(s, [(T0, T0 + 60000, [(0, "__name__", "e"), (0, "shard", "b")])], [1])
        check(st == 200 and parse_stream(b, 1)[0][0] == {}, "shard=b matches nothing")
        st, b, _ = s.req("GET", "/api/v1/query?query=e&time=%d" % (T0 // 1000 + 20))
        got = sorted(tuple(sorted(r["metric"].items())) for r in json.loads(b)["data"]["result"])
        check(got == sorted(want), "ext labels on /api/v1/query: %r" % got)
        st, b, _ = s.req("GET", "/api/v1/series?match[]=e&start=%d&end=%d" % (T0 // 1000 - 10, T0 // 1000 + 60))
        got = sorted(tuple(sorted(m.items())) for m in json.loads(b)["data"])
        check(got == sorted(want), "ext labels on /api/v1/series: %r" % got)
    finally:
        rc = s.stop()
        check(rc == 0, "clean stop: %s" % rc)
        shutil.rmtree(d, ignore_errors=True)


def main():
    d = tmpdir()
    s = Server(d + "/db").start()
    try:
        T0 = 1700000000000
        series = []
        for k in range(40):
            t, samples = T0 + rnd.randrange(60000), []
            v = float(rnd.randrange(100))
            for j in range(rnd.randrange(1, 700)):
                t += rnd.choice([15000, 15000, 15000, 14999, 15001, 30000, 1, 1 << 22])
                r = rnd.random()
                v = v + rnd.randrange(5) if r < 0.6 else (rnd.normalvariate(0, 1e9) if r < 0.9 else v)
                samples.append((t, STALE_NAN if rnd.random() < 0.01 else f2bits(v)))
            series.append(([("__name__", "m%d" % (k % 3)), ("job", "j%d" % k)], samples))
        # one series larger than a 1 MiB frame: random values, ~9 bytes a sample
        big, t = [], T0
        for j in range(200000):
            t += 1000
            big.append((t, f2bits(rnd.random())))
        series.append(([("__name__", "big"), ("job", "b")], big))
        for k in range(0, len(series), 8):
            st, b, _ = s.req("POST", "/api/v1/write", snappy_literal(write_fast(series[k:k + 8])), PROTO_HEADERS)
            assert st == 204, (st, b)
        end = T0 + (1 << 40)
        queries = [(T0, end, [(2, "__name__", "m.*")]), (T0, end, [(0, "__name__", "big")]),
                   (T0 + 3600000, T0 + 7200000, [(0, "__name__", "m1")]), (0, 1, [(0, "__name__", "m1")])]
        st, b, h = read(s, queries, [0])
        check(st == 200, "SAMPLES: %s" % st)
        want = parse_read_response(snappy_decode(b))
        st, b, h = read(s, queries, [1, 0])
        check(st == 200 and h.get("content-type") ==
              "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse", "streamed: %s %r" % (st, h))
        got, frames, maxn = parse_stream(b, len(queries))
        print("streamed: %d bytes, %d frames, largest chunk %d samples" % (len(b), frames, maxn), flush=True)
        check(maxn == 120, "chunks of at most 120 samples: %d" % maxn)
        check(len(got[1][(("__name__", "big"), ("job", "b"))]) == 200000, "big series whole")
        check(frames > 40 + 1, "the big series spans frames")
        for qi in range(len(queries)):
            check(got[qi] == want[qi], "query %d: streamed == SAMPLES (%d vs %d series)" %
                  (qi, len(got[qi]), len(want[qi])))
        check(sum(len(x) for x in got[0].values()) > 0 and got[3] == {}, "ranges")
        # ReadHints narrow the range
        hints = [(T0 + 3600000, T0 + 7200000)]
        st, b, _ = read(s, queries[:1], [1], hints)
        hg, _, _ = parse_stream(b, 1)
        st, b, _ = read(s, [(T0 + 3600000, T0 + 7200000, queries[0][2])], [0])
        check(hg[0] == parse_read_response(snappy_decode(b))[0], "hints narrow as the range does")
        # only unknown response types: 400
        st, b, _ = read(s, queries[:1], [7])
        check(st == 400, "unknown response type: %s" % st)
        st, b, _ = read(s, [(T0, end, [(2, "job", "(bad")])], [1])
        check(st == 400, "bad regex, streamed: %s" % st)
        # a client that goes away after a few bytes
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", s.port))
            body = snappy_literal(field_bytes(1, field_varint(1, T0) + field_varint(2, end) +
                                              field_bytes(3, field_varint(1, 0) + field_bytes(2, b"__name__") +
                                                          field_bytes(3, b"big"))) + field_varint(2, 1))
            hdr = ("POST /api/v1/read HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                   "Content-Encoding: snappy\r\nContent-Length: %d\r\n\r\n" % len(body)).encode()
            c.sendall(hdr + body)
            c.recv(1000)
            c.close()
        st, b, _ = read(s, queries, [1])
        got2, _, _ = parse_stream(b, len(queries))
        check(st == 200 and got2 == got, "server answers whole after clients hung up")
    finally:
        rc = s.stop()
        check(rc == 0, "clean stop: %s" % rc)
        shutil.rmtree(d, ignore_errors=True)
    external_labels()
    if FAILS:
        print("%d failures" % len(FAILS))
        sys.exit(1)
    print("ok")


main()
