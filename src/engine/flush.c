/*
 * flush.c: freezing the active head and writing frozen heads out as
 * level-0 tables, one per time partition a head touches, installed by one
 * manifest edit that also records the WAL checkpoint. Retention too.
 *
 * The flush thread wakes when asked (strata_flush, the head's budget or
 * age) and once a second to check the age limit. Writes go on during a
 * flush: they land in the new active head.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

/* Freezes the active head when it holds samples. Returns STRATA_OK with
 * *frozen = true when it did; false when the head is empty or too many
 * heads are frozen already. */
static int freeze(strata_db *db, bool *frozen, uint64_t *freeze_no_out)
{
    *frozen = false;
    int rc = STRATA_OK;
    pthread_rwlock_wrlock(&db->ingest);
    pthread_mutex_lock(&db->edit_mu);
    db_version *cur = db_version_pin(db);
    head_stats hs;
    head_get_stats(cur->active->h, &hs);
    if (hs.samples == 0 || cur->n_frozen >= DB_MAX_FROZEN)
        goto out;
    wal_pos cut;
    uint64_t seq, freeze_no;
    if ((rc = wal_cut(db->wal, &cut)) != 0 || (rc = manifest_alloc_file_no(db->man, &freeze_no)) != 0 ||
        (rc = manifest_alloc_file_no(db->man, &seq)) != 0)
        goto out;
    db_head *fresh = base_calloc(1, sizeof *fresh);
    if (!fresh) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    atomic_init(&fresh->refs, 1);
    if ((rc = head_new(seq, &fresh->h)) != 0) {
        base_free(fresh);
        goto out;
    }
    db_version *v;
    if ((rc = db_version_clone(db, cur, &v)) != 0) {
        db_head_unref(fresh);
        goto out;
    }
    db_head *old = v->active;
    old->freeze_no = freeze_no;
    old->wal_end = cut;
    if (freeze_no_out)
        *freeze_no_out = freeze_no;
    v->frozen[v->n_frozen++] = old; /* the clone's reference moves over */
    v->active = fresh;
    db_version_install(db, v);
    *frozen = true;
out:
    db_version_unpin(cur);
    pthread_mutex_unlock(&db->edit_mu);
    pthread_rwlock_unlock(&db->ingest);
    return rc;
}

typedef struct part_writer {
    int64_t start;
    uint64_t file_no;
    table_writer *w;
} part_writer;

/* Writes the oldest frozen head of the current version into tables and
 * installs them. Returns STRATA_OK when there was nothing to flush. */
