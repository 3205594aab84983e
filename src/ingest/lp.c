/*
 * lp.c: the Influx line protocol parser, one line at a time (the syntax and
 * what is rejected are in ingest.h).
 *
 * This is the ingest hot path. Two parsers share the work:
 *
 *  - the fast path takes the lines that need no unescaping and carry no
 *    string field, i.e. hold no backslash and no double quote (nearly every
 *    line), and are valid. It first finds the structural bytes of the line
 *    (',' ' ' '=' '\\' '"'), 64 bytes at a time, as a bit mask (SSE2, or
 *    AVX2 when the CPU has it, or portable SWAR; all three give the same
 *    mask), then walks the mask: every token is a slice of the caller's
 *    line, nothing is copied. Floats of at most 19 digits without an
 *    exponent, and timestamps, are read 8 digits at a time.
 *  - the reference path (ref_parse) takes everything the fast path
 *    declines: escapes, string fields, and every line it finds wrong, so
 *    reasons come from one place only. Names that hold an escape are
 *    unescaped into the parser's scratch buffer, which is grown to the
 *    line's length before the first unescaped string of a line is written,
 *    so pointers handed out for the line stay valid (an unescaped string is
 *    never longer than its escaped form).
 *
 * The fast path accepts exactly the lines the reference path accepts among
 * those it takes, with the same output; lp_parser_set_impl (ingest_int.h)
 * lets the tests and the fuzz target compare the two.
 */
#include <math.h>
#include <stdio.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define LP_X86 1
#endif

#include "ingest.h"
#include "ingest_int.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The structural bytes of 64 bytes at p: bit i set when p[i] is one of
 * , space = \ " (p[0..63] must be readable). */
typedef uint64_t (*mask_fn)(const char *p);

struct lp_parser;
/* The fast path (see fast_body), one per mask function. */
typedef int (*fast_fn)(struct lp_parser *p, const char *s, const char *end, lp_line *out);
static fast_fn impl_fn(int impl);

struct lp_parser {
    strata_precision precision;
    lp_limits lim;
    size_t lim_short;  /* min(max_name_len, max_value_len): shorter lines need no length check */
    size_t tag_room;   /* tags the fast path may store: min(max_tags, tags_cap) */
    size_t field_room; /* fields the fast path may store: min(max_fields, fields_cap) */
    size_t ts_n;       /* the last timestamp read by the fast path (0: none), see fast_ts */
    uint64_t ts_w[3], ts_m[3];
    int64_t ts_last;
    fast_fn fast;      /* NULL: the reference path only */
    lp_kv *tags;
    size_t tags_cap;
    lp_field *fields;
    size_t fields_cap;
    char *scratch; /* unescaped strings of the current line */
    size_t scratch_cap;
    size_t scratch_used;
    char reason[192]; /* reasons that name a field */
};

/* Byte classes of the reference path: which bytes end which token. */
enum {
    C_MEAS = 1,  /* ends a measurement: ',' ' ' */
    C_KEY = 2,   /* ends a tag key or field key: ',' '=' ' ' */
    C_TVAL = 4,  /* ends a tag value: ',' ' ' */
    C_FVAL = 8,  /* ends a field value: ',' ' ' */
    C_ESC = 16   /* '\\' */
};
static const uint8_t cls[256] = {
    [','] = C_MEAS | C_KEY | C_TVAL | C_FVAL,
    [' '] = C_MEAS | C_KEY | C_TVAL | C_FVAL,
    ['='] = C_KEY,
    ['\\'] = C_ESC,
};

/* ------------------------------------------------------------ structural masks */

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v; /* p[0] in the low byte */
}

/* 0x80 in each byte of v equal to the byte c repeats in pat, exactly
 * (no borrow crosses bytes: the low seven bits are added separately). */
static inline uint64_t swar_eq(uint64_t v, uint64_t pat)
{
    uint64_t x = v ^ pat;
    uint64_t t = ((x & 0x7F7F7F7F7F7F7F7Full) + 0x7F7F7F7F7F7F7F7Full) | x;
    return ~t & 0x8080808080808080ull;
}
#define REP(c) (0x0101010101010101ull * (uint8_t)(c))

/* Portable: eight bytes at a time, the 0x80 flags gathered into eight
 * bits by one multiply (each flag lands on its own bit of the top byte,
 * no two partial products overlap, so no carries). */
static ALWAYS_INLINE uint64_t mask_swar(const char *p)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t v = load64(p + 8 * i);
        uint64_t f = swar_eq(v, REP(',')) | swar_eq(v, REP(' ')) | swar_eq(v, REP('=')) | swar_eq(v, REP('\\')) |
                     swar_eq(v, REP('"'));
        r |= (((f >> 7) * 0x0102040810204080ull) >> 56) << (8 * i);
    }
    return r;
}

#ifdef LP_X86
/* SSE2 is part of x86-64, so this needs no check. ' ' and '"' differ in
 * bit 1 only: one compare of (x | 2) with '"' finds both. */
static ALWAYS_INLINE uint64_t mask_sse2(const char *p)
{
    const __m128i quote = _mm_set1_epi8('"'), two = _mm_set1_epi8(2), comma = _mm_set1_epi8(','),
                  eq = _mm_set1_epi8('='), bs = _mm_set1_epi8('\\');
    uint64_t r = 0;
    for (int i = 0; i < 4; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(x, two), quote), _mm_cmpeq_epi8(x, comma)),
                                 _mm_or_si128(_mm_cmpeq_epi8(x, eq), _mm_cmpeq_epi8(x, bs)));
        r |= (uint64_t)(uint32_t)_mm_movemask_epi8(m) << (16 * i);
    }
    return r;
}

