/*
 * write_jsonl.c: strata_write_jsonl, JSON lines in the export format into
 * the database through the engine's write API: the one import path of the
 * CLI (`strata import`) and the server (/api/v1/import).
 *
 * Each line is decoded (jsonl_decode.c, bounded by the database's label
 * limits), its series looked up or created, its timestamps checked, and
 * its samples appended to a batch written every 65,536 samples. A line is
 * stored whole or rejected whole.
 */
#include <stdio.h>

#include "engine/engine.h"
#include "ingest.h"

#define BATCH_SAMPLES 65536

typedef struct batch {
    strata_sample *s;
    size_t n, cap;
    strata_label *labels;
    size_t labels_cap;
} batch;

static int batch_flush(strata_db *db, batch *b, strata_write_result *res)
{
    if (!b->n)
        return STRATA_OK;
    int rc = engine_write_checked(db, b->s, b->n);
    if (!rc)
        res->samples += b->n;
    b->n = 0;
    return rc;
}

static void reject(strata_reject_fn fn, void *ctx, strata_write_result *res, uint64_t line_no, const char *why)
{
    res->rejected_lines++;
    if (fn)
        fn(ctx, line_no, why);
}

/* Stores one decoded line, or says why it cannot (*why set, STRATA_OK). */
static int store_line(strata_db *db, batch *b, const jsonl_series *js, int64_t cut, strata_write_result *res,
                      const char **why)
{
    for (size_t i = 0; i < js->n_samples; i++)
        if (engine_check_time(db, js->timestamps[i], cut, why))
            return STRATA_OK;
    if (js->n_labels > b->labels_cap) {
        strata_label *l = base_realloc(b->labels, js->n_labels * sizeof *l);
        if (!l)
            return STRATA_ERR_NOMEM;
        b->labels = l;
        b->labels_cap = js->n_labels;
    }
    for (size_t i = 0; i < js->n_labels; i++)
        b->labels[i] = (strata_label){js->labels[i].name, js->labels[i].value};
    strata_sid sid;
    int created = 0;
    int rc = strata_series_get_or_create(db, b->labels, js->n_labels, &sid, &created);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        *why = rc == STRATA_ERR_LIMIT ? "series over the label limits"
                                      : "invalid series labels (empty, duplicate or reserved names)";
        return STRATA_OK;
    }
    if (rc)
        return rc;
    res->new_series += (uint64_t)created;
    for (size_t i = 0; i < js->n_samples; i++) {
        if (b->n == b->cap) {
            if (b->cap >= BATCH_SAMPLES && (rc = batch_flush(db, b, res)) != 0)
                return rc;
            if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 4096;
                strata_sample *s = base_realloc(b->s, cap * sizeof *s);
                if (!s)
                    return STRATA_ERR_NOMEM;
                b->s = s;
                b->cap = cap;
            }
        }
        b->s[b->n++] = (strata_sample){sid, js->timestamps[i], js->values[i]};
    }
    return STRATA_OK;
}

int strata_write_jsonl(strata_db *db, const char *buf, size_t len, strata_reject_fn on_reject, void *ctx,
                       strata_write_result *result)
{
    strata_write_result res = {0};
    if (result)
        *result = res;
    if (!db || (len && !buf))
        return STRATA_ERR_INVALID;
    const strata_options *o = engine_options(db);
    if (o->read_only)
        return STRATA_ERR_READONLY;
    jsonl_limits lim;
    jsonl_limits_init(&lim);
    if (o->max_labels)
        lim.max_labels = o->max_labels;
    if (o->max_label_name_len)
        lim.max_name_len = o->max_label_name_len;
    if (o->max_label_value_len)
        lim.max_value_len = o->max_label_value_len;
    jsonl_decoder *d = NULL;
    int rc = jsonl_decoder_new(&lim, &d);
    if (rc)
        return rc;
    batch b = {0};
    int64_t cut = engine_retention_cut(db);
    uint64_t line_no = 0;
    const char *pos = buf, *end = buf + len;
    while (pos < end && !rc) {
        size_t ll = lp_line_len(pos, (size_t)(end - pos));
        const char *line = pos;
        pos += ll + (pos + ll < end);
        line_no++;
        jsonl_series js;
        const char *reason = NULL;
        size_t err_pos = 0;
        int k = jsonl_decode_line(d, line, ll, &js, &reason, &err_pos);
        if (k == 0)
            continue;
        res.lines++;
        if (k == STRATA_ERR_INVALID) {
            char why[160];
            snprintf(why, sizeof why, "%s at byte %zu", reason ? reason : "invalid JSON line", err_pos + 1);
            reject(on_reject, ctx, &res, line_no, why);
        } else if (k < 0) {
            rc = k;
        } else {
            const char *why = NULL;
            rc = store_line(db, &b, &js, cut, &res, &why);
            if (!rc && why)
                reject(on_reject, ctx, &res, line_no, why);
        }
    }
    if (!rc)
        rc = batch_flush(db, &b, &res);
    base_free(b.s);
    base_free(b.labels);
    jsonl_decoder_free(d);
    if (result)
        *result = res;
    return rc;
}
