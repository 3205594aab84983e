/*
 * gunzip.c: gzip / deflate bodies (gunzip.h) on zlib's inflate.
 *
 * A gzip body may hold several members back to back (`cat a.gz b.gz`, and
 * clients that compress in pieces); RFC 1952 says a reader takes them all,
 * as gzip(1) and Go's gzip.Reader do. After each Z_STREAM_END, input left
 * over must start with the gzip magic 1f 8b: the stream is reset and the
 * next member inflated; anything else is refused ("trailing data"), as Go
 * refuses it, rather than ignored: a body with garbage after it was not
 * made by a gzip writer, and what the garbage meant is unknown.
 *
 * The output buffer grows by doubling but never past max + 1 bytes, and
 * inflate is never given more room than that: a bomb (a few KiB that
 * inflate to gigabytes) costs at most max + 1 bytes and the time to
 * inflate them before it is refused. Input is fed in pieces of at most
 * UINT_MAX bytes (zlib's avail_in is 32 bits; --max-body allows 4 GiB).
 */
#include "gunzip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "strata.h"

/* Makes room for at least one more byte, the buffer never beyond limit. */
static int grow(sbuf *out, size_t limit, size_t hint)
{
    size_t cap = out->cap ? out->cap * 2 : hint;
    if (cap < 65536)
        cap = 65536;
    if (cap > limit || cap < out->cap)
        cap = limit;
    uint8_t *d = realloc(out->data, cap);
    if (!d)
        return STRATA_ERR_NOMEM;
    out->data = d;
    out->cap = cap;
    return STRATA_OK;
}

int srv_gunzip(const uint8_t *in, size_t len, int gzip, size_t max, sbuf *out, const char **why)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    *why = NULL;
    if (inflateInit2(&z, gzip ? 16 + MAX_WBITS : 32 + MAX_WBITS) != Z_OK) {
        *why = "out of memory";
        return STRATA_ERR_NOMEM;
    }
    const size_t limit = max < SIZE_MAX ? max + 1 : max; /* one byte over: the stream is too large */
    size_t hint = len < limit / 4 ? len * 4 : limit;
    int rc = STRATA_OK;
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const; it only reads */
    for (;;) {
        size_t used = (size_t)((const uint8_t *)z.next_in - in);
        if (z.avail_in == 0 && used < len)
            z.avail_in = (uInt)(len - used < UINT_MAX ? len - used : UINT_MAX);
        if (out->len == out->cap && (rc = grow(out, limit, hint)) != STRATA_OK) {
            *why = "out of memory";
            break;
        }
        size_t room = out->cap - out->len;
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)(room < UINT_MAX ? room : UINT_MAX);
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len = (size_t)(z.next_out - out->data);
        if (out->len > max) {
            rc = STRATA_ERR_LIMIT;
            *why = "decompressed body over the limit";
            break;
        }
        used = (size_t)((const uint8_t *)z.next_in - in);
        if (zr == Z_STREAM_END) {
            if (used == len)
                break; /* the last member ended with the body */
            if (!gzip || len - used < 2 || in[used] != 0x1f || in[used + 1] != 0x8b) {
                rc = STRATA_ERR_INVALID;
                *why = gzip ? "trailing data after gzip stream" : "trailing data after deflate stream";
                break;
            }
            if (inflateReset(&z) != Z_OK) {
                rc = STRATA_ERR_INVALID;
                *why = "cannot start the next gzip member";
                break;
            }
            continue;
        }
        if (zr == Z_OK)
            continue;
        if (zr == Z_BUF_ERROR) {
            if (z.avail_in == 0 && used == len) {
                rc = STRATA_ERR_INVALID;
                *why = "truncated stream";
                break;
            }
            continue; /* output full: grown above */
        }
        rc = zr == Z_MEM_ERROR ? STRATA_ERR_NOMEM : STRATA_ERR_INVALID;
        *why = zr == Z_MEM_ERROR ? "out of memory" : zr == Z_NEED_DICT ? "preset dictionary not supported"
               : z.msg                           ? z.msg
                                                 : "corrupt stream";
        break;
    }
    inflateEnd(&z);
    return rc;
}
