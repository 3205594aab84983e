/*
 * val.c: the value codec registry and the per-block choice: every codec
 * that applies is tried and the smallest encoding wins (ties go to the
 * earlier id in try order, which decodes fastest). Also CODEC_VAL_CONST.
 *
 * CODEC_VAL_CONST byte format: the 8-byte little-endian bit pattern shared
 * by every value of the block (any pattern: NaN payloads, -0.0, ...).
 */
#include "codec_int.h"

/* The hot loops here are written to be vectorised; -O2 alone (GCC 12) does
 * not vectorise loops with a run-time trip count. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

int codec_const_encode(const double *v, size_t n, bbuf *out)
{
    if (n == 0)
        return STRATA_OK;
    uint64_t u = dbl_bits(v[0]);
    /* branch-free within runs of 32 (vectorises), a test after each */
    for (size_t i = 0; i < n; i += 32) {
        uint64_t diff = 0;
        size_t end = MIN(n, i + 32);
        for (size_t j = i; j < end; j++)
            diff |= dbl_bits(v[j]) ^ u;
        if (diff)
            return STRATA_ERR_INVALID;
    }
    return base_buf_put_u64le(out, u);
}

int codec_const_decode(const uint8_t *src, size_t len, size_t n, double *v)
{
    if (n == 0)
        return len ? STRATA_ERR_CORRUPT : STRATA_OK;
    if (len != 8)
        return STRATA_ERR_CORRUPT;
    codec_fill_dbl(v, n, bits_dbl(load_u64le(src)));
    return STRATA_OK;
}

typedef struct vcodec {
    uint8_t id;
    const char *name;
    int (*enc)(const double *, size_t, bbuf *);
    int (*dec)(const uint8_t *, size_t, size_t, double *);
    size_t (*size)(const double *, size_t, size_t); /* exact size below a limit, when cheaper than encoding */
} vcodec;

/* Try order for codec_val_encode. */
static const vcodec codecs[] = {
    {CODEC_VAL_CONST, "const", codec_const_encode, codec_const_decode, NULL},
    {CODEC_VAL_DEC, "dec", codec_dec_encode, codec_dec_decode, NULL},
    {CODEC_VAL_FLT, "flt", codec_flt_encode, codec_flt_decode, codec_flt_size},
    {CODEC_VAL_XOR, "xor", codec_xor_encode, codec_xor_decode, codec_xor_size},
};

static const vcodec *find(uint8_t id)
{
    for (size_t i = 0; i < ARRAY_LEN(codecs); i++)
        if (codecs[i].id == id)
            return &codecs[i];
    return NULL;
}

const char *codec_val_name(uint8_t id)
{
    const vcodec *c = find(id);
    return c ? c->name : NULL;
}

size_t codec_val_ids(uint8_t *ids, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < ARRAY_LEN(codecs); i++)
        if (k < cap)
            ids[k++] = codecs[i].id;
    return ARRAY_LEN(codecs);
}

int codec_val_encode_as(uint8_t id, const double *v, size_t n, bbuf *out)
{
    const vcodec *c = find(id);
    if (!c)
        return STRATA_ERR_INVALID;
    size_t start = out->len;
    int rc = c->enc(v, n, out);
    if (rc)
        out->len = start;
    return rc;
}

int codec_val_decode(uint8_t id, const uint8_t *src, size_t len, size_t n, double *v)
{
    const vcodec *c = find(id);
    if (!c)
        return STRATA_ERR_CORRUPT;
    return c->dec(src, len, n, v);
}

int codec_val_encode(const double *v, size_t n, bbuf *out, uint8_t *id)
{
    size_t start = out->len, best = SIZE_MAX;
    uint8_t best_id = 0;
    /* Candidates are written one after another past out->len; the best so
     * far is kept at start and a smaller newcomer moved over it. */
    for (size_t i = 0; i < ARRAY_LEN(codecs); i++) {
        const vcodec *c = &codecs[i];
        /* FLT and XOR spend at least 1 bit per value after the first 64
         * bits: skip them when the best already beats that bound. */
        if ((c->id == CODEC_VAL_XOR || c->id == CODEC_VAL_FLT) && best != SIZE_MAX && n && best <= 8 + (n - 1) / 8)
            continue;
        if (c->size && best != SIZE_MAX && c->size(v, n, best) >= best)
            continue; /* measured, not smaller: no need to write it */
        size_t at = best == SIZE_MAX ? start : start + best;
        out->len = at;
        int rc = c->enc(v, n, out);
        if (rc == STRATA_ERR_INVALID)
            continue;
        if (rc) {
            out->len = start;
            return rc;
        }
        size_t sz = out->len - at;
        if (sz < best) {
            if (at != start)
                memmove(out->data + start, out->data + at, sz);
            best = sz;
            best_id = c->id;
        }
    }
    if (!best_id) {
        out->len = start;
        return STRATA_ERR_INVALID; /* cannot happen: XOR always applies */
    }
    out->len = start + best;
    *id = best_id;
    return STRATA_OK;
}
