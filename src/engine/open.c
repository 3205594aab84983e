/*
 * open.c: strata_open and strata_close: directory hygiene, the layers opened
 * in order, recovery (WAL replay into a head, quarantine of damaged
 * tables), and the background threads. Nothing else.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stddef.h>

#include "engine_int.h"

#define DAY_MS (24LL * 3600 * 1000)

void strata_options_init(strata_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->sync = STRATA_SYNC_INTERVAL;
    o->sync_interval_ms = 1000;
    o->partition_ms = DAY_MS;
    o->planner = STRATA_PLANNER_TIERED;
    o->head_budget_bytes = 64ull << 20;
    o->head_max_age_ms = 2 * 3600 * 1000;
    o->compaction_threads = 2;
    o->cold_ms = 4 * 3600 * 1000;
    o->block_samples = 1000;
    o->wal_segment_bytes = 64ull << 20;
    o->max_labels = 256;
    o->max_label_name_len = 1024;
    o->max_label_value_len = 65536;
}

void strata_free(void *p) { base_free(p); }

static bool table_name_parse(void *ctx, const char *name, uint64_t *file_no)
{
    (void)ctx;
    return table_file_no_parse(name, file_no) == STRATA_OK;
}

/* Removes files of the table directory the manifest does not know (a flush
 * or compaction that crashed before its edit) and temporary files. */
static int remove_orphans(strata_db *db, manifest_version *mv)
{
    char **orphans = NULL;
    size_t n_orphans = 0, n_missing = 0;
    uint64_t *missing = NULL;
    int rc = manifest_dir_check(mv, db->table_dir, table_name_parse, NULL, &orphans, &n_orphans, &missing,
                                &n_missing);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_orphans; i++) {
        char *p = base_path_join(db->table_dir, orphans[i]);
        if (p && base_vfs_unlink(db->vfs, p) == STRATA_OK)
            base_logf(&db->log, STRATA_LOG_INFO, "%s: removed: not in the manifest", p);
        base_free(p);
    }
    DIR *d = opendir(db->table_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            if (l > 4 && !strcmp(e->d_name + l - 4, ".tmp")) {
                char *p = base_path_join(db->table_dir, e->d_name);
                if (p && base_vfs_unlink(db->vfs, p) == STRATA_OK)
                    base_logf(&db->log, STRATA_LOG_INFO, "%s: removed unfinished file", p);
                base_free(p);
            }
        }
        closedir(d);
    }
    manifest_strings_free(orphans, n_orphans);
    if (n_missing) {
        for (size_t i = 0; i < n_missing; i++) {
            char name[32];
            table_file_name(name, sizeof name, missing[i]);
            base_logf(&db->log, STRATA_LOG_ERROR, "%s/%s: missing, but the manifest needs it", db->table_dir, name);
        }
        rc = STRATA_ERR_CORRUPT;
    }
    base_free(missing);
    return rc;
}

typedef struct verify_note {
    char msg[400];
    bool bad;
} verify_note;

static void note_problem(void *ctx, const char *file, int64_t off, const char *message)
{
    verify_note *n = ctx;
    if (!n->bad)
        snprintf(n->msg, sizeof n->msg, "%s: %s at offset %lld", file, message, (long long)off);
    n->bad = true;
}

/* Opens every table of the manifest (checking every block when the last
 * run did not close cleanly); a file that fails is quarantined and dropped
 * from the manifest so the rest opens. */
