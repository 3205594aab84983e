/*
 * leveled.c: the leveled planner, in the manner of LevelDB (version_set.cc)
 * and Badger (levels.go), applied to one time partition.
 *
 * Level 0 holds flush output (files overlap); levels 1..max_levels-1 are
 * sorted runs. Each plan call:
 *   1. computes dynamic targets from the last level's actual size
 *      (cpt_level_targets, Badger's levelTargets) and the base level, where
 *      level 0 goes;
 *   2. scores level 0 by file count and the others by size over target,
 *      adjusts each score by the next level's so that a full lower level is
 *      served first (cpt_level_scores, Badger's pickCompactLevels, after
 *      Pebble), and takes the levels whose raw score is >= 1 in order of
 *      adjusted score;
 *   3. for each, picks an input: at level 0 the oldest file, above it the
 *      file with the least overlap with the next level relative to its own
 *      size (RocksDB's kMinOverlappingRatio; stateless, where LevelDB's
 *      round-robin compact pointer would need state per partition);
 *   4. grows the inputs to every file of the same level that overlaps them
 *      (LevelDB does this for level 0; doing it at every level keeps AGE
 *      ORDER true even over files another planner left overlapping), then
 *      adds every overlapping file of the output level, transitively;
 *   5. a single input with nothing to merge with and little grandparent
 *      overlap is a trivial move (LevelDB's IsTrivialMove); otherwise a merge
 *      whose outputs the compactor cuts when their overlap with the
 *      grandparent level passes max_gp_overlap_bytes, split by sid range
 *      for sub-compactions at the boundaries of the output level's inputs
 *      (Badger's addSplits).
 * A partition without writes for cold_ms (or forced) gets the full
 * compaction shared with the tiered planner: everything pushed into the
 * last level once.
 *
 * Level 0 never skips a non-empty level: its output level is the base level
 * or the first non-empty level below 0, whichever is higher, because AGE
 * ORDER ranks lower levels newer (Badger can skip since its keys carry
 * versions; ours do not).
 */
#include "planner_int.h"

#include <stdlib.h>

typedef struct leveled {
    cpt_planner base;
} leveled;

void cpt_level_targets(const cpt_opts *o, const uint64_t *level_bytes, cpt_targets *t)
{
    int n = o->max_levels;
    memset(t, 0, sizeof *t);
    uint64_t db = level_bytes[n - 1];
    for (int i = n - 1; i > 0; i--) {
        uint64_t target = MAX(db, o->base_level_bytes);
        t->target[i] = target;
        if (t->base_level == 0 && target <= o->base_level_bytes)
            t->base_level = i;
        db /= (uint64_t)o->level_multiplier;
    }
    /* Bring the base level down to the last empty level above data. */
    for (int i = t->base_level + 1; i < n - 1; i++) {
        if (level_bytes[i] > 0)
            break;
        t->base_level = i;
    }
    /* An empty base level above a level still under its target: use that. */
    int b = t->base_level;
    if (b < n - 1 && level_bytes[b] == 0 && level_bytes[b + 1] < t->target[b + 1])
        t->base_level++;
}

void cpt_level_scores(const cpt_opts *o, size_t l0_files, const uint64_t *level_bytes, const uint64_t *busy_bytes,
                      const cpt_targets *t, cpt_score *out)
{
    int n = o->max_levels;
    out[0] = (cpt_score){0, (double)l0_files / (double)o->l0_trigger, 0};
    out[0].adjusted = out[0].score;
    for (int i = 1; i < n; i++) {
        uint64_t sz = level_bytes[i] > busy_bytes[i] ? level_bytes[i] - busy_bytes[i] : 0;
        double s = (double)sz / (double)t->target[i];
        out[i] = (cpt_score){i, s, s};
    }
    /* Pebble's adjustment via Badger: a level over target is divided by the
     * next (non-skipped) level's score, so if that one overflows too it goes
     * first; a floor of 0.01 avoids absurd scores over an empty level. */
    int prev = 0;
    for (int l = t->base_level; l < n; l++) {
        if (out[prev].adjusted >= 1) {
            const double min_score = 0.01;
            if (out[l].score >= min_score)
                out[prev].adjusted /= out[l].adjusted;
            else
                out[prev].adjusted /= min_score;
        }
        prev = l;
    }
}

typedef struct ctx {
    const cpt_opts *o;
    const cpt_partition *part;
    bool *busy; /* per file: compacting or taken by a job of this call */
    bool *sel;  /* per file: input of the job being built */
} ctx;

/* Grows sel to every file of `level` overlapping a selected file of any of
 * the levels in [from, level], transitively. Returns false if it would need
 * a busy file. */
static bool grow(ctx *c, int from, int level)
{
    const cpt_file *f = c->part->files;
    size_t n = c->part->n_files;
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (c->sel[i] || f[i].level != level)
                continue;
            for (size_t k = 0; k < n; k++) {
                if (!c->sel[k] || f[k].level < from || f[k].level > level || !cpt_overlap(&f[i], &f[k]))
                    continue;
                if (c->busy[i])
                    return false;
                c->sel[i] = grew = true;
                break;
            }
        }
    }
    return true;
}

