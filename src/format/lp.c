/*
 * lp.c: the Influx line protocol parser, one line at a time (the syntax and
 * what is rejected are in format.h).
 *
 * This is the ingest hot path, so names are not copied: keys and values
 * point into the caller's line unless they hold an escape, in which case
 * they are unescaped into the parser's scratch buffer. The scratch buffer
 * is grown to the line's length before the first unescaped string of a
 * line is written, so pointers handed out for the line stay valid (an
 * unescaped string is never longer than its escaped form). Scanning uses a
 * byte-class table so each byte costs one load and one test.
 */
#include <math.h>
#include <stdio.h>

#include "format/format.h"
#include "format/format_int.h"

struct lp_parser {
    strata_precision precision;
    lp_limits lim;
    lp_kv *tags;
    size_t tags_cap;
    lp_field *fields;
    size_t fields_cap;
    char *scratch; /* unescaped strings of the current line */
    size_t scratch_cap;
    size_t scratch_used;
    char reason[192]; /* reasons that name a field */
};

/* Byte classes: which bytes end which token. */
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

void lp_limits_init(lp_limits *lim)
{
    lim->max_tags = 256;
    lim->max_fields = 1024;
    lim->max_name_len = 4096;
    lim->max_value_len = 16384;
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
    lp_limits_init(&p->lim);
    p->tags_cap = 16;
    p->fields_cap = 16;
    p->tags = base_malloc(p->tags_cap * sizeof *p->tags);
    p->fields = base_malloc(p->fields_cap * sizeof *p->fields);
    if (!p->tags || !p->fields) {
        lp_parser_free(p);
        return STRATA_ERR_NOMEM;
    }
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

void lp_parser_set_limits(lp_parser *p, const lp_limits *lim) { p->lim = *lim; }

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

static int grow(void **arr, size_t *cap, size_t elem)
{
    size_t n = *cap * 2;
    void *a = base_realloc(*arr, n * elem);
    if (!a)
        return STRATA_ERR_NOMEM;
    *arr = a;
    *cap = n;
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
    case STRATA_PRECISION_NS: *ms = fmt_floor_div(t, 1000000); break;
    case STRATA_PRECISION_US: *ms = fmt_floor_div(t, 1000); break;
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

int lp_parse_line(lp_parser *p, const char *line, size_t len, lp_line *out, const char **reason)
{
    const char *s = line, *end = line + len;
    int rc;
    *reason = NULL;
    p->scratch_used = 0;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (end > s && end[-1] == '\r')
        end--;
    if (s == end || *s == '#')
        return 0;

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
        if (nt == p->tags_cap && (rc = grow((void **)&p->tags, &p->tags_cap, sizeof *p->tags)) < 0)
            return rc;
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
            const char *ve = fmt_scan_double(s, end, 0, &v);
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
            if (nf == p->fields_cap && (rc = grow((void **)&p->fields, &p->fields_cap, sizeof *p->fields)) < 0)
                return rc;
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
