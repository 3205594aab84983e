/* sbuf.c: the server's growable byte buffer (sbuf.h). */
#include "sbuf.h"

#include <stdlib.h>
#include <string.h>

#include "strata.h"

int sbuf_reserve(sbuf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return STRATA_OK;
    if (extra > SIZE_MAX / 2 - b->len)
        return STRATA_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return STRATA_ERR_NOMEM;
    b->data = d;
    b->cap = cap;
    return STRATA_OK;
}

int sbuf_append(sbuf *b, const void *p, size_t n)
{
    if (!n)
        return STRATA_OK;
    int rc = sbuf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return STRATA_OK;
}

size_t sbuf_uvarint(uint8_t out[10], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int sbuf_append_uvarint(sbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    return sbuf_append(b, tmp, sbuf_uvarint(tmp, v));
}

void sbuf_free(sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
