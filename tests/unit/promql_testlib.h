/*
 * promql_testlib.h: a runner for PromQL test scripts in the manner of
 * Prometheus' promqltest, over a real strata database in a temporary
 * directory, through the public API only.
 *
 * Script commands (blank lines and lines starting with # separate them):
 *   clear                          a fresh, empty database
 *   load <interval>                then indented lines `series values...`
 *       metric{a="b"} 0+10x5 _ 7 stale 1x3 _x2
 *                                  samples at 0, interval, 2*interval ...;
 *                                  a+bxN gives N+1 values a, a+b, ...;
 *                                  axN repeats a N+1 times; _ is no sample;
 *                                  stale a staleness marker
 *   eval instant at <time> <expr>  then expected lines `series value` (a
 *                                  bare value for a scalar answer); none
 *                                  means an empty answer
 *   eval range from <t> to <t> step <d> <expr>
 *                                  then `series v1 v2 _ ...` per series
 *   eval_ordered ...               as eval, and the order must match
 *   eval_fail ...                  must fail; an indented line
 *                                  `expected_fail_message <text>` checks
 *                                  the message contains text, and
 *                                  `expected_fail_type <type>` the error
 *                                  type as Prometheus' errorType names
 *                                  it (bad_data, execution, timeout,
 *                                  canceled, too_many_samples, internal)
 *   eval_warn ...                  as eval, and there must be a warning
 * Times and durations: 10m, 1h30m, 90s, 100ms, 2d or bare seconds.
 * Values compare as Prometheus' tests do: equal within 1e-6 relative, or
 * both NaN. Every failure prints the file, line and what differed.
 */
#ifndef STRATA_PROMQL_TESTLIB_H
#define STRATA_PROMQL_TESTLIB_H

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "testutil.h"

#define PT_STALE_BITS 0x7ff0000000000002ull

typedef struct pt_labels {
    strata_label l[64];
    char buf[4096];
    size_t n;
} pt_labels;

typedef struct pt_ctx {
    const char *file;
    int line;
    char *dir;
    strata_db *db;
    int failures;
    int evals;
} pt_ctx;

static int pt_parse_duration(const char *s, int64_t *ms)
{
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    char *end;
    double bare = strtod(p, &end);
    if (*end == 0) {
        *ms = (int64_t)llround(bare * 1000) * (neg ? -1 : 1);
        return 0;
    }
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t v = 0;
        while (isdigit((unsigned char)*p))
            v = v * 10 + (*p++ - '0');
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else if (*p == 'd') {
            unit = 86400000;
            p++;
        } else if (*p == 'w') {
            unit = 7 * 86400000ll;
            p++;
        } else if (*p == 'y') {
            unit = 365 * 86400000ll;
            p++;
        } else {
            return -1;
        }
        total += v * unit;
    }
    *ms = neg ? -total : total;
    return 0;
}

/* Parses `name{a="b", c="d"}`, `{...}` or `name` at *pp into l (sorted by
 * name later by the caller's comparisons). Advances *pp. */
