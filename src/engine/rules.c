/*
 * rules.c: retention per series and downsampling rules (strata.h,
 * strata_retention_rule and strata_downsampling_rule): copied and compiled
 * at open, and resolved per series on first use.
 *
 * A series' rules depend only on its labels, which never change, so the
 * answer is cached per sid: rule_of[sid] holds the index + 1 of its
 * retention rule (0: the global retention) in the high byte and the index
 * + 1 of its downsampling group (0: none) in the low byte; 0xffff is "not
 * resolved yet". The compiled matchers may be used by one thread at a
 * time, so resolution and the cache are under mu; a lookup is a mutex and
 * an array read, paid once per series per read or compaction.
 */
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>

#include "engine_int.h"

#define RULES_MAX 254u
#define RULE_UNKNOWN 0xffffu

typedef struct crule {
    strata_matcher *m; /* copies; none: every series */
    index_matcher **im;
    size_t n_m;
} crule;

struct db_rules {
    pthread_mutex_t mu;
    crule *ret;        /* retention rules, in order */
    int64_t *ret_ms;
    size_t n_ret;
    crule *grp;        /* downsampling groups, in order of first appearance, the one without matchers last */
    size_t n_grp;
    db_ds_rule *ds;    /* downsampling rules sorted by (group, age) */
    size_t n_ds;
    uint16_t *rule_of; /* per sid, see above */
    size_t n_rule_of;
};

static void crule_free(crule *r)
{
    for (size_t i = 0; i < r->n_m; i++) {
        index_matcher_free(r->im[i]);
        base_free((char *)r->m[i].name);
        base_free((char *)r->m[i].value);
    }
    base_free(r->im);
    base_free(r->m);
    memset(r, 0, sizeof *r);
}

static int crule_compile(const strata_matcher *m, size_t n, crule *r, const char *what)
{
    memset(r, 0, sizeof *r);
    if (n == 0)
        return STRATA_OK;
    if (!m)
        return STRATA_ERR_INVALID;
    r->m = base_calloc(n, sizeof *r->m);
    r->im = base_calloc(n, sizeof *r->im);
    if (!r->m || !r->im)
        return STRATA_ERR_NOMEM;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        if (!m[i].name || !m[i].value) {
            base_error_set("%s: a matcher without a name or value", what);
            return STRATA_ERR_INVALID;
        }
        r->m[i].type = m[i].type;
        r->m[i].name = base_strdup(m[i].name);
        r->m[i].value = base_strdup(m[i].value);
        if (!r->m[i].name || !r->m[i].value) {
            base_free((char *)r->m[i].name);
            base_free((char *)r->m[i].value);
            return STRATA_ERR_NOMEM;
        }
        int rc = index_matcher_compile(&r->m[i], &r->im[i], err, sizeof err);
        if (rc) {
            base_free((char *)r->m[i].name);
            base_free((char *)r->m[i].value);
            base_error_set("%s: %s", what, err);
            return rc;
        }
        r->n_m++;
    }
    return STRATA_OK;
}

static bool same_matchers(const crule *r, const strata_matcher *m, size_t n)
{
    if (r->n_m != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (r->m[i].type != m[i].type || strcmp(r->m[i].name, m[i].name) != 0 ||
            strcmp(r->m[i].value, m[i].value) != 0)
            return false;
    return true;
}

/* 1 when the labels match every matcher of r, 0 when not, < 0 on error. */
static int crule_matches(const crule *r, const strata_label *l, size_t n)
{
    for (size_t i = 0; i < r->n_m; i++) {
        const char *name = r->m[i].name, *val = "";
        for (size_t k = 0; k < n; k++)
            if (strcmp(l[k].name, name) == 0) {
                val = l[k].value;
                break;
            }
        int m = index_matcher_matches(r->im[i], val, strlen(val));
        if (m <= 0)
            return m;
    }
    return 1;
}

void db_rules_free(db_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_ret; i++)
        crule_free(&r->ret[i]);
    for (size_t i = 0; i < r->n_grp; i++)
        crule_free(&r->grp[i]);
    base_free(r->ret);
    base_free(r->ret_ms);
    base_free(r->grp);
    base_free(r->ds);
    base_free(r->rule_of);
    pthread_mutex_destroy(&r->mu);
    base_free(r);
}

static int cmp_ds(const void *x, const void *y)
{
    const db_ds_rule *a = x, *b = y;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->age_ms < b->age_ms ? -1 : a->age_ms > b->age_ms;
}

/* A duration in its shortest exact form ("30d", "90m", "1500ms"), for
 * messages and engine_rules_text. */
