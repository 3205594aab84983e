/*
 * eval_api.c: strata_query_instant / strata_query_range, the public entry
 * points of evaluation: parameter checks worded as Prometheus' HTTP API
 * words them, parsing, the context with its limits (samples, deadline,
 * cancellation flag), the walk, and the answer.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"
#include "query.h"

void strata_query_options_init(strata_query_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->lookback_ms = QUERY_DEFAULT_LOOKBACK_MS;
    o->max_samples = QUERY_DEFAULT_MAX_SAMPLES;
    o->timeout_ms = 120000;
    o->subquery_step_ms = 60000;
    o->max_source_resolution_ms = -1;
}

static strata_query_errtype public_type(query_errtype t)
{
    switch (t) {
    case QERR_BAD_DATA: return STRATA_QUERY_ERR_BAD_DATA;
    case QERR_EXECUTION: return STRATA_QUERY_ERR_EXECUTION;
    case QERR_TIMEOUT: return STRATA_QUERY_ERR_TIMEOUT;
    case QERR_CANCELED: return STRATA_QUERY_ERR_CANCELED;
    case QERR_TOO_MANY: return STRATA_QUERY_ERR_TOO_MANY_SAMPLES;
    case QERR_INTERNAL: return STRATA_QUERY_ERR_INTERNAL;
    default: return STRATA_QUERY_ERR_NONE;
    }
}

static void set_err(strata_query_error *err, strata_query_errtype t, int64_t pos, const char *msg)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->type = t;
    err->pos = pos;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
}

static int run(strata_db *db, const char *text, size_t len, int64_t start, int64_t end, int64_t step, bool instant,
               const strata_query_options *o, strata_result **out, strata_query_error *err)
{
    uint64_t t0 = base_mono_ns();
    strata_query_options def;
    strata_query_options_init(&def);
    if (o) {
        /* a caller compiled against an older, shorter struct */
        size_t n = o->size && o->size < sizeof def ? o->size : sizeof def;
        memcpy(&def, o, n);
        def.size = sizeof def;
    }
    if (err)
        set_err(err, STRATA_QUERY_ERR_NONE, -1, "");
    if (!db || !out || (!text && len)) {
        set_err(err, STRATA_QUERY_ERR_BAD_DATA, -1, "invalid argument");
        return STRATA_ERR_INVALID;
    }
    if (!instant) {
        if (end < start) {
            set_err(err, STRATA_QUERY_ERR_BAD_DATA, -1, "end timestamp must not be before start time");
            return STRATA_ERR_INVALID;
        }
        if (step <= 0) {
            set_err(err, STRATA_QUERY_ERR_BAD_DATA, -1,
                    "zero or negative query resolution step widths are not accepted. Try a positive integer");
            return STRATA_ERR_INVALID;
        }
        if (((uint64_t)end - (uint64_t)start) / (uint64_t)step > QUERY_MAX_POINTS) { /* end >= start: no wrap */
            set_err(err, STRATA_QUERY_ERR_BAD_DATA, -1,
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
                    "resolution (?step=XX)");
            return STRATA_ERR_INVALID;
        }
    }
    if (start > QUERY_MAX_ABS_MS || start < -QUERY_MAX_ABS_MS || end > QUERY_MAX_ABS_MS ||
        end < -QUERY_MAX_ABS_MS || (!instant && step > QUERY_MAX_WIDTH_MS)) {
        set_err(err, STRATA_QUERY_ERR_BAD_DATA, -1, "timestamp out of range");
        return STRATA_ERR_INVALID;
    }
    query_ast *ast = NULL;
    query_error perr;
    memset(&perr, 0, sizeof perr);
    int rc = query_parse(text ? text : "", len, QUERY_START_EXPR, &ast, &perr);
    if (rc) {
        if (rc == STRATA_ERR_NOMEM)
            set_err(err, STRATA_QUERY_ERR_INTERNAL, -1, "out of memory");
        else
            set_err(err, STRATA_QUERY_ERR_BAD_DATA, perr.pos, perr.msg);
        if (err && rc != STRATA_ERR_NOMEM) {
            err->line = perr.line;
            err->col = perr.col;
        }
        return rc;
    }
    const query_node *root = ast->root;
    if (!instant && root->type != QUERY_TYPE_SCALAR && root->type != QUERY_TYPE_VECTOR) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                 query_type_name(root->type));
        set_err(err, STRATA_QUERY_ERR_BAD_DATA, -1, msg);
        query_ast_free(ast);
        return STRATA_ERR_INVALID;
    }
    qctx c;
    memset(&c, 0, sizeof c);
    c.db = db;
    c.start_ms = start;
    c.step_ms = instant ? 1 : step;
    /* end - start reaches 2^63 at the bounds: in uint64 */
    c.n_steps = instant ? 1 : (size_t)(((uint64_t)end - (uint64_t)start) / (uint64_t)step) + 1;
    c.q_start_ms = start;
    c.q_end_ms = instant ? start : end;
    c.q_step_ms = instant ? 0 : step;
    c.lookback_ms = def.lookback_ms > 0 ? def.lookback_ms : QUERY_DEFAULT_LOOKBACK_MS;
    c.max_source_res_ms = def.max_source_resolution_ms < 0 ? -1 : def.max_source_resolution_ms;
    c.ds_res_ms = strata_max_resolution(db);
    if (c.lookback_ms > QUERY_MAX_WIDTH_MS)
        c.lookback_ms = QUERY_MAX_WIDTH_MS;
    c.subquery_step_ms = def.subquery_step_ms > 0 && def.subquery_step_ms <= QUERY_MAX_WIDTH_MS ? def.subquery_step_ms
                                                                                              : 60000;
    c.max_samples = def.max_samples;
    c.max_series = def.max_series;
    c.cancel = def.cancel;
    if (def.timeout_ms > 0)
        c.deadline_ns = t0 + (uint64_t)def.timeout_ms * 1000000u;
    qvalue v;
    memset(&v, 0, sizeof v);
    rc = query_eval_node(&c, root, &v);
    if (rc == 0)
        rc = query_check(&c);
    if (rc == 0)
        rc = query_result_build(&c, &v, root, instant, out);
    query_value_free(&c, &v);
    if (rc) {
        if (c.etype == QERR_NONE)
            query_fail(&c, rc == STRATA_ERR_NOMEM ? QERR_INTERNAL : QERR_EXECUTION, "%s", strata_strerror(rc));
        set_err(err, public_type(c.etype), -1, c.emsg);
    } else {
        query_result_set_eval_ns(*out, (int64_t)(base_mono_ns() - t0));
    }
    for (size_t i = 0; i < c.n_warnings; i++)
        base_free(c.warnings[i]);
    base_free(c.warnings);
    query_ast_free(ast);
    return rc;
}

int strata_query_instant(strata_db *db, const char *text, size_t len, int64_t t_ms, const strata_query_options *o,
                         strata_result **out, strata_query_error *err)
{
    return run(db, text, len, t_ms, t_ms, 0, true, o, out, err);
}

int strata_query_range(strata_db *db, const char *text, size_t len, int64_t start_ms, int64_t end_ms,
                       int64_t step_ms, const strata_query_options *o, strata_result **out, strata_query_error *err)
{
    return run(db, text, len, start_ms, end_ms, step_ms, false, o, out, err);
}