static int open_tables(strata_db *db, bool full_check, db_version **out)
{
    for (;;) {
        manifest_version *mv = manifest_current(db->man);
        size_t n = 0;
        const manifest_table *mt = manifest_version_tables(mv, &n);
        uint64_t bad = 0;
        char reason[512] = "";
        for (size_t i = 0; i < n && !bad; i++) {
            char name[32];
            table_file_name(name, sizeof name, mt[i].file_no);
            char *path = base_path_join(db->table_dir, name);
            if (!path) {
                manifest_version_unref(mv);
                return STRATA_ERR_NOMEM;
            }
            table *t = NULL;
            char err[400];
            int rc = table_open_vfs(db->vfs, path, NULL, &t, err, sizeof err);
            if (rc == STRATA_ERR_CORRUPT || rc == STRATA_ERR_VERSION) {
                bad = mt[i].file_no;
                snprintf(reason, sizeof reason, "%s", err);
            } else if (rc) {
                base_free(path);
                manifest_version_unref(mv);
                return rc;
            } else {
                const table_meta *meta = table_get_meta(t);
                if (meta->samples != mt[i].samples || meta->min_sid != mt[i].min_sid || meta->max_sid != mt[i].max_sid) {
                    bad = mt[i].file_no;
                    snprintf(reason, sizeof reason, "%s: holds other data than the manifest records", path);
                } else if (full_check) {
                    verify_note note = {.bad = false};
                    int vr = table_verify(path, note_problem, &note);
                    if (vr == STRATA_ERR_CORRUPT || note.bad) {
                        bad = mt[i].file_no;
                        snprintf(reason, sizeof reason, "%s", note.msg);
                    } else if (vr) {
                        table_unref(t);
                        base_free(path);
                        manifest_version_unref(mv);
                        return vr;
                    }
                }
                table_unref(t);
            }
            base_free(path);
        }
        if (!bad) {
            db_version *v;
            int rc = db_version_build(db, mv, NULL, &v);
            if (rc)
                return rc;
            *out = v;
            return STRATA_OK;
        }
        manifest_version_unref(mv);
        if (db->read_only) {
            base_logf(&db->log, STRATA_LOG_ERROR, "%s", reason);
            return STRATA_ERR_CORRUPT;
        }
        char name[32];
        table_file_name(name, sizeof name, bad);
        int rc = dbdir_quarantine(db->vfs, db->dir, "tables", name, reason, &db->log);
        if (rc)
            return rc;
        manifest_edit e;
        manifest_edit_init(&e);
        rc = manifest_edit_remove_table(&e, bad);
        if (!rc)
            rc = manifest_apply(db->man, &e);
        manifest_edit_free(&e);
        if (rc)
            return rc;
        atomic_fetch_add(&db->quarantined, 1);
    }
}

/* Removes from the manifest the tables of partitions entirely older than
 * the retention, without opening them (before the first version exists;
 * later, db_apply_retention does the same for a running database). */
static int drop_expired(strata_db *db)
{
    int64_t cut = base_now_ms() - db_max_retention(db); /* the longest retention of any series */
    manifest_version *mv = manifest_current(db->man);
    size_t n = 0, dropped = 0;
    const manifest_table *mt = manifest_version_tables(mv, &n);
    manifest_edit e;
    manifest_edit_init(&e);
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        if (mt[i].partition_ms > INT64_MAX - db->opts.partition_ms ||
            mt[i].partition_ms + db->opts.partition_ms > cut)
            continue;
        rc = manifest_edit_remove_table(&e, mt[i].file_no);
        dropped++;
    }
    if (!rc && dropped)
        rc = manifest_apply(db->man, &e);
    manifest_edit_free(&e);
    if (!rc && dropped) {
        /* the files are not needed any more: remove them now */
        for (size_t i = 0; i < n; i++) {
            if (mt[i].partition_ms > INT64_MAX - db->opts.partition_ms ||
                mt[i].partition_ms + db->opts.partition_ms > cut)
                continue;
            char name[32];
            table_file_name(name, sizeof name, mt[i].file_no);
            char *p = base_path_join(db->table_dir, name);
            if (p)
                (void)base_vfs_unlink(db->vfs, p); /* best effort: an orphan is removed at open */
            base_free(p);
        }
        base_logf(&db->log, STRATA_LOG_INFO, "retention: dropped %zu table files at open", dropped);
    }
    manifest_version_unref(mv);
    return rc;
}

/* WAL replay into the active head. */
typedef struct replay_ctx {
    strata_db *db;
    head *h;
    strata_sample *buf;
    size_t cap;
    strata_sid *sids;
    size_t sids_cap;
    uint64_t unknown_sid_samples;
    uint64_t samples;
    uint64_t skipped; /* records or entries the engine could not use */
} replay_ctx;

/* A record whose frame is intact but whose content the engine cannot use
 * (a series conflicting with the index, a payload that does not decode) is
 * skipped and counted: only damage to the log itself may cut it, never a
 * disagreement about one record. */
