/*
 * db_testlib.h: what the engine's contract tests (tests/unit/db_*.c) share.
 * They use only the public API (include/strata.h) so they test what users
 * get.
 *
 * - dbt_set: a flat list of (series, timestamp, value bits), the "truth"
 *   side and the "read back" side of every comparison; series are keyed by
 *   their canonical label text `a=1,b=2` (labels sorted by name, as the
 *   cursor lends them).
 * - dbt_read: everything a selection returns, into a dbt_set, or the
 *   negative status the cursor reported (a read error is an answer the
 *   damage tests accept; a wrong value never is).
 * - small file helpers: copy a directory tree, file size, truncate, flip.
 */
#ifndef STRATA_DB_TESTLIB_H
#define STRATA_DB_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata.h"
#include "testutil.h"

/* snprintf that fails the test instead of truncating (paths). */
__attribute__((format(printf, 3, 4))) static inline void dbt_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        fail_msg("path too long: %s", fmt);
}

/* ------------------------------------------------------------ values */

static inline uint64_t dbt_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline double dbt_from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ------------------------------------------------------------ sample sets */

typedef struct dbt_sample {
    char *series; /* canonical label text, malloc'd */
    int64_t t;
    uint64_t bits;
} dbt_sample;

typedef struct dbt_set {
    dbt_sample *v;
    size_t n, cap;
} dbt_set;

static inline void dbt_set_add(dbt_set *s, const char *series, int64_t t, uint64_t bits)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    s->v[s->n].series = strdup(series);
    assert_non_null(s->v[s->n].series);
    s->v[s->n].t = t;
    s->v[s->n].bits = bits;
    s->n++;
}