static void fmt_dur(char *buf, size_t len, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000 * 365LL, "y"}, {86400000 * 7LL, "w"}, {86400000, "d"}, {3600000, "h"},
                 {60000, "m"},           {1000, "s"},          {1, "ms"}};
    snprintf(buf, len, "%" PRId64 "ms", ms);
    for (size_t i = 0; ms > 0 && i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(buf, len, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            break;
        }
}

/* Checks that every resolution divides the partition width (0: not known
 * yet, checked again by db_rules_check_width once it is). */
static int check_width(const db_ds_rule *d, size_t n, int64_t partition_ms)
{
    for (size_t i = 0; partition_ms > 0 && i < n; i++)
        if (partition_ms % d[i].resolution_ms != 0) {
            char a[32], r[32], p[32];
            fmt_dur(a, sizeof a, d[i].age_ms);
            fmt_dur(r, sizeof r, d[i].resolution_ms);
            fmt_dur(p, sizeof p, partition_ms);
            base_error_set("downsampling rule %s:%s: the resolution must divide the partition width (%s)", a, r,
                           p);
            return STRATA_ERR_INVALID;
        }
    return STRATA_OK;
}

/* Checks a group's rules (sorted by age): positive, resolutions grow with
 * age, each a multiple of the one before. */
static int check_group(const db_ds_rule *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char a[32], r[32], a0[32], r0[32];
        fmt_dur(a, sizeof a, d[i].age_ms);
        fmt_dur(r, sizeof r, d[i].resolution_ms);
        if (d[i].age_ms <= 0 || d[i].resolution_ms <= 0) {
            base_error_set("downsampling rule %s:%s: age and resolution must be positive", a, r);
            return STRATA_ERR_INVALID;
        }
        if (i && (d[i].age_ms == d[i - 1].age_ms || d[i].resolution_ms <= d[i - 1].resolution_ms ||
                  d[i].resolution_ms % d[i - 1].resolution_ms != 0)) {
            fmt_dur(a0, sizeof a0, d[i - 1].age_ms);
            fmt_dur(r0, sizeof r0, d[i - 1].resolution_ms);
            base_error_set("downsampling rules %s:%s and %s:%s: an older age needs a coarser resolution, a "
                           "multiple of the younger one's",
                           a0, r0, a, r);
            return STRATA_ERR_INVALID;
        }
    }
    return STRATA_OK;
}

int db_rules_check_width(const db_rules *r, int64_t partition_ms)
{
    return r ? check_width(r->ds, r->n_ds, partition_ms) : STRATA_OK;
}

int db_rules_open(const strata_options *o, db_rules **out)
{
    *out = NULL;
    if (o->n_retention_rules > RULES_MAX || o->n_downsampling_rules > RULES_MAX) {
        base_error_set("too many retention or downsampling rules (at most %u of each)", RULES_MAX);
        return STRATA_ERR_INVALID;
    }
    if ((o->n_retention_rules && !o->retention_rules) || (o->n_downsampling_rules && !o->downsampling_rules)) {
        base_error_set("a count of retention or downsampling rules without their array");
        return STRATA_ERR_INVALID;
    }
    db_rules *r = base_calloc(1, sizeof *r);
    if (!r)
        return STRATA_ERR_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    int rc = STRATA_OK;
    size_t nr = o->n_retention_rules, nd = o->n_downsampling_rules;
    r->ret = base_calloc(nr ? nr : 1, sizeof *r->ret);
    r->ret_ms = base_calloc(nr ? nr : 1, sizeof *r->ret_ms);
    r->grp = base_calloc(nd ? nd : 1, sizeof *r->grp);
    r->ds = base_calloc(nd ? nd : 1, sizeof *r->ds);
    if (!r->ret || !r->ret_ms || !r->grp || !r->ds) {
        rc = STRATA_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < nr && !rc; i++) {
        const strata_retention_rule *x = &o->retention_rules[i];
        if (x->n_matchers == 0 || x->retention_ms <= 0) {
            base_error_set("retention rule %zu: a selector with at least one matcher and a positive retention "
                           "are needed",
                           i + 1);
            rc = STRATA_ERR_INVALID;
            break;
        }
        char what[48];
        snprintf(what, sizeof what, "retention rule %zu", i + 1);
        rc = crule_compile(x->matchers, x->n_matchers, &r->ret[i], what);
        r->n_ret++;
        r->ret_ms[i] = x->retention_ms;
    }
    /* groups: rules without a selector form the last group */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t i = 0; i < nd && !rc; i++) {
            const strata_downsampling_rule *x = &o->downsampling_rules[i];
            if ((x->n_matchers == 0) != (pass == 1))
                continue;
            size_t g = 0;
            while (g < r->n_grp && !same_matchers(&r->grp[g], x->matchers, x->n_matchers))
                g++;
            if (g == r->n_grp) {
                char what[48];
                snprintf(what, sizeof what, "downsampling rule %zu", i + 1);
                rc = crule_compile(x->matchers, x->n_matchers, &r->grp[g], what);
                r->n_grp++;
            }
            r->ds[r->n_ds++] = (db_ds_rule){(unsigned)g, o->downsampling_rules[i].age_ms,
                                            o->downsampling_rules[i].resolution_ms};
        }
    if (rc)
        goto fail;
    qsort(r->ds, r->n_ds, sizeof *r->ds, cmp_ds);
    for (size_t i = 0; i < r->n_ds && !rc;) {
        size_t j = i;
        while (j < r->n_ds && r->ds[j].group == r->ds[i].group)
            j++;
        rc = check_group(r->ds + i, j - i);
        i = j;
    }
    if (!rc)
        rc = check_width(r->ds, r->n_ds, o->partition_ms);
    if (rc)
        goto fail;
    *out = r;
    return STRATA_OK;
