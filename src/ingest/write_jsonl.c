/*
 * write_jsonl.c: strata_write_jsonl, JSON lines in the export format into
 * the database: the one import path of the CLI (`strata import`) and the
 * server (/api/v1/import).
 *
 * Each line is decoded (jsonl_decode.c, bounded by the database's label
 * limits) and added to a strata_batch (batch.c), which checks its times,
 * finds or creates its series and writes in chunks. A line is stored
 * whole or rejected whole.
 */
#include <stdio.h>

#include "engine/engine.h"
#include "ingest.h"

static void reject(strata_reject_fn fn, void *ctx, strata_write_result *res, uint64_t line_no, const char *why)
{
    res->rejected_lines++;
    if (fn)
        fn(ctx, line_no, why);
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
    jsonl_limits lim;
    jsonl_limits_init(&lim);
    if (o->max_labels)
        lim.max_labels = o->max_labels;
    if (o->max_label_name_len)
        lim.max_name_len = o->max_label_name_len;
    if (o->max_label_value_len)
        lim.max_value_len = o->max_label_value_len;
    strata_batch *b = NULL;
    int rc = strata_batch_new(db, &b);
    if (rc)
        return rc;
    jsonl_decoder *d = NULL;
    if ((rc = jsonl_decoder_new(&lim, &d)) != 0) {
        strata_batch_free(b);
        return rc;
    }
    strata_label *labels = NULL;
    size_t labels_cap = 0;
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
            continue;
        }
        if (k < 0) {
            rc = k;
            break;
        }
        if ((rc = base_grow((void **)&labels, &labels_cap, js.n_labels, sizeof *labels)) != 0)
            break;
        for (size_t i = 0; i < js.n_labels; i++)
            labels[i] = (strata_label){js.labels[i].name, js.labels[i].value};
        const char *why = NULL;
        int a = strata_batch_add(b, labels, js.n_labels, js.timestamps, js.values, js.n_samples, &why);
        if (a == STRATA_ERR_INVALID || a == STRATA_ERR_LIMIT)
            reject(on_reject, ctx, &res, line_no, why ? why : strata_strerror(a));
        else
            rc = a;
    }
    strata_write_result br = {0};
    int rc2 = strata_batch_commit(b, &br);
    if (!rc)
        rc = rc2;
    res.samples = br.samples;
    res.new_series = br.new_series;
    base_free(labels);
    strata_batch_free(b);
    jsonl_decoder_free(d);
    if (result)
        *result = res;
    return rc;
}