/* Vector constants, read from memory by the instructions that use them.
 * Built with _mm256_set1_epi8, or read from static arrays, which gcc sees
 * are never written and folds back into constants (const objects too),
 * they would be rebuilt by three instructions at every inlined use; a
 * writable object of the library (which nothing writes) it cannot fold. */
#define REP32(c) {[0 ... 31] = (c)}
typedef struct lp_vconst {
    uint8_t quote[32], two[32], comma[32], eq[32], bs[32], zero_ch[32], nine[32];
} lp_vconst;
extern lp_vconst lp_vc;
__attribute__((visibility("hidden"), aligned(32))) lp_vconst lp_vc = {
    REP32('"'), REP32(2), REP32(','), REP32('='), REP32('\\'), REP32('0'), REP32(9)};
#define VLOAD(a) _mm256_load_si256((const __m256i *)(const void *)(a))

__attribute__((target("avx2"))) static ALWAYS_INLINE uint64_t mask_avx2(const char *p)
{
    const __m256i quote = VLOAD(lp_vc.quote), two = VLOAD(lp_vc.two), comma = VLOAD(lp_vc.comma), eq = VLOAD(lp_vc.eq),
                  bs = VLOAD(lp_vc.bs);
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i ma = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_or_si256(a, two), quote), _mm256_cmpeq_epi8(a, comma)),
        _mm256_or_si256(_mm256_cmpeq_epi8(a, eq), _mm256_cmpeq_epi8(a, bs)));
    __m256i mb = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_or_si256(b, two), quote), _mm256_cmpeq_epi8(b, comma)),
        _mm256_or_si256(_mm256_cmpeq_epi8(b, eq), _mm256_cmpeq_epi8(b, bs)));
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(ma) | (uint64_t)(uint32_t)_mm256_movemask_epi8(mb) << 32;
}
#endif

/* ------------------------------------------------------------ parser object */

void lp_limits_init(lp_limits *lim)
{
    lim->max_tags = 256;
    lim->max_fields = 1024;
    lim->max_name_len = 4096;
    lim->max_value_len = 16384;
}

static void set_rooms(lp_parser *p)
{
    p->tag_room = p->lim.max_tags < p->tags_cap ? p->lim.max_tags : p->tags_cap;
    p->field_room = p->lim.max_fields < p->fields_cap ? p->lim.max_fields : p->fields_cap;
}

int lp_parser_new(strata_precision precision, lp_parser **out)
{
    if (precision != STRATA_PRECISION_NS && precision != STRATA_PRECISION_US && precision != STRATA_PRECISION_MS &&
        precision != STRATA_PRECISION_S)
        return STRATA_ERR_INVALID;
    lp_parser *p = base_calloc(1, sizeof *p);
    if (!p)
        return STRATA_ERR_NOMEM;
    p->precision = precision;
    lp_limits lim;
    lp_limits_init(&lim);
    lp_parser_set_limits(p, &lim);
    p->fast = impl_fn(LP_IMPL_BEST);
    p->tags_cap = 16;
    p->fields_cap = 16;
    p->tags = base_malloc(p->tags_cap * sizeof *p->tags);
    p->fields = base_malloc(p->fields_cap * sizeof *p->fields);
    if (!p->tags || !p->fields) {
        lp_parser_free(p);
        return STRATA_ERR_NOMEM;
    }
    set_rooms(p);
    *out = p;
    return STRATA_OK;
}

void lp_parser_free(lp_parser *p)
{
    if (!p)
        return;
    base_free(p->tags);
    base_free(p->fields);
    base_free(p->scratch);
    base_free(p);
}

void lp_parser_set_limits(lp_parser *p, const lp_limits *lim)
{
    p->lim = *lim;
    p->lim_short = lim->max_name_len < lim->max_value_len ? lim->max_name_len : lim->max_value_len;
    set_rooms(p);
}

/* ------------------------------------------------------------ reference path */

/* SWAR: a word whose bytes are 0x80 where v's byte equals the byte b
 * repeated in pat (exact: no false positives from borrows, as the
 * "haszero" test of the bit-twiddling hacks is used only to find the
 * first match, and borrows only travel toward higher bytes). */
static inline uint64_t bytes_eq(uint64_t v, uint64_t pat)
{
    uint64_t x = v ^ pat;
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}
#define REP(c) (0x0101010101010101ull * (uint8_t)(c))

/* Scans a token from s up to a byte of class stop (escapes skip the byte
 * after the backslash). Sets *has_esc when a backslash was seen. Eight
 * bytes at a time while they last: the lowest flagged byte is exact
 * (a borrow only corrupts flags above a real match). */
static inline const char *scan(const char *s, const char *end, uint8_t stop, int *has_esc)
{
    for (;;) {
        while (end - s >= 8) {
            uint64_t v;
            memcpy(&v, s, 8);
            uint64_t m = bytes_eq(v, REP(',')) | bytes_eq(v, REP(' ')) | bytes_eq(v, REP('\\'));
            if (stop & C_KEY)
                m |= bytes_eq(v, REP('='));
            if (!m) {
                s += 8;
                continue;
            }
            s += __builtin_ctzll(m) >> 3;
            break;
        }
        /* s is at a candidate byte or fewer than 8 bytes remain */
        while (s < end) {
            uint8_t c = cls[(unsigned char)*s];
            if (LIKELY(!(c & (stop | C_ESC)))) {
                s++;
                continue;
            }
            break;
        }
        if (s == end || (cls[(unsigned char)*s] & stop))
            return s;
        *has_esc = 1;
        s += (s + 1 < end) ? 2 : 1;
    }
}

