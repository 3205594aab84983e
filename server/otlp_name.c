/*
 * otlp_name.c: metric and label names as Prometheus' OTLP receiver makes
 * them (github.com/prometheus/otlptranslator: MetricNamer, UnitNamer,
 * NormalizeLabel). See otlp.h.
 *
 * UnderscoreEscapingWithSuffixes, the default: the name is cut into
 * tokens at every character but [A-Za-z0-9:] (so "_" too, and runs of
 * separators vanish), the unit's words are added unless a token already
 * says them ("ms" -> "milliseconds", "By/s" -> "bytes" "per_second",
 * "{requests}" and "1" -> nothing), "total" goes last on counters and
 * "ratio" on gauges of unit "1", and the tokens are joined with "_"; a
 * leading digit gets a "_" before it. Labels: every character but
 * [A-Za-z0-9_] becomes "_", a leading digit gets "key_" and a single
 * leading "_" gets "key". The UTF-8 strategies keep names as they are
 * (adding the suffixes, or not).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"

static const struct {
    const char *otel, *prom;
} unit_map[] = {
    {"d", "days"},          {"h", "hours"},        {"min", "minutes"},   {"s", "seconds"},      {"ms", "milliseconds"},
    {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},      {"KiBy", "kibibytes"}, {"MiBy", "mebibytes"},
    {"GiBy", "gibibytes"},  {"TiBy", "tibibytes"}, {"KBy", "kilobytes"}, {"MBy", "megabytes"},  {"GBy", "gigabytes"},
    {"TBy", "terabytes"},   {"m", "meters"},       {"V", "volts"},       {"A", "amperes"},      {"J", "joules"},
    {"W", "watts"},         {"g", "grams"},        {"Cel", "celsius"},   {"Hz", "hertz"},       {"1", ""},
    {"%", "percent"},
};

static const struct {
    const char *otel, *prom;
} per_map[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"}, {"w", "week"}, {"mo", "month"}, {"y", "year"},
};

static const char *const strategy_names[] = {"UnderscoreEscapingWithSuffixes", "UnderscoreEscapingWithoutSuffixes",
                                             "NoUTF8EscapingWithSuffixes", "NoTranslation"};

int otlp_strategy_parse(const char *name, otlp_strategy *out)
{
    for (size_t i = 0; i < sizeof strategy_names / sizeof strategy_names[0]; i++)
        if (!strcmp(name, strategy_names[i])) {
            *out = (otlp_strategy)i;
            return 0;
        }
    return -1;
}

const char *otlp_strategy_name(otlp_strategy st)
{
    return (unsigned)st < sizeof strategy_names / sizeof strategy_names[0] ? strategy_names[st] : "?";
}

static int metric_char(unsigned char c) { return isalnum(c) || c == ':'; /* ASCII only: isalnum in the C locale */ }

static int label_char(unsigned char c) { return isalnum(c) || c == '_'; }

/* A string of at most 255 bytes held in place (unit words are short; a
 * longer unit is cut, which only shortens a suffix nobody could use). */
typedef struct word {
    char s[256];
} word;

static void word_set(word *w, const char *p, size_t n)
{
    if (n > sizeof w->s - 1)
        n = sizeof w->s - 1;
    memcpy(w->s, p, n);
    w->s[n] = 0;
}

