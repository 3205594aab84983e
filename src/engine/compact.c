/*
 * compact.c: compaction in the engine: background threads ask the
 * planner for jobs over every partition, run the chosen job (every split
 * of it) with the compactor, and install the result with one manifest
 * edit. strata_compact runs jobs in the calling thread until none is
 * planned.
 *
 * Files of a running job are listed in db->compacting so the planner never
 * offers them twice. A job takes a snapshot of the tombstones when it
 * starts; if a delete arrives before it installs, the outputs (numbered
 * after the delete, so the delete would not apply to them on read) are
 * thrown away and the job is planned again.
 *
 * After every install, tombstones that no older file overlaps any more are
 * retired with a second edit.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

static bool is_busy(void *ctx, uint64_t file_no)
{
    strata_db *db = ctx; /* caller holds bg_mu */
    for (size_t i = 0; i < db->n_compacting; i++)
        if (db->compacting[i] == file_no)
            return true;
    return false;
}

static int alloc_no(void *ctx, uint64_t *file_no)
{
    strata_db *db = ctx;
    return manifest_alloc_file_no(db->man, file_no);
}

/* The newest write into a partition, as well as the engine knows it: now
 * when a head holds samples there, else the newest file's creation. */
static int64_t partition_last_write(strata_db *db, db_version *v, const manifest_partition *p)
{
    int64_t last = 0;
    size_t n = 0;
    const manifest_table *mt = manifest_version_tables(v->mv, &n);
    for (size_t i = p->first; i < p->first + p->n; i++)
        last = MAX(last, mt[i].created_ms);
    int64_t lo = p->start_ms, hi = p->start_ms + db->opts.partition_ms - 1;
    head_stats hs;
    head_get_stats(v->active->h, &hs);
    if (hs.samples && hs.min_t <= hi && hs.max_t >= lo)
        last = base_now_ms();
    for (size_t i = 0; i < v->n_frozen; i++) {
        head_get_stats(v->frozen[i]->h, &hs);
        if (hs.samples && hs.min_t <= hi && hs.max_t >= lo)
            last = base_now_ms();
    }
    return last;
}

/* The ages at which a rule starts to apply (cpt_partition.rule_ages):
 * every downsampling rule's, every retention rule's and, beside those,
 * the global retention's (series without a rule lose a partition that a
 * longer rule keeps). *n 0 without rules. */
static int rule_ages(strata_db *db, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!db_rules_any(db->rules))
        return STRATA_OK;
    size_t nd = 0, nr = 0;
    const db_ds_rule *ds = db_rules_downsampling(db->rules, &nd);
    const int64_t *ret = NULL;
    db_rules_retention(db->rules, &ret, &nr);
    int64_t *a = base_malloc((nd + nr + 1) * sizeof *a);
    if (!a)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < nd; i++)
        a[(*n)++] = ds[i].age_ms;
    for (size_t i = 0; i < nr; i++)
        a[(*n)++] = ret[i];
    if (db->opts.retention_ms > 0)
        a[(*n)++] = db->opts.retention_ms;
    *out = a;
    return STRATA_OK;
}

/* Plans over every partition and takes the best job (marking its inputs
 * busy). Returns 1 with *job, 0 when nothing is planned. */
