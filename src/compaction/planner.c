/*
 * planner.c: what both planners share: options, job construction (inputs in
 * age order, sub-compaction splits, grandparents) and the grandparent cut
 * of LevelDB's Compaction::ShouldStopBefore.
 */
#include "planner_int.h"

#include <stdlib.h>

void cpt_opts_init(cpt_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cold_ms = 4LL * 3600 * 1000;
    o->target_file_bytes = 256ULL << 20;
    o->l0_trigger = 4;
    o->level_multiplier = 10;
    o->base_level_bytes = 256ULL << 20;
    o->max_levels = STRATA_MAX_LEVELS;
    o->max_subcompactions = 4;
    o->max_gp_overlap_bytes = 0;
    o->max_jobs = 4;
    o->tier_group = 4;
    o->tier_group_l0 = 8;
}

int cpt_opts_check(const cpt_opts *in, cpt_opts *out)
{
    cpt_opts d;
    cpt_opts_init(&d);
    if (!in) {
        *out = d;
        return STRATA_OK;
    }
    cpt_opts o = *in;
    if (o.cold_ms == 0)
        o.cold_ms = d.cold_ms;
    if (o.target_file_bytes == 0)
        o.target_file_bytes = d.target_file_bytes;
    if (o.l0_trigger == 0)
        o.l0_trigger = d.l0_trigger;
    if (o.level_multiplier == 0)
        o.level_multiplier = d.level_multiplier;
    if (o.base_level_bytes == 0)
        o.base_level_bytes = d.base_level_bytes;
    if (o.max_levels == 0)
        o.max_levels = d.max_levels;
    if (o.max_subcompactions == 0)
        o.max_subcompactions = d.max_subcompactions;
    if (o.max_gp_overlap_bytes == 0)
        o.max_gp_overlap_bytes = 10 * o.target_file_bytes;
    if (o.max_jobs == 0)
        o.max_jobs = d.max_jobs;
    if (o.tier_group == 0)
        o.tier_group = d.tier_group;
    if (o.tier_group_l0 == 0)
        o.tier_group_l0 = d.tier_group_l0;
    /* Three levels at least: tiered needs one tier above flush output plus
     * the reserved full level; leveled needs level 0 plus two sorted runs
     * for a grandparent to exist. */
    if (o.cold_ms < 0 || o.l0_trigger < 1 || o.level_multiplier < 2 || o.max_levels < 3 ||
        o.max_levels > STRATA_MAX_LEVELS || o.max_subcompactions < 1 || o.max_jobs < 1 || o.tier_group < 2 ||
        o.tier_group_l0 < 2)
        return STRATA_ERR_INVALID;
    *out = o;
    return STRATA_OK;
}

void cpt_jobs_truncate(cpt_jobs *j, size_t n)
{
    for (size_t i = n; i < j->n; i++) {
        base_free(j->jobs[i].inputs);
        base_free(j->jobs[i].gps);
        base_free(j->jobs[i].splits);
    }
    if (n < j->n)
        j->n = n;
}

void cpt_jobs_free(cpt_jobs *j)
{
    if (!j)
        return;
    cpt_jobs_truncate(j, 0);
    base_free(j->jobs);
    j->jobs = NULL;
    j->n = 0;
}

/* Newest first: lower level, then larger file_no (compaction.h, AGE ORDER). */
static int cmp_age(const void *a, const void *b)
{
    const cpt_file *x = *(const cpt_file *const *)a, *y = *(const cpt_file *const *)b;
    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return x->file_no > y->file_no ? -1 : x->file_no < y->file_no;
}

static int cmp_gp(const void *a, const void *b)
{
    const cpt_gp *x = a, *y = b;
    if (x->max_sid != y->max_sid)
        return x->max_sid < y->max_sid ? -1 : 1;
    return x->min_sid < y->min_sid ? -1 : x->min_sid > y->min_sid;
}

static int cmp_max_sid(const void *a, const void *b)
{
    const cpt_file *x = *(const cpt_file *const *)a, *y = *(const cpt_file *const *)b;
    return x->max_sid < y->max_sid ? -1 : x->max_sid > y->max_sid;
}