/* Unescapes [s, e) into the scratch buffer: "\x" becomes x when x is one
 * of the bytes in `escapable`, otherwise both bytes stay. */
static int unescape(lp_parser *p, const char *s, const char *e, size_t line_len, const char *escapable,
                    const char **out, size_t *out_len)
{
    if (p->scratch_used == 0 && p->scratch_cap < line_len) {
        size_t cap = line_len < 256 ? 256 : line_len;
        char *n = base_realloc(p->scratch, cap);
        if (!n)
            return STRATA_ERR_NOMEM;
        p->scratch = n;
        p->scratch_cap = cap;
    }
    char *o = p->scratch + p->scratch_used, *start = o;
    while (s < e) {
        if (*s == '\\' && s + 1 < e && strchr(escapable, s[1]) && s[1] != 0) {
            *o++ = s[1];
            s += 2;
        } else {
            *o++ = *s++;
        }
    }
    p->scratch_used += (size_t)(o - start);
    *out = start;
    *out_len = (size_t)(o - start);
    return STRATA_OK;
}

static const char *field_reason(lp_parser *p, const char *what, const char *key, size_t key_len)
{
    int kl = key_len > 64 ? 64 : (int)key_len;
    snprintf(p->reason, sizeof p->reason, "%s in field '%.*s%s'", what, kl, key, key_len > 64 ? "..." : "");
    return p->reason;
}

/* Parses [s, e) as an integer: digits only after an optional '-' (when
 * is_signed). Returns 0 and *out, or -1 bad syntax, -2 out of range. */
static int parse_int(const char *s, const char *e, int is_signed, double *out)
{
    int neg = 0;
    if (s < e && *s == '-' && is_signed) {
        neg = 1;
        s++;
    }
    if (s == e)
        return -1;
    uint64_t v = 0;
    for (; s < e; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    if (is_signed) {
        if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
            return -2;
        *out = neg ? -(double)v : (double)v;
    } else {
        *out = (double)v;
    }
    return 0;
}

static int is_bool(const char *s, size_t n, double *out)
{
    switch (n) {
    case 1:
        if (*s == 't' || *s == 'T') { *out = 1.0; return 1; }
        if (*s == 'f' || *s == 'F') { *out = 0.0; return 1; }
        return 0;
    case 4:
        if (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)) { *out = 1.0; return 1; }
        return 0;
    case 5:
        if (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)) { *out = 0.0; return 1; }
        return 0;
    default:
        return 0;
    }
}

/* Timestamp [s, e) in the parser's precision -> ms. */
static int parse_ts(lp_parser *p, const char *s, const char *e, int64_t *ms, const char **reason)
{
    int neg = 0;
    if (s < e && *s == '-') {
        neg = 1;
        s++;
    }
    if (s == e) {
        *reason = "invalid timestamp";
        return STRATA_ERR_INVALID;
    }
    uint64_t v = 0;
    for (; s < e; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9) {
            *reason = "invalid timestamp";
            return STRATA_ERR_INVALID;
        }
        if (v > (UINT64_MAX - d) / 10) {
            *reason = "timestamp out of range";
            return STRATA_ERR_INVALID;
        }
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) {
        *reason = "timestamp out of range";
        return STRATA_ERR_INVALID;
    }
    int64_t t = neg ? (int64_t)(0 - v) : (int64_t)v;
    switch (p->precision) {
    case STRATA_PRECISION_NS: *ms = num_floor_div(t, 1000000); break;
    case STRATA_PRECISION_US: *ms = num_floor_div(t, 1000); break;
    case STRATA_PRECISION_MS: *ms = t; break;
    default:
        if (t > INT64_MAX / 1000 || t < INT64_MIN / 1000) {
            *reason = "timestamp out of range";
            return STRATA_ERR_INVALID;
        }
        *ms = t * 1000;
        break;
    }
    return STRATA_OK;
}

/* The reference parser: every line the fast path declines, with the
 * reason of a rejection. [s, end) is the trimmed line, len the length of
 * the whole line (the scratch buffer's bound). */
