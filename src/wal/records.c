/*
 * records.c: payloads of the engine's WAL records (the type byte in front
 * of them is the framing's business, see writer.c). Decoders take bytes
 * from disk: every read is bounds-checked and every inconsistency is
 * STRATA_ERR_CORRUPT.
 *
 * Notation: uv = unsigned LEB128 varint; sv = zig-zag varint of a signed
 * value (differences are taken modulo 2^64, so any int64/uint64 values
 * round-trip).
 *
 * SERIES (WAL_REC_SERIES), one or more entries:
 *   u8 version = 1
 *   u32le n_entries (patched as entries are added)
 *   n_entries x, then the end of the payload:
 *     uv sid
 *     uv n_labels
 *     n_labels x (uv name_len, name bytes, uv value_len, value bytes)
 *   Strings contain no NUL byte.
 *
 * SAMPLES (WAL_REC_SAMPLES), a batch in input order:
 *   u8 version = 1
 *   uv n
 *   n x:
 *     sv sid - previous sid       (previous starts at 0)
 *     sv (t_ms - previous t_ms) - previous delta   (delta of delta;
 *                                  previous t_ms and delta start at 0)
 *     u8 ctrl, then 8 - lz - tz bytes
 *       x = bits(value) XOR bits(previous value of the batch) (previous starts at 0)
 *       ctrl = lz << 4 | tz: lz leading and tz trailing zero BYTES of x;
 *       the middle bytes follow little-endian. x == 0 is ctrl 0x80 and no
 *       bytes. Canonical: otherwise lz + tz < 8 and the first and last
 *       middle bytes are non-zero.
 *   Why this encoding: batches come either as one series' run (the previous
 *   value is the same series') or as one tick across many series (the
 *   previous value is a neighbour of similar magnitude); in both the XOR has
 *   zero high bytes (sign, exponent) and integral or few-digit values have
 *   zero low bytes. It is byte-aligned, so decoding is a few shifts per
 *   sample, not a bit stream; the head recompresses with Gorilla anyway.
 *
 * DELETE (WAL_REC_DELETE):
 *   u8 version = 1
 *   sv mint_ms, uv maxt_ms - mint_ms (no wrap past INT64_MAX)
 *   uv n
 *   n x uv: the first sid, then each sid - previous sid - 1 (ascending, unique)
 */
#include "wal_int.h"

#define REC_VERSION 1

/* Inline varint reads for the hot decode loop; the same rules as
 * uvarint_get in base (at most 10 bytes, no overflow of 64 bits). */
static inline size_t get_uv(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (LIKELY(p < end && p[0] < 0x80)) {
        *v = p[0];
        return 1;
    }
    return base_uvarint_get(p, end, v);
}

/* Unchecked varint read for the fast loop: the caller guarantees 10
 * readable bytes. Accepts exactly what uvarint_get accepts; NULL if not. */
static inline const uint8_t *uv_fast(const uint8_t *p, uint64_t *v)
{
    uint64_t c = p[0];
    if (LIKELY(c < 0x80)) {
        *v = c;
        return p + 1;
    }
    uint64_t x = c & 0x7f;
    for (unsigned i = 1; i < 10; i++) {
        c = p[i];
        if (i == 9 && c > 1)
            return NULL;
        x |= (c & 0x7f) << (7 * i);
        if (c < 0x80) {
            *v = x;
            return p + i + 1;
        }
    }
    return NULL;
}

static inline uint8_t *uv_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Longest encoded sample: two 10-byte varints, ctrl, 8 value bytes. */
#define SAMPLE_MAX 29

/* ------------------------------------------------------------ series */

int wal_series_begin(bbuf *out)
{
    if (!out || out->len != 0)
        return STRATA_ERR_INVALID;
    int rc = base_buf_reserve(out, 5);
    if (rc)
        return rc;
    out->data[0] = REC_VERSION;
    store_u32le(out->data + 1, 0);
    out->len = 5;
    return STRATA_OK;
}