int cpt_splits_make(const cpt_opts *o, uint64_t input_bytes, uint64_t min_sid, uint64_t max_sid,
                    const cpt_file *const *bottom, size_t n_bottom, cpt_split **out, size_t *n_out)
{
    uint64_t k = input_bytes / o->target_file_bytes + (input_bytes % o->target_file_bytes != 0);
    if (k > (uint64_t)o->max_subcompactions)
        k = (uint64_t)o->max_subcompactions;
    if (k < 1)
        k = 1;
    uint64_t bounds[STRATA_MAX_LEVELS * 8]; /* split ends, inclusive; k-1 of them */
    size_t nb = 0;
    if (k > ARRAY_LEN(bounds))
        k = ARRAY_LEN(bounds);
    if (k > 1 && n_bottom >= 2) {
        /* Badger's addSplits: cut after every n_bottom/k output-level files,
         * so each piece rewrites about the same amount of the level below. */
        const cpt_file **b = base_malloc(n_bottom * sizeof *b);
        if (!b)
            return STRATA_ERR_NOMEM;
        memcpy(b, bottom, n_bottom * sizeof *b);
        qsort(b, n_bottom, sizeof *b, cmp_max_sid);
        if (k > n_bottom)
            k = n_bottom;
        for (uint64_t j = 1; j < k; j++) {
            uint64_t e = b[(j * n_bottom) / k - 1]->max_sid;
            if (e < max_sid && (nb == 0 || e > bounds[nb - 1]))
                bounds[nb++] = e;
        }
        base_free(b);
    } else if (k > 1 && max_sid > min_sid) {
        uint64_t span = max_sid - min_sid; /* + 1 may overflow; pieces of span/k */
        if (span < k)
            k = span;
        for (uint64_t j = 1; j < k; j++) {
            uint64_t e = min_sid + (span / k) * j + (span % k) * j / k;
            if (e < max_sid && (nb == 0 || e > bounds[nb - 1]))
                bounds[nb++] = e;
        }
    }
    cpt_split *s = base_malloc((nb + 1) * sizeof *s);
    if (!s)
        return STRATA_ERR_NOMEM;
    uint64_t lo = 0;
    for (size_t i = 0; i < nb; i++) {
        s[i].sid_lo = lo;
        s[i].sid_hi = bounds[i];
        lo = bounds[i] + 1;
    }
    s[nb].sid_lo = lo;
    s[nb].sid_hi = UINT64_MAX;
    *out = s;
    *n_out = nb + 1;
    return STRATA_OK;
}

int cpt_job_add(cpt_jobs *out, const cpt_opts *o, cpt_job_kind kind, const cpt_file *const *in, size_t n_in,
                int in_level, int out_level, double score, const cpt_file *const *gps, size_t n_gps)
{
    int rc = STRATA_OK;
    cpt_job j = {0};
    const cpt_file **sorted = NULL, **bottom = NULL;
    size_t n_bottom = 0;
    if (n_in == 0)
        return STRATA_ERR_INVALID;
    sorted = base_malloc(n_in * sizeof *sorted);
    bottom = base_malloc(n_in * sizeof *bottom);
    j.inputs = base_malloc(n_in * sizeof *j.inputs);
    if (!sorted || !bottom || !j.inputs) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    memcpy(sorted, in, n_in * sizeof *sorted);
    qsort(sorted, n_in, sizeof *sorted, cmp_age);
    uint64_t min_sid = UINT64_MAX, max_sid = 0;
    for (size_t i = 0; i < n_in; i++) {
        j.inputs[i] = sorted[i]->file_no;
        j.input_bytes += sorted[i]->bytes;
        min_sid = MIN(min_sid, sorted[i]->min_sid);
        max_sid = MAX(max_sid, sorted[i]->max_sid);
        if (sorted[i]->level == out_level)
            bottom[n_bottom++] = sorted[i];
    }
    j.kind = kind;
    j.n_inputs = n_in;
    j.in_level = in_level;
    j.out_level = out_level;
    j.target_file_bytes = o->target_file_bytes;
    j.score = score;
    if (n_gps) {
        j.gps = base_malloc(n_gps * sizeof *j.gps);
        if (!j.gps) {
            rc = STRATA_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n_gps; i++)
            j.gps[i] = (cpt_gp){gps[i]->file_no, gps[i]->min_sid, gps[i]->max_sid, gps[i]->bytes};
        qsort(j.gps, n_gps, sizeof *j.gps, cmp_gp);
        j.n_gps = n_gps;
        j.max_gp_overlap_bytes = o->max_gp_overlap_bytes;
    }
    if (kind == CPT_JOB_MOVE) {
        j.splits = base_malloc(sizeof *j.splits);
        if (!j.splits) {
            rc = STRATA_ERR_NOMEM;
            goto out;
        }
        j.splits[0] = (cpt_split){0, UINT64_MAX};
        j.n_splits = 1;
    } else {
        rc = cpt_splits_make(o, j.input_bytes, min_sid, max_sid, bottom, n_bottom, &j.splits, &j.n_splits);
        if (rc)
            goto out;
    }
    cpt_job *grown = base_realloc(out->jobs, (out->n + 1) * sizeof *grown);
    if (!grown) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    out->jobs = grown;
    out->jobs[out->n++] = j;
    memset(&j, 0, sizeof j); /* owned by *out now */
out:
    base_free(j.inputs);
    base_free(j.gps);
    base_free(j.splits);
    base_free(sorted);
    base_free(bottom);
    return rc;
}

