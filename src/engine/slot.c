/*
 * slot.c: the engine.h services for the layers above the engine: per-
 * database slots for their state, the options, and the write-side checks
 * a protocol layer makes before it batches samples.
 */
#include "engine_int.h"

int engine_slot(strata_db *db, engine_slot_id id, engine_slot_new_fn make, engine_slot_free_fn destroy,
                void **out)
{
    if ((unsigned)id >= ENGINE_SLOT_COUNT)
        return STRATA_ERR_INVALID;
    void *st = atomic_load_explicit(&db->slot[id], memory_order_acquire);
    if (st) {
        *out = st;
        return STRATA_OK;
    }
    int rc = STRATA_OK;
    pthread_mutex_lock(&db->slot_mu);
    st = atomic_load_explicit(&db->slot[id], memory_order_relaxed);
    if (!st && (rc = make(db, &st)) == STRATA_OK) {
        db->slot_free[id] = destroy;
        atomic_store_explicit(&db->slot[id], st, memory_order_release);
    }
    pthread_mutex_unlock(&db->slot_mu);
    if (!rc)
        *out = st;
    return rc;
}

void db_slots_free(strata_db *db)
{
    for (int i = 0; i < ENGINE_SLOT_COUNT; i++) {
        void *st = atomic_load_explicit(&db->slot[i], memory_order_acquire);
        if (st && db->slot_free[i])
            db->slot_free[i](st);
        atomic_store_explicit(&db->slot[i], NULL, memory_order_relaxed);
    }
}

const strata_options *engine_options(const strata_db *db)
{
    return &db->opts;
}

int64_t engine_retention_cut(const strata_db *db)
{
    int64_t ret_ms = db_max_retention(db);
    return ret_ms > 0 ? base_now_ms() - ret_ms : INT64_MIN;
}

int engine_check_time(const strata_db *db, int64_t t, int64_t retention_cut, const char **reason)
{
    if (!db_time_ok(db, t)) {
        *reason = "timestamp out of range";
        return STRATA_ERR_INVALID;
    }
    if (t < retention_cut) {
        *reason = "timestamp older than the retention period";
        return STRATA_ERR_INVALID;
    }
    return STRATA_OK;
}

int engine_write_checked(strata_db *db, const strata_sample *samples, size_t n)
{
    if (db->read_only)
        return STRATA_ERR_READONLY;
    return db_write_samples(db, samples, n);
}