static int flush_oldest(strata_db *db)
{
    pthread_rwlock_rdlock(&db->tomb_gate);
    db_version *v = db_version_pin(db);
    if (!v->n_frozen) {
        db_version_unpin(v);
        pthread_rwlock_unlock(&db->tomb_gate);
        return STRATA_OK;
    }
    db_head *fh = v->frozen[0];
    uint64_t *sids = NULL;
    size_t n_sids = 0;
    part_writer *pw = NULL;
    size_t n_pw = 0, cap_pw = 0;
    head_samples s = {0};
    table_writer_opts wo = {.block_samples = db->opts.block_samples, .vfs = db->vfs};
    size_t n_ts = 0;
    const manifest_tombstone *const *ts = manifest_version_tombstones(v->mv, &n_ts);
    uint64_t snapshot_tomb = n_ts ? ts[n_ts - 1]->id : 0;
    int rc = head_sids(fh->h, &sids, &n_sids);
    for (size_t i = 0; i < n_sids && !rc; i++) {
        if ((rc = head_read(fh->h, sids[i], INT64_MIN, INT64_MAX, &s)) != 0)
            break;
        db_apply_tombstones(ts, n_ts, fh->freeze_no, sids[i], &s);
        size_t a = 0;
        while (a < s.n && !rc) {
            int64_t part = db_partition_of(db, s.t[a]);
            size_t b = a + 1;
            while (b < s.n && s.t[b] < part + db->opts.partition_ms)
                b++;
            part_writer *w = NULL;
            for (size_t k = 0; k < n_pw; k++)
                if (pw[k].start == part)
                    w = &pw[k];
            if (!w) {
                if (n_pw == cap_pw) {
                    size_t nc = cap_pw ? cap_pw * 2 : 4;
                    part_writer *np = base_realloc(pw, nc * sizeof *np);
                    if (!np) {
                        rc = STRATA_ERR_NOMEM;
                        break;
                    }
                    pw = np;
                    cap_pw = nc;
                }
                w = &pw[n_pw];
                w->start = part;
                w->w = NULL;
                if ((rc = manifest_alloc_file_no(db->man, &w->file_no)) != 0 ||
                    (rc = table_writer_open(db->table_dir, w->file_no, &wo, &w->w)) != 0)
                    break;
                n_pw++;
            }
            rc = table_writer_add(w->w, sids[i], s.t + a, s.v + a, b - a);
            a = b;
        }
    }
    manifest_edit e;
    manifest_edit_init(&e);
    uint64_t bytes = 0;
    size_t finished = 0;
    table_meta *metas = base_calloc(n_pw ? n_pw : 1, sizeof *metas);
    if (!metas && !rc)
        rc = STRATA_ERR_NOMEM;
    for (size_t k = 0; k < n_pw; k++) {
        if (rc) {
            table_writer_abort(pw[k].w);
            continue;
        }
        rc = table_writer_finish(pw[k].w, &metas[k]);
        if (rc)
            continue;
        finished = k + 1;
        bytes += metas[k].file_bytes;
        if (metas[k].samples == 0)
            continue;
        manifest_table mt = {.file_no = metas[k].file_no,
                             .partition_ms = pw[k].start,
                             .level = 0,
                             .min_sid = metas[k].min_sid,
                             .max_sid = metas[k].max_sid,
                             .min_t_ms = metas[k].min_t,
                             .max_t_ms = metas[k].max_t,
                             .samples = metas[k].samples,
                             .blocks = metas[k].blocks,
                             .bytes = metas[k].file_bytes,
                             .created_ms = base_now_ms()};
        rc = manifest_edit_add_table(&e, &mt);
    }
    if (!rc)
        rc = manifest_edit_set_checkpoint(&e, (manifest_wal_pos){fh->wal_end.segment, fh->wal_end.offset});
    if (!rc)
        rc = manifest_edit_add_level_stats(&e, 0, 0, bytes);
    /* the series of these samples must be durable before the WAL segments
     * holding their records can go */
    if (!rc)
        rc = index_sync(db->idx);
    bool installed = false, applied = false;
    if (!rc) {
        pthread_mutex_lock(&db->edit_mu);
        db_version *cur = db_version_pin(db);
        size_t n_now = 0;
        const manifest_tombstone *const *now_ts = manifest_version_tombstones(cur->mv, &n_now);
        uint64_t now_tomb = n_now ? now_ts[n_now - 1]->id : 0;
        if (now_tomb != snapshot_tomb) {
            rc = STRATA_ERR_BUSY; /* a delete came in: write again with it */
        } else if ((rc = manifest_apply(db->man, &e)) == 0) {
            applied = true;
            rc = db_version_reinstall(db, cur, 1);
            if (!rc) {
                installed = true;
            } else {
                base_logf(&db->log, STRATA_LOG_ERROR, "flush: cannot open its own tables: %s",
                          strata_strerror(rc));
            }
        }
        db_version_unpin(cur);
        pthread_mutex_unlock(&db->edit_mu);
    }
    if (!installed && !applied) {
        /* remove what was written; the head stays frozen and is retried
         * (once the manifest lists the files they stay: the next open
         * serves them, and replaying the WAL only rewrites the same data) */
        for (size_t k = 0; k < finished; k++) {
            char name[32];
            table_file_name(name, sizeof name, metas[k].file_no);
            char *p = base_path_join(db->table_dir, name);
            if (p)
                (void)base_vfs_unlink(db->vfs, p); /* best effort: an orphan is removed at open */
            base_free(p);
        }
    } else {
        atomic_fetch_add(&db->flushes, 1);
        atomic_fetch_add(&db->flush_bytes, bytes);
        int r2 = wal_remove_before(db->wal, fh->wal_end.segment);
        if (r2)
            base_logf(&db->log, STRATA_LOG_WARN, "flush: removing old WAL segments: %s", strata_strerror(r2));
        db_compact_wake(db);
    }
    manifest_edit_free(&e);
    base_free(metas);
    base_free(pw);
    base_free(sids);
    head_samples_free(&s);
    db_version_unpin(v);
    pthread_rwlock_unlock(&db->tomb_gate);
    if (rc == STRATA_ERR_BUSY) /* cannot happen while the gate is held; kept as a guard */
        return flush_oldest(db);
    return rc;
}