void cpt_gp_cutter_init(cpt_gp_cutter *c, const cpt_gp *gps, size_t n, uint64_t max_bytes)
{
    memset(c, 0, sizeof *c);
    c->gps = gps;
    c->n_gps = n;
    c->max_bytes = max_bytes;
}

bool cpt_gp_cutter_should_cut(cpt_gp_cutter *c, uint64_t sid)
{
    if (c->max_bytes == 0)
        return false;
    /* Pass over the grandparents wholly before this series; once the output
     * has a series, each one passed is overlapped by the output. */
    while (c->idx < c->n_gps && sid > c->gps[c->idx].max_sid) {
        if (c->seen_key)
            c->overlapped += c->gps[c->idx].bytes;
        c->idx++;
    }
    c->seen_key = true;
    if (c->overlapped > c->max_bytes) {
        c->overlapped = 0;
        return true;
    }
    return false;
}

int cpt_full_job(cpt_jobs *out, const cpt_opts *o, const cpt_partition *part, bool *added)
{
    int last = o->max_levels - 1;
    size_t n = part->n_files, n_in = 0;
    *added = false;
    for (size_t i = 0; i < n; i++)
        if (part->files[i].compacting)
            return STRATA_OK;
    if (n == 0)
        return STRATA_OK;
    bool *in = base_calloc(n, sizeof *in);
    const cpt_file **sel = base_malloc(n * sizeof *sel);
    int rc = STRATA_OK;
    if (!in || !sel) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (part->files[i].level != last || part->files[i].tombstones > 0)
            in[i] = true;
    /* Last-level files that share series (sid ranges overlap, times
     * disjoint: flushes a trivial move put there as they were, each with a
     * partial block per series) are merged together, so a fully compacted
     * partition has each series in one file. Outputs of a full compaction
     * split by sid range never qualify, so this cannot loop. */
    for (size_t i = 0; i < n; i++) {
        if (part->files[i].level != last)
            continue;
        for (size_t k = i + 1; k < n; k++) {
            if (part->files[k].level != last)
                continue;
            if (part->files[i].min_sid <= part->files[k].max_sid && part->files[k].min_sid <= part->files[i].max_sid)
                in[i] = in[k] = true;
        }
    }
    /* Transitive closure over overlap, pulling in last-level files. */
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            for (size_t k = 0; k < n; k++)
                if (in[k] && cpt_overlap(&part->files[i], &part->files[k])) {
                    in[i] = grew = true;
                    break;
                }
        }
    }
    int min_level = last;
    for (size_t i = 0; i < n; i++)
        if (in[i]) {
            sel[n_in++] = &part->files[i];
            min_level = MIN(min_level, part->files[i].level);
        }
    if (n_in == 0)
        goto out;
    rc = cpt_job_add(out, o, CPT_JOB_FULL, sel, n_in, min_level, last, 1.0, NULL, 0);
    if (rc == STRATA_OK)
        *added = true;
out:
    base_free(in);
    base_free(sel);
    return rc;
}

int cpt_rules_job(cpt_jobs *out, const cpt_opts *o, const cpt_partition *part, bool *added)
{
    size_t n = part->n_files;
    *added = false;
    if (n == 0 || part->n_rule_ages == 0)
        return STRATA_OK;
    bool due = false;
    for (size_t i = 0; i < n; i++) {
        if (part->files[i].compacting)
            return STRATA_OK;
        for (size_t k = 0; k < part->n_rule_ages && !due; k++) {
            int64_t at;
            if (__builtin_add_overflow(part->end_ms, part->rule_ages[k], &at))
                continue; /* never reached */
            due = part->files[i].rules_ms < at && at <= part->now_ms;
        }
    }
    if (!due)
        return STRATA_OK;
    const cpt_file **sel = base_malloc(n * sizeof *sel);
    if (!sel)
        return STRATA_ERR_NOMEM;
    int min_level = o->max_levels - 1;
    for (size_t i = 0; i < n; i++) {
        sel[i] = &part->files[i];
        min_level = MIN(min_level, part->files[i].level);
    }
    /* before every other job: what the rules remove need not be merged first */
    int rc = cpt_job_add(out, o, CPT_JOB_FULL, sel, n, min_level, o->max_levels - 1, 1e9, NULL, 0);
    if (rc == STRATA_OK) {
        out->jobs[out->n - 1].rules = true;
        *added = true;
    }
    base_free(sel);
    return rc;
}