fail:
    db_rules_free(r);
    return rc;
}

bool db_rules_any(const db_rules *r) { return r && (r->n_ret || r->n_ds); }

const db_ds_rule *db_rules_downsampling(const db_rules *r, size_t *n)
{
    *n = r ? r->n_ds : 0;
    return r ? r->ds : NULL;
}

void db_rules_retention(const db_rules *r, const int64_t **ms, size_t *n)
{
    *n = r ? r->n_ret : 0;
    *ms = r ? r->ret_ms : NULL;
}

/* Resolves sid's entry of the cache (caller holds mu). */
static int resolve(strata_db *db, db_rules *r, uint64_t sid, uint16_t *out)
{
    if (sid >= r->n_rule_of) {
        size_t n = r->n_rule_of ? r->n_rule_of : 1024;
        while (n <= sid)
            n *= 2;
        uint16_t *a = base_realloc(r->rule_of, n * sizeof *a);
        if (!a)
            return STRATA_ERR_NOMEM;
        for (size_t i = r->n_rule_of; i < n; i++)
            a[i] = RULE_UNKNOWN;
        r->rule_of = a;
        r->n_rule_of = n;
    }
    if (r->rule_of[sid] != RULE_UNKNOWN) {
        *out = r->rule_of[sid];
        return STRATA_OK;
    }
    const strata_label *l = NULL;
    size_t n = 0;
    int rc = index_labels(db->idx, sid, &l, &n);
    bool known = rc != STRATA_ERR_NOTFOUND;
    if (!known) {
        l = NULL; /* a sid the index does not know: only rules without a selector, not remembered */
        n = 0;
    } else if (rc) {
        return rc;
    }
    unsigned ret = 0, grp = 0;
    for (size_t i = 0; i < r->n_ret && !ret; i++) {
        int m = crule_matches(&r->ret[i], l, n);
        if (m < 0)
            return m;
        if (m)
            ret = (unsigned)i + 1;
    }
    for (size_t g = 0; g < r->n_grp && !grp; g++) {
        int m = crule_matches(&r->grp[g], l, n); /* no matchers: 1 */
        if (m < 0)
            return m;
        if (m)
            grp = (unsigned)g + 1;
    }
    *out = (uint16_t)(ret << 8 | grp);
    if (known)
        r->rule_of[sid] = *out;
    return STRATA_OK;
}

int db_rules_of(strata_db *db, uint64_t sid, int64_t *retention_ms, int *group)
{
    db_rules *r = db->rules;
    *retention_ms = db->opts.retention_ms;
    *group = -1;
    if (!db_rules_any(r))
        return STRATA_OK;
    uint16_t e = 0;
    pthread_mutex_lock(&r->mu);
    int rc = resolve(db, r, sid, &e);
    pthread_mutex_unlock(&r->mu);
    if (rc)
        return rc;
    if (e >> 8)
        *retention_ms = r->ret_ms[(e >> 8) - 1];
    *group = (int)(e & 0xff) - 1;
    return STRATA_OK;
}

int64_t db_rules_resolution(const db_rules *r, int group, int64_t age_ms)
{
    int64_t res = 0;
    for (size_t i = 0; r && group >= 0 && i < r->n_ds; i++)
        if (r->ds[i].group == (unsigned)group && age_ms >= r->ds[i].age_ms)
            res = r->ds[i].resolution_ms;
    return res;
}

int64_t db_max_retention(const strata_db *db)
{
    if (db->opts.retention_ms <= 0)
        return 0;
    int64_t m = db->opts.retention_ms;
    for (size_t i = 0; db->rules && i < db->rules->n_ret; i++)
        m = MAX(m, db->rules->ret_ms[i]);
    return m;
}

int64_t db_rules_max_resolution(const db_rules *r)
{
    int64_t m = 0;
    for (size_t i = 0; r && i < r->n_ds; i++)
        m = MAX(m, r->ds[i].resolution_ms);
    return m;
}