static int replay_record(void *ctx, uint8_t type, const uint8_t *p, size_t len, wal_pos end)
{
    (void)end;
    replay_ctx *r = ctx;
    int rc;
    switch (type) {
    case WAL_REC_SERIES: {
        wal_series_iter it;
        if ((rc = wal_series_iter_init(&it, p, len)) != 0)
            break;
        strata_sid sid;
        const strata_label *labels;
        size_t n;
        while ((rc = wal_series_iter_next(&it, &sid, &labels, &n)) == 1) {
            /* most series of the log are in the (checksummed) index file
             * already: a sid it knows needs no label comparison */
            const strata_label *known;
            size_t nk;
            if (index_labels(r->db->idx, sid, &known, &nk) == STRATA_OK)
                continue;
            int r2 = index_insert_with_sid(r->db->idx, labels, n, sid, NULL);
            if (r2 == STRATA_ERR_NOMEM || r2 == STRATA_ERR_IO || r2 == STRATA_ERR_NOSPACE) {
                rc = r2;
                break;
            }
            if (r2)
                r->skipped++;
        }
        wal_series_iter_free(&it);
        if (rc == STRATA_ERR_NOMEM || rc == STRATA_ERR_IO || rc == STRATA_ERR_NOSPACE)
            return rc;
        break;
    }
    case WAL_REC_SAMPLES: {
        size_t n = 0;
        if ((rc = wal_samples_decode(p, len, &r->buf, &r->cap, &n)) != 0)
            break;
        strata_sid max = index_max_sid(r->db->idx);
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            if (r->buf[i].sid == 0 || r->buf[i].sid > max || !db_time_ok(r->db, r->buf[i].t_ms)) {
                r->unknown_sid_samples++;
                continue;
            }
            r->buf[w++] = r->buf[i];
        }
        r->samples += w;
        return head_append(r->h, r->buf, w, NULL);
    }
    case WAL_REC_DELETE: {
        size_t n = 0;
        int64_t mint, maxt;
        if ((rc = wal_delete_decode(p, len, &r->sids, &r->sids_cap, &n, &mint, &maxt)) != 0)
            break;
        return head_delete(r->h, r->sids, n, mint, maxt);
    }
    default:
        rc = STRATA_ERR_CORRUPT;
        break;
    }
    if (rc == STRATA_ERR_NOMEM)
        return rc;
    if (rc) {
        r->skipped++;
        return STRATA_OK;
    }
    return STRATA_OK;
}

static int validate_options(const strata_options *o, const base_log *log)
{
    if (!o || !o->dir || !*o->dir) {
        base_error_set("strata_open: no data directory given");
        return STRATA_ERR_INVALID;
    }
    if (o->sync != STRATA_SYNC_ALWAYS && o->sync != STRATA_SYNC_INTERVAL && o->sync != STRATA_SYNC_NONE) {
        base_logf(log, STRATA_LOG_ERROR, "unknown sync policy %d", (int)o->sync);
        return STRATA_ERR_INVALID;
    }
    if (o->planner != STRATA_PLANNER_TIERED && o->planner != STRATA_PLANNER_LEVELED) {
        base_logf(log, STRATA_LOG_ERROR, "unknown planner %d", (int)o->planner);
        return STRATA_ERR_INVALID;
    }
    if (o->partition_ms < 0 || o->retention_ms < 0 || o->compaction_threads < 0 || o->block_samples > 65536) {
        base_logf(log, STRATA_LOG_ERROR, "option out of range");
        return STRATA_ERR_INVALID;
    }
    return STRATA_OK;
}

/* Frees what strata_open allocated and initialised in the struct itself
 * (the layers are closed by the caller). */
static void db_free(strata_db *db)
{
    db_rules_free(db->rules);
    base_free(db->dir);
    base_free(db->table_dir);
    base_free(db->wal_dir);
    base_free(db->index_dir);
    base_free(db->compacting);
    pthread_rwlock_destroy(&db->ingest);
    pthread_rwlock_destroy(&db->tomb_gate);
    pthread_mutex_destroy(&db->slot_mu);
    pthread_mutex_destroy(&db->edit_mu);
    pthread_mutex_destroy(&db->state_mu);
    pthread_mutex_destroy(&db->bg_mu);
    pthread_cond_destroy(&db->bg_cond);
    pthread_cond_destroy(&db->done_cond);
    base_free(db);
}

/* The caller's options over the defaults: a program built against an
 * older header passes a smaller struct (its size field says how much),
 * and the fields it does not know keep their defaults; a zero in a field
 * whose zero means "default" takes the default too. */