__attribute__((noinline)) static int ref_parse(lp_parser *p, const char *s, const char *end, size_t len, lp_line *out, const char **reason)
{
    int rc;
    p->scratch_used = 0;

    /* measurement */
    int esc = 0;
    const char *e = scan(s, end, C_MEAS, &esc);
    if (e == s) {
        *reason = "missing measurement";
        return STRATA_ERR_INVALID;
    }
    const char *meas = s;
    size_t meas_len = (size_t)(e - s);
    if (esc && (rc = unescape(p, s, e, len, ",\\ ", &meas, &meas_len)) < 0)
        return rc;
    if (meas_len > p->lim.max_name_len) {
        *reason = "measurement too long";
        return STRATA_ERR_INVALID;
    }
    s = e;

    /* tags */
    size_t nt = 0;
    uint64_t seen = 0;
    while (s < end && *s == ',') {
        s++;
        esc = 0;
        e = scan(s, end, C_KEY, &esc);
        if (e == s) {
            *reason = "missing tag key";
            return STRATA_ERR_INVALID;
        }
        if (e == end || *e != '=') {
            *reason = "missing tag value";
            return STRATA_ERR_INVALID;
        }
        if (nt == p->lim.max_tags) {
            *reason = "too many tags";
            return STRATA_ERR_INVALID;
        }
        if (nt == p->tags_cap) {
            if ((rc = base_grow((void **)&p->tags, &p->tags_cap, p->tags_cap + 1, sizeof *p->tags)) < 0)
                return rc;
            set_rooms(p);
        }
        lp_kv *kv = &p->tags[nt];
        kv->key = s;
        kv->key_len = (size_t)(e - s);
        if (esc && (rc = unescape(p, s, e, len, ",= \\", &kv->key, &kv->key_len)) < 0)
            return rc;
        s = e + 1;
        esc = 0;
        e = scan(s, end, C_TVAL, &esc);
        if (e == s) {
            *reason = "missing tag value";
            return STRATA_ERR_INVALID;
        }
        kv->val = s;
        kv->val_len = (size_t)(e - s);
        if (esc && (rc = unescape(p, s, e, len, ",= \\", &kv->val, &kv->val_len)) < 0)
            return rc;
        if (kv->key_len > p->lim.max_name_len) {
            *reason = "tag key too long";
            return STRATA_ERR_INVALID;
        }
        if (kv->val_len > p->lim.max_value_len) {
            *reason = "tag value too long";
            return STRATA_ERR_INVALID;
        }
        if (kv->key_len == 8 && !memcmp(kv->key, "__name__", 8)) {
            *reason = "tag key __name__ is reserved";
            return STRATA_ERR_INVALID;
        }
        /* Duplicate keys: a 64-bit filter on (first byte, length) so the
         * quadratic comparison runs only for keys that might repeat. */
        uint64_t bit = (uint64_t)1 << (((unsigned char)kv->key[0] * 7u + (unsigned)kv->key_len) & 63);
        if (seen & bit) {
            for (size_t i = 0; i < nt; i++) {
                if (p->tags[i].key_len == kv->key_len && !memcmp(p->tags[i].key, kv->key, kv->key_len)) {
                    *reason = "duplicate tag key";
                    return STRATA_ERR_INVALID;
                }
            }
        }
        seen |= bit;
        nt++;
        s = e;
    }
    if (s == end) {
        *reason = "missing fields";
        return STRATA_ERR_INVALID;
    }
    /* s is at a space */
    while (s < end && *s == ' ')
        s++;
    if (s == end) {
        *reason = "missing fields";
        return STRATA_ERR_INVALID;
    }

    /* fields */
    size_t nf = 0, nstr = 0;
    for (;;) {
        esc = 0;
        e = scan(s, end, C_KEY, &esc);
        if (e == s) {
            *reason = "missing field key";
            return STRATA_ERR_INVALID;
        }
        if (e == end || *e != '=') {
            *reason = "missing field value";
            return STRATA_ERR_INVALID;
        }
        const char *key = s;
        size_t key_len = (size_t)(e - s);
        if (esc && (rc = unescape(p, s, e, len, ",= \\", &key, &key_len)) < 0)
            return rc;
        if (key_len > p->lim.max_name_len) {
            *reason = "field key too long";
            return STRATA_ERR_INVALID;
        }
        if (nf + nstr == p->lim.max_fields) {
            *reason = "too many fields";
            return STRATA_ERR_INVALID;
        }
        s = e + 1;
        if (s == end) {
            *reason = field_reason(p, "missing value", key, key_len);
            return STRATA_ERR_INVALID;
        }
        if (*s == '"') {
            /* string field: skipped */
            s++;
            while (s < end && *s != '"')
                s += (*s == '\\' && s + 1 < end) ? 2 : 1;
            if (s >= end) {
                *reason = field_reason(p, "unterminated string", key, key_len);
                return STRATA_ERR_INVALID;
            }
            s++;
            nstr++;
            if (s < end && *s != ',' && *s != ' ') {
                *reason = field_reason(p, "text after string", key, key_len);
                return STRATA_ERR_INVALID;
            }
        } else {
            double v;
            const char *vs = s;
            const char *ve = num_scan_double(s, end, 0, &v);
            if (ve && (ve == end || *ve == ',' || *ve == ' ')) {
                if (UNLIKELY(isinf(v))) {
                    *reason = field_reason(p, "number out of range", key, key_len);
                    return STRATA_ERR_INVALID;
                }
                s = ve;
            } else {
                /* not a plain float: integer, unsigned, boolean or junk */
                e = vs;
                while (e < end && *e != ',' && *e != ' ')
                    e++;
                size_t n = (size_t)(e - vs);
                int r = -1;
                if (n >= 2 && (e[-1] == 'i' || e[-1] == 'u')) {
                    r = parse_int(vs, e - 1, e[-1] == 'i', &v);
                    if (r == -2) {
                        *reason = field_reason(p, "integer out of range", key, key_len);
                        return STRATA_ERR_INVALID;
                    }
                } else if (is_bool(vs, n, &v)) {
                    r = 0;
                }
                if (r != 0) {
                    *reason = field_reason(p, "invalid number", key, key_len);
                    return STRATA_ERR_INVALID;
                }
                s = e;
            }
            if (nf == p->fields_cap) {
                if ((rc = base_grow((void **)&p->fields, &p->fields_cap, p->fields_cap + 1, sizeof *p->fields)) < 0)
                    return rc;
                set_rooms(p);
            }
            lp_field *f = &p->fields[nf++];
            f->key = key;
            f->key_len = key_len;
            f->value = v;
        }
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        break;
    }

    /* timestamp */
    out->has_ts = 0;
    out->ts_ms = 0;
    while (s < end && *s == ' ')
        s++;
    if (s < end) {
        e = s;
        while (e < end && *e != ' ')
            e++;
        int64_t ms;
        if ((rc = parse_ts(p, s, e, &ms, reason)) < 0)
            return rc;
        while (e < end && (*e == ' ' || *e == '\t'))
            e++;
        if (e != end) {
            *reason = "unexpected text after timestamp";
            return STRATA_ERR_INVALID;
        }
        out->has_ts = 1;
        out->ts_ms = ms;
    }
    out->measurement = meas;
    out->measurement_len = meas_len;
    out->tags = p->tags;
    out->n_tags = nt;
    out->fields = p->fields;
    out->n_fields = nf;
    out->n_string_fields = nstr;
    return 1;
}