int wal_series_add(bbuf *out, strata_sid sid, const strata_label *labels, size_t n_labels)
{
    if (!out || (!labels && n_labels) || out->len < 5 || out->data[0] != REC_VERSION)
        return STRATA_ERR_INVALID;
    uint32_t count = load_u32le(out->data + 1);
    if (count == UINT32_MAX)
        return STRATA_ERR_LIMIT;
    size_t need = 20;
    for (size_t i = 0; i < n_labels; i++) {
        if (!labels[i].name || !labels[i].value)
            return STRATA_ERR_INVALID;
        need += strlen(labels[i].name) + strlen(labels[i].value) + 20;
    }
    int rc = base_buf_reserve(out, need);
    if (rc)
        return rc;
    size_t len0 = out->len;
    if ((rc = base_buf_put_uvarint(out, sid)) || (rc = base_buf_put_uvarint(out, n_labels)))
        goto fail;
    for (size_t i = 0; i < n_labels; i++) {
        size_t a = strlen(labels[i].name), b = strlen(labels[i].value);
        if ((rc = base_buf_put_uvarint(out, a)) || (rc = base_buf_append(out, labels[i].name, a)) ||
            (rc = base_buf_put_uvarint(out, b)) || (rc = base_buf_append(out, labels[i].value, b)))
            goto fail;
    }
    store_u32le(out->data + 1, count + 1);
    return STRATA_OK;
fail:
    out->len = len0;
    return rc;
}

int wal_series_iter_init(wal_series_iter *it, const uint8_t *p, size_t len)
{
    memset(it, 0, sizeof *it);
    if (!p || len < 5 || p[0] != REC_VERSION)
        return STRATA_ERR_CORRUPT;
    it->left = load_u32le(p + 1);
    it->p = p + 5;
    it->end = p + len;
    /* Each entry takes at least two bytes. */
    if (it->left > (size_t)(it->end - it->p) / 2)
        return STRATA_ERR_CORRUPT;
    return STRATA_OK;
}

void wal_series_iter_free(wal_series_iter *it)
{
    if (!it)
        return;
    base_free(it->labels);
    base_free(it->arena);
    memset(it, 0, sizeof *it);
}

/* Reads a length-prefixed string at *pp; checks bounds and NUL bytes. */
static int get_str(const uint8_t **pp, const uint8_t *end, const uint8_t **s, size_t *n)
{
    uint64_t len;
    size_t k = get_uv(*pp, end, &len);
    if (!k || len > (uint64_t)(end - *pp - (ptrdiff_t)k))
        return STRATA_ERR_CORRUPT;
    *s = *pp + k;
    *n = (size_t)len;
    if (memchr(*s, 0, *n))
        return STRATA_ERR_CORRUPT;
    *pp = *s + *n;
    return STRATA_OK;
}

int wal_series_iter_next(wal_series_iter *it, strata_sid *sid, const strata_label **labels, size_t *n_labels)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : STRATA_ERR_CORRUPT;
    const uint8_t *p = it->p, *end = it->end;
    uint64_t id, n;
    size_t k;
    if (!(k = get_uv(p, end, &id)))
        return STRATA_ERR_CORRUPT;
    p += k;
    if (!(k = get_uv(p, end, &n)))
        return STRATA_ERR_CORRUPT;
    p += k;
    /* Each label takes at least two bytes: bounds n before allocating. */
    if (n > (uint64_t)(end - p) / 2)
        return STRATA_ERR_CORRUPT;
    /* First pass: validate and size the arena. */
    const uint8_t *q = p;
    size_t arena = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *s;
        size_t len;
        for (int j = 0; j < 2; j++) {
            if (get_str(&q, end, &s, &len))
                return STRATA_ERR_CORRUPT;
            arena += len + 1;
        }
    }
    if (n > it->labels_cap) {
        strata_label *l = base_realloc(it->labels, (size_t)n * sizeof *l);
        if (!l)
            return STRATA_ERR_NOMEM;
        it->labels = l;
        it->labels_cap = (size_t)n;
    }
    if (arena > it->arena_cap) {
        char *a = base_realloc(it->arena, arena);
        if (!a)
            return STRATA_ERR_NOMEM;
        it->arena = a;
        it->arena_cap = arena;
    }
    /* Second pass: copy, NUL-terminated. */
    char *a = it->arena;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *s;
        size_t len;
        (void)get_str(&p, end, &s, &len);
        memcpy(a, s, len);
        a[len] = 0;
        it->labels[i].name = a;
        a += len + 1;
        (void)get_str(&p, end, &s, &len);
        memcpy(a, s, len);
        a[len] = 0;
        it->labels[i].value = a;
        a += len + 1;
    }
    it->p = p;
    it->left--;
    *sid = id;
    *labels = it->labels;
    *n_labels = (size_t)n;
    return 1;
}