static void trim_space(const char **p, size_t *n)
{
    while (*n && isspace((unsigned char)**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

/* buildUnitSuffixes: the main and the "per_" words of unit, untouched. */
static void unit_suffixes(const char *unit, word *main_w, word *per_w)
{
    main_w->s[0] = per_w->s[0] = 0;
    const char *slash = strchr(unit, '/');
    const char *m = unit;
    size_t mn = slash ? (size_t)(slash - unit) : strlen(unit);
    trim_space(&m, &mn);
    if (mn && !memchr(m, '{', mn) && !memchr(m, '}', mn)) {
        word_set(main_w, m, mn);
        for (size_t i = 0; i < sizeof unit_map / sizeof unit_map[0]; i++)
            if (!strcmp(main_w->s, unit_map[i].otel)) {
                snprintf(main_w->s, sizeof main_w->s, "%s", unit_map[i].prom);
                break;
            }
    }
    if (slash && slash[1]) {
        const char *p = slash + 1;
        size_t pn = strlen(p);
        trim_space(&p, &pn);
        if (pn && !memchr(p, '{', pn) && !memchr(p, '}', pn)) {
            word w;
            word_set(&w, p, pn);
            const char *per = w.s;
            for (size_t i = 0; i < sizeof per_map / sizeof per_map[0]; i++)
                if (!strcmp(w.s, per_map[i].otel))
                    per = per_map[i].prom;
            size_t pl = strlen(per);
            if (pl > sizeof per_w->s - 5)
                pl = sizeof per_w->s - 5;
            memcpy(per_w->s, "per_", 4);
            memcpy(per_w->s + 4, per, pl);
            per_w->s[4 + pl] = 0;
        }
    }
}

/* cleanUpUnit: invalid characters (a UTF-8 sequence counts as one) become
 * "_", runs of "_" one, a leading "_" goes. */
static void clean_unit(word *w)
{
    char out[sizeof w->s];
    size_t o = 0;
    for (size_t i = 0; w->s[i]; i++) {
        unsigned char c = (unsigned char)w->s[i];
        if ((c & 0xc0) == 0x80 && i && ((unsigned char)w->s[i - 1] & 0x80))
            continue; /* the rest of a UTF-8 sequence already replaced */
        char ch = metric_char(c) ? (char)c : '_';
        if (ch == '_' && o && out[o - 1] == '_')
            continue;
        out[o++] = ch;
    }
    out[o] = 0;
    snprintf(w->s, sizeof w->s, "%s", out[0] == '_' ? out + 1 : out);
}

static void trim_suffix(word *w, char c)
{
    size_t n = strlen(w->s);
    if (n && w->s[n - 1] == c)
        w->s[n - 1] = 0;
}

/* Tokens of a name: [start, len) pairs into the name. */
typedef struct tokens {
    const char **p;
    size_t *n;
    size_t count, cap;
} tokens;

static int tok_push(tokens *t, const char *p, size_t n)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        const char **np = realloc(t->p, cap * sizeof *np);
        if (!np)
            return STRATA_ERR_NOMEM;
        t->p = np;
        size_t *nn = realloc(t->n, cap * sizeof *nn);
        if (!nn)
            return STRATA_ERR_NOMEM;
        t->n = nn;
        t->cap = cap;
    }
    t->p[t->count] = p;
    t->n[t->count++] = n;
    return STRATA_OK;
}

static int tok_has(const tokens *t, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < t->count; i++)
        if (t->n[i] == n && !memcmp(t->p[i], s, n))
            return 1;
    return 0;
}

static void tok_remove(tokens *t, const char *s)
{
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < t->count; i++)
        if (!(t->n[i] == n && !memcmp(t->p[i], s, n))) {
            t->p[o] = t->p[i];
            t->n[o++] = t->n[i];
        }
    t->count = o;
}

/* Splits name at every byte keep() refuses, dropping empty fields. */
static int tok_split(tokens *t, const char *name, int (*keep)(unsigned char))
{
    const char *start = NULL;
    for (const char *c = name;; c++) {
        if (*c && keep((unsigned char)*c)) {
            if (!start)
                start = c;
            continue;
        }
        if (start && tok_push(t, start, (size_t)(c - start)))
            return STRATA_ERR_NOMEM;
        start = NULL;
        if (!*c)
            break;
    }
    return STRATA_OK;
}

static int metric_or_underscore(unsigned char c) { return metric_char(c) || c == '_'; }