/* ------------------------------------------------------------ fast path */

/* Eight ASCII digits at once (p[0] in the low byte): the conversion of
 * the simdjson / fast_float libraries. */
static ALWAYS_INLINE uint64_t parse8(uint64_t v)
{
    const uint64_t mask = 0x000000FF000000FFull;
    const uint64_t mul1 = 0x000F424000000064ull; /* 100 + (1000000 << 32) */
    const uint64_t mul2 = 0x0000271000000001ull; /* 1 + (10000 << 32) */
    v -= 0x3030303030303030ull;
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return v;
}

/* Nonzero when a byte of v is not an ASCII digit (each byte tested on its
 * own: the low seven bits are added apart, so no carry crosses bytes). */
static ALWAYS_INLINE uint64_t nondigits(uint64_t v)
{
    uint64_t x = v ^ 0x3030303030303030ull;
    return (((x & 0x7F7F7F7F7F7F7F7Full) + 0x7676767676767676ull) | x) & 0x8080808080808080ull;
}

static const uint64_t pow10_u64[20] = {1,
                                       10,
                                       100,
                                       1000,
                                       10000,
                                       100000,
                                       1000000,
                                       10000000,
                                       100000000,
                                       1000000000,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The digits [from, to), 0 to 19 of them, into *w; 0 when one is not a
 * digit. Reads whole words ending at `to`, eight bytes apart, the first
 * one partly before `from`: the caller guarantees from - 8 is inside the
 * line. */
static ALWAYS_INLINE int digits_ra(const char *from, const char *to, uint64_t *w)
{
    size_t n = (size_t)(to - from);
    size_t head = n & 7;
    uint64_t acc = 0;
    const char *p = from;
    if (head) {
        /* the head digits in the top bytes, '0's below them */
        uint64_t v = load64(p + head - 8);
        v = (v & (~0ull << (64 - 8 * head))) | (0x3030303030303030ull >> (8 * head));
        if (nondigits(v))
            return 0;
        acc = parse8(v);
        p += head;
    }
    for (; p < to; p += 8) {
        uint64_t v = load64(p);
        if (nondigits(v))
            return 0;
        acc = acc * 100000000 + parse8(v);
    }
    *w = acc;
    return 1;
}

/* The general case of a field value [v, e) (not a short plain decimal):
 * exponents, long mantissas, integers, booleans. 0: the reference path
 * must decide. */
__attribute__((noinline)) static int slow_value(const char *v, const char *e, double *out)
{
    double d;
    const char *ve = num_scan_double(v, e, 0, &d);
    if (ve == e) {
        if (isinf(d))
            return 0;
        *out = d;
        return 1;
    }
    size_t n = (size_t)(e - v);
    if (n >= 2 && (e[-1] == 'i' || e[-1] == 'u'))
        return parse_int(v, e - 1, e[-1] == 'i', out) == 0;
    return is_bool(v, n, out);
}

/* A plain number: the bytes [q, e), 1 to 19 of them, are digits, with
 * one '.' among them when allow_dot; *w gets the digits as an integer,
 * *nf how many follow the '.'. 0 when the bytes are something else or the
 * reader cannot look far enough back into the line (the caller then takes
 * a slower way). Two readers, one per instruction set; both exact. */
typedef int (*num_fn)(const char *q, const char *e, const char *line, int allow_dot, uint64_t *w, size_t *nf);

/* Portable: the '.' found among the bytes that are not digits in the last
 * 16 of the token, both halves read right-aligned, 8 digits a word. Looks
 * 8 bytes before q. */
static ALWAYS_INLINE int num_swar(const char *q, const char *e, const char *line, int allow_dot, uint64_t *w,
                                  size_t *nf)
{
    size_t n = (size_t)(e - q);
    if (q - line < 8)
        return 0;
    *nf = 0;
    if (!allow_dot)
        return digits_ra(q, e, w);
    const char *dot = NULL;
    uint64_t f = nondigits(load64(e - 8));
    if (n < 8)
        f &= ~0ull << (64 - 8 * n);
    if (f) {
        dot = e - 8 + ((63 - __builtin_clzll(f)) >> 3);
    } else if (n > 8) {
        f = nondigits(load64(e - 16));
        if (n < 16)
            f &= ~0ull << (128 - 8 * n);
        if (f)
            dot = e - 16 + ((63 - __builtin_clzll(f)) >> 3);
    }
    if (!dot)
        return digits_ra(q, e, w);
    /* the last non-digit must be the '.', and what is before it digits */
    uint64_t wi, wf;
    if (*dot != '.' || n == 1 || !digits_ra(dot + 1, e, &wf) || !digits_ra(q, dot, &wi))
        return 0;
    *nf = (size_t)(e - dot - 1);
    *w = wi * pow10_u64[*nf] + wf;
    return 1;
}

#ifdef LP_X86
/* AVX2: the 32 bytes ending at e in one register (looks 32 bytes back
 * from e, else num_swar). Digits less '0' are 0..9, anything else is
 * not a digit; bytes before q are cleared. A '.' is taken out by moving
 * the bytes after it down one place, which leaves a 0 digit at the end:
 * the value is then ten times w. Then the digit pairs, quads and octets
 * are summed by multiply-adds (as in simdjson), three octets make w. */
__attribute__((target("avx2"))) static ALWAYS_INLINE int num_avx2(const char *q, const char *e, const char *line,
                                                                  int allow_dot, uint64_t *w, size_t *nf)
{
    static const uint8_t tail[64] = {
        0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
        0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    size_t n = (size_t)(e - q);
    if (e - line < 32)
        return num_swar(q, e, line, allow_dot, w, nf);
    __m256i d = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(e - 32)), VLOAD(lp_vc.zero_ch));
    __m256i isdig = _mm256_cmpeq_epi8(_mm256_min_epu8(d, VLOAD(lp_vc.nine)), d);
    uint32_t bad = ~(uint32_t)_mm256_movemask_epi8(isdig) & (~0u << (32 - n));
    /* the token's digits, all else 0 (tail + n: 0xFF from byte 32 - n on) */
    d = _mm256_and_si256(d, _mm256_and_si256(isdig, _mm256_loadu_si256((const __m256i *)(const void *)(tail + n))));
    *nf = 0;
    if (bad) {
        unsigned j = (unsigned)__builtin_ctz(bad);
        if (!allow_dot || (bad & (bad - 1)) || n == 1 || e[(int)j - 32] != '.')
            return 0;
        /* byte i >= j takes byte i + 1 (0 past the end) */
        __m256i next = _mm256_alignr_epi8(_mm256_permute2x128_si256(d, d, 0x81), d, 1);
        __m256i idx = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                       22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
        d = _mm256_blendv_epi8(d, next, _mm256_cmpgt_epi8(idx, _mm256_set1_epi8((char)(j - 1))));
        *nf = 31 - j;
    }
    __m256i t = _mm256_maddubs_epi16(d, _mm256_set1_epi16(0x010A));  /* 10 a + b: 2 digits */
    t = _mm256_madd_epi16(t, _mm256_set1_epi32(0x00010064));          /* 100 ab + cd: 4 */
    t = _mm256_packus_epi32(t, t);                                    /* (per lane) */
    t = _mm256_madd_epi16(t, _mm256_set1_epi32(0x00012710));          /* 10^4 abcd + efgh: 8 */
    /* octets: bytes 8-15 in dword 1, 16-23 and 24-31 in dwords 4 and 5 */
    uint64_t hi = (uint32_t)_mm_extract_epi32(_mm256_castsi256_si128(t), 1);
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(_mm256_extracti128_si256(t, 1));
    uint64_t v = hi * 10000000000000000ull + (lo & 0xFFFFFFFF) * 100000000 + (lo >> 32);
    *w = bad ? v / 10 : v;
    return 1;
}
#endif

