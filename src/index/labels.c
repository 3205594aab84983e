/*
 * labels.c: canonical label sets: the hash, canonicalisation (sort by
 * name, drop empty values, reject duplicate names), limits, UTF-8
 * validity, and the canonical byte encoding.
 *
 * Hash: each (name, value) pair hashes on its own (a wyhash-style
 * multiply-mix over the bytes of the name, then of the value, seeded by the
 * name's hash; one 64x64->128 multiplication per string of up to 16 bytes); the hash of a set is the wrapping sum of its pair hashes,
 * finalised by one more mix. The sum makes it independent of the order in
 * which the labels are given, so a lookup need not sort first, and lets
 * the log loader build a series hash from cached pair hashes without
 * touching a string. Collisions only cost time: every hit is confirmed by
 * comparing the labels.
 *
 * Canonical encoding (index_labels_encode), all integers LEB128 uvarints:
 *   count
 *   count times: name_len, name bytes, value_len, value bytes
 * labels sorted strictly by name (bytewise), names and values non-empty,
 * no NUL byte in either.
 */
#include <stdlib.h>

#include "index_int.h"

#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull
#define SEED 0x5eed5717a7a11d3full

static inline void mum(uint64_t *a, uint64_t *b)
{
    __extension__ unsigned __int128 r = (unsigned __int128)*a * *b;
    *a = (uint64_t)r;
    *b = (uint64_t)(r >> 64);
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    mum(&a, &b);
    return a ^ b;
}

static inline uint64_t rd8(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t rd4(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* One string: the wyhash reads (two overlapping words for up to 16 bytes,
 * a multiply-mix per 16 bytes beyond), finished by a single multiply-mix
 * (wyhash spends two more on the seed and the finish: not needed for a
 * table whose collisions only cost a comparison). */
static inline uint64_t hstr(const uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t a, b;
    if (len <= 16) {
        if (len >= 4) {
            a = (rd4(p) << 32) | rd4(p + ((len >> 3) << 2));
            b = (rd4(p + len - 4) << 32) | rd4(p + len - 4 - ((len >> 3) << 2));
        } else if (len > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        do {
            seed = mix(rd8(p) ^ P1, rd8(p + 8) ^ seed);
            p += 16;
            i -= 16;
        } while (i > 16);
        a = rd8(p + i - 16);
        b = rd8(p + i - 8);
    }
    return mix(a ^ P1 ^ len, b ^ seed ^ P0);
}

uint64_t ix_hash_bytes(const void *key, size_t len, uint64_t seed) { return hstr(key, len, seed ^ SEED); }

uint64_t ix_mix(uint64_t h) { return mix(h ^ P2, P0); }

uint64_t ix_pair_hash(const char *name, size_t nlen, const char *value, size_t vlen)
{
    return hstr((const uint8_t *)value, vlen, hstr((const uint8_t *)name, nlen, SEED) ^ P2);
}

uint64_t index_labels_hash(const strata_label *labels, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = labels[i].value;
        if (!v || !*v || !labels[i].name)
            continue;
        sum += ix_pair_hash(labels[i].name, strlen(labels[i].name), v, strlen(v));
    }
    return ix_mix(sum);
}

uint64_t ix_labels_hash_lens(const strata_label *labels, size_t n, uint32_t *lens)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = labels[i].value, *nm = labels[i].name;
        if (!v || !nm) {
            lens[2 * i] = lens[2 * i + 1] = IX_LEN_NONE;
            continue;
        }
        size_t nl = strlen(nm), vl = *v ? strlen(v) : 0;
        lens[2 * i] = nl <= INDEX_HARD_MAX_STR ? (uint32_t)nl : IX_LEN_NONE;
        lens[2 * i + 1] = vl <= INDEX_HARD_MAX_STR ? (uint32_t)vl : IX_LEN_NONE;
        if (vl)
            sum += ix_pair_hash(nm, nl, v, vl);
    }
    return ix_mix(sum);
}

static int cmp_label_ptr(const void *a, const void *b)
{
    const strata_label *x = *(const strata_label *const *)a, *y = *(const strata_label *const *)b;
    return strcmp(x->name, y->name);
}

int ix_canon(const strata_label *in, size_t n, const strata_label **out, size_t cap, size_t *nout)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].name || !in[i].value || !in[i].name[0])
            return STRATA_ERR_INVALID;
        if (!in[i].value[0])
            continue;
        if (k == cap)
            return STRATA_ERR_LIMIT;
        out[k++] = &in[i];
    }
    if (k > 16) {
        qsort(out, k, sizeof *out, cmp_label_ptr);
    } else {
        for (size_t i = 1; i < k; i++) { /* insertion sort: few labels, often sorted already */
            const strata_label *x = out[i];
            size_t j = i;
            while (j > 0 && strcmp(out[j - 1]->name, x->name) > 0) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = x;
        }
    }
    for (size_t i = 1; i < k; i++)
        if (strcmp(out[i - 1]->name, out[i]->name) == 0)
            return STRATA_ERR_INVALID;
    *nout = k;
    return STRATA_OK;
}