/* After a failed WAL fsync under interval (wal_sync) the flush that
 * writes the head to tables also retires the failed segment. When no
 * head holds samples there is no such flush, yet the segment may hold
 * series and delete records: deletes are in the manifest already and
 * series in the index log once it is synced, so the log is cut and the
 * failed segment retired here. */
static int settle_lost_wal(strata_db *db)
{
    if (db->read_only || !wal_lost_pending(db->wal))
        return STRATA_OK;
    wal_pos cut = {0, 0};
    int rc = STRATA_OK;
    pthread_rwlock_wrlock(&db->ingest); /* no batch between its record and its head */
    db_version *v = db_version_pin(db);
    head_stats hs;
    head_get_stats(v->active->h, &hs);
    bool idle = hs.samples == 0 && v->n_frozen == 0;
    if (idle)
        rc = wal_cut(db->wal, &cut);
    db_version_unpin(v);
    pthread_rwlock_unlock(&db->ingest);
    if (!idle || rc)
        return rc;
    if ((rc = index_sync(db->idx)) != 0)
        return rc;
    return wal_remove_before(db->wal, cut.segment);
}

void db_maybe_trigger_flush(strata_db *db)
{
    db_version *v = db_version_pin(db);
    head_stats hs;
    head_get_stats(v->active->h, &hs);
    db_version_unpin(v);
    if (hs.bytes < db->opts.head_budget_bytes)
        return;
    pthread_mutex_lock(&db->bg_mu);
    if (!db->flush_requested) {
        db->flush_requested = true;
        pthread_cond_broadcast(&db->bg_cond);
    }
    pthread_mutex_unlock(&db->bg_mu);
}

void db_request_flush(void *ctx)
{
    strata_db *db = ctx;
    pthread_mutex_lock(&db->bg_mu);
    if (!db->flush_requested) {
        db->flush_requested = true;
        pthread_cond_broadcast(&db->bg_cond);
    }
    pthread_mutex_unlock(&db->bg_mu);
}

static void *flush_main(void *arg)
{
    strata_db *db = arg;
    pthread_mutex_lock(&db->bg_mu);
    while (!db->closing) {
        if (!db->flush_requested) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 1;
            pthread_cond_timedwait(&db->bg_cond, &db->bg_mu, &dl);
            if (db->closing)
                break;
        }
        bool requested = db->flush_requested;
        db->flush_requested = false;
        pthread_mutex_unlock(&db->bg_mu);

        db_version *v = db_version_pin(db);
        head_stats hs;
        head_get_stats(v->active->h, &hs);
        size_t n_frozen = v->n_frozen;
        db_version_unpin(v);
        int64_t now = base_now_ms();
        bool over = hs.bytes >= db->opts.head_budget_bytes ||
                    (hs.first_write_ms && now - hs.first_write_ms >= db->opts.head_max_age_ms);
        int rc = STRATA_OK;
        if (requested || over) {
            bool frozen;
            rc = freeze(db, &frozen, NULL);
            if (frozen)
                n_frozen++;
        }
        while (!rc && n_frozen) {
            rc = flush_oldest(db);
            v = db_version_pin(db);
            n_frozen = v->n_frozen;
            db_version_unpin(v);
            if (db->closing)
                break;
        }
        if (!rc)
            rc = settle_lost_wal(db);
        if (!rc && db_max_retention(db) > 0)
            rc = db_apply_retention(db);
        if (rc)
            base_logf(&db->log, STRATA_LOG_ERROR, "flush failed: %s", strata_strerror(rc));
        pthread_mutex_lock(&db->bg_mu);
        db->bg_error = rc;
        db->flushes_done++;
        pthread_cond_broadcast(&db->done_cond);
        if (rc && !db->closing) {
            /* back off: a full disk is not cured by retrying at once */
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 1;
            pthread_cond_timedwait(&db->bg_cond, &db->bg_mu, &dl);
        }
    }
    pthread_mutex_unlock(&db->bg_mu);
    return NULL;
}

int db_flush_start(strata_db *db)
{
    if (pthread_create(&db->flush_thread, NULL, flush_main, db) != 0)
        return STRATA_ERR_NOMEM;
    db->flush_thread_started = true;
    return STRATA_OK;
}

void db_flush_stop(strata_db *db)
{
    if (!db->flush_thread_started)
        return;
    pthread_mutex_lock(&db->bg_mu);
    db->closing = true;
    pthread_cond_broadcast(&db->bg_cond);
    pthread_mutex_unlock(&db->bg_mu);
    pthread_join(db->flush_thread, NULL);
    db->flush_thread_started = false;
}