static int options_from_caller(const strata_options *in, strata_options *o)
{
    strata_options_init(o);
    if (!in || in->size < offsetof(strata_options, dir) + sizeof in->dir) {
        base_error_set("strata_open: options not set up by strata_options_init (size %zu)", in ? in->size : 0);
        return STRATA_ERR_INVALID;
    }
    strata_options d = *o;
    memcpy(o, in, in->size < sizeof *o ? in->size : sizeof *o);
    o->size = sizeof *o;
    if (!o->block_samples)
        o->block_samples = d.block_samples;
    if (o->sync_interval_ms <= 0)
        o->sync_interval_ms = d.sync_interval_ms;
    if (!o->head_budget_bytes)
        o->head_budget_bytes = d.head_budget_bytes;
    if (o->head_max_age_ms <= 0)
        o->head_max_age_ms = d.head_max_age_ms;
    if (o->cold_ms <= 0)
        o->cold_ms = d.cold_ms;
    return STRATA_OK;
}

int strata_open(const strata_options *caller_opts, strata_db **out)
{
    return engine_open_vfs(caller_opts, NULL, out);
}

int engine_open_vfs(const strata_options *caller_opts, const struct base_vfs *vfs, strata_db **out)
{
    strata_options ob, *opts = &ob;
    int rc = options_from_caller(caller_opts, opts);
    if (rc)
        return rc;
    base_log log0 = {opts->log_fn, opts->log_ctx};
    if ((rc = validate_options(opts, &log0)) != 0)
        return rc;
    strata_db *db = base_calloc(1, sizeof *db);
    if (!db)
        return STRATA_ERR_NOMEM;
    db->opts = *opts;
    db->log = log0;
    /* the rules are compiled copies; the caller's arrays are not kept */
    db->opts.retention_rules = NULL;
    db->opts.downsampling_rules = NULL;
    if ((rc = db_rules_open(opts, &db->rules)) != 0) {
        base_free(db);
        return rc;
    }
    db->lock_fd = -1;
    db->read_only = opts->read_only;
    db->vfs = vfs ? vfs : base_vfs_posix();
    /* writers hold the ingest lock shared all the time: a freeze or a
     * delete waiting for it exclusively must stop new shared holders, or
     * it would wait for a pause in the writes that never comes */
    pthread_rwlockattr_t rwa;
    pthread_rwlockattr_init(&rwa);
    pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&db->ingest, &rwa);
    pthread_rwlock_init(&db->tomb_gate, &rwa);
    pthread_rwlockattr_destroy(&rwa);
    pthread_mutex_init(&db->slot_mu, NULL);
    pthread_mutex_init(&db->edit_mu, NULL);
    pthread_mutex_init(&db->state_mu, NULL);
    pthread_mutex_init(&db->bg_mu, NULL);
    pthread_cond_init(&db->bg_cond, NULL);
    pthread_cond_init(&db->done_cond, NULL);
    bool locked_dirty = false, was_dirty = false;

    db->dir = base_strdup(opts->dir);
    if (!db->dir || !(db->table_dir = base_path_join(db->dir, "tables")) || !(db->wal_dir = base_path_join(db->dir, "wal")) ||
        !(db->index_dir = base_path_join(db->dir, "index"))) {
        rc = STRATA_ERR_NOMEM;
        goto fail;
    }
    if (!db->read_only && (rc = base_vfs_mkdir_p(db->vfs, db->dir)) != 0) {
        base_logf(&db->log, STRATA_LOG_ERROR, "%s: cannot create: %s", db->dir, strata_strerror(rc));
        goto fail;
    }
    if (!db->read_only && (rc = dbdir_lock(db->vfs, db->dir, &db->log, &db->lock_fd)) != 0)
        goto fail;
    char *cur_path = base_path_join(db->dir, "CURRENT");
    struct stat st;
    bool creating = cur_path && stat(cur_path, &st) != 0;
    base_free(cur_path);
    /* Without CURRENT the directory is new only if it holds no data: a lost
     * CURRENT beside table files or WAL segments must not become a fresh
     * database (which would remove those files as orphans). */
    bool has_data = !dbdir_is_empty(db->table_dir) || !dbdir_is_empty(db->wal_dir);
    if (creating && has_data) {
        base_logf(&db->log, STRATA_LOG_ERROR, "%s: CURRENT is missing but the directory holds tables or WAL segments",
                  db->dir);
        rc = STRATA_ERR_CORRUPT;
        goto fail;
    }
    if (creating && db->read_only) {
        rc = STRATA_ERR_NOTFOUND;
        goto fail;
    }
    if (creating && !dbdir_only_own_files(db->dir)) {
        base_logf(&db->log, STRATA_LOG_ERROR, "%s: not empty and not a strata database", db->dir);
        rc = STRATA_ERR_INVALID;
        goto fail;
    }
    /* rules that do not fit the width of a new database make none */
    if (creating && (rc = db_rules_check_width(db->rules, opts->partition_ms ? opts->partition_ms : DAY_MS)) != 0)
        goto fail;
    /* creating: no CURRENT and no data, so whatever a crashed creation left
     * (VERSION, a lone manifest, temporaries) is started over */
    if ((rc = dbdir_check_version(db->vfs, db->dir, creating, db->read_only, &db->log)) != 0)
        goto fail;
    if (!db->read_only) {
        if ((rc = dbdir_mark_dirty(db->vfs, db->dir, &was_dirty)) != 0)
            goto fail;
        locked_dirty = true;
        if (was_dirty && !creating)
            base_logf(&db->log, STRATA_LOG_WARN, "%s: was not closed cleanly; recovering", db->dir);
        if ((rc = base_vfs_mkdir(db->vfs, db->table_dir)) || (rc = base_vfs_mkdir(db->vfs, db->wal_dir)) ||
            (rc = base_vfs_mkdir(db->vfs, db->index_dir)))
            goto fail;
    }

    manifest_options mo;
    manifest_options_init(&mo);
    mo.partition_ms = creating ? (opts->partition_ms ? opts->partition_ms : DAY_MS) : opts->partition_ms;
    mo.read_only = db->read_only;
    mo.must_exist = !creating;
    mo.log = &db->log;
    mo.vfs = db->vfs;
    if (opts->manifest_rewrite_bytes) {
        mo.rewrite_min_bytes = opts->manifest_rewrite_bytes;
        mo.rewrite_ratio = 0;
    }
    if ((rc = manifest_open(db->dir, &mo, &db->man)) != 0) {
        if (rc == STRATA_ERR_INVALID)
            base_logf(&db->log, STRATA_LOG_ERROR, "%s: --partition differs from the width fixed at creation",
                      db->dir);
        goto fail;
    }
    {
        manifest_version *mv = manifest_current(db->man);
        db->opts.partition_ms = manifest_version_partition_ms(mv);
        rc = db_rules_check_width(db->rules, db->opts.partition_ms);
        if (!rc && !db->read_only)
            rc = remove_orphans(db, mv);
        manifest_version_unref(mv);
        if (rc)
            goto fail;
    }
    /* expired partitions go before anything is read, recovery included */
    if (!db->read_only && db_max_retention(db) > 0 && (rc = drop_expired(db)) != 0)
        goto fail;
    db_version *v = NULL;
    if ((rc = open_tables(db, was_dirty && !creating, &v)) != 0)
        goto fail;
    db->cur = v;

    index_options io;
    index_options_init(&io);
    io.read_only = db->read_only;
    io.log = db->log;
    io.vfs = db->vfs;
    if (db->opts.max_labels)
        io.limits.max_labels = db->opts.max_labels;
    if (db->opts.max_label_name_len)
        io.limits.max_name_len = db->opts.max_label_name_len;
    if (db->opts.max_label_value_len)
        io.limits.max_value_len = db->opts.max_label_value_len;
    uint64_t t_index = base_mono_ns();
    if ((rc = index_open(db->index_dir, &io, &db->idx)) != 0) {
        base_logf(&db->log, STRATA_LOG_ERROR, "%s: cannot open the series index: %s", db->index_dir,
                  strata_strerror(rc));
        goto fail;
    }

    base_logf(&db->log, STRATA_LOG_INFO, "series index: %llu series loaded in %.3f s",
              (unsigned long long)index_series_count(db->idx), (double)(base_mono_ns() - t_index) / 1e9);
    wal_opts wo = {.dir = db->wal_dir,
                   .sync = opts->sync,
                   .sync_interval_ms = db->opts.sync_interval_ms,
                   .segment_bytes = opts->wal_segment_bytes,
                   .log = &db->log,
                   .read_only = db->read_only,
                   .vfs = db->vfs,
                   .on_lost = db_request_flush,
                   .lost_ctx = db};
    if ((rc = wal_open(&wo, &db->wal)) != 0)
        goto fail;
    uint64_t seq;
    if (db->read_only) {
        manifest_version *mv = manifest_current(db->man);
        seq = manifest_version_next_file_no(mv);
        manifest_version_unref(mv);
    } else if ((rc = manifest_alloc_file_no(db->man, &seq)) != 0)
        goto fail;
    db_head *dh = base_calloc(1, sizeof *dh);
    if (!dh) {
        rc = STRATA_ERR_NOMEM;
        goto fail;
    }
    atomic_init(&dh->refs, 1);
    if ((rc = head_new(seq, &dh->h)) != 0) {
        base_free(dh);
        goto fail;
    }
    db->cur->active = dh;
    {
        manifest_wal_pos cp = manifest_version_checkpoint(db->cur->mv);
        replay_ctx rcx = {.db = db, .h = dh->h};
        wal_replay_stats rs;
        uint64_t t0 = base_mono_ns();
        rc = wal_replay(db->wal, (wal_pos){cp.segment, cp.offset}, replay_record, &rcx, &rs);
        base_free(rcx.buf);
        base_free(rcx.sids);
        if (rc)
            goto fail;
        db->wal_corrupt_records = rs.corruptions + rs.records_dropped;
        db->wal_truncated_bytes = rs.bytes_truncated;
        if (rcx.skipped)
            base_logf(&db->log, STRATA_LOG_WARN, "WAL replay: %llu records or series entries could not be used",
                      (unsigned long long)rcx.skipped);
        if (rcx.unknown_sid_samples)
            base_logf(&db->log, STRATA_LOG_WARN, "WAL replay: %llu samples of unknown series dropped",
                      (unsigned long long)rcx.unknown_sid_samples);
        base_logf(&db->log, STRATA_LOG_INFO, "WAL replay: %llu records, %llu samples in %.3f s",
                  (unsigned long long)rs.records, (unsigned long long)rcx.samples,
                  (double)(base_mono_ns() - t0) / 1e9);
    }
    if (!db->read_only) {
        if ((rc = db_flush_start(db)) != 0)
            goto fail;
        if ((rc = db_compact_start(db)) != 0)
            goto fail;
        if (db_max_retention(db) > 0 && (rc = db_apply_retention(db)) != 0)
            goto fail;
    }
    *out = db;
    return STRATA_OK;
