/*
 * install.c: the glue between the manifest and the compaction layer: the
 * planner's view of a partition built from a manifest version, and the one
 * manifest edit that installs a finished job.
 */
#include "compaction.h"

/* Whether tombstone t can hide samples of table m (manifest.h: tables
 * numbered below a tombstone's id predate it). */
static bool tomb_hits(const manifest_tombstone *t, const manifest_table *m)
{
    if (t->id <= m->file_no || t->maxt_ms < m->min_t_ms || m->max_t_ms < t->mint_ms)
        return false;
    size_t a = 0, b = t->n_sids;
    while (a < b) { /* first sid >= min_sid */
        size_t mid = a + (b - a) / 2;
        if (t->sids[mid] < m->min_sid)
            a = mid + 1;
        else
            b = mid;
    }
    return a < t->n_sids && t->sids[a] <= m->max_sid;
}

int cpt_files_from_version(const manifest_version *v, const manifest_partition *p,
                           bool (*busy)(void *ctx, uint64_t file_no), void *ctx, cpt_file **out, size_t *n)
{
    size_t nt, ntomb;
    const manifest_table *tabs = manifest_version_tables(v, &nt);
    const manifest_tombstone *const *tombs = manifest_version_tombstones(v, &ntomb);
    if (p->first > nt || p->n > nt - p->first)
        return STRATA_ERR_INVALID;
    if (p->n == 0) {
        *out = NULL;
        *n = 0;
        return STRATA_OK;
    }
    cpt_file *f = base_calloc(p->n, sizeof *f);
    if (!f)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < p->n; i++) {
        const manifest_table *m = &tabs[p->first + i];
        f[i].file_no = m->file_no;
        f[i].level = (int)m->level;
        f[i].bytes = m->bytes;
        f[i].samples = m->samples;
        f[i].blocks = m->blocks;
        f[i].min_sid = m->min_sid;
        f[i].max_sid = m->max_sid;
        f[i].min_t = m->min_t_ms;
        f[i].max_t = m->max_t_ms;
        f[i].created_ms = m->created_ms;
        f[i].compacting = busy ? busy(ctx, m->file_no) : false;
        for (size_t k = 0; k < ntomb; k++)
            f[i].tombstones += tomb_hits(tombs[k], m);
    }
    *out = f;
    *n = p->n;
    return STRATA_OK;
}

int cpt_edit_for_job(manifest_edit *e, const manifest_version *v, const cpt_job *job, const table_meta *outs,
                     size_t n_outs, int64_t now_ms)
{
    int rc;
    if (job->n_inputs == 0 || job->out_level < 0 || job->out_level >= MANIFEST_MAX_LEVELS ||
        (job->kind == CPT_JOB_MOVE && (job->n_inputs != 1 || n_outs != 0)))
        return STRATA_ERR_INVALID;
    const manifest_table *first = manifest_version_find_table(v, job->inputs[0]);
    if (!first)
        return STRATA_ERR_INVALID;
    for (size_t i = 0; i < job->n_inputs; i++) {
        const manifest_table *m = manifest_version_find_table(v, job->inputs[i]);
        if (!m || m->partition_ms != first->partition_ms)
            return STRATA_ERR_INVALID;
        if ((rc = manifest_edit_remove_table(e, m->file_no)))
            return rc;
        if (job->kind == CPT_JOB_MOVE) {
            manifest_table moved = *m;
            moved.level = (uint32_t)job->out_level;
            return manifest_edit_add_table(e, &moved);
        }
        if ((rc = manifest_edit_add_level_stats(e, m->level, m->bytes, 0)))
            return rc;
    }
    uint64_t written = 0;
    for (size_t i = 0; i < n_outs; i++) {
        const table_meta *o = &outs[i];
        manifest_table t = {
            .file_no = o->file_no,
            .partition_ms = first->partition_ms,
            .level = (uint32_t)job->out_level,
            .min_sid = o->min_sid,
            .max_sid = o->max_sid,
            .min_t_ms = o->min_t,
            .max_t_ms = o->max_t,
            .samples = o->samples,
            .blocks = o->blocks,
            .bytes = o->file_bytes,
            .created_ms = now_ms,
        };
        if ((rc = manifest_edit_add_table(e, &t)))
            return rc;
        written += o->file_bytes;
    }
    return manifest_edit_add_level_stats(e, (uint32_t)job->out_level, 0, written);
}