/* A field value [v, e), v < e, e the end of the line or a ',' or ' ' of
 * it, line its start; 0 when the reference path must decide. A plain
 * decimal [-]digits[.digits] of at most 19 digits is read by num, then
 * w * 10^-nf exactly as num_scan_double computes it (Clinger's exact
 * division when w and 10^nf are exact doubles, as nearly always). */
static ALWAYS_INLINE int fast_value(const char *v, const char *e, const char *line, double *out, num_fn num)
{
    int neg = *v == '-';
    const char *q = v + neg;
    uint64_t w;
    size_t nf;
    /* 20 digits and a '.' go the slow way too */
    if (UNLIKELY((size_t)(e - q) - 1 >= 19 || !num(q, e, line, 1, &w, &nf)))
        return slow_value(v, e, out);
    if (LIKELY(w <= ((uint64_t)1 << 53))) { /* nf <= 18 */
        double d = (double)w / pow10_exact[nf];
        *out = neg ? -d : d;
        return 1;
    }
    double d;
    if (num_dec_to_double(w, -(int64_t)nf, neg, &d) != 0)
        return 0;
    *out = d;
    return 1;
}

/* A timestamp [s, end), s < end: digits, then optionally a space and
 * blanks; into ms. 0 when the reference path must decide (negative, more
 * than 19 digits, out of range, junk, too near the line's start).
 * Consecutive lines mostly carry the same timestamp (one scrape, one
 * batch), so the last one read is kept as the 24 bytes that end it, its
 * bytes selected by masks: the same bytes in the same place are the same
 * timestamp. */