fail:
    db_compact_stop(db);
    db_flush_stop(db);
    wal_close(db->wal);
    index_close(db->idx);
    db_slots_free(db);
    db_version_unpin(db->cur);
    manifest_close(db->man);
    cpt_planner_free(db->planner);
    if (locked_dirty && !was_dirty)
        (void)dbdir_clear_dirty(db->vfs, db->dir); /* best effort: a DIRTY left only costs a full check */
    if (db->lock_fd >= 0)
        (void)base_vfs_close(db->vfs, db->lock_fd); /* LOCK holds no data; closing releases the flock */
    db_free(db);
    return rc;
}

int strata_close(strata_db *db)
{
    if (!db)
        return STRATA_OK;
    int rc = STRATA_OK, r;
    /* A WAL fsync failed under interval: the head is the only sure copy of
     * what that fsync covered, so it goes to tables before closing (else
     * wal_close reports the failure). */
    if (!db->read_only && wal_lost_pending(db->wal) && (r = db_flush_all(db)) != 0)
        base_logf(&db->log, STRATA_LOG_ERROR, "close: flush after a failed WAL fsync: %s", strata_strerror(r));
    db_compact_stop(db);
    db_flush_stop(db);
    if ((r = wal_close(db->wal)) != 0 && !rc)
        rc = r;
    if (!db->read_only && (r = index_sync(db->idx)) != 0 && !rc)
        rc = r;
    if ((r = index_close(db->idx)) != 0 && !rc)
        rc = r;
    db_slots_free(db);
    db_version_unpin(db->cur);
    manifest_close(db->man);
    cpt_planner_free(db->planner);
    if (!db->read_only && rc == STRATA_OK && (r = dbdir_clear_dirty(db->vfs, db->dir)) != 0)
        rc = r;
    if (db->lock_fd >= 0)
        (void)base_vfs_close(db->vfs, db->lock_fd); /* LOCK holds no data; closing releases the flock */
    db_free(db);
    return rc;
}