static int pt_parse_series(const char **pp, pt_labels *l)
{
    const char *p = *pp;
    size_t o = 0;
    l->n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *ns = p;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
        p++;
    if (p > ns) {
        size_t len = (size_t)(p - ns);
        l->l[l->n].name = l->buf + o;
        memcpy(l->buf + o, "__name__", 9);
        o += 9;
        l->l[l->n].value = l->buf + o;
        memcpy(l->buf + o, ns, len);
        o += len;
        l->buf[o++] = 0;
        l->n++;
    }
    if (*p == '{') {
        p++;
        for (;;) {
            while (*p == ' ' || *p == ',')
                p++;
            if (*p == '}') {
                p++;
                break;
            }
            const char *k = p;
            if (*p == '"') {
                k = ++p;
                while (*p && *p != '"')
                    p++;
            } else {
                while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
                    p++;
            }
            size_t klen = (size_t)(p - k);
            if (*p == '"')
                p++;
            while (*p == ' ')
                p++;
            if (*p != '=' || klen == 0 || l->n >= 64)
                return -1;
            p++;
            while (*p == ' ')
                p++;
            if (*p != '"')
                return -1;
            p++;
            l->l[l->n].name = l->buf + o;
            memcpy(l->buf + o, k, klen);
            o += klen;
            l->buf[o++] = 0;
            l->l[l->n].value = l->buf + o;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) {
                    p++;
                    char ch = *p == 'n' ? '\n' : *p;
                    l->buf[o++] = ch;
                    p++;
                    continue;
                }
                l->buf[o++] = *p++;
            }
            if (*p != '"')
                return -1;
            p++;
            l->buf[o++] = 0;
            l->n++;
            if (o > sizeof l->buf - 256)
                return -1;
        }
    }
    if (l->n == 0 && p == ns)
        return -1;
    /* sort by name */
    for (size_t i = 1; i < l->n; i++)
        for (size_t j = i; j > 0 && strcmp(l->l[j - 1].name, l->l[j].name) > 0; j--) {
            strata_label t = l->l[j];
            l->l[j] = l->l[j - 1];
            l->l[j - 1] = t;
        }
    *pp = p;
    return 0;
}

static double pt_num(const char *s, bool *ok)
{
    char *end;
    *ok = true;
    if (strcmp(s, "NaN") == 0)
        return NAN;
    if (strcmp(s, "Inf") == 0 || strcmp(s, "+Inf") == 0)
        return INFINITY;
    if (strcmp(s, "-Inf") == 0)
        return -INFINITY;
    double v = strtod(s, &end);
    if (end == s || *end)
        *ok = false;
    return v;
}

/* One value token into (present, value) pairs appended to vals/has. */
typedef struct pt_vals {
    double v[20000];
    int kind[20000]; /* 0 missing, 1 value, 2 stale */
    size_t n;
} pt_vals;

static int pt_expand(const char *tok, pt_vals *out)
{
    char a[128];
    snprintf(a, sizeof a, "%s", tok);
    if (strcmp(a, "_") == 0) {
        out->kind[out->n++] = 0;
        return 0;
    }
    if (strcmp(a, "stale") == 0) {
        out->kind[out->n++] = 2;
        return 0;
    }
    char *x = strrchr(a, 'x');
    if (x && x != a && isdigit((unsigned char)x[1])) {
        long times = strtol(x + 1, NULL, 10);
        *x = 0;
        if (strcmp(a, "_") == 0) {
            for (long i = 0; i < times && out->n < 20000; i++)
                out->kind[out->n++] = 0;
            return 0;
        }
        /* a+b or a-b (a may be signed) */
        char *op = NULL;
        for (char *p = a + 1; *p; p++)
            if ((*p == '+' || *p == '-') && p[-1] != 'e' && p[-1] != 'E')
                op = p;
        double start, delta = 0;
        bool ok;
        if (op) {
            char sign = *op;
            *op = 0;
            start = pt_num(a, &ok);
            if (!ok)
                return -1;
            delta = pt_num(op + 1, &ok);
            if (!ok)
                return -1;
            if (sign == '-')
                delta = -delta;
        } else {
            start = pt_num(a, &ok);
            if (!ok)
                return -1;
        }
        for (long i = 0; i <= times && out->n < 20000; i++) {
            out->kind[out->n] = 1;
            out->v[out->n++] = start + delta * (double)i;
        }
        return 0;
    }
    bool ok;
    double v = pt_num(a, &ok);
    if (!ok)
        return -1;
    out->kind[out->n] = 1;
    out->v[out->n++] = v;
    return 0;
}

