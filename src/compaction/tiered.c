/*
 * tiered.c: the default planner, in the manner of InfluxDB's TSM
 * DefaultPlanner (tsdb/engine/tsm1/compact.go).
 *
 * A file's level counts how often its data was merged: flushes write level
 * 0, a merge of level-L files writes level L+1. While a partition takes
 * writes, the oldest files of a level are merged in groups of tier_group_l0
 * (8) at level 0 and tier_group (4) above, as TSM's PlanLevel does with its
 * generations; a level with a running job waits for it, so the outputs of
 * a level are numbered in age order (compaction.h, AGE ORDER). Level merges stop
 * below the last level, which belongs to the full compaction: once a
 * partition has had no write for cold_ms (TSM's
 * CompactFullWriteColdDuration), it gets one full compaction into large
 * files with full blocks at the last level, and none again until something
 * changes (a new file, a tombstone).
 *
 * Write amplification for a partition filled in time order: each sample is
 * written by its flush, by at most one merge per tier it climbs (with 8
 * flushes a day per partition, one merge at level 0), and once by the cold
 * full compaction: about 3.
 */
#include "planner_int.h"

#include <stdlib.h>

typedef struct tiered {
    cpt_planner base;
} tiered;

static int cmp_file_no(const void *a, const void *b)
{
    const cpt_file *x = *(const cpt_file *const *)a, *y = *(const cpt_file *const *)b;
    return x->file_no < y->file_no ? -1 : x->file_no > y->file_no;
}

static int tiered_plan(cpt_planner *p, const cpt_partition *part, cpt_jobs *out)
{
    const cpt_opts *o = &p->opts;
    size_t n_before = out->n;
    int rc = STRATA_OK;
    const cpt_file **lvl = NULL;

    bool cold = part->force_full || (part->now_ms - part->last_write_ms >= o->cold_ms);
    if (cold) {
        bool added;
        return cpt_full_job(out, o, part, &added);
    }
    lvl = base_malloc((part->n_files ? part->n_files : 1) * sizeof *lvl);
    if (!lvl)
        return STRATA_ERR_NOMEM;
    /* Tier merges write level L+1 <= last-1. */
    for (int L = 0; L + 1 <= o->max_levels - 2 && (int)(out->n - n_before) < o->max_jobs; L++) {
        size_t n = 0;
        bool busy = false;
        for (size_t i = 0; i < part->n_files; i++)
            if (part->files[i].level == L) {
                lvl[n++] = &part->files[i];
                busy |= part->files[i].compacting;
            }
        size_t g = (size_t)(L == 0 ? o->tier_group_l0 : o->tier_group);
        /* One job per level at a time keeps the outputs' numbers in age
         * order (AGE ORDER); TSM likewise plans a level again only after
         * its running group is done. */
        if (busy || n < g)
            continue;
        qsort(lvl, n, sizeof *lvl, cmp_file_no);
        rc = cpt_job_add(out, o, CPT_JOB_MERGE, lvl, g, L, L + 1, (double)n / (double)g, NULL, 0);
        if (rc)
            break;
    }
    base_free(lvl);
    if (rc)
        cpt_jobs_truncate(out, n_before);
    return rc;
}

static void tiered_destroy(cpt_planner *p)
{
    base_free(p);
}

int cpt_planner_tiered_new(const cpt_opts *opts, cpt_planner **out)
{
    cpt_opts o;
    int rc = cpt_opts_check(opts, &o);
    if (rc)
        return rc;
    tiered *t = base_calloc(1, sizeof *t);
    if (!t)
        return STRATA_ERR_NOMEM;
    t->base.name = "tiered";
    t->base.plan = tiered_plan;
    t->base.destroy = tiered_destroy;
    t->base.opts = o;
    *out = &t->base;
    return STRATA_OK;
}