/* Tries to build a job from file `cand` (level src) into level dst. */
static int try_job(ctx *c, size_t cand, int src, int dst, double score, cpt_jobs *out, bool *added)
{
    const cpt_file *f = c->part->files;
    size_t n = c->part->n_files;
    int rc = STRATA_OK;
    const cpt_file **in = NULL, **gps = NULL;
    *added = false;
    memset(c->sel, 0, n * sizeof *c->sel);
    c->sel[cand] = true;
    if (!grow(c, src, src) || !grow(c, src, dst))
        return STRATA_OK;
    in = base_malloc(n * sizeof *in);
    gps = base_malloc(n * sizeof *gps);
    if (!in || !gps) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    size_t n_in = 0, n_gp = 0, n_dst = 0;
    uint64_t gp_bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (c->sel[i]) {
            in[n_in++] = &f[i];
            n_dst += f[i].level == dst;
        }
    if (dst + 1 < c->o->max_levels)
        for (size_t i = 0; i < n; i++) {
            if (f[i].level != dst + 1)
                continue;
            for (size_t k = 0; k < n_in; k++)
                if (cpt_overlap(&f[i], in[k])) {
                    gps[n_gp++] = &f[i];
                    gp_bytes += f[i].bytes;
                    break;
                }
        }
    bool move = n_in == 1 && n_dst == 0 && gp_bytes <= c->o->max_gp_overlap_bytes;
    rc = cpt_job_add(out, c->o, move ? CPT_JOB_MOVE : CPT_JOB_MERGE, in, n_in, src, dst, score, gps, n_gp);
    if (rc)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (c->sel[i])
            c->busy[i] = true;
    *added = true;
out:
    base_free(in);
    base_free(gps);
    return rc;
}

typedef struct cand {
    size_t idx;
    double key; /* smaller first */
    uint64_t file_no;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->file_no < y->file_no ? -1 : x->file_no > y->file_no;
}

static int cmp_prio(const void *a, const void *b)
{
    const cpt_score *x = a, *y = b;
    if (x->adjusted != y->adjusted)
        return x->adjusted > y->adjusted ? -1 : 1;
    return x->level - y->level;
}

static int leveled_plan(cpt_planner *p, const cpt_partition *part, cpt_jobs *out)
{
    const cpt_opts *o = &p->opts;
    const cpt_file *f = part->files;
    size_t n = part->n_files, n_before = out->n;
    int nl = o->max_levels, rc = STRATA_OK;
    ctx c = {o, part, NULL, NULL};
    cand *cands = NULL;

    if (part->force_full || part->now_ms - part->last_write_ms >= o->cold_ms) {
        bool added;
        return cpt_full_job(out, o, part, &added);
    }
    if (n == 0)
        return STRATA_OK;
    c.busy = base_calloc(n, sizeof *c.busy);
    c.sel = base_calloc(n, sizeof *c.sel);
    cands = base_malloc(n * sizeof *cands);
    if (!c.busy || !c.sel || !cands) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    uint64_t bytes[STRATA_MAX_LEVELS] = {0}, busy_bytes[STRATA_MAX_LEVELS] = {0};
    size_t l0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].level < 0 || f[i].level >= nl) {
            rc = STRATA_ERR_INVALID;
            goto out;
        }
        bytes[f[i].level] += f[i].bytes;
        if (f[i].compacting) {
            c.busy[i] = true;
            busy_bytes[f[i].level] += f[i].bytes;
        }
        l0 += f[i].level == 0;
    }
    cpt_targets t;
    cpt_score sc[STRATA_MAX_LEVELS];
    cpt_level_targets(o, bytes, &t);
    cpt_level_scores(o, l0, bytes, busy_bytes, &t, sc);
    cpt_score prios[STRATA_MAX_LEVELS];
    int np = 0;
    for (int l = 0; l < nl - 1; l++)
        if (sc[l].score >= 1.0)
            prios[np++] = sc[l];
    qsort(prios, (size_t)np, sizeof *prios, cmp_prio);

    for (int pi = 0; pi < np && (int)(out->n - n_before) < o->max_jobs; pi++) {
        int src = prios[pi].level, dst = src + 1;
        if (src == 0) {
            dst = t.base_level;
            for (int l = 1; l < t.base_level; l++)
                if (bytes[l] > 0) {
                    dst = l;
                    break;
                }
        }
        size_t nc = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i].level != src || c.busy[i])
                continue;
            double key = 0;
            if (src > 0) {
                uint64_t ov = 0;
                for (size_t k = 0; k < n; k++)
                    if (f[k].level == dst && cpt_overlap(&f[i], &f[k]))
                        ov += f[k].bytes;
                key = (double)ov / (double)(f[i].bytes ? f[i].bytes : 1);
            }
            cands[nc++] = (cand){i, key, f[i].file_no};
        }
        qsort(cands, nc, sizeof *cands, cmp_cand);
        for (size_t k = 0; k < nc; k++) {
            bool added;
            rc = try_job(&c, cands[k].idx, src, dst, prios[pi].adjusted, out, &added);
            if (rc)
                goto out;
            if (added)
                break;
        }
    }
out:
    base_free(c.busy);
    base_free(c.sel);
    base_free(cands);
    if (rc)
        cpt_jobs_truncate(out, n_before);
    return rc;
}

static void leveled_destroy(cpt_planner *p)
{
    base_free(p);
}

int cpt_planner_leveled_new(const cpt_opts *opts, cpt_planner **out)
{
    cpt_opts o;
    int rc = cpt_opts_check(opts, &o);
    if (rc)
        return rc;
    leveled *l = base_calloc(1, sizeof *l);
    if (!l)
        return STRATA_ERR_NOMEM;
    l->base.name = "leveled";
    l->base.plan = leveled_plan;
    l->base.destroy = leveled_destroy;
    l->base.opts = o;
    *out = &l->base;
    return STRATA_OK;
}