static inline void dbt_set_free(dbt_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].series);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static inline int dbt_cmp(const void *a, const void *b)
{
    const dbt_sample *x = a, *y = b;
    int c = strcmp(x->series, y->series);
    if (c)
        return c;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Sorts by (series, t) and, for duplicates, keeps the LAST added (the
 * later write wins), so a truth built in write order becomes the model. */
static inline void dbt_set_finish(dbt_set *s)
{
    size_t n = s->n;
    if (n < 2)
        return;
    /* bottom-up merge sort: stable, so equal keys keep their write order */
    dbt_sample *a = s->v, *b = malloc(n * sizeof *b);
    assert_non_null(b);
    for (size_t gap = 1; gap < n; gap *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * gap) {
            size_t mid = lo + gap < n ? lo + gap : n, hi = lo + 2 * gap < n ? lo + 2 * gap : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = dbt_cmp(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        dbt_sample *t = a;
        a = b;
        b = t;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && dbt_cmp(&a[w - 1], &a[i]) == 0) {
            free(a[w - 1].series);
            a[w - 1] = a[i]; /* the later write wins */
        } else {
            a[w++] = a[i];
        }
    }
    free(b);
    s->v = a;
    s->n = w;
    s->cap = n;
}

/* Compares two finished sets; prints the first differences (up to 10) with
 * `what` and returns the number of differences. */
static inline size_t dbt_set_diff(const dbt_set *want, const dbt_set *got, const char *what)
{
    size_t i = 0, j = 0, diffs = 0;
    while (i < want->n || j < got->n) {
        int c = i == want->n ? 1 : j == got->n ? -1 : dbt_cmp(&want->v[i], &got->v[j]);
        if (c < 0) {
            if (diffs++ < 10)
                fprintf(stderr, "%s: missing %s @%" PRId64 " = %016" PRIx64 "\n", what, want->v[i].series,
                        want->v[i].t, want->v[i].bits);
            i++;
        } else if (c > 0) {
            if (diffs++ < 10)
                fprintf(stderr, "%s: unexpected %s @%" PRId64 " = %016" PRIx64 "\n", what, got->v[j].series,
                        got->v[j].t, got->v[j].bits);
            j++;
        } else {
            if (want->v[i].bits != got->v[j].bits && diffs++ < 10)
                fprintf(stderr, "%s: wrong value %s @%" PRId64 ": want %016" PRIx64 " got %016" PRIx64 "\n",
                        what, want->v[i].series, want->v[i].t, want->v[i].bits, got->v[j].bits);
            i++;
            j++;
        }
    }
    if (diffs)
        fprintf(stderr, "%s: %zu differences (want %zu samples, got %zu)\n", what, diffs, want->n, got->n);
    return diffs;
}

/* Canonical text of labels already sorted by name (as a cursor lends them). */
static inline void dbt_series_text(const strata_label *l, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        int w = snprintf(buf + k, cap - k, "%s%s=%s", i ? "," : "", l[i].name, l[i].value);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

/* Reads every sample the selection returns into *out (appended, then
 * finished). Checks the cursor's own promises on the way: labels sorted by
 * name, sids ascending, samples ascending in time with no duplicates,
 * every sample inside [mint, maxt]. Returns 0 or the first negative status
 * of the selection or the cursor. */
static inline int dbt_read(strata_db *db, const strata_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                           dbt_set *out)
{
    strata_cursor *c = NULL;
    int rc = strata_select(db, m, nm, mint, maxt, &c);
    if (rc)
        return rc;
    size_t cap = 1 << 16;
    char *text = malloc(cap);
    assert_non_null(text);
    strata_sid sid, prev_sid = 0;
    int first = 1;
    const strata_label *l;
    size_t nl;
    for (;;) {
        rc = strata_cursor_next_series(c, &sid, &l, &nl);
        if (rc <= 0)
            break;
        if (!first && sid <= prev_sid)
            fail_msg("cursor: sid %" PRIu64 " after %" PRIu64, sid, prev_sid);
        first = 0;
        prev_sid = sid;
        for (size_t i = 1; i < nl; i++)
            if (strcmp(l[i - 1].name, l[i].name) >= 0)
                fail_msg("cursor: labels not sorted: %s, %s", l[i - 1].name, l[i].name);
        dbt_series_text(l, nl, text, cap);
        const int64_t *t;
        const double *v;
        size_t n;
        int have_prev = 0;
        int64_t prev_t = 0;
        for (;;) {
            rc = strata_cursor_next_samples(c, &t, &v, &n);
            if (rc <= 0)
                break;
            if (n == 0)
                fail_msg("cursor: next_samples returned 1 with n == 0");
            for (size_t i = 0; i < n; i++) {
                if (have_prev && t[i] <= prev_t)
                    fail_msg("cursor: %s: t %" PRId64 " after %" PRId64, text, t[i], prev_t);
                if (t[i] < mint || t[i] > maxt)
                    fail_msg("cursor: %s: t %" PRId64 " outside [%" PRId64 ", %" PRId64 "]", text, t[i], mint,
                             maxt);
                have_prev = 1;
                prev_t = t[i];
                dbt_set_add(out, text, t[i], dbt_bits(v[i]));
            }
        }
        if (rc < 0)
            break;
    }
    free(text);
    strata_cursor_close(c);
    dbt_set_finish(out);
    return rc < 0 ? rc : 0;
}

/* Every series, all time. */
static inline int dbt_read_all(strata_db *db, dbt_set *out)
{
    strata_matcher all = {STRATA_MATCH_RE, "__name__", ".+"};
    return dbt_read(db, &all, 1, INT64_MIN, INT64_MAX, out);
}

/* ------------------------------------------------------------ opening */

typedef struct dbt_log {
    int quiet;
} dbt_log;

static inline void dbt_log_fn(void *ctx, int level, const char *msg)
{
    const dbt_log *lg = ctx;
    if (!lg || !lg->quiet || level == STRATA_LOG_ERROR)
        fprintf(stderr, "  [strata %d] %s\n", level, msg);
}

static inline void dbt_options(strata_options *o, const char *dir)
{
    strata_options_init(o);
    o->dir = dir;
    o->compaction_threads = 0;
}

static inline strata_db *dbt_open_ok(const strata_options *o)
{
    strata_db *db = NULL;
    int rc = strata_open(o, &db);
    if (rc)
        fail_msg("strata_open(%s): %s", o->dir, strata_strerror(rc));
    return db;
}

static inline strata_sid dbt_series(strata_db *db, const char *name, const char *k, const char *v)
{
    strata_label l[2] = {{"__name__", name}, {k, v}};
    strata_sid sid;
    int rc = strata_series_get_or_create(db, l, k ? 2 : 1, &sid, NULL);
    if (rc)
        fail_msg("get_or_create %s{%s=%s}: %s", name, k ? k : "", v ? v : "", strata_strerror(rc));
    return sid;
}

/* ------------------------------------------------------------ files */

static inline void dbt_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    assert_non_null(in);
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_int_equal(ferror(in), 0);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Copies the tree from -> to (to must not exist); skips LOCK. */
static inline void dbt_copy_tree(const char *from, const char *to)
{
    assert_int_equal(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "LOCK"))
            continue;
        char a[4096], b[4096];
        dbt_fmt(a, sizeof a, "%s/%s", from, e->d_name);
        dbt_fmt(b, sizeof b, "%s/%s", to, e->d_name);
        struct stat st;
        assert_int_equal(lstat(a, &st), 0);
        if (S_ISDIR(st.st_mode))
            dbt_copy_tree(a, b);
        else if (S_ISREG(st.st_mode))
            dbt_copy_file(a, b);
    }
    closedir(d);
}

static inline int64_t dbt_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

/* The path of the highest-numbered regular file in dir (segments and
 * tables are named by number), or "" when there is none. */
static inline void dbt_last_file(const char *dir, char *out, size_t cap)
{
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char best[256] = "";
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (strlen(e->d_name) < sizeof best && (strlen(e->d_name) > strlen(best) ||
                                                (strlen(e->d_name) == strlen(best) && strcmp(e->d_name, best) > 0)))
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (best[0])
        dbt_fmt(out, cap, "%s/%s", dir, best);
}

static inline void dbt_flip_byte(const char *path, int64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    assert_int_equal(close(fd), 0);
}

#endif
