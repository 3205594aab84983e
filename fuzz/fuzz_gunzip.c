/*
 * fuzz_gunzip.c: the gzip / deflate body decoder of the server
 * (server/gunzip.c: every member of a multi-member gzip body, trailing
 * data refused, output bounded), the code /write, /api/v1/import and the
 * form endpoints run on untrusted bodies, without HTTP.
 *
 * Input: byte 0 picks the mode, byte 1 the limit, the rest is the payload:
 *   mode & 3 == 0  the payload is the body as sent, read as gzip
 *   mode & 3 == 1  the same, read as deflate
 *   mode & 3 >= 2  the payload is split into 1-4 pieces (sizes from the
 *                  payload's first bytes), each compressed here as one gzip
 *                  member, and the members concatenated; mode 3 appends the
 *                  rest of byte 0's bits as trailing garbage. The oracle:
 *                  the pieces come back whole and in order, or the limit is
 *                  reported exactly when they exceed it, and garbage after
 *                  the members is always refused.
 * Always: the output never exceeds the limit, an error has a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../server/gunzip.h"
#include "strata.h"

static void gz_append(sbuf *out, const uint8_t *p, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, (uLong)n);
    if (sbuf_reserve(out, cap))
        abort();
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    out->len += cap - z.avail_out;
    deflateEnd(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0];
    size_t max = data[1] & 0x80 ? (size_t)(data[1] & 0x7f) * 64 : (size_t)1 << 20;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    sbuf out = {0};
    const char *why = NULL;
    if ((mode & 3) < 2) {
        int rc = srv_gunzip(p, n, (mode & 3) == 0, max, &out, &why);
        if (rc == STRATA_OK ? out.len > max : rc != STRATA_ERR_LIMIT && rc != STRATA_ERR_INVALID && rc != STRATA_ERR_NOMEM)
            abort();
        if (rc != STRATA_OK && !why)
            abort();
        sbuf_free(&out);
        return 0;
    }
    /* compose members from pieces of the payload */
    sbuf body = {0};
    size_t pieces = 1 + (n ? p[0] % 4 : 0), at = 0;
    for (size_t i = 0; i < pieces; i++) {
        size_t len = i + 1 == pieces ? n - at : (n - at) / (pieces - i) / 2 + (n > at ? p[at] % 8 : 0);
        if (len > n - at)
            len = n - at;
        gz_append(&body, p + at, len);
        at += len;
    }
    int garbage = (mode & 3) == 3;
    if (garbage) {
        uint8_t g[2] = {(uint8_t)(mode >> 2), (uint8_t)(mode >> 2) ^ 0x5a};
        if (g[0] == 0x1f)
            g[0] = 0; /* not a further member's magic */
        if (sbuf_append(&body, g, 2))
            abort();
    }
    int rc = srv_gunzip(body.data, body.len, 1, max, &out, &why);
    if (garbage) {
        /* over the limit may be seen first; otherwise the garbage is refused */
        if (rc == STRATA_OK || (rc == STRATA_ERR_LIMIT && n <= max))
            abort();
    } else if (n > max) {
        if (rc != STRATA_ERR_LIMIT)
            abort();
    } else if (rc != STRATA_OK || out.len != n || (n && memcmp(out.data, p, n))) {
        abort();
    }
    sbuf_free(&out);
    sbuf_free(&body);
    return 0;
}

/* Seeds: two members and a piece of garbage, composed here (mode 2, 3),
 * and a two-member body as sent (mode 0). */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    static const char text[] = "cpu,host=a usage=1.5 1700000000\ncpu,host=b usage=3 1700000000\n";
    size_t n = sizeof text - 1;
    if (i >= 3 || cap < 2 + 2 * n + 64)
        return 0;
    out[1] = 0;
    if (i < 2) {
        out[0] = (uint8_t)(2 + i);
        memcpy(out + 2, text, n);
        return n + 2;
    }
    sbuf b = {0};
    gz_append(&b, (const uint8_t *)text, n / 2);
    gz_append(&b, (const uint8_t *)text + n / 2, n - n / 2);
    size_t len = b.len + 2 <= cap ? b.len : 0;
    out[0] = 0;
    if (len)
        memcpy(out + 2, b.data, len);
    sbuf_free(&b);
    return len ? len + 2 : 0;
}