static void pt_fail(pt_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pt_fail(pt_ctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", c->file, c->line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    c->failures++;
}

static void pt_open(pt_ctx *c)
{
    if (c->db) {
        strata_close(c->db);
        test_rmtree(c->dir);
        free(c->dir);
    }
    c->dir = test_tmpdir("promql");
    strata_options o;
    strata_options_init(&o);
    o.dir = c->dir;
    o.sync = STRATA_SYNC_NONE;
    o.compaction_threads = 0;
    o.partition_ms = 100ll * 365 * 86400000;
    assert_int_equal(strata_open(&o, &c->db), STRATA_OK);
}

static void pt_load_line(pt_ctx *c, const char *line, int64_t interval)
{
    if (strstr(line, "{{"))
        return; /* native histograms: not ours */
    pt_labels l;
    const char *p = line;
    if (pt_parse_series(&p, &l) != 0) {
        pt_fail(c, "bad series in load: %s", line);
        return;
    }
    static pt_vals vals;
    vals.n = 0;
    char tok[128];
    int off;
    while (sscanf(p, " %127s%n", tok, &off) == 1) {
        p += off;
        if (pt_expand(tok, &vals) != 0) {
            pt_fail(c, "bad value %s", tok);
            return;
        }
    }
    strata_sid sid;
    assert_int_equal(strata_series_get_or_create(c->db, l.l, l.n, &sid, NULL), STRATA_OK);
    static strata_sample buf[20000];
    size_t n = 0;
    for (size_t i = 0; i < vals.n; i++) {
        if (vals.kind[i] == 0)
            continue;
        double v = vals.v[i];
        if (vals.kind[i] == 2) {
            uint64_t b = PT_STALE_BITS;
            memcpy(&v, &b, sizeof v);
        }
        buf[n++] = (strata_sample){sid, (int64_t)i * interval, v};
    }
    if (n)
        assert_int_equal(strata_write(c->db, buf, n), STRATA_OK);
}

static bool pt_close_enough(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return true;
    if (isinf(a) || isinf(b))
        return false;
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= 1e-6 * m || d < 1e-12;
}

static void pt_labels_text(const strata_label *l, size_t n, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "{");
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s=\"%s\"", i ? ", " : "", l[i].name, l[i].value);
    if (o < cap)
        snprintf(buf + o, cap - o, "}");
}

static bool pt_labels_eq(const strata_label *a, size_t na, const strata_label *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
            return false;
    return true;
}

typedef struct pt_expect {
    pt_labels lab;
    bool scalar;
    pt_vals *vals;
} pt_expect;

