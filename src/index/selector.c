/*
 * selector.c: the PromQL vector selector parser of the public API
 * (strata_selector_parse / strata_selector_free).
 *
 * Grammar (PromQL's, whitespace allowed between tokens):
 *   selector   = [ metric ] [ "{" [ item { "," item } [ "," ] ] "}" ] [ "[" duration "]" ]
 *   metric     = [a-zA-Z_:][a-zA-Z0-9_:]*
 *   item       = label op string | string          (a lone string is the metric name)
 *   label      = [a-zA-Z_][a-zA-Z0-9_]* | string   (quoted names as Prometheus 3)
 *   op         = "=" | "!=" | "=~" | "!~"
 *   string     = "..." or '...' with Go escapes (\a \b \f \n \r \t \v \\
 *                \" or \' (the quote in use), \ooo octal, \xhh, \uhhhh,
 *                \Uhhhhhhhh), or `...` raw (no escapes, may span lines)
 *   duration   = one or more <digits><unit>, units ms s m h d w y each at
 *                most once and from largest to smallest (1h30m), not zero
 * The metric name becomes the first matcher __name__="metric". As in
 * Prometheus: a selector needs at least one matcher that does not match
 * the empty string; the name may not be given twice; regular expressions
 * must compile. Errors name the position as "line:column: parse error: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "index_int.h"

typedef struct parser {
    const char *s;     /* the text */
    size_t i;          /* current byte */
    char *err;
    size_t errlen;
    strata_matcher *m;
    size_t n, cap;
    int64_t range_ms;
} parser;

static int fail(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parser *p, size_t at, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        size_t line = 1, col = 1;
        for (size_t k = 0; k < at && p->s[k]; k++) {
            if (p->s[k] == '\n')
                line++, col = 1;
            else
                col++;
        }
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "%zu:%zu: parse error: %s", line, col, msg);
    }
    return STRATA_ERR_INVALID;
}

/* A printable description of the byte at i for messages. */
static const char *what(parser *p, size_t i, char buf[16])
{
    unsigned char c = (unsigned char)p->s[i];
    if (!c)
        return "end of input";
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static void skip_ws(parser *p)
{
    for (;;) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p->i++;
        else
            return;
    }
}

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a quoted string at p->i into a new string (*out, caller frees). */
static int parse_string(parser *p, char **out)
{
    size_t start = p->i;
    char q = p->s[p->i++];
    /* The decoded string is never longer than the source. */
    size_t cap = strlen(p->s + p->i) + 1;
    char *o = base_malloc(cap), tmp[16];
    size_t n = 0;
    if (!o)
        return STRATA_ERR_NOMEM;
    for (;;) {
        size_t at = p->i;
        char c = p->s[p->i];
        if (!c || (c == '\n' && q != '`')) {
            base_free(o);
            return fail(p, start, "unterminated quoted string");
        }
        p->i++;
        if (c == q)
            break;
        if (c != '\\' || q == '`') {
            o[n++] = c;
            continue;
        }
        char e = p->s[p->i++];
        uint32_t v = 0;
        int digits = 0, base = 16, unicode = 0;
        switch (e) {
        case 'a': o[n++] = '\a'; continue;
        case 'b': o[n++] = '\b'; continue;
        case 'f': o[n++] = '\f'; continue;
        case 'n': o[n++] = '\n'; continue;
        case 'r': o[n++] = '\r'; continue;
        case 't': o[n++] = '\t'; continue;
        case 'v': o[n++] = '\v'; continue;
        case '\\': o[n++] = '\\'; continue;
        case 'x': digits = 2; break;
        case 'u': digits = 4, unicode = 1; break;
        case 'U': digits = 8, unicode = 1; break;
        default:
            if (e == q) {
                o[n++] = q;
                continue;
            }
            if (e >= '0' && e <= '7') {
                digits = 3, base = 8;
                p->i--;
                break;
            }
            base_free(o);
            if (!e) /* the backslash was the last byte */
                return fail(p, start, "unterminated quoted string");
            return fail(p, at, "unknown escape sequence %s", what(p, at + 1, tmp));
        }
        for (int k = 0; k < digits; k++) {
            int d = hexval(p->s[p->i]);
            if (d < 0 || d >= base) {
                base_free(o);
                return fail(p, p->i, "invalid character %s in escape sequence", what(p, p->i, tmp));
            }
            v = v * (uint32_t)base + (uint32_t)d;
            p->i++;
        }
        if (unicode ? (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) : v > 255) {
            base_free(o);
            return fail(p, at, "escape sequence is an invalid %s", unicode ? "Unicode code point" : "byte");
        }
        if (v == 0) {
            base_free(o);
            return fail(p, at, "NUL characters are not allowed in strings");
        }
        if (unicode)
            n += put_utf8(o + n, v);
        else
            o[n++] = (char)v;
    }
    o[n] = 0;
    if (memchr(o, 0, n)) {
        base_free(o);
        return fail(p, start, "NUL characters are not allowed in strings");
    }
    *out = o;
    return STRATA_OK;
}