static int take_job(strata_db *db, db_version *v, bool full, cpt_job *job, int64_t *part_start)
{
    size_t np = 0;
    const manifest_partition *parts = manifest_version_partitions(v->mv, &np);
    cpt_jobs all = {0};
    int64_t *job_part = NULL;
    size_t cap = 0;
    int64_t *ages = NULL;
    size_t n_ages = 0;
    int rc = rule_ages(db, &ages, &n_ages);
    if (rc)
        return rc;
    pthread_mutex_lock(&db->bg_mu);
    for (size_t i = 0; i < np && !rc; i++) {
        cpt_file *files = NULL;
        size_t nf = 0;
        if ((rc = cpt_files_from_version(v->mv, &parts[i], is_busy, db, &files, &nf)) != 0)
            break;
        cpt_partition cp = {.files = files,
                            .n_files = nf,
                            .last_write_ms = partition_last_write(db, v, &parts[i]),
                            .now_ms = base_now_ms(),
                            .force_full = full,
                            .end_ms = parts[i].start_ms + db->opts.partition_ms,
                            .rule_ages = ages,
                            .n_rule_ages = n_ages};
        for (size_t k = 0; k < nf; k++)
            for (size_t t = 0; t < v->n_tables; t++)
                if (v->tables[t].m.file_no == files[k].file_no)
                    files[k].rules_ms = table_get_meta(v->tables[t].t)->rules_ms;
        size_t before = all.n;
        bool added = false;
        rc = cpt_rules_job(&all, &db->planner->opts, &cp, &added);
        if (!rc && !added)
            rc = cpt_plan(db->planner, &cp, &all);
        base_free(files);
        if (rc)
            break;
        if (all.n > cap) {
            size_t nc = MAX(all.n, cap * 2 + 4);
            int64_t *jp = base_realloc(job_part, nc * sizeof *jp);
            if (!jp) {
                rc = STRATA_ERR_NOMEM;
                break;
            }
            job_part = jp;
            cap = nc;
        }
        for (size_t k = before; k < all.n; k++)
            job_part[k] = parts[i].start_ms;
    }
    int found = 0;
    if (!rc && all.n) {
        size_t best = 0;
        for (size_t k = 1; k < all.n; k++)
            if (all.jobs[k].score > all.jobs[best].score)
                best = k;
        size_t need = db->n_compacting + all.jobs[best].n_inputs;
        if (need > db->cap_compacting) {
            uint64_t *c = base_realloc(db->compacting, (need + 16) * sizeof *c);
            if (!c)
                rc = STRATA_ERR_NOMEM;
            else {
                db->compacting = c;
                db->cap_compacting = need + 16;
            }
        }
        if (!rc) {
            for (size_t k = 0; k < all.jobs[best].n_inputs; k++)
                db->compacting[db->n_compacting++] = all.jobs[best].inputs[k];
            *job = all.jobs[best];
            *part_start = job_part[best];
            /* the job now belongs to the caller: take it out of the list */
            all.jobs[best] = all.jobs[all.n - 1];
            all.n--;
            db->compactions_running++;
            found = 1;
        }
    }
    pthread_mutex_unlock(&db->bg_mu);
    cpt_jobs_free(&all);
    base_free(job_part);
    base_free(ages);
    return rc ? rc : found;
}

static void release_job(strata_db *db, cpt_job *job)
{
    pthread_mutex_lock(&db->bg_mu);
    for (size_t k = 0; k < job->n_inputs; k++)
        for (size_t i = 0; i < db->n_compacting; i++)
            if (db->compacting[i] == job->inputs[k]) {
                db->compacting[i] = db->compacting[--db->n_compacting];
                break;
            }
    db->compactions_running--;
    pthread_cond_broadcast(&db->done_cond);
    pthread_mutex_unlock(&db->bg_mu);
    /* cpt_jobs_free frees a job's arrays and the jobs array: hand it a
     * one-element array of its own */
    cpt_job *heap = base_malloc(sizeof *heap);
    if (heap) {
        *heap = *job;
        cpt_jobs one = {heap, 1};
        cpt_jobs_free(&one);
    }
}

static uint64_t last_tombstone(const manifest_version *mv)
{
    size_t n = 0;
    const manifest_tombstone *const *ts = manifest_version_tombstones(mv, &n);
    return n ? ts[n - 1]->id : 0;
}

/* Retires tombstones no older file overlaps (caller holds edit_mu). */
static int retire_tombstones(strata_db *db)
{
    db_version *cur = db_version_pin(db);
    size_t n_ts = 0, n_t = 0;
    const manifest_tombstone *const *ts = manifest_version_tombstones(cur->mv, &n_ts);
    const manifest_table *mt = manifest_version_tables(cur->mv, &n_t);
    manifest_edit e;
    manifest_edit_init(&e);
    int rc = STRATA_OK, n = 0;
    for (size_t k = 0; k < n_ts && !rc; k++) {
        bool needed = false;
        for (size_t i = 0; i < cur->n_frozen && !needed; i++)
            needed = cur->frozen[i]->freeze_no < ts[k]->id;
        for (size_t i = 0; i < n_t && !needed; i++) {
            if (mt[i].file_no >= ts[k]->id || mt[i].max_t_ms < ts[k]->mint_ms || mt[i].min_t_ms > ts[k]->maxt_ms)
                continue;
            for (size_t s = 0; s < ts[k]->n_sids && !needed; s++)
                needed = ts[k]->sids[s] >= mt[i].min_sid && ts[k]->sids[s] <= mt[i].max_sid;
        }
        if (!needed) {
            rc = manifest_edit_remove_tombstone(&e, ts[k]->id);
            n++;
        }
    }
    if (!rc && n && (rc = manifest_apply(db->man, &e)) == 0)
        rc = db_version_reinstall(db, cur, 0);
    manifest_edit_free(&e);
    db_version_unpin(cur);
    return rc;
}