/* Runs one eval command with its expectation lines. */
static void pt_eval(pt_ctx *c, const char *cmd, char **exp_lines_in, size_t n_exp_in)
{
    bool fail = strncmp(cmd, "eval_fail", 9) == 0;
    bool ordered = strncmp(cmd, "eval_ordered", 12) == 0;
    bool warn = strncmp(cmd, "eval_warn", 9) == 0;
    /* Prometheus 3's `expect ...` lines: fail and ordered are honoured,
     * annotations (warn, info) are not compared */
    char *exp_lines[4096];
    size_t n_exp = 0;
    for (size_t i = 0; i < n_exp_in && n_exp < 4096; i++) {
        const char *q = exp_lines_in[i];
        while (*q == ' ' || *q == '\t')
            q++;
        if (strstr(q, "{{"))
            return; /* native histograms: not ours */
        if (*q == 0 || *q == '#')
            continue;
        if (strncmp(q, "expect ", 7) == 0) {
            if (strncmp(q + 7, "fail", 4) == 0)
                fail = true;
            if (strncmp(q + 7, "ordered", 7) == 0)
                ordered = true;
            continue;
        }
        exp_lines[n_exp++] = exp_lines_in[i];
    }
    const char *p = strchr(cmd, ' ');
    if (!p) {
        pt_fail(c, "bad eval");
        return;
    }
    p++;
    bool range = false;
    int64_t start = 0, end = 0, step = 0;
    char a[64], b[64], d[64];
    int off = 0;
    if (sscanf(p, "instant at %63s %n", a, &off) == 1 && off > 0) {
        if (pt_parse_duration(a, &start) != 0) {
            pt_fail(c, "bad time %s", a);
            return;
        }
        end = start;
    } else if (sscanf(p, "range from %63s to %63s step %63s %n", a, b, d, &off) == 3 && off > 0) {
        range = true;
        if (pt_parse_duration(a, &start) || pt_parse_duration(b, &end) || pt_parse_duration(d, &step)) {
            pt_fail(c, "bad range times");
            return;
        }
    } else {
        pt_fail(c, "bad eval: %s", cmd);
        return;
    }
    const char *expr = p + off;
    c->evals++;
    strata_result *r = NULL;
    strata_query_error err;
    int rc = range ? strata_query_range(c->db, expr, strlen(expr), start, end, step, NULL, &r, &err)
                   : strata_query_instant(c->db, expr, strlen(expr), start, NULL, &r, &err);
    if (fail) {
        if (rc == STRATA_OK) {
            pt_fail(c, "expected failure of %s", expr);
            strata_result_free(r);
            return;
        }
        for (size_t i = 0; i < n_exp; i++) {
            const char *m = exp_lines[i];
            while (*m == ' ' || *m == '\t')
                m++;
            if (strncmp(m, "expected_fail_message ", 22) == 0 && !strstr(err.msg, m + 22))
                pt_fail(c, "%s: message \"%s\" does not contain \"%s\"", expr, err.msg, m + 22);
            if (strncmp(m, "expected_fail_type ", 19) == 0) {
                static const char *const types[] = {"none",     "bad_data", "execution",        "timeout",
                                                    "canceled", "too_many_samples", "internal"};
                const char *got = (unsigned)err.type < sizeof types / sizeof *types ? types[err.type] : "?";
                if (strcmp(got, m + 19) != 0)
                    pt_fail(c, "%s: error type %s (%s), expected %s", expr, got, err.msg, m + 19);
            }
        }
        return;
    }
    if (rc != STRATA_OK) {
        pt_fail(c, "%s failed: %s (%s)", expr, err.msg, strata_strerror(rc));
        return;
    }
    if (warn && strata_result_warning_count(r) == 0)
        pt_fail(c, "%s: expected a warning", expr);
    /* parse the expectations */
    pt_expect *ex = calloc(n_exp + 1, sizeof *ex);
    size_t ne = 0;
    for (size_t i = 0; i < n_exp; i++) {
        const char *q = exp_lines[i];
        while (*q == ' ' || *q == '\t')
            q++;
        pt_expect *e = &ex[ne];
        e->vals = calloc(1, sizeof *e->vals);
        bool ok;
        char first[128];
        sscanf(q, "%127s", first);
        pt_num(first, &ok);
        if (ok || (first[0] == '-' && isdigit((unsigned char)first[1]))) {
            e->scalar = true;
        } else if (pt_parse_series(&q, &e->lab) != 0) {
            pt_fail(c, "bad expected series: %s", exp_lines[i]);
            free(e->vals);
            continue;
        }
        char tok[128];
        int o2;
        while (sscanf(q, " %127s%n", tok, &o2) == 1) {
            q += o2;
            if (pt_expand(tok, e->vals) != 0)
                pt_fail(c, "bad expected value %s", tok);
        }
        ne++;
    }
    char got_txt[1024];
    strata_value_type t = strata_result_type(r);
    if (t == STRATA_VALUE_SCALAR) {
        double v = strata_result_scalar(r, NULL);
        if (ne != 1 || !ex[0].scalar || ex[0].vals->n != 1)
            pt_fail(c, "%s: got scalar %g, expected something else", expr, v);
        else if (!pt_close_enough(ex[0].vals->v[0], v))
            pt_fail(c, "%s: scalar %.17g, expected %.17g", expr, v, ex[0].vals->v[0]);
    } else if (t == STRATA_VALUE_VECTOR || t == STRATA_VALUE_MATRIX) {
        size_t n = strata_result_series_count(r);
        bool *used = calloc(ne + 1, 1);
        for (size_t k = 0; k < n; k++) {
            strata_query_series s;
            strata_result_series(r, k, &s);
            pt_labels_text(s.labels, s.n_labels, got_txt, sizeof got_txt);
            size_t j;
            for (j = 0; j < ne; j++)
                if (!used[j] && (ex[j].scalar ? s.n_labels == 0
                                              : pt_labels_eq(ex[j].lab.l, ex[j].lab.n, s.labels, s.n_labels)))
                    break;
            if (j == ne) {
                pt_fail(c, "%s: unexpected series %s = %g", expr, got_txt, s.n_points ? s.points[0].value : NAN);
                continue;
            }
            if (ordered && j != k)
                pt_fail(c, "%s: series %s at position %zu, expected %zu", expr, got_txt, k, j);
            used[j] = true;
            /* expected points */
            size_t pi = 0;
            for (size_t vi = 0; vi < ex[j].vals->n; vi++) {
                if (ex[j].vals->kind[vi] == 0)
                    continue;
                int64_t te = range ? start + (int64_t)vi * step : start;
                if (pi >= s.n_points) {
                    pt_fail(c, "%s: %s missing point at %lld", expr, got_txt, (long long)te);
                    break;
                }
                if (s.points[pi].t_ms != te && t == STRATA_VALUE_MATRIX && range)
                    pt_fail(c, "%s: %s point at %lld, expected at %lld", expr, got_txt, (long long)s.points[pi].t_ms,
                            (long long)te);
                else if (!pt_close_enough(ex[j].vals->v[vi], s.points[pi].value))
                    pt_fail(c, "%s: %s = %.17g at %lld, expected %.17g", expr, got_txt, s.points[pi].value,
                            (long long)s.points[pi].t_ms, ex[j].vals->v[vi]);
                pi++;
            }
            if (pi < s.n_points && range)
                pt_fail(c, "%s: %s has %zu points, expected %zu", expr, got_txt, s.n_points, pi);
        }
        for (size_t j = 0; j < ne; j++)
            if (!used[j]) {
                pt_labels_text(ex[j].lab.l, ex[j].lab.n, got_txt, sizeof got_txt);
                pt_fail(c, "%s: missing series %s", expr, got_txt);
            }
        free(used);
    } else if (t == STRATA_VALUE_STRING) {
        /* not compared */
    }
    for (size_t i = 0; i < ne; i++)
        free(ex[i].vals);
    free(ex);
    strata_result_free(r);
}