static int is_quote(char c) { return c == '"' || c == '\'' || c == '`'; }

static int add_matcher(parser *p, strata_match_type t, char *name, char *value)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        strata_matcher *m = base_realloc(p->m, cap * sizeof *m);
        if (!m) {
            base_free(name);
            base_free(value);
            return STRATA_ERR_NOMEM;
        }
        p->m = m;
        p->cap = cap;
    }
    p->m[p->n].type = t;
    p->m[p->n].name = name;
    p->m[p->n].value = value;
    p->n++;
    return STRATA_OK;
}

static int parse_ident(parser *p, int metric, char **out)
{
    size_t st = p->i;
    while (is_alpha(p->s[p->i]) || is_digit(p->s[p->i]) || (metric && p->s[p->i] == ':'))
        p->i++;
    if (!(*out = base_strndup(p->s + st, p->i - st)))
        return STRATA_ERR_NOMEM;
    return STRATA_OK;
}

static int parse_item(parser *p, int *metric_set, size_t *metric_at)
{
    char *name = NULL, *value = NULL, tmp[16];
    size_t at = p->i;
    int rc;
    strata_match_type t;
    if (is_quote(p->s[p->i])) {
        if ((rc = parse_string(p, &name)) != 0)
            return rc;
        skip_ws(p);
        char c = p->s[p->i];
        if (c == ',' || c == '}') { /* {"metric.name", ...} */
            if (*metric_set) {
                base_free(name);
                return fail(p, at, "metric name must not be set twice");
            }
            *metric_set = 1;
            *metric_at = at;
            if (!(value = name) || !(name = base_strdup("__name__"))) {
                base_free(value);
                return STRATA_ERR_NOMEM;
            }
            return add_matcher(p, STRATA_MATCH_EQ, name, value);
        }
    } else if (is_alpha(p->s[p->i])) {
        if ((rc = parse_ident(p, 0, &name)) != 0)
            return rc;
        skip_ws(p);
    } else {
        return fail(p, p->i, "unexpected %s, expected a label name", what(p, p->i, tmp));
    }
    if (!name[0]) {
        base_free(name);
        return fail(p, at, "empty label name");
    }
    size_t opat = p->i;
    const char *s = p->s + p->i;
    if (s[0] == '=' && s[1] == '~')
        t = STRATA_MATCH_RE, p->i += 2;
    else if (s[0] == '!' && s[1] == '~')
        t = STRATA_MATCH_NRE, p->i += 2;
    else if (s[0] == '!' && s[1] == '=')
        t = STRATA_MATCH_NEQ, p->i += 2;
    else if (s[0] == '=')
        t = STRATA_MATCH_EQ, p->i += 1;
    else {
        base_free(name);
        return fail(p, opat, "unexpected %s, expected one of =, !=, =~, !~", what(p, opat, tmp));
    }
    skip_ws(p);
    if (!is_quote(p->s[p->i])) {
        base_free(name);
        return fail(p, p->i, "unexpected %s, expected a quoted string", what(p, p->i, tmp));
    }
    size_t vat = p->i;
    if ((rc = parse_string(p, &value)) != 0) {
        base_free(name);
        return rc;
    }
    if (t == STRATA_MATCH_RE || t == STRATA_MATCH_NRE) {
        strata_matcher m = {t, name, value};
        index_matcher *im;
        char msg[180];
        msg[0] = 0;
        if ((rc = index_matcher_compile(&m, &im, msg, sizeof msg)) != 0) {
            base_free(name);
            base_free(value);
            return rc == STRATA_ERR_INVALID ? fail(p, vat, "%s", msg[0] ? msg : "invalid regular expression") : rc;
        }
        index_matcher_free(im);
    }
    if (strcmp(name, "__name__") == 0) {
        if (*metric_set) {
            base_free(name);
            base_free(value);
            return fail(p, at, "metric name must not be set twice");
        }
        /* Only a name given before the braces conflicts; several
         * __name__ matchers inside are allowed, as in Prometheus. */
    }
    return add_matcher(p, t, name, value);
}

