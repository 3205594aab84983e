/*
 * jsonl_decode.c: JSON lines in, the VictoriaMetrics export format, one
 * series a line (the format is in ingest.h):
 *   {"metric":{"__name__":"m","a":"b"},"values":[1.5,NaN],"timestamps":[1,2]}
 *
 * The decoder is a small recursive-descent parser for exactly this schema
 * (keys in any order, JSON whitespace anywhere between tokens). What it
 * returns lives in the decoder: label strings in one arena (NUL-terminated,
 * pointers fixed up once the line is done, since the arena may move while
 * it grows), timestamps and values in two arrays. Every index is checked
 * against the end of the line; memory is bounded by the line's length.
 */
#include <math.h>
#include <stdio.h>

#include "ingest.h"

/* ------------------------------------------------------------ decoder */

void jsonl_limits_init(jsonl_limits *lim)
{
    lim->max_labels = 256;
    lim->max_name_len = 4096;
    lim->max_value_len = 16384;
    lim->max_samples = 100000000;
}

struct jsonl_decoder {
    jsonl_limits lim;
    char *arena; /* label strings of the current line */
    size_t arena_len, arena_cap;
    base_label *labels;
    size_t n_labels, labels_cap;
    size_t *offs; /* arena offsets of name and value, 2 per label */
    size_t offs_cap;
    int64_t *ts;
    size_t n_ts, ts_cap;
    double *vals;
    size_t n_vals, vals_cap;
};

int jsonl_decoder_new(const jsonl_limits *lim, jsonl_decoder **out)
{
    jsonl_decoder *d = base_calloc(1, sizeof *d);
    if (!d)
        return STRATA_ERR_NOMEM;
    if (lim)
        d->lim = *lim;
    else
        jsonl_limits_init(&d->lim);
    *out = d;
    return STRATA_OK;
}

void jsonl_decoder_free(jsonl_decoder *d)
{
    if (!d)
        return;
    base_free(d->arena);
    base_free(d->labels);
    base_free(d->offs);
    base_free(d->ts);
    base_free(d->vals);
    base_free(d);
}

/* Parsing state of one line. */
typedef struct cur {
    const char *p, *end, *start;
    const char *reason;
    const char *err_at;
} cur;

static int fail(cur *c, const char *at, const char *reason)
{
    c->reason = reason;
    c->err_at = at;
    return STRATA_ERR_INVALID;
}

static void skip_ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int expect(cur *c, char ch, const char *reason)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch)
        return fail(c, c->p, reason);
    c->p++;
    return STRATA_OK;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Offset of the first byte of [s, s+n) that is not part of valid UTF-8
 * (Go's utf8.Valid: shortest forms, no surrogates, at most U+10FFFF), or
 * SIZE_MAX when all is valid. JSON text is UTF-8 (RFC 8259), and labels
 * must be: raw bytes of anything else are refused, not stored. */
static size_t utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char ch = u[i];
        if (ch < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned cp, min;
        if ((ch & 0xe0) == 0xc0)
            k = 1, cp = ch & 0x1fu, min = 0x80;
        else if ((ch & 0xf0) == 0xe0)
            k = 2, cp = ch & 0x0fu, min = 0x800;
        else if ((ch & 0xf8) == 0xf0)
            k = 3, cp = ch & 0x07u, min = 0x10000;
        else
            return i;
        if (n - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((u[i + j] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (u[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += k + 1;
    }
    return SIZE_MAX;
}

/* Reads a JSON string at c->p (at its opening quote) into the arena,
 * NUL-terminated; *off gets its arena offset and *len its length. An
 * escape never produces more bytes than it takes (\uXXXX: 6 in, at most
 * 3 out; a surrogate pair: 12 in, 4 out), so the arena needs at most the
 * raw length plus the NUL. */
static int read_string(jsonl_decoder *d, cur *c, size_t max_len, size_t *off, size_t *len)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return fail(c, c->p, "expected a string");
    const char *s = ++c->p;
    const char *q = s;
    /* find the closing quote to size the arena */
    while (q < c->end && *q != '"')
        q += (*q == '\\' && q + 1 < c->end) ? 2 : 1;
    if (q >= c->end)
        return fail(c, s - 1, "unterminated string");
    size_t raw = (size_t)(q - s);
    int rc = base_grow((void **)&d->arena, &d->arena_cap, d->arena_len + raw + 1, 1);
    if (rc < 0)
        return rc;
    char *o = d->arena + d->arena_len, *o0 = o;
    const char *p = s;
    while (p < q) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20)
            return fail(c, p, "control character in string");
        if (ch != '\\') {
            *o++ = (char)ch;
            p++;
            continue;
        }
        const char *esc = p;
        p++;
        switch (*p) {
        case '"': *o++ = '"'; p++; break;
        case '\\': *o++ = '\\'; p++; break;
        case '/': *o++ = '/'; p++; break;
        case 'b': *o++ = '\b'; p++; break;
        case 'f': *o++ = '\f'; p++; break;
        case 'n': *o++ = '\n'; p++; break;
        case 'r': *o++ = '\r'; p++; break;
        case 't': *o++ = '\t'; p++; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p + 1, q, &cp) < 0)
                return fail(c, esc, "invalid \\u escape");
            p += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, q, &lo) < 0 || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return fail(c, esc, "unpaired surrogate in \\u escape");
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(c, esc, "unpaired surrogate in \\u escape");
            }
            if (cp == 0)
                return fail(c, esc, "NUL character in string");
            o += put_utf8(o, cp);
            break;
        }
        default:
            return fail(c, esc, "invalid escape in string");
        }
    }
    size_t n = (size_t)(o - o0);
    if (n > max_len)
        return fail(c, s - 1, "string too long");
    size_t bad = utf8_invalid_at(o0, n);
    if (bad != SIZE_MAX)
        return fail(c, s - 1, "string is not valid UTF-8");
    *o = 0;
    *off = d->arena_len;
    *len = n;
    d->arena_len += n + 1;
    c->p = q + 1;
    return STRATA_OK;
}

