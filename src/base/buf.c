/* buf.c: growable byte buffers and varints. */
#include "base.h"

int base_buf_reserve(bbuf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return STRATA_OK;
    size_t need = b->len + extra;
    if (need < b->len)
        return STRATA_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = base_realloc(b->data, cap);
    if (!p)
        return STRATA_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return STRATA_OK;
}

int base_buf_append(bbuf *b, const void *p, size_t n)
{
    int rc = base_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return STRATA_OK;
}

int base_buf_put_u8(bbuf *b, uint8_t v) { return base_buf_append(b, &v, 1); }

int base_buf_put_u32le(bbuf *b, uint32_t v)
{
    uint8_t t[4];
    store_u32le(t, v);
    return base_buf_append(b, t, 4);
}

int base_buf_put_u64le(bbuf *b, uint64_t v)
{
    uint8_t t[8];
    store_u64le(t, v);
    return base_buf_append(b, t, 8);
}

int base_buf_put_uvarint(bbuf *b, uint64_t v)
{
    uint8_t t[10];
    return base_buf_append(b, t, base_uvarint_put(t, v));
}

int base_buf_put_svarint(bbuf *b, int64_t v) { return base_buf_put_uvarint(b, zigzag_enc(v)); }

void base_buf_reset(bbuf *b) { b->len = 0; }

void base_buf_free(bbuf *b)
{
    base_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t base_uvarint_put(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

size_t base_uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 10; i++) {
        if (p + i >= end)
            return 0;
        uint8_t c = p[i];
        if (i == 9 && c > 1)
            return 0; /* would overflow 64 bits */
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

size_t base_svarint_get(const uint8_t *p, const uint8_t *end, int64_t *v)
{
    uint64_t u;
    size_t n = base_uvarint_get(p, end, &u);
    if (n)
        *v = zigzag_dec(u);
    return n;
}