static int parse_duration(parser *p)
{
    static const struct {
        const char *u;
        int64_t ms;
    } units[] = {{"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000}, {"h", 3600000},
                 {"m", 60000},            {"s", 1000},           {"ms", 1}};
    size_t st = p->i, next_unit = 0;
    int64_t total = 0;
    char tmp[16];
    if (!is_digit(p->s[p->i]))
        return fail(p, p->i, "unexpected %s, expected a duration like 5m", what(p, p->i, tmp));
    while (is_digit(p->s[p->i])) {
        size_t at = p->i;
        int64_t v = 0;
        while (is_digit(p->s[p->i])) {
            if (v > (INT64_MAX - 9) / 10)
                return fail(p, at, "duration out of range");
            v = v * 10 + (p->s[p->i++] - '0');
        }
        size_t u;
        for (u = 0; u < ARRAY_LEN(units); u++) {
            size_t len = strlen(units[u].u);
            /* "m" must not take the m of "ms" */
            if (strncmp(p->s + p->i, units[u].u, len) == 0 && !(u == 4 && p->s[p->i + 1] == 's'))
                break;
        }
        if (u == ARRAY_LEN(units))
            return fail(p, p->i, "unexpected %s, expected a duration unit (ms, s, m, h, d, w, y)", what(p, p->i, tmp));
        if (u < next_unit)
            return fail(p, p->i, "duration units must go from largest to smallest, each once");
        next_unit = u + 1;
        if (v > (INT64_MAX - total) / units[u].ms)
            return fail(p, at, "duration out of range");
        total += v * units[u].ms;
        p->i += strlen(units[u].u);
    }
    if (total == 0)
        return fail(p, st, "range must be greater than zero");
    p->range_ms = total;
    return STRATA_OK;
}

static int parse(parser *p)
{
    int rc, metric_set = 0;
    size_t metric_at = 0;
    char tmp[16];
    skip_ws(p);
    if (is_alpha(p->s[p->i]) || p->s[p->i] == ':') {
        char *name, *value;
        metric_at = p->i;
        if ((rc = parse_ident(p, 1, &value)) != 0)
            return rc;
        if (!(name = base_strdup("__name__"))) {
            base_free(value);
            return STRATA_ERR_NOMEM;
        }
        if ((rc = add_matcher(p, STRATA_MATCH_EQ, name, value)) != 0)
            return rc;
        metric_set = 1;
        skip_ws(p);
    }
    if (p->s[p->i] == '{') {
        p->i++;
        skip_ws(p);
        while (p->s[p->i] != '}') {
            if ((rc = parse_item(p, &metric_set, &metric_at)) != 0)
                return rc;
            skip_ws(p);
            if (p->s[p->i] == ',') {
                p->i++;
                skip_ws(p);
            } else if (p->s[p->i] != '}') {
                return fail(p, p->i, "unexpected %s in label matching, expected \",\" or \"}\"", what(p, p->i, tmp));
            }
        }
        p->i++;
        skip_ws(p);
    } else if (!metric_set) {
        return fail(p, p->i, "unexpected %s, expected a metric name or \"{\"", what(p, p->i, tmp));
    }
    if (p->s[p->i] == '[') {
        p->i++;
        skip_ws(p);
        if ((rc = parse_duration(p)) != 0)
            return rc;
        skip_ws(p);
        if (p->s[p->i] != ']')
            return fail(p, p->i, "unexpected %s, expected \"]\"", what(p, p->i, tmp));
        p->i++;
        skip_ws(p);
    }
    if (p->s[p->i])
        return fail(p, p->i, "unexpected %s after the selector", what(p, p->i, tmp));
    /* At least one matcher must reject the empty string. */
    for (size_t k = 0; k < p->n; k++) {
        index_matcher *im;
        if ((rc = index_matcher_compile(&p->m[k], &im, NULL, 0)) != 0)
            return rc;
        int empty = im->matches_empty;
        index_matcher_free(im);
        if (!empty)
            return STRATA_OK;
    }
    return fail(p, 0, "vector selector must contain at least one non-empty matcher");
}

void strata_selector_free(strata_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n_matchers; i++) {
        base_free((char *)sel->matchers[i].name);
        base_free((char *)sel->matchers[i].value);
    }
    base_free(sel->matchers);
    sel->matchers = NULL;
    sel->n_matchers = 0;
    sel->range_ms = 0;
}

int strata_selector_parse(const char *text, strata_selector *out, char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!text || !out)
        return STRATA_ERR_INVALID;
    parser p = {.s = text, .err = errbuf, .errlen = errlen};
    int rc = parse(&p);
    strata_selector sel = {p.m, p.n, p.range_ms};
    if (rc != 0) {
        if (rc == STRATA_ERR_NOMEM && errbuf && errlen)
            snprintf(errbuf, errlen, "out of memory");
        strata_selector_free(&sel);
        return rc;
    }
    *out = sel;
    return STRATA_OK;
}