/* The rules of a job's series (cpt_rules_fn). */
typedef struct job_rules {
    strata_db *db;
    int64_t now_ms;
    int64_t part_end;  /* exclusive */
    bool downsample;   /* a rules job: resolutions apply */
} job_rules;

static int series_rules(void *ctx, uint64_t sid, int64_t *cut_ms, int64_t *res_ms)
{
    job_rules *j = ctx;
    int64_t ret = 0;
    int group = -1;
    int rc = db_rules_of(j->db, sid, &ret, &group);
    if (rc)
        return rc;
    *cut_ms = ret > 0 ? j->now_ms - ret : INT64_MIN;
    *res_ms = j->downsample ? db_rules_resolution(j->db->rules, group, j->now_ms - j->part_end) : 0;
    return STRATA_OK;
}

/* Runs one job to the end and installs it. */
static int run_job(strata_db *db, cpt_job *job, int64_t part_start)
{
    pthread_rwlock_rdlock(&db->tomb_gate);
    db_version *v = db_version_pin(db);
    uint64_t tomb_at_start = last_tombstone(v->mv);
    table **inputs = base_calloc(job->n_inputs ? job->n_inputs : 1, sizeof *inputs);
    table_meta *outs = NULL;
    size_t n_outs = 0;
    int rc = inputs ? STRATA_OK : STRATA_ERR_NOMEM;
    for (size_t k = 0; k < job->n_inputs && !rc; k++) {
        inputs[k] = NULL;
        for (size_t i = 0; i < v->n_tables; i++)
            if (v->tables[i].m.file_no == job->inputs[k])
                inputs[k] = v->tables[i].t;
        if (!inputs[k])
            rc = STRATA_ERR_INVALID; /* the planner saw another version */
    }
    cpt_run_stats st = {0};
    job_rules jr = {db, base_now_ms(), part_start + db->opts.partition_ms, job->rules};
    /* a rules job applied the rules to all the partition holds; any other
     * output holds data the rules were applied to no later than its
     * oldest input's */
    int64_t rules_ms = job->rules ? jr.now_ms : INT64_MAX;
    for (size_t k = 0; k < job->n_inputs && !rc && !job->rules; k++)
        rules_ms = MIN(rules_ms, table_get_meta(inputs[k])->rules_ms);
    if (!rc && job->kind != CPT_JOB_MOVE) {
        size_t n_ts = 0;
        const manifest_tombstone *const *ts = manifest_version_tombstones(v->mv, &n_ts);
        for (size_t s = 0; s < job->n_splits && !rc; s++) {
            cpt_run_args a;
            cpt_run_args_from_job(&a, job, s);
            a.inputs = inputs;
            a.n_inputs = job->n_inputs;
            a.tombstones = ts;
            a.n_tombstones = n_ts;
            a.retention_before_ms = db->opts.retention_ms > 0 ? jr.now_ms - db->opts.retention_ms : INT64_MIN;
            if (db_rules_any(db->rules)) {
                a.rules = series_rules;
                a.rules_ctx = &jr;
            }
            a.rules_ms = rules_ms;
            a.dir = db->table_dir;
            a.vfs = db->vfs;
            a.alloc = alloc_no;
            a.alloc_ctx = db;
            a.block_samples = db->opts.block_samples;
            a.cancel = &db->cancel;
            table_meta *o = NULL;
            size_t no = 0;
            rc = cpt_run(&a, &o, &no, &st);
            if (!rc && no) {
                table_meta *m = base_realloc(outs, (n_outs + no) * sizeof *m);
                if (!m)
                    rc = STRATA_ERR_NOMEM;
                else {
                    outs = m;
                    memcpy(outs + n_outs, o, no * sizeof *o);
                    n_outs += no;
                }
            }
            base_free(o);
        }
    }
    bool installed = false;
    if (!rc) {
        pthread_mutex_lock(&db->edit_mu);
        db_version *cur = db_version_pin(db);
        manifest_edit e;
        manifest_edit_init(&e);
        if (last_tombstone(cur->mv) != tomb_at_start && job->kind != CPT_JOB_MOVE)
            rc = STRATA_ERR_BUSY;
        else if ((rc = cpt_edit_for_job(&e, cur->mv, job, outs, n_outs, base_now_ms())) == 0 &&
                 (rc = manifest_apply(db->man, &e)) == 0 && (rc = db_version_reinstall(db, cur, 0)) == 0) {
            installed = true;
            rc = retire_tombstones(db);
        }
        manifest_edit_free(&e);
        db_version_unpin(cur);
        pthread_mutex_unlock(&db->edit_mu);
    }
    if (!installed) {
        for (size_t k = 0; k < n_outs; k++) {
            char name[32];
            table_file_name(name, sizeof name, outs[k].file_no);
            char *p = base_path_join(db->table_dir, name);
            if (p)
                (void)base_vfs_unlink(db->vfs, p); /* best effort: an orphan is removed at open */
            base_free(p);
        }
    } else {
        atomic_fetch_add(&db->compactions, 1);
        atomic_fetch_add(&db->comp_read, st.bytes_read);
        atomic_fetch_add(&db->comp_written, st.bytes_written);
        atomic_fetch_add(&db->comp_copied, st.blocks_copied);
        atomic_fetch_add(&db->comp_merged, st.blocks_merged);
    }
    base_free(outs);
    base_free(inputs);
    db_version_unpin(v);
    pthread_rwlock_unlock(&db->tomb_gate);
    if (rc == STRATA_ERR_BUSY)
        rc = STRATA_OK; /* planned again by the caller's next round */
    return rc;
}