static int tok_join(const tokens *t, sbuf *out)
{
    int rc = STRATA_OK;
    if (t->count && isdigit((unsigned char)t->p[0][0]))
        rc = sbuf_append(out, "_", 1);
    for (size_t i = 0; i < t->count && !rc; i++) {
        if (i)
            rc = sbuf_append(out, "_", 1);
        if (!rc)
            rc = sbuf_append(out, t->p[i], t->n[i]);
    }
    return rc;
}

/* normalizeName with suffixes (UnderscoreEscapingWithSuffixes). */
static int name_escaped_suffixed(const char *name, const char *unit, otlp_kind kind, sbuf *out)
{
    tokens t = {0};
    word mw, pw;
    int rc = tok_split(&t, name, metric_char);
    unit_suffixes(unit, &mw, &pw);
    clean_unit(&mw);
    clean_unit(&pw);
    if (tok_has(&t, mw.s))
        mw.s[0] = 0;
    if (!strcmp(pw.s, "per_"))
        pw.s[0] = 0;
    else {
        trim_suffix(&pw, '_');
        if (tok_has(&t, pw.s))
            pw.s[0] = 0;
    }
    if (pw.s[0])
        trim_suffix(&mw, '_');
    if (!rc && mw.s[0])
        rc = tok_push(&t, mw.s, strlen(mw.s));
    if (!rc && pw.s[0])
        rc = tok_push(&t, pw.s, strlen(pw.s));
    if (!rc && kind == OTLP_K_COUNTER) {
        tok_remove(&t, "total");
        rc = tok_push(&t, "total", 5);
    }
    if (!rc && kind == OTLP_K_GAUGE && !strcmp(unit, "1")) {
        tok_remove(&t, "ratio");
        rc = tok_push(&t, "ratio", 5);
    }
    if (!rc)
        rc = tok_join(&t, out);
    free(t.p);
    free(t.n);
    return rc;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

/* trimSuffixAndDelimiter: drops suffix and the character before it when
 * something is left before them. */
static size_t trim_delim(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return ends_with(s, n, suf) && n > k + 1 ? n - k - 1 : n;
}

/* buildMetricName with suffixes (NoUTF8EscapingWithSuffixes): name kept,
 * then _unit, _per_unit, _total, _ratio as they apply. */
static int name_utf8_suffixed(const char *name, const char *unit, otlp_kind kind, sbuf *out)
{
    size_t n = strlen(name);
    int ratio = kind == OTLP_K_GAUGE && !strcmp(unit, "1"), total = kind == OTLP_K_COUNTER;
    word mw, pw;
    unit_suffixes(unit, &mw, &pw);
    if (ratio)
        n = trim_delim(name, n, "ratio");
    if (total)
        n = trim_delim(name, n, "total");
    if (pw.s[0])
        n = trim_delim(name, n, pw.s);
    int rc = sbuf_append(out, name, n);
    if (!rc && mw.s[0] && !ends_with(name, n, mw.s)) {
        rc = sbuf_append(out, "_", 1);
        rc = rc ? rc : sbuf_append(out, mw.s, strlen(mw.s));
    }
    if (!rc && pw.s[0]) {
        rc = sbuf_append(out, "_", 1);
        rc = rc ? rc : sbuf_append(out, pw.s, strlen(pw.s));
    }
    if (!rc && total)
        rc = sbuf_append(out, "_total", 6);
    if (!rc && ratio)
        rc = sbuf_append(out, "_ratio", 6);
    return rc;
}

static int terminate(sbuf *out)
{
    int rc = sbuf_append(out, "", 1);
    if (!rc)
        out->len--;
    return rc;
}

int otlp_metric_name(const char *name, const char *unit, otlp_kind kind, otlp_strategy st, sbuf *out)
{
    sbuf_reset(out);
    int rc;
    if (st == OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES) {
        rc = name_escaped_suffixed(name, unit, kind, out);
    } else if (st == OTLP_UNDERSCORE_ESCAPING_WITHOUT_SUFFIXES) {
        tokens t = {0};
        rc = tok_split(&t, name, metric_or_underscore);
        if (!rc)
            rc = tok_join(&t, out);
        free(t.p);
        free(t.n);
    } else if (st == OTLP_NO_UTF8_ESCAPING_WITH_SUFFIXES) {
        rc = name_utf8_suffixed(name, unit, kind, out);
    } else {
        rc = sbuf_append(out, name, strlen(name));
    }
    if (!rc)
        rc = terminate(out);
    if (rc)
        return rc;
    if (!out->len)
        return STRATA_ERR_INVALID;
    /* a translated name made of underscores alone names nothing */
    if (strcmp((const char *)out->data, name) && strspn((const char *)out->data, "_") == out->len)
        return STRATA_ERR_INVALID;
    return STRATA_OK;
}

int otlp_unit_name(const char *unit, otlp_strategy st, sbuf *out)
{
    sbuf_reset(out);
    word mw, pw;
    unit_suffixes(unit, &mw, &pw);
    if (st == OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES || st == OTLP_UNDERSCORE_ESCAPING_WITHOUT_SUFFIXES) {
        clean_unit(&mw);
        clean_unit(&pw);
    }
    char u[sizeof mw.s * 2 + 2];
    snprintf(u, sizeof u, "%s%s%s", mw.s, mw.s[0] && pw.s[0] ? "_" : "", pw.s);
    const char *p = u[0] == '_' ? u + 1 : u;
    size_t n = strlen(p);
    if (n && p[n - 1] == '_')
        n--;
    int rc = sbuf_append(out, p, n);
    return rc ? rc : terminate(out);
}

int otlp_label_name(const char *key, otlp_strategy st, sbuf *out)
{
    sbuf_reset(out);
    int rc = STRATA_OK;
    if (st == OTLP_NO_UTF8_ESCAPING_WITH_SUFFIXES || st == OTLP_NO_TRANSLATION || !*key) {
        rc = sbuf_append(out, key, strlen(key));
        return rc ? rc : terminate(out);
    }
    /* sanitised first, then the prefix: ".x" -> "_x" -> "key_x" */
    size_t n = strlen(key);
    char *tmp = malloc(n + 1);
    if (!tmp)
        return STRATA_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if ((c & 0xc0) == 0x80 && i && ((unsigned char)key[i - 1] & 0x80))
            continue; /* one "_" for a whole UTF-8 sequence, as for a rune */
        tmp[o++] = label_char(c) ? (char)c : '_';
    }
    tmp[o] = 0;
    if (isdigit((unsigned char)tmp[0]))
        rc = sbuf_append(out, "key_", 4);
    else if (tmp[0] == '_' && tmp[1] != '_')
        rc = sbuf_append(out, "key", 3);
    rc = rc ? rc : sbuf_append(out, tmp, o);
    free(tmp);
    return rc ? rc : terminate(out);
}

void otlp_format_le(double v, char *buf)
{
    if (isnan(v)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        strcpy(buf, signbit(v) ? "-0" : "0");
        return;
    }
    /* the shortest digits that read back as v, then written out without
     * an exponent */
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    char digits[24];
    size_t nd = 0;
    const char *c = e;
    int neg = *c == '-';
    if (neg)
        c++;
    for (; *c && *c != 'e'; c++)
        if (isdigit((unsigned char)*c))
            digits[nd++] = *c;
    int exp10 = atoi(c + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char *o = buf;
    if (neg)
        *o++ = '-';
    /* the value is 0.digits x 10^(exp10+1) */
    int point = exp10 + 1;
    if (point <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -point; i++)
            *o++ = '0';
        memcpy(o, digits, nd);
        o += nd;
    } else {
        for (int i = 0; i < point; i++)
            *o++ = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)point < nd) {
            *o++ = '.';
            memcpy(o, digits + point, nd - (size_t)point);
            o += nd - (size_t)point;
        }
    }
    *o = 0;
}
