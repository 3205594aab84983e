/*
 * h_import_prom.c: POST /api/v1/import/prometheus (VictoriaMetrics'
 * name): Prometheus text exposition format (0.0.4, expfmt.c), plain or
 * gzip/deflate, samples and their # TYPE / # HELP / # UNIT metadata.
 *
 * The body is read twice: a dry run first, so a line that is not the
 * format answers 400 ("line N: why") with nothing stored; then the
 * samples go through one strata_batch (a sample without a timestamp gets
 * the time of the request) and the metadata, one entry per metric family,
 * through strata_metadata_put. A series the database refuses (the series
 * limit, a time out of range, text not UTF-8) is refused alone: 400 with
 * what was stored and refused, as remote write answers. 204 when all was
 * stored; 413 over a size limit; 503 with Retry-After when storing failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt.h"
#include "server.h"

/* One # line as read, in order. */
typedef struct meta_line {
    char *metric, *text;
    char kind; /* 'h', 't' or 'u' */
    size_t seq;
} meta_line;

typedef struct import_ctx {
    strata_batch *b;
    uint64_t refused, lines;
    char first_reason[128];
    meta_line *meta;
    size_t n_meta, cap_meta;
} import_ctx;

static int on_sample(void *vctx, const strata_label *labels, size_t n, double v, int64_t t)
{
    import_ctx *c = vctx;
    const char *why = NULL;
    c->lines++;
    int rc = strata_batch_add(c->b, labels, n, &t, &v, 1, &why);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        if (!c->refused++)
            snprintf(c->first_reason, sizeof c->first_reason, "line %llu: %s", (unsigned long long)c->lines,
                     why ? why : strata_strerror(rc));
        return STRATA_OK;
    }
    return rc;
}

static int on_meta(void *vctx, const char *kind, const char *metric, const char *text)
{
    import_ctx *c = vctx;
    if (c->n_meta == c->cap_meta) {
        size_t nc = c->cap_meta ? c->cap_meta * 2 : 64;
        meta_line *nm = realloc(c->meta, nc * sizeof *nm);
        if (!nm)
            return STRATA_ERR_NOMEM;
        c->meta = nm;
        c->cap_meta = nc;
    }
    meta_line *m = &c->meta[c->n_meta];
    m->metric = strdup(metric);
    m->text = strdup(text);
    if (!m->metric || !m->text) {
        free(m->metric);
        free(m->text);
        return STRATA_ERR_NOMEM;
    }
    m->kind = kind[0];
    m->seq = c->n_meta++;
    return STRATA_OK;
}

static int meta_cmp(const void *a, const void *b)
{
    const meta_line *x = a, *y = b;
    int d = strcmp(x->metric, y->metric);
    return d ? d : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One entry per metric family: its last TYPE, HELP and UNIT (type
 * "unknown" when only HELP or UNIT was said). Entries that cannot be
 * stored (text not UTF-8) are dropped alone. */
static int store_meta(strata_db *db, import_ctx *c)
{
    if (!c->n_meta)
        return STRATA_OK;
    qsort(c->meta, c->n_meta, sizeof *c->meta, meta_cmp);
    strata_metadata *e = calloc(c->n_meta, sizeof *e);
    if (!e)
        return STRATA_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < c->n_meta; i++) {
        if (!i || strcmp(c->meta[i].metric, c->meta[i - 1].metric))
            e[n++] = (strata_metadata){c->meta[i].metric, "unknown", NULL, NULL};
        strata_metadata *x = &e[n - 1];
        if (c->meta[i].kind == 't')
            x->type = c->meta[i].text;
        else if (c->meta[i].kind == 'h')
            x->help = c->meta[i].text;
        else
            x->unit = c->meta[i].text;
    }
    int rc = strata_metadata_put(db, e, n);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        rc = STRATA_OK;
        for (size_t i = 0; i < n && !rc; i++) {
            rc = strata_metadata_put(db, &e[i], 1);
            if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT)
                rc = STRATA_OK;
        }
    }
    free(e);
    return rc;
}

static void ctx_free(import_ctx *c)
{
    for (size_t i = 0; i < c->n_meta; i++) {
        free(c->meta[i].metric);
        free(c->meta[i].text);
    }
    free(c->meta);
    strata_batch_free(c->b);
}

int h_import_prom(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_body_decode(s, r, w, &ret))
        return ret;
    ef_limits lim = {s->cfg.max_labels, s->cfg.max_label_len};
    int64_t now = cli_now_ms();
    const char *body = (const char *)r->body.data;
    char err[256] = "";
    int rc = ef_parse(body, r->body.len, now, &lim, NULL, NULL, NULL, err, sizeof err);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, rc == STRATA_ERR_LIMIT ? R_TOO_MANY_LABELS : R_BAD_DATA,
                               "bad_data", "%s", err);
    import_ctx c;
    memset(&c, 0, sizeof c);
    if (!rc)
        rc = strata_batch_new(s->db, &c.b);
    if (!rc)
        rc = ef_parse(body, r->body.len, now, &lim, on_sample, on_meta, &c, err, sizeof err);
    strata_write_result res = {0};
    if (c.b) {
        int rc2 = strata_batch_commit(c.b, &res);
        rc = rc ? rc : rc2;
    }
    if (!rc) /* metadata after the samples: a failure here loses no sample */
        rc = store_meta(s->db, &c);
    ctx_free(&c);
    METRIC_ADD(s->m.samples_in[2], res.samples);
    METRIC_ADD(s->m.series_created, res.new_series);
    if (rc) {
        int r2 = srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "storing failed: %s",
                                 strata_strerror(rc));
        return r2 ? r2 : srv_resp_header(w, "Retry-After", "1");
    }
    if (c.refused) {
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_PARTIAL_WRITE, "bad_data",
                               "partial write: %llu of %llu samples refused, %llu stored; first: %s",
                               (unsigned long long)c.refused, (unsigned long long)c.lines,
                               (unsigned long long)res.samples, c.first_reason);
    }
    return srv_reply(w, HTTP_NO_CONTENT, NULL, "", 0);
}