/* Runs planned jobs until none is planned; returns the first error. */
static int compact_rounds(strata_db *db, bool full)
{
    for (;;) {
        if (atomic_load(&db->cancel))
            return STRATA_ERR_CANCELLED;
        db_version *v = db_version_pin(db);
        cpt_job job;
        int64_t part = 0;
        int r = take_job(db, v, full, &job, &part);
        db_version_unpin(v);
        if (r <= 0)
            return r;
        int rc = run_job(db, &job, part);
        release_job(db, &job);
        if (rc) {
            if (rc != STRATA_ERR_CANCELLED)
                base_logf(&db->log, STRATA_LOG_ERROR, "compaction failed: %s", strata_strerror(rc));
            return rc;
        }
    }
}

static void *compact_main(void *arg)
{
    strata_db *db = arg;
    pthread_mutex_lock(&db->bg_mu);
    while (!db->closing) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 5; /* also look now and then: partitions turn cold */
        pthread_cond_timedwait(&db->bg_cond, &db->bg_mu, &dl);
        if (db->closing)
            break;
        pthread_mutex_unlock(&db->bg_mu);
        int rc = compact_rounds(db, false);
        pthread_mutex_lock(&db->bg_mu);
        if (rc && rc != STRATA_ERR_CANCELLED && !db->closing) {
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 5; /* back off after a failure */
            pthread_cond_timedwait(&db->bg_cond, &db->bg_mu, &dl);
        }
    }
    pthread_mutex_unlock(&db->bg_mu);
    return NULL;
}

int db_compact_start(strata_db *db)
{
    cpt_opts co;
    cpt_opts_init(&co);
    co.cold_ms = db->opts.cold_ms;
    int rc = db->opts.planner == STRATA_PLANNER_LEVELED ? cpt_planner_leveled_new(&co, &db->planner)
                                                        : cpt_planner_tiered_new(&co, &db->planner);
    if (rc)
        return rc;
    int n = db->opts.compaction_threads;
    if (n <= 0)
        return STRATA_OK;
    db->compact_threads = base_calloc((size_t)n, sizeof *db->compact_threads);
    if (!db->compact_threads)
        return STRATA_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&db->compact_threads[i], NULL, compact_main, db) != 0)
            return STRATA_ERR_NOMEM;
        db->n_compact_threads++;
    }
    return STRATA_OK;
}

void db_compact_stop(strata_db *db)
{
    atomic_store(&db->cancel, 1);
    pthread_mutex_lock(&db->bg_mu);
    db->closing = true;
    pthread_cond_broadcast(&db->bg_cond);
    pthread_mutex_unlock(&db->bg_mu);
    for (int i = 0; i < db->n_compact_threads; i++)
        pthread_join(db->compact_threads[i], NULL);
    db->n_compact_threads = 0;
    base_free(db->compact_threads);
    db->compact_threads = NULL;
}

void db_compact_wake(strata_db *db)
{
    pthread_mutex_lock(&db->bg_mu);
    pthread_cond_broadcast(&db->bg_cond);
    pthread_mutex_unlock(&db->bg_mu);
}

int strata_compact(strata_db *db, int full)
{
    if (!db)
        return STRATA_ERR_INVALID;
    if (db->read_only)
        return STRATA_ERR_READONLY;
    int rc = compact_rounds(db, full != 0);
    if (rc)
        return rc;
    /* wait for background jobs, then plan once more: they may have left work */
    pthread_mutex_lock(&db->bg_mu);
    while (db->compactions_running && !db->closing)
        pthread_cond_wait(&db->done_cond, &db->bg_mu);
    pthread_mutex_unlock(&db->bg_mu);
    return compact_rounds(db, full != 0);
}