/* The freeze number of the newest frozen head, 0 when none. */
static uint64_t newest_frozen(strata_db *db, size_t *n_frozen, bool *active_empty)
{
    db_version *v = db_version_pin(db);
    uint64_t f = v->n_frozen ? v->frozen[v->n_frozen - 1]->freeze_no : 0;
    *n_frozen = v->n_frozen;
    if (active_empty) {
        head_stats hs;
        head_get_stats(v->active->h, &hs);
        *active_empty = hs.samples == 0;
    }
    db_version_unpin(v);
    return f;
}

/* Whether a head frozen at or before target is still waiting. */
static bool pending_up_to(strata_db *db, uint64_t target)
{
    db_version *v = db_version_pin(db);
    bool pending = v->n_frozen && v->frozen[0]->freeze_no <= target;
    db_version_unpin(v);
    return pending;
}

/* Asks the flush thread for a round and waits until it reports one. */
static int wait_flush_round(strata_db *db)
{
    pthread_mutex_lock(&db->bg_mu);
    uint64_t seen = db->flushes_done;
    db->flush_requested = true;
    pthread_cond_broadcast(&db->bg_cond);
    while (db->flushes_done == seen && !db->closing)
        pthread_cond_wait(&db->done_cond, &db->bg_mu);
    int rc = db->closing ? STRATA_ERR_CLOSED : db->bg_error;
    pthread_mutex_unlock(&db->bg_mu);
    return rc;
}

int db_flush_all(strata_db *db)
{
    if (db->read_only)
        return STRATA_ERR_READONLY;
    /* Freeze the active head so the flush covers every write that returned
     * before this call; then wait for that head and the older ones only,
     * not for heads frozen later by writes that keep coming. */
    uint64_t target = 0;
    for (;;) {
        bool frozen, empty;
        int rc = freeze(db, &frozen, &target);
        if (rc)
            return rc;
        if (frozen)
            break;
        size_t n_frozen;
        uint64_t newest = newest_frozen(db, &n_frozen, &empty);
        if (empty) { /* nothing new: the heads frozen already are the target */
            target = newest;
            break;
        }
        /* too many heads frozen: let one go out, then freeze ours */
        if ((rc = wait_flush_round(db)) != 0)
            return rc;
    }
    while (target && pending_up_to(db, target)) {
        int rc = wait_flush_round(db);
        if (rc)
            return rc;
    }
    return settle_lost_wal(db);
}

int strata_flush(strata_db *db)
{
    if (!db)
        return STRATA_ERR_INVALID;
    return db_flush_all(db);
}

int db_apply_retention(strata_db *db)
{
    /* a partition goes whole when no series keeps any of it: once it is
     * older than the longest retention of any series */
    int64_t ret_ms = db_max_retention(db);
    if (ret_ms <= 0 || db->read_only)
        return STRATA_OK;
    int64_t cut = base_now_ms() - ret_ms;
    int rc = STRATA_OK;
    pthread_mutex_lock(&db->edit_mu);
    db_version *cur = db_version_pin(db);
    manifest_edit e;
    manifest_edit_init(&e);
    size_t n = 0;
    const manifest_table *mt = manifest_version_tables(cur->mv, &n);
    size_t dropped = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        /* a partition entirely older than the cut goes whole, unread */
        if (mt[i].partition_ms <= INT64_MAX - db->opts.partition_ms &&
            mt[i].partition_ms + db->opts.partition_ms <= cut) {
            bool busy = false;
            pthread_mutex_lock(&db->bg_mu);
            for (size_t k = 0; k < db->n_compacting; k++)
                if (db->compacting[k] == mt[i].file_no)
                    busy = true;
            pthread_mutex_unlock(&db->bg_mu);
            if (busy)
                continue;
            rc = manifest_edit_remove_table(&e, mt[i].file_no);
            dropped++;
        }
    }
    if (!rc && dropped && (rc = manifest_apply(db->man, &e)) == 0) {
        if ((rc = db_version_reinstall(db, cur, 0)) == 0)
            base_logf(&db->log, STRATA_LOG_INFO, "retention: dropped %zu table files", dropped);
    }
    manifest_edit_free(&e);
    db_version_unpin(cur);
    pthread_mutex_unlock(&db->edit_mu);
    return rc;
}