static ALWAYS_INLINE int fast_ts(lp_parser *p, const char *s, const char *end, const char *line, int64_t *ms,
                                 num_fn num)
{
    const char *e = end;
    if (UNLIKELY(e[-1] == ' ' || e[-1] == '\t')) {
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        /* the reference reads the token to the next ' ': a '\t' right
         * after the digits makes it invalid */
        if (*e != ' ')
            return 0;
    }
    size_t n = (size_t)(e - s);
    if (n - 1 >= 19 || e - line < 24)
        return 0;
    uint64_t w0 = load64(e - 24), w1 = load64(e - 16), w2 = load64(e - 8);
    if (n == p->ts_n &&
        !(((w0 ^ p->ts_w[0]) & p->ts_m[0]) | ((w1 ^ p->ts_w[1]) & p->ts_m[1]) | ((w2 ^ p->ts_w[2]) & p->ts_m[2]))) {
        *ms = p->ts_last;
        return 1;
    }
    uint64_t t;
    size_t nf;
    if (!num(s, e, line, 0, &t, &nf) || t > (uint64_t)INT64_MAX)
        return 0;
    int64_t v = (int64_t)t; /* >= 0: floor division is plain division */
    switch (p->precision) {
    case STRATA_PRECISION_NS: v /= 1000000; break;
    case STRATA_PRECISION_US: v /= 1000; break;
    case STRATA_PRECISION_MS: break;
    default:
        if (v > INT64_MAX / 1000)
            return 0;
        v *= 1000;
        break;
    }
    *ms = v;
    /* the token is the top n of the 24 bytes */
    p->ts_m[2] = n >= 8 ? ~0ull : ~0ull << (64 - 8 * n);
    p->ts_m[1] = n >= 16 ? ~0ull : n <= 8 ? 0 : ~0ull << (128 - 8 * n);
    p->ts_m[0] = n <= 16 ? 0 : ~0ull << (192 - 8 * n);
    p->ts_w[0] = w0 & p->ts_m[0];
    p->ts_w[1] = w1 & p->ts_m[1];
    p->ts_w[2] = w2 & p->ts_m[2];
    p->ts_n = n;
    p->ts_last = v;
    return 1;
}

/* The structural mask of the first block of the line [s, end). */
static ALWAYS_INLINE uint64_t first_mask(mask_fn fn, const char *s, const char *end)
{
    size_t n = (size_t)(end - s);
    if (n >= 64)
        return fn(s);
    /* a line shorter than 64 bytes: the only block, from a copy */
    char buf[64];
    memset(buf, 0, sizeof buf);
    memcpy(buf, s, n);
    return fn(buf) & ((1ull << n) - 1);
}

/* What the walk returns when the line has no structural byte left: a byte
 * that is none of the structural ones, so that every test of the byte
 * found fails as the end of the line would; the walk's callers compare
 * with it only where the end of the line is a valid answer. */
static const char past_end = '\n';

/* The next structural byte, or &past_end when none is left: the lowest bit
 * of *m, the mask of the block at *base, which is consumed; later blocks
 * are computed as the walk reaches them, the last one from the line's last
 * 64 bytes (the line is longer than 64 bytes when there is a second
 * block). Locals passed by address so that, inlined, they stay in
 * registers. */
static ALWAYS_INLINE const char *next_sb(uint64_t *m, const char **base, const char *end, mask_fn fn)
{
    while (UNLIKELY(!*m)) {
        if (end - *base <= 64)
            return &past_end;
        *base += 64;
        size_t rem = (size_t)(end - *base);
        *m = rem >= 64 ? fn(*base) : fn(end - 64) >> (64 - rem);
    }
    const char *e = *base + __builtin_ctzll(*m);
    *m &= *m - 1;
    return e;
}

/* Over a length limit: only possible in a line longer than the smallest
 * limit, so checked after the fact, for those lines only. */
__attribute__((noinline)) static int over_limits(const lp_parser *p, const lp_line *out, size_t nt, size_t nf)
{
    if (out->measurement_len > p->lim.max_name_len)
        return 1;
    for (size_t i = 0; i < nt; i++)
        if (p->tags[i].key_len > p->lim.max_name_len || p->tags[i].val_len > p->lim.max_value_len)
            return 1;
    for (size_t i = 0; i < nf; i++)
        if (p->fields[i].key_len > p->lim.max_name_len)
            return 1;
    return 0;
}

/* Parses the trimmed line [s, end) when it needs no unescaping, has no
 * string field and is valid; returns 1 with *out set, or 0 when the
 * reference path must take the line (which then gives the same answer the
 * fast path would have, or the reason of the rejection). Every structural
 * byte is visited in order, and each one ends a token. Instantiated once
 * per mask function, which is then inlined. */