static int read_metric(jsonl_decoder *d, cur *c)
{
    int rc;
    if ((rc = expect(c, '{', "expected '{' after \"metric\":")) < 0)
        return rc;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return STRATA_OK;
    }
    for (;;) {
        if (d->n_labels == d->lim.max_labels)
            return fail(c, c->p, "too many labels");
        if ((rc = base_grow((void **)&d->labels, &d->labels_cap, d->n_labels + 1, sizeof *d->labels)) < 0)
            return rc;
        if ((rc = base_grow((void **)&d->offs, &d->offs_cap, 2 * d->n_labels + 2, sizeof *d->offs)) < 0)
            return rc;
        base_label *l = &d->labels[d->n_labels];
        const char *at = c->p;
        if ((rc = read_string(d, c, d->lim.max_name_len, &d->offs[2 * d->n_labels], &l->name_len)) < 0)
            return rc;
        if ((rc = expect(c, ':', "expected ':' after label name")) < 0)
            return rc;
        if ((rc = read_string(d, c, d->lim.max_value_len, &d->offs[2 * d->n_labels + 1], &l->value_len)) < 0)
            return rc;
        const char *name = d->arena + d->offs[2 * d->n_labels];
        for (size_t i = 0; i < d->n_labels; i++) {
            if (d->labels[i].name_len == l->name_len && !memcmp(d->arena + d->offs[2 * i], name, l->name_len))
                return fail(c, at, "duplicate label name");
        }
        d->n_labels++;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        return expect(c, '}', "expected ',' or '}' in metric");
    }
}

/* Case-insensitive match of [s, e) against the lowercase word w. */
static int word_is(const char *s, const char *e, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(e - s) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != w[i])
            return 0;
    }
    return 1;
}

/* A value token [s, e): a number, or NaN / Inf / +Inf / -Inf. */
static int value_token(const char *s, const char *e, double *out)
{
    if (word_is(s, e, "nan")) {
        *out = NAN;
        return 0;
    }
    if (word_is(s, e, "inf") || word_is(s, e, "+inf")) {
        *out = INFINITY;
        return 0;
    }
    if (word_is(s, e, "-inf")) {
        *out = -INFINITY;
        return 0;
    }
    double v;
    const char *p = num_scan_double(s, e, 0, &v);
    if (!p || p != e || isinf(v))
        return -1;
    *out = v;
    return 0;
}

static int read_values(jsonl_decoder *d, cur *c)
{
    int rc;
    if ((rc = expect(c, '[', "expected '[' after \"values\":")) < 0)
        return rc;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return STRATA_OK;
    }
    for (;;) {
        skip_ws(c);
        const char *s = c->p, *e;
        int quoted = c->p < c->end && *c->p == '"';
        if (quoted) {
            s++;
            e = s;
            while (e < c->end && *e != '"')
                e++;
            if (e >= c->end)
                return fail(c, c->p, "unterminated string");
            c->p = e + 1;
        } else {
            e = s;
            while (e < c->end && *e != ',' && *e != ']' && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n')
                e++;
            c->p = e;
        }
        double v;
        if (s == e || value_token(s, e, &v) < 0)
            return fail(c, quoted ? s - 1 : s, "invalid value");
        if (d->n_vals == d->lim.max_samples)
            return fail(c, s, "too many samples");
        if ((rc = base_grow((void **)&d->vals, &d->vals_cap, d->n_vals + 1, sizeof *d->vals)) < 0)
            return rc;
        d->vals[d->n_vals++] = v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        return expect(c, ']', "expected ',' or ']' in values");
    }
}

