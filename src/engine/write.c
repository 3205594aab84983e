/*
 * write.c: the write path: series creation and sample batches.
 *
 * A batch is encoded into a WAL record outside any lock, then appended and
 * inserted into the active head while the ingest lock is held shared, so a
 * freeze (which holds it exclusive) never splits a batch between the WAL
 * segments of two heads. Under sync=always the WAL's group commit lets
 * concurrent writers share one fsync.
 */
#include <stdio.h>

#include "engine_int.h"

int db_log_series(strata_db *db, strata_sid sid, const strata_label *labels, size_t n)
{
    bbuf b = {0};
    int rc = wal_series_begin(&b);
    if (!rc)
        rc = wal_series_add(&b, sid, labels, n);
    if (!rc)
        rc = wal_append(db->wal, WAL_REC_SERIES, b.data, b.len, NULL);
    base_buf_free(&b);
    return rc;
}

const char engine_max_series_reason[] = "series limit reached (max_series)";

int engine_series_get_or_create(strata_db *db, const strata_label *labels, size_t n_labels, strata_sid *out,
                                int *created, const char **reason)
{
    const char *why = NULL;
    int rc = STRATA_OK;
    if (!db || !out || (n_labels && !labels)) {
        rc = STRATA_ERR_INVALID;
        why = "NULL argument";
        goto out;
    }
    if (db->read_only) {
        rc = STRATA_ERR_READONLY;
        goto out;
    }
    int made = 0;
    strata_sid sid;
    rc = index_lookup(db->idx, labels, n_labels, &sid);
    if (rc == STRATA_ERR_NOTFOUND) {
        /* the limit is checked under the index's creation lock, after the
         * labels (so a refusal for max_series is for a valid series) */
        rc = index_get_or_create_max(db->idx, labels, n_labels, db->opts.max_series, &sid, &made, &why);
        if (rc == STRATA_ERR_LIMIT && why == index_max_series_reason) {
            atomic_fetch_add(&db->series_refused, 1);
            why = engine_max_series_reason;
        }
        if (!rc && made) {
            /* the series record goes to the WAL before any sample of it */
            rc = db_log_series(db, sid, labels, n_labels);
            if (rc)
                atomic_fetch_add(&db->write_errors, 1);
        }
    }
    if (rc)
        goto out;
    *out = sid;
    if (created)
        *created = made;
out:
    if (rc && reason)
        *reason = why ? why : strata_strerror(rc);
    return rc;
}

int strata_series_get_or_create(strata_db *db, const strata_label *labels, size_t n_labels, strata_sid *out,
                                int *created)
{
    return engine_series_get_or_create(db, labels, n_labels, out, created, NULL);
}

void engine_count_refused(strata_db *db, uint64_t samples)
{
    atomic_fetch_add(&db->samples_refused, samples);
}

int db_write_samples(strata_db *db, const strata_sample *s, size_t n)
{
    if (!n)
        return STRATA_OK;
    /* about 10 bytes a sample: one reservation, encoded outside the lock */
    bbuf recb = {0}, *rec = &recb;
    int rc = base_buf_reserve(rec, 16 + n * 12);
    if (!rc)
        rc = wal_samples_encode(rec, s, n);
    if (rc) {
        base_buf_free(rec);
        return rc;
    }
    uint64_t ooo = 0;
    pthread_rwlock_rdlock(&db->ingest);
    rc = wal_append(db->wal, WAL_REC_SAMPLES, rec->data, rec->len, NULL);
    if (!rc) {
        db_version *v = db_version_pin(db);
        rc = head_append(v->active->h, s, n, &ooo);
        db_version_unpin(v);
    }
    pthread_rwlock_unlock(&db->ingest);
    base_buf_free(rec);
    if (rc) {
        atomic_fetch_add(&db->write_errors, 1);
        return rc;
    }
    atomic_fetch_add(&db->samples_written, n);
    if (ooo)
        atomic_fetch_add(&db->samples_ooo, ooo);
    int64_t now = base_now_ms();
    if (atomic_load_explicit(&db->last_write_ms, memory_order_relaxed) != now)
        atomic_store_explicit(&db->last_write_ms, now, memory_order_relaxed);
    db_maybe_trigger_flush(db);
    return STRATA_OK;
}

int strata_write(strata_db *db, const strata_sample *samples, size_t n)
{
    if (!db || (n && !samples))
        return STRATA_ERR_INVALID;
    if (db->read_only)
        return STRATA_ERR_READONLY;
    strata_sid max = index_max_sid(db->idx);
    /* each sample against its own series' retention (db_rules_of), looked
     * up once per run of samples of one series */
    int64_t now = base_now_ms(), cut = INT64_MIN;
    strata_sid cut_sid = 0;
    for (size_t i = 0; i < n; i++) {
        if (samples[i].sid == 0 || samples[i].sid > max)
            return STRATA_ERR_INVALID;
        if (!db_time_ok(db, samples[i].t_ms)) {
            base_error_set("timestamp out of range");
            return STRATA_ERR_INVALID;
        }
        if (samples[i].sid != cut_sid) {
            int64_t ret_ms;
            int grp;
            int rc = db_rules_of(db, samples[i].sid, &ret_ms, &grp);
            if (rc)
                return rc;
            cut = ret_ms > 0 ? now - ret_ms : INT64_MIN;
            cut_sid = samples[i].sid;
        }
        if (samples[i].t_ms < cut) {
            base_error_set("timestamp older than the retention period");
            return STRATA_ERR_INVALID;
        }
    }
    /* keep WAL records and head inserts of a bounded size */
    const size_t chunk = 1u << 16;
    for (size_t off = 0; off < n; off += chunk) {
        int rc = db_write_samples(db, samples + off, MIN(chunk, n - off));
        if (rc)
            return rc;
    }
    return STRATA_OK;
}