/* ------------------------------------------------------------ samples */

static inline uint64_t dbl_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

int wal_samples_encode(bbuf *out, const strata_sample *s, size_t n)
{
    /* Differences are taken modulo 2^64 in unsigned arithmetic; the casts
     * to int64_t only choose the zig-zag sign. */
    if (!out || (!s && n))
        return STRATA_ERR_INVALID;
    /* Worst case per sample: 10 + 10 + 1 + 8 bytes. */
    if (n > (SIZE_MAX - 16) / SAMPLE_MAX)
        return STRATA_ERR_LIMIT;
    int rc = base_buf_reserve(out, 16 + n * SAMPLE_MAX);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    *p++ = REC_VERSION;
    p += base_uvarint_put(p, n);
    uint64_t psid = 0, pt = 0, pd = 0, pv = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)s[i].t_ms - pt;
        p = uv_put(p, zigzag_enc((int64_t)(s[i].sid - psid)));
        p = uv_put(p, zigzag_enc((int64_t)(d - pd)));
        pd = d;
        uint64_t v = dbl_bits(s[i].value), x = v ^ pv;
        psid = s[i].sid;
        pt = (uint64_t)s[i].t_ms;
        pv = v;
        if (x == 0) {
            *p++ = 0x80;
            continue;
        }
        unsigned lz = (unsigned)__builtin_clzll(x) / 8, tz = (unsigned)__builtin_ctzll(x) / 8;
        unsigned m = 8 - lz - tz;
        *p++ = (uint8_t)(lz << 4 | tz);
        /* Writes 8 bytes, keeps m: the reserve above covers the overrun. */
        store_u64le(p, x >> (8 * tz));
        p += m;
    }
    out->len = (size_t)(p - out->data);
    return STRATA_OK;
}

int wal_samples_decode(const uint8_t *p, size_t len, strata_sample **buf, size_t *cap, size_t *n_out)
{
    if (!p || !buf || !cap || !n_out)
        return STRATA_ERR_INVALID;
    const uint8_t *end = p + len;
    if (len < 1 || p[0] != REC_VERSION)
        return STRATA_ERR_CORRUPT;
    p++;
    uint64_t n;
    size_t k = get_uv(p, end, &n);
    if (!k)
        return STRATA_ERR_CORRUPT;
    p += k;
    /* Each sample takes at least 3 bytes: bounds n before allocating. */
    if (n > (uint64_t)(end - p) / 3)
        return STRATA_ERR_CORRUPT;
    if (n > *cap) {
        strata_sample *b = base_realloc(*buf, (size_t)n * sizeof *b);
        if (!b)
            return STRATA_ERR_NOMEM;
        *buf = b;
        *cap = (size_t)n;
    }
    strata_sample *out = *buf;
    uint64_t psid = 0, pt = 0, pd = 0, pv = 0;
    uint64_t i = 0;
    /* Fast loop while a whole worst-case sample is readable: no bounds
     * checks per byte. The same rules as the checked loop below. */
    while (i < n && end - p >= SAMPLE_MAX) {
        uint64_t a, b, x;
        const uint8_t *q = uv_fast(p, &a);
        if (!q || !(q = uv_fast(q, &b)))
            return STRATA_ERR_CORRUPT;
        unsigned ctrl = *q++;
        if (ctrl == 0x80) {
            x = 0;
        } else {
            unsigned lz = ctrl >> 4, tz = ctrl & 15;
            if (lz + tz >= 8)
                return STRATA_ERR_CORRUPT;
            unsigned m = 8 - lz - tz;
            if (q[0] == 0 || q[m - 1] == 0)
                return STRATA_ERR_CORRUPT;
            x = load_u64le(q);
            if (m < 8)
                x &= (1ull << (8 * m)) - 1;
            x <<= 8 * tz;
            q += m;
        }
        p = q;
        psid += (uint64_t)zigzag_dec(a);
        pd += (uint64_t)zigzag_dec(b);
        pt += pd;
        pv ^= x;
        out[i].sid = psid;
        out[i].t_ms = (int64_t)pt;
        memcpy(&out[i].value, &pv, 8);
        i++;
    }
    for (; i < n; i++) {
        uint64_t a, b;
        if (!(k = get_uv(p, end, &a)))
            return STRATA_ERR_CORRUPT;
        p += k;
        if (!(k = get_uv(p, end, &b)))
            return STRATA_ERR_CORRUPT;
        p += k;
        if (p >= end)
            return STRATA_ERR_CORRUPT;
        unsigned ctrl = *p++;
        uint64_t x;
        if (ctrl == 0x80) {
            x = 0;
        } else {
            unsigned lz = ctrl >> 4, tz = ctrl & 15;
            if (lz + tz >= 8)
                return STRATA_ERR_CORRUPT;
            unsigned m = 8 - lz - tz;
            if ((size_t)(end - p) < m || p[0] == 0 || p[m - 1] == 0)
                return STRATA_ERR_CORRUPT;
            uint8_t tmp[8] = {0};
            memcpy(tmp, p, m);
            p += m;
            x = load_u64le(tmp) << (8 * tz);
        }
        psid += (uint64_t)zigzag_dec(a);
        pd += (uint64_t)zigzag_dec(b);
        pt += pd;
        pv ^= x;
        out[i].sid = psid;
        out[i].t_ms = (int64_t)pt;
        memcpy(&out[i].value, &pv, 8);
    }
    if (p != end)
        return STRATA_ERR_CORRUPT;
    *n_out = (size_t)n;
    return STRATA_OK;
}

