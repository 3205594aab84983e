/*
 * expfmt.c: Prometheus text exposition format, line by line. See expfmt.h.
 *
 * Each line is copied into a scratch buffer as it is unescaped: the
 * unescaped form of a token is never longer than the token, so a buffer
 * one byte longer than the line holds every string of the line with
 * their NUL terminators.
 */
#include "expfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct ef_line {
    const char *p, *end; /* the rest of the line */
    char *o;             /* next free byte of the scratch buffer */
} ef_line;

static int is_name_start(char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int is_name_char(char c, int colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

static void skip_blank(ef_line *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t'))
        l->p++;
}

/* A name into the scratch buffer; NULL when there is none. */
static const char *read_name(ef_line *l, int colon)
{
    if (l->p >= l->end || !is_name_start(*l->p, colon))
        return NULL;
    const char *s = l->p;
    while (l->p < l->end && is_name_char(*l->p, colon))
        l->p++;
    char *out = l->o;
    memcpy(out, s, (size_t)(l->p - s));
    l->o += l->p - s;
    *l->o++ = 0;
    return out;
}

/* A quoted label value (escapes \\ \" \n) into the scratch buffer; NULL
 * when unterminated or badly escaped. *n gets its length. */
static const char *read_quoted(ef_line *l, size_t *n)
{
    if (l->p >= l->end || *l->p != '"')
        return NULL;
    l->p++;
    char *out = l->o;
    while (l->p < l->end && *l->p != '"') {
        char c = *l->p++;
        if (c == '\\') {
            if (l->p >= l->end)
                return NULL;
            c = *l->p++;
            if (c == 'n')
                c = '\n';
            else if (c != '\\' && c != '"')
                return NULL;
        }
        *l->o++ = c;
    }
    if (l->p >= l->end)
        return NULL;
    l->p++;
    *n = (size_t)(l->o - out);
    *l->o++ = 0;
    return out;
}

/* The next blank-separated token: [*s, *s + *n). 0 when there is none. */
static int token(ef_line *l, const char **s, size_t *n)
{
    skip_blank(l);
    *s = l->p;
    while (l->p < l->end && *l->p != ' ' && *l->p != '\t')
        l->p++;
    *n = (size_t)(l->p - *s);
    return *n != 0;
}

/* A Go float: NaN, [+-]Inf(inity) in any case, or a decimal. */
static int parse_value(const char *s, size_t n, double *v)
{
    const char *t = s;
    size_t m = n;
    int neg = 0;
    if (m && (*t == '+' || *t == '-')) {
        neg = *t == '-';
        t++;
        m--;
    }
    if ((m == 3 && !strncasecmp(t, "inf", 3)) || (m == 8 && !strncasecmp(t, "infinity", 8))) {
        *v = neg ? -__builtin_inf() : __builtin_inf();
        return STRATA_OK;
    }
    if (m == 3 && t == s && !strncasecmp(t, "nan", 3)) {
        *v = __builtin_nan("");
        return STRATA_OK;
    }
    return strata_parse_double(s, n, v);
}

/* A decimal int64 timestamp in milliseconds. */
static int parse_ms(const char *s, size_t n, int64_t *t)
{
    size_t i = 0;
    int neg = 0;
    if (n && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        i = 1;
    }
    if (i == n || n - i > 19)
        return STRATA_ERR_INVALID;
    uint64_t x = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return STRATA_ERR_INVALID;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x > (uint64_t)INT64_MAX)
        return STRATA_ERR_INVALID;
    *t = neg ? -(int64_t)x : (int64_t)x;
    return STRATA_OK;
}

#define FAIL(rc_, ...)                                                                                           \
    do {                                                                                                         \
        int o_ = snprintf(err, errlen, "line %zu: ", lineno);                                                    \
        if (o_ > 0 && (size_t)o_ < errlen)                                                                       \
            snprintf(err + o_, errlen - (size_t)o_, __VA_ARGS__);                                                \
        return (rc_);                                                                                            \
    } while (0)

/* A # line: HELP, TYPE and UNIT go to on_meta, other comments are skipped. */
static int comment_line(ef_line *l, size_t lineno, const ef_limits *lim, ef_meta_fn on_meta, void *ctx, char *err,
                        size_t errlen)
{
    static const char *const types[][2] = {{"counter", "counter"},   {"gauge", "gauge"},
                                           {"histogram", "histogram"}, {"summary", "summary"},
                                           {"untyped", "unknown"},   {"unknown", "unknown"},
                                           {"info", "info"},         {"stateset", "stateset"},
                                           {"gaugehistogram", "gaugehistogram"}};
    l->p++; /* '#' */
    skip_blank(l);
    const char *kw;
    size_t kn;
    if (!token(l, &kw, &kn))
        return STRATA_OK;
    const char *kind = kn == 4 && !memcmp(kw, "HELP", 4)   ? "help"
                       : kn == 4 && !memcmp(kw, "TYPE", 4) ? "type"
                       : kn == 4 && !memcmp(kw, "UNIT", 4) ? "unit"
                                                           : NULL;
    if (!kind)
        return STRATA_OK;
    skip_blank(l);
    const char *metric = read_name(l, 1);
    if (!metric || (l->p < l->end && *l->p != ' ' && *l->p != '\t'))
        FAIL(STRATA_ERR_INVALID, "# %.4s without a valid metric name", kw);
    skip_blank(l);
    char *text = l->o;
    if (kind[0] == 'h') { /* the rest of the line, escapes \\ and \n */
        while (l->p < l->end) {
            char c = *l->p++;
            if (c == '\\' && l->p < l->end && (*l->p == '\\' || *l->p == 'n')) {
                c = *l->p == 'n' ? '\n' : '\\';
                l->p++;
            }
            if (!c)
                FAIL(STRATA_ERR_INVALID, "# HELP %s holds a NUL byte", metric);
            *l->o++ = c;
        }
        if ((size_t)(l->o - text) > lim->max_label_len)
            FAIL(STRATA_ERR_LIMIT, "# HELP %s longer than the limit of %zu bytes", metric, lim->max_label_len);
        *l->o++ = 0;
    } else {
        const char *t;
        size_t tn;
        int has = token(l, &t, &tn);
        skip_blank(l);
        if (l->p < l->end)
            FAIL(STRATA_ERR_INVALID, "# %.4s %s: more than one word", kw, metric);
        if (kind[0] == 't') {
            size_t k = 0;
            for (; has && k < sizeof types / sizeof types[0]; k++)
                if (strlen(types[k][0]) == tn && !memcmp(types[k][0], t, tn))
                    break;
            if (!has || k == sizeof types / sizeof types[0])
                FAIL(STRATA_ERR_INVALID, "# TYPE %s: unknown type '%.*s'", metric, (int)(tn < 32 ? tn : 32), t);
            return on_meta ? on_meta(ctx, kind, metric, types[k][1]) : STRATA_OK;
        }
        if (tn > lim->max_label_len)
            FAIL(STRATA_ERR_LIMIT, "# UNIT %s longer than the limit of %zu bytes", metric, lim->max_label_len);
        if (tn && memchr(t, 0, tn))
            FAIL(STRATA_ERR_INVALID, "# UNIT %s holds a NUL byte", metric);
        memcpy(text, t, tn);
        text[tn] = 0;
        l->o += tn + 1;
    }
    return on_meta ? on_meta(ctx, kind, metric, text) : STRATA_OK;
}

/* A sample line. */
static int sample_line(ef_line *l, size_t lineno, int64_t default_t, const ef_limits *lim, strata_label *labels,
                       ef_sample_fn on_sample, void *ctx, char *err, size_t errlen)
{
    const char *name = read_name(l, 1);
    if (!name)
        FAIL(STRATA_ERR_INVALID, "expected a metric name");
    if (strlen(name) > lim->max_label_len)
        FAIL(STRATA_ERR_LIMIT, "metric name longer than the limit of %zu bytes", lim->max_label_len);
    size_t n = 0;
    labels[n++] = (strata_label){"__name__", name};
    skip_blank(l);
    if (l->p < l->end && *l->p == '{') {
        l->p++;
        for (;;) {
            skip_blank(l);
            if (l->p < l->end && *l->p == '}') {
                l->p++;
                break;
            }
            const char *ln = read_name(l, 0);
            if (!ln)
                FAIL(STRATA_ERR_INVALID, "expected a label name or '}'");
            skip_blank(l);
            if (l->p >= l->end || *l->p != '=')
                FAIL(STRATA_ERR_INVALID, "expected '=' after label %.64s", ln);
            l->p++;
            skip_blank(l);
            size_t vn = 0;
            const char *lv = read_quoted(l, &vn);
            if (!lv)
                FAIL(STRATA_ERR_INVALID, "label %.64s: expected a quoted value (escapes \\\\ \\\" \\n)", ln);
            if (vn && memchr(lv, 0, vn))
                FAIL(STRATA_ERR_INVALID, "label %.64s: the value holds a NUL byte", ln);
            if (strlen(ln) > lim->max_label_len || vn > lim->max_label_len)
                FAIL(STRATA_ERR_LIMIT, "label %.64s longer than the limit of %zu bytes", ln, lim->max_label_len);
            for (size_t k = 0; k < n; k++)
                if (!strcmp(labels[k].name, ln))
                    FAIL(STRATA_ERR_INVALID, "duplicate label name %.64s", ln);
            if (n == lim->max_labels)
                FAIL(STRATA_ERR_LIMIT, "more than the limit of %zu labels", lim->max_labels);
            labels[n++] = (strata_label){ln, lv};
            skip_blank(l);
            if (l->p < l->end && *l->p == ',') {
                l->p++;
                continue;
            }
            if (l->p < l->end && *l->p == '}') {
                l->p++;
                break;
            }
            FAIL(STRATA_ERR_INVALID, "expected ',' or '}' after label %.64s", ln);
        }
    }
    const char *vs, *ts;
    size_t vn, tn;
    if (!token(l, &vs, &vn))
        FAIL(STRATA_ERR_INVALID, "%.64s: no value", name);
    double v;
    if (parse_value(vs, vn, &v))
        FAIL(STRATA_ERR_INVALID, "%.64s: bad value '%.*s'", name, (int)(vn < 32 ? vn : 32), vs);
    int64_t t = default_t;
    if (token(l, &ts, &tn) && parse_ms(ts, tn, &t))
        FAIL(STRATA_ERR_INVALID, "%.64s: bad timestamp '%.*s' (milliseconds)", name, (int)(tn < 32 ? tn : 32), ts);
    skip_blank(l);
    if (l->p < l->end)
        FAIL(STRATA_ERR_INVALID, "%.64s: text after the timestamp", name);
    return on_sample ? on_sample(ctx, labels, n, v, t) : STRATA_OK;
}

int ef_parse(const char *buf, size_t len, int64_t default_t_ms, const ef_limits *lim, ef_sample_fn on_sample,
             ef_meta_fn on_meta, void *ctx, char *err, size_t errlen)
{
    size_t lineno = 0, cap = 0;
    char *scratch = NULL;
    strata_label *labels = malloc((lim->max_labels ? lim->max_labels : 1) * sizeof *labels);
    if (!labels)
        return STRATA_ERR_NOMEM;
    if (!lim->max_labels) {
        free(labels);
        FAIL(STRATA_ERR_LIMIT, "the label limit is 0");
    }
    int rc = STRATA_OK;
    const char *p = buf, *end = buf + len;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        size_t n = (size_t)(le - p);
        if (n + 1 > cap) {
            char *ns = realloc(scratch, n + 1);
            if (!ns) {
                rc = STRATA_ERR_NOMEM;
                break;
            }
            scratch = ns;
            cap = n + 1;
        }
        ef_line l = {p, le, scratch};
        if (l.end > l.p && l.end[-1] == '\r') /* CRLF line ends */
            l.end--;
        skip_blank(&l);
        if (l.p == l.end)
            ;
        else if (*l.p == '#')
            rc = comment_line(&l, lineno, lim, on_meta, ctx, err, errlen);
        else
            rc = sample_line(&l, lineno, default_t_ms, lim, labels, on_sample, ctx, err, errlen);
        p = nl ? nl + 1 : end;
    }
    free(scratch);
    free(labels);
    return rc;
}