/* Runs a whole script; returns the number of failures. */
static int pt_run_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    pt_ctx c = {.file = path};
    pt_open(&c);
    char **lines = NULL;
    size_t n = 0, cap = 0;
    char buf[8192];
    while (fgets(buf, sizeof buf, f)) {
        size_t l = strlen(buf);
        while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
            buf[--l] = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[n++] = strdup(buf);
    }
    fclose(f);
    for (size_t i = 0; i < n;) {
        char *ln = lines[i];
        c.line = (int)i + 1;
        if (ln[0] == 0 || ln[0] == '#' || ln[0] == ' ' || ln[0] == '\t') {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && (lines[j][0] == ' ' || lines[j][0] == '\t'))
            j++;
        if (strcmp(ln, "clear") == 0) {
            pt_open(&c);
        } else if (strncmp(ln, "load ", 5) == 0 || strncmp(ln, "load_with_nhcb ", 15) == 0) {
            /* load_with_nhcb: the classic series, without the native
             * histograms Prometheus would also make of them */
            int64_t iv;
            if (pt_parse_duration(strchr(ln, ' ') + 1, &iv) != 0) {
                pt_fail(&c, "bad load interval");
            } else {
                for (size_t k = i + 1; k < j; k++) {
                    c.line = (int)k + 1;
                    pt_load_line(&c, lines[k], iv);
                }
            }
        } else if (strncmp(ln, "eval", 4) == 0) {
            pt_eval(&c, ln, lines + i + 1, j - i - 1);
        } else {
            pt_fail(&c, "unknown command: %s", ln);
        }
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    strata_close(c.db);
    test_rmtree(c.dir);
    free(c.dir);
    fprintf(stderr, "%s: %d evals, %d failures\n", path, c.evals, c.failures);
    return c.failures;
}

#endif