/* ------------------------------------------------------------ delete */

int wal_delete_encode(bbuf *out, const strata_sid *sids, size_t n, int64_t mint_ms, int64_t maxt_ms)
{
    if (!out || (!sids && n) || mint_ms > maxt_ms)
        return STRATA_ERR_INVALID;
    for (size_t i = 1; i < n; i++)
        if (sids[i] <= sids[i - 1])
            return STRATA_ERR_INVALID;
    if (n > (SIZE_MAX - 32) / 10)
        return STRATA_ERR_LIMIT;
    int rc = base_buf_reserve(out, 32 + n * 10);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    *p++ = REC_VERSION;
    p += base_uvarint_put(p, zigzag_enc(mint_ms));
    p += base_uvarint_put(p, (uint64_t)maxt_ms - (uint64_t)mint_ms);
    p += base_uvarint_put(p, n);
    for (size_t i = 0; i < n; i++)
        p += base_uvarint_put(p, i ? sids[i] - sids[i - 1] - 1 : sids[0]);
    out->len = (size_t)(p - out->data);
    return STRATA_OK;
}

int wal_delete_decode(const uint8_t *p, size_t len, strata_sid **sids, size_t *cap, size_t *n_out, int64_t *mint_ms,
                      int64_t *maxt_ms)
{
    if (!p || !sids || !cap || !n_out || !mint_ms || !maxt_ms)
        return STRATA_ERR_INVALID;
    const uint8_t *end = p + len;
    if (len < 1 || p[0] != REC_VERSION)
        return STRATA_ERR_CORRUPT;
    p++;
    uint64_t a, b, n;
    size_t k;
    if (!(k = get_uv(p, end, &a)))
        return STRATA_ERR_CORRUPT;
    p += k;
    if (!(k = get_uv(p, end, &b)))
        return STRATA_ERR_CORRUPT;
    p += k;
    int64_t mint = zigzag_dec(a);
    /* INT64_MAX - mint, exact in 64-bit unsigned arithmetic. */
    if (b > (uint64_t)INT64_MAX - (uint64_t)mint)
        return STRATA_ERR_CORRUPT;
    uint64_t maxt_u = (uint64_t)mint + b;
    if (!(k = get_uv(p, end, &n)))
        return STRATA_ERR_CORRUPT;
    p += k;
    if (n > (uint64_t)(end - p))
        return STRATA_ERR_CORRUPT;
    if (n > *cap) {
        strata_sid *s = base_realloc(*sids, (size_t)n * sizeof *s);
        if (!s)
            return STRATA_ERR_NOMEM;
        *sids = s;
        *cap = (size_t)n;
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t d;
        if (!(k = get_uv(p, end, &d)))
            return STRATA_ERR_CORRUPT;
        p += k;
        uint64_t s;
        if (i == 0) {
            s = d;
        } else {
            if (d >= UINT64_MAX - prev) /* prev + d + 1 would wrap */
                return STRATA_ERR_CORRUPT;
            s = prev + d + 1;
        }
        (*sids)[i] = s;
        prev = s;
    }
    if (p != end)
        return STRATA_ERR_CORRUPT;
    *n_out = (size_t)n;
    *mint_ms = mint;
    *maxt_ms = (int64_t)maxt_u;
    return STRATA_OK;
}