static int read_timestamps(jsonl_decoder *d, cur *c)
{
    int rc;
    if ((rc = expect(c, '[', "expected '[' after \"timestamps\":")) < 0)
        return rc;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return STRATA_OK;
    }
    for (;;) {
        skip_ws(c);
        const char *s = c->p, *p = s;
        int neg = 0;
        if (p < c->end && *p == '-') {
            neg = 1;
            p++;
        }
        uint64_t v = 0;
        const char *digits = p;
        while (p < c->end && (unsigned)(*p - '0') < 10) {
            unsigned dg = (unsigned)(*p - '0');
            if (v > (UINT64_MAX - dg) / 10 || v * 10 + dg > (uint64_t)INT64_MAX + (uint64_t)neg)
                return fail(c, s, "timestamp out of range");
            v = v * 10 + dg;
            p++;
        }
        if (p == digits || (p < c->end && (*p == '.' || *p == 'e' || *p == 'E')))
            return fail(c, s, "invalid timestamp: want integer milliseconds");
        c->p = p;
        if (d->n_ts == d->lim.max_samples)
            return fail(c, s, "too many samples");
        if ((rc = base_grow((void **)&d->ts, &d->ts_cap, d->n_ts + 1, sizeof *d->ts)) < 0)
            return rc;
        d->ts[d->n_ts++] = neg ? (int64_t)(0 - v) : (int64_t)v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        return expect(c, ']', "expected ',' or ']' in timestamps");
    }
}

int jsonl_decode_line(jsonl_decoder *d, const char *line, size_t len, jsonl_series *out, const char **reason,
                      size_t *err_pos)
{
    cur c = {.p = line, .end = line + len, .start = line, .reason = NULL, .err_at = line};
    d->arena_len = 0;
    d->n_labels = 0;
    d->n_ts = 0;
    d->n_vals = 0;
    int rc;
    int have_metric = 0, have_values = 0, have_ts = 0;
    skip_ws(&c);
    if (c.p == c.end)
        return 0;
    if ((rc = expect(&c, '{', "expected '{'")) < 0)
        goto out;
    for (;;) {
        skip_ws(&c);
        const char *kat = c.p;
        if (c.p >= c.end || *c.p != '"') {
            rc = fail(&c, c.p, "expected a key");
            goto out;
        }
        const char *ks = c.p + 1, *ke = ks;
        while (ke < c.end && *ke != '"' && *ke != '\\')
            ke++;
        if (ke >= c.end || *ke != '"') {
            rc = fail(&c, kat, "unknown key");
            goto out;
        }
        size_t kl = (size_t)(ke - ks);
        c.p = ke + 1;
        if ((rc = expect(&c, ':', "expected ':' after key")) < 0)
            goto out;
        if (kl == 6 && !memcmp(ks, "metric", 6)) {
            if (have_metric++) {
                rc = fail(&c, kat, "duplicate key \"metric\"");
                goto out;
            }
            rc = read_metric(d, &c);
        } else if (kl == 6 && !memcmp(ks, "values", 6)) {
            if (have_values++) {
                rc = fail(&c, kat, "duplicate key \"values\"");
                goto out;
            }
            rc = read_values(d, &c);
        } else if (kl == 10 && !memcmp(ks, "timestamps", 10)) {
            if (have_ts++) {
                rc = fail(&c, kat, "duplicate key \"timestamps\"");
                goto out;
            }
            rc = read_timestamps(d, &c);
        } else {
            rc = fail(&c, kat, "unknown key");
        }
        if (rc < 0)
            goto out;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        if ((rc = expect(&c, '}', "expected ',' or '}'")) < 0)
            goto out;
        break;
    }
    skip_ws(&c);
    if (c.p != c.end) {
        rc = fail(&c, c.p, "text after the object");
        goto out;
    }
    if (!have_metric || !have_values || !have_ts) {
        rc = fail(&c, c.p, !have_metric ? "missing \"metric\"" : !have_values ? "missing \"values\"" : "missing \"timestamps\"");
        goto out;
    }
    if (d->n_vals != d->n_ts) {
        rc = fail(&c, line, "\"values\" and \"timestamps\" differ in length");
        goto out;
    }
    for (size_t i = 0; i < d->n_labels; i++) {
        d->labels[i].name = d->arena + d->offs[2 * i];
        d->labels[i].value = d->arena + d->offs[2 * i + 1];
    }
    out->labels = d->labels;
    out->n_labels = d->n_labels;
    out->timestamps = d->ts;
    out->values = d->vals;
    out->n_samples = d->n_ts;
    return 1;
out:
    if (rc == STRATA_ERR_INVALID) {
        *reason = c.reason;
        *err_pos = (size_t)(c.err_at - line);
    }
    return rc;
}