static ALWAYS_INLINE int fast_body(lp_parser *p, const char *s, const char *end, lp_line *out, mask_fn fn,
                                   num_fn num)
{
    const char *const line = s;
    const char *base = s;
    uint64_t m = first_mask(fn, s, end);
#define NEXT() next_sb(&m, &base, end, fn)

    /* measurement: up to ',' or ' ' ('=' is part of it) */
    const char *e = NEXT();
    char c;
    while ((c = *e) == '=')
        e = NEXT();
    if (UNLIKELY(e == s || (c != ',' && c != ' ')))
        return 0; /* also when nothing follows */
    out->measurement = s;
    out->measurement_len = (size_t)(e - s);

    /* tags: ,key=value, the value up to ',' or ' ' ('=' is part of it) */
    lp_kv *kv = p->tags;
    lp_kv *const kv_end = kv + p->tag_room;
    /* Duplicate keys and __name__: a 64-bit filter on (first byte, length)
     * lets only keys that might repeat an earlier one, or be __name__,
     * reach the comparisons. */
    const uint64_t name_bit = (uint64_t)1 << (('_' * 7u + 8) & 63);
    uint64_t seen = name_bit;
    if (c == ',') {
        for (;;) {
            const char *k = e + 1;
            e = NEXT();
            if (UNLIKELY(*e != '=' || e == k || kv == kv_end))
                return 0; /* the reference path rejects or grows the array */
            const char *v = e + 1;
            e = NEXT();
            while ((c = *e) == '=')
                e = NEXT();
            if (UNLIKELY(e == v))
                return 0;
            size_t kl = (size_t)(v - 1 - k);
            uint64_t bit = (uint64_t)1 << (((unsigned char)k[0] * 7u + (unsigned)kl) & 63);
            if (UNLIKELY(seen & bit)) {
                if (kl == 8 && !memcmp(k, "__name__", 8))
                    return 0;
                for (const lp_kv *o = p->tags; o < kv; o++)
                    if (o->key_len == kl && !memcmp(o->key, k, kl))
                        return 0;
            }
            seen |= bit;
            kv->key = k;
            kv->key_len = kl;
            kv->val = v;
            /* e - v only once e is known to be in the line */
            if (c == ',') {
                kv->val_len = (size_t)(e - v);
                kv++;
                continue;
            }
            if (UNLIKELY(c != ' '))
                return 0; /* a quote or backslash, or the end: no fields */
            kv->val_len = (size_t)(e - v);
            kv++;
            break;
        }
    }
    out->tags = p->tags;
    out->n_tags = (size_t)(kv - p->tags);

    /* fields: key=value[,key=value...] after one or more spaces (each
     * space is a structural byte to step over) */
    s = e + 1;
    while (UNLIKELY(s < end && *s == ' ')) {
        s++;
        (void)NEXT();
    }
    lp_field *f = p->fields;
    lp_field *const f_end = f + p->field_room;
    for (;;) {
        e = NEXT();
        if (UNLIKELY(*e != '=' || e == s || f == f_end))
            return 0;
        const char *v = e + 1;
        e = NEXT();
        c = *e;
        if (e == &past_end)
            e = end;
        else if (UNLIKELY(c != ',' && c != ' '))
            return 0;
        /* e == v: an empty value, or a '"' opening a string field */
        if (UNLIKELY(e == v))
            return 0;
        if (UNLIKELY(!fast_value(v, e, line, &f->value, num)))
            return 0;
        f->key = s;
        f->key_len = (size_t)(v - 1 - s);
        f++;
        if (c != ',')
            break;
        s = e + 1;
    }
#undef NEXT
    out->fields = p->fields;
    out->n_fields = (size_t)(f - p->fields);
    out->n_string_fields = 0;

    /* timestamp: the rest of the line, read without the mask */
    out->has_ts = 0;
    out->ts_ms = 0;
    while (e < end && *e == ' ')
        e++;
    if (e < end) {
        if (!fast_ts(p, e, end, line, &out->ts_ms, num))
            return 0;
        out->has_ts = 1;
    }
    if (UNLIKELY((size_t)(end - line) > p->lim_short) && over_limits(p, out, out->n_tags, out->n_fields))
        return 0;
    return 1;
}

static int fast_swar(lp_parser *p, const char *s, const char *end, lp_line *out)
{
    return fast_body(p, s, end, out, mask_swar, num_swar);
}

#ifdef LP_X86
static int fast_sse2(lp_parser *p, const char *s, const char *end, lp_line *out)
{
    return fast_body(p, s, end, out, mask_sse2, num_swar);
}

__attribute__((target("avx2,bmi,bmi2"))) static int fast_avx2(lp_parser *p, const char *s, const char *end, lp_line *out)
{
    return fast_body(p, s, end, out, mask_avx2, num_avx2);
}
#endif

#ifdef LP_X86
/* The AVX2 path is also built for BMI1 and BMI2, which every CPU with AVX2
 * but a few has. */
static int has_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
}
#endif

/* Implementations by number, as lp_parser_set_impl takes them; NULL when
 * the CPU lacks it. */
static fast_fn impl_fn(int impl)
{
    switch (impl) {
    case LP_IMPL_SWAR: return fast_swar;
#ifdef LP_X86
    case LP_IMPL_SSE2: return fast_sse2;
    case LP_IMPL_AVX2: return has_avx2() ? fast_avx2 : NULL;
#endif
    case LP_IMPL_BEST:
#ifdef LP_X86
        return has_avx2() ? fast_avx2 : fast_sse2;
#else
        return fast_swar;
#endif
    default: return NULL;
    }
}

int lp_parser_set_impl(lp_parser *p, int impl)
{
    if (impl == LP_IMPL_REF) {
        p->fast = NULL;
        return STRATA_OK;
    }
    fast_fn fn = impl_fn(impl);
    if (!fn)
        return STRATA_ERR_INVALID;
    p->fast = fn;
    return STRATA_OK;
}

int lp_parse_line(lp_parser *p, const char *line, size_t len, lp_line *out, const char **reason)
{
    const char *s = line, *end = line + len;
    *reason = NULL;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (end > s && end[-1] == '\r')
        end--;
    if (s == end || *s == '#')
        return 0;
    if (LIKELY(p->fast != NULL) && p->fast(p, s, end, out))
        return 1;
    return ref_parse(p, s, end, len, out, reason);
}