int ix_check_limits(const strata_label *const *c, size_t n, const index_limits *lim)
{
    if (n > lim->max_labels || n > INDEX_HARD_MAX_LABELS)
        return STRATA_ERR_LIMIT;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(c[i]->name), vl = strlen(c[i]->value);
        if (nl > lim->max_name_len || vl > lim->max_value_len || nl > INDEX_HARD_MAX_STR ||
            vl > INDEX_HARD_MAX_STR)
            return STRATA_ERR_LIMIT;
    }
    return STRATA_OK;
}

void index_limits_init(index_limits *lim)
{
    lim->max_labels = 256;
    lim->max_name_len = 1024;
    lim->max_value_len = 65536;
}

/* Valid UTF-8 as Go's utf8.Valid defines it: shortest forms, no
 * surrogates, at most U+10FFFF. */
int ix_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

int index_labels_encode(const strata_label *labels, size_t n, const index_limits *lim, bbuf *out)
{
    const strata_label *stackv[64], **c = stackv;
    size_t k = 0, need = 10;
    int rc;
    if (n > ARRAY_LEN(stackv) && !(c = base_malloc(n * sizeof *c)))
        return STRATA_ERR_NOMEM;
    if ((rc = ix_canon(labels, n, c, n, &k)) != 0 || (rc = ix_check_limits(c, k, lim)) != 0)
        goto out;
    for (size_t i = 0; i < k; i++)
        need += 20 + strlen(c[i]->name) + strlen(c[i]->value);
    if ((rc = base_buf_reserve(out, need)) != 0)
        goto out;
    /* Cannot fail now that the space is reserved. */
    base_buf_put_uvarint(out, k);
    for (size_t i = 0; i < k; i++) {
        size_t nl = strlen(c[i]->name), vl = strlen(c[i]->value);
        base_buf_put_uvarint(out, nl);
        base_buf_append(out, c[i]->name, nl);
        base_buf_put_uvarint(out, vl);
        base_buf_append(out, c[i]->value, vl);
    }
out:
    if (c != stackv)
        base_free(c);
    return rc;
}

/* Reads one length-prefixed string of [1, INDEX_HARD_MAX_STR] bytes without
 * NUL; returns bytes consumed or 0 when invalid. */
static size_t get_str(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *len)
{
    uint64_t l;
    size_t k = base_uvarint_get(p, end, &l);
    if (!k || l == 0 || l > INDEX_HARD_MAX_STR || l > (uint64_t)(end - p - (ptrdiff_t)k))
        return 0;
    if (memchr(p + k, 0, (size_t)l))
        return 0;
    *s = p + k;
    *len = (size_t)l;
    return k + (size_t)l;
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, MIN(al, bl));
    return c ? c : (al > bl) - (al < bl);
}

int index_labels_decode(const uint8_t *p, size_t len, strata_label **labels, size_t *nout)
{
    const uint8_t *end = p + len, *q;
    uint64_t n;
    size_t k = base_uvarint_get(p, end, &n);
    if (!k || n > INDEX_HARD_MAX_LABELS || n > len)
        return STRATA_ERR_CORRUPT;
    /* First pass: validate and size. */
    size_t strbytes = 0;
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    q = p + k;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *nm, *v;
        size_t nl, vl, a, b;
        if (!(a = get_str(q, end, &nm, &nl)) || !(b = get_str(q + a, end, &v, &vl)))
            return STRATA_ERR_CORRUPT;
        if (prev && bytes_cmp(prev, prevlen, nm, nl) >= 0)
            return STRATA_ERR_CORRUPT;
        prev = nm, prevlen = nl;
        strbytes += nl + vl + 2;
        q += a + b;
    }
    if (q != end)
        return STRATA_ERR_CORRUPT;
    strata_label *l = base_malloc((size_t)n * sizeof *l + strbytes);
    if (!l)
        return STRATA_ERR_NOMEM;
    char *s = (char *)(l + n);
    q = p + k;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *nm, *v;
        size_t nl, vl, a = get_str(q, end, &nm, &nl), b = get_str(q + a, end, &v, &vl);
        memcpy(s, nm, nl);
        s[nl] = 0;
        l[i].name = s;
        s += nl + 1;
        memcpy(s, v, vl);
        s[vl] = 0;
        l[i].value = s;
        s += vl + 1;
        q += a + b;
    }
    *labels = l;
    *nout = (size_t)n;
    return STRATA_OK;
}

int index_utf8_valid(const char *s, size_t n) { return ix_utf8_valid((const uint8_t *)s, n); }
