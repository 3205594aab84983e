/*
 * batch.c: strata_batch_*, the one way protocols that name series by
 * labels (JSON lines, remote write, and OTLP to come) write: each series'
 * samples are checked and its sid found or created as they are added,
 * then every accepted sample is written in chunks of 65,536. A series or
 * sample the database cannot take is refused alone, with a reason, and
 * the rest of the request is stored: with max_series, the samples of
 * existing series and of new series while room remains are taken, those
 * of new series beyond it refused (and counted). A series is created only
 * with samples to store.
 */
#include "engine/engine.h"
#include "ingest.h"

#define BATCH_CHUNK 65536

struct strata_batch {
    strata_db *db;
    int64_t retention_cut; /* taken once per batch */
    strata_sample *s;
    size_t n, cap;
    strata_write_result res;
    int error;             /* a storage error: every later call fails with it */
};

int strata_batch_new(strata_db *db, strata_batch **out)
{
    if (!db || !out)
        return STRATA_ERR_INVALID;
    if (engine_options(db)->read_only)
        return STRATA_ERR_READONLY;
    strata_batch *b = base_calloc(1, sizeof *b);
    if (!b)
        return STRATA_ERR_NOMEM;
    b->db = db;
    b->retention_cut = engine_retention_cut(db);
    *out = b;
    return STRATA_OK;
}

static int batch_flush(strata_batch *b)
{
    if (!b->n)
        return STRATA_OK;
    int rc = engine_write_checked(b->db, b->s, b->n);
    if (rc) {
        b->error = rc;
        return rc;
    }
    b->res.samples += b->n;
    b->n = 0;
    return STRATA_OK;
}

int strata_batch_add(strata_batch *b, const strata_label *labels, size_t n_labels, const int64_t *t_ms,
                     const double *values, size_t n, const char **reason)
{
    if (!b || (n_labels && !labels) || (n && (!t_ms || !values)))
        return STRATA_ERR_INVALID;
    if (b->error)
        return b->error;
    /* a series without samples is not looked up, let alone created: the
     * index never holds a series whose samples were not taken */
    if (!n)
        return STRATA_OK;
    const char *why = NULL;
    for (size_t i = 0; i < n && !why; i++)
        if (engine_check_time(b->db, t_ms[i], b->retention_cut, &why))
            break;
    if (why) {
        if (reason)
            *reason = why;
        return STRATA_ERR_INVALID;
    }
    strata_sid sid;
    int created = 0;
    int rc = engine_series_get_or_create(b->db, labels, n_labels, &sid, &created, &why);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        if (why == engine_max_series_reason)
            engine_count_refused(b->db, n);
        if (reason)
            *reason = why;
        return rc;
    }
    if (rc) {
        b->error = rc;
        return rc;
    }
    b->res.new_series += (uint64_t)created;
    for (size_t i = 0; i < n; i++) {
        if (b->n == b->cap) {
            if (b->cap >= BATCH_CHUNK && (rc = batch_flush(b)) != 0)
                return rc;
            if (b->n == b->cap && (rc = base_grow((void **)&b->s, &b->cap, b->n + 1, sizeof *b->s)) != 0) {
                b->error = rc;
                return rc;
            }
        }
        b->s[b->n++] = (strata_sample){sid, t_ms[i], values[i]};
    }
    return STRATA_OK;
}

int strata_batch_commit(strata_batch *b, strata_write_result *result)
{
    if (!b)
        return STRATA_ERR_INVALID;
    int rc = b->error ? b->error : batch_flush(b);
    if (result) {
        result->samples = b->res.samples;
        result->new_series = b->res.new_series;
    }
    return rc;
}

void strata_batch_free(strata_batch *b)
{
    if (!b)
        return;
    base_free(b->s);
    base_free(b);
}
