/*
 * remote_v2.c: Prometheus remote write 2.0: decode and validate a
 * Request, store its float samples, zeros at created timestamps and
 * metadata. See remote_v2.h.
 *
 * Every label and metadata text is a reference into Request.symbols;
 * rw2_decode checks each reference against the table once, so rw2_store
 * and everything after it index the table without checks.
 */
#include "remote_v2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef Io__Prometheus__Write__V2__Request v2_request;
typedef Io__Prometheus__Write__V2__TimeSeries v2_series;

#define NAME_ARG(d) (int)((d)->len < 64 ? (d)->len : 64), (const char *)(d)->data

static int same_bytes(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
    return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

/* Checks the labels of series i: references in the table and in pairs,
 * then what check_labels of remote.c checks for 1.0. */
static int check_series(const v2_request *req, size_t i, const rw_limits *lim, char *err, size_t errlen)
{
    const v2_series *ts = req->timeseries[i];
    size_t nrefs = ts->n_labels_refs, nsym = req->n_symbols;
    if (nrefs % 2) {
        snprintf(err, errlen, "series %zu: odd number of label references (%zu): they come in name, value pairs", i,
                 nrefs);
        return STRATA_ERR_INVALID;
    }
    for (size_t j = 0; j < nrefs; j++)
        if (ts->labels_refs[j] >= nsym) {
            snprintf(err, errlen, "series %zu: label reference %u outside the symbol table of %zu symbols", i,
                     (unsigned)ts->labels_refs[j], nsym);
            return STRATA_ERR_INVALID;
        }
    size_t n = nrefs / 2;
    if (n > lim->max_labels) {
        snprintf(err, errlen, "series %zu has %zu labels, over the limit of %zu", i, n, lim->max_labels);
        return STRATA_ERR_LIMIT;
    }
    size_t nonempty = 0;
    for (size_t j = 0; j < n; j++) {
        const ProtobufCBinaryData *name = &req->symbols[ts->labels_refs[2 * j]];
        const ProtobufCBinaryData *value = &req->symbols[ts->labels_refs[2 * j + 1]];
        if (!name->len) {
            snprintf(err, errlen, "series %zu: empty label name", i);
            return STRATA_ERR_INVALID;
        }
        /* a NUL would cut strata's C strings and merge distinct series */
        if (memchr(name->data, 0, name->len) || (value->len && memchr(value->data, 0, value->len))) {
            snprintf(err, errlen, "series %zu: label %s holds a NUL byte", i,
                     memchr(name->data, 0, name->len) ? "name" : "value");
            return STRATA_ERR_INVALID;
        }
        if (name->len > lim->max_label_len || value->len > lim->max_label_len) {
            snprintf(err, errlen, "series %zu: label %.*s longer than the limit of %zu bytes", i, NAME_ARG(name),
                     lim->max_label_len);
            return STRATA_ERR_LIMIT;
        }
        if (value->len)
            nonempty++;
        for (size_t k = 0; k < j; k++)
            if (same_bytes(&req->symbols[ts->labels_refs[2 * k]], name)) {
                snprintf(err, errlen, "series %zu: duplicate label name %.*s", i, NAME_ARG(name));
                return STRATA_ERR_INVALID;
            }
    }
    if (!nonempty) {
        snprintf(err, errlen, "series %zu has no labels", i);
        return STRATA_ERR_INVALID;
    }
    const Io__Prometheus__Write__V2__Metadata *md = ts->metadata;
    if (md && (md->help_ref >= nsym || md->unit_ref >= nsym)) {
        snprintf(err, errlen, "series %zu: metadata reference %u outside the symbol table of %zu symbols", i,
                 (unsigned)(md->help_ref >= nsym ? md->help_ref : md->unit_ref), nsym);
        return STRATA_ERR_INVALID;
    }
    if (!ts->n_samples && !ts->n_histograms) {
        snprintf(err, errlen, "series %zu has no samples or histograms", i);
        return STRATA_ERR_INVALID;
    }
    return STRATA_OK;
}

int rw2_decode(const uint8_t *body, size_t len, const rw_limits *lim, rw2_write **out, char *err, size_t errlen)
{
    rw2_write *w = calloc(1, sizeof *w);
    if (!w)
        return STRATA_ERR_NOMEM;
    ProtobufCMessage *m = NULL;
    int rc = pb_decode_snappy(&io__prometheus__write__v2__request__descriptor, body, len, lim, &m, &w->arena, err,
                              errlen);
    if (rc) {
        free(w);
        return rc;
    }
    w->msg = (v2_request *)m;
    for (size_t i = 0; i < w->msg->n_timeseries; i++) {
        if ((rc = check_series(w->msg, i, lim, err, errlen)) != 0) {
            rw2_free(w);
            return rc;
        }
        const v2_series *ts = w->msg->timeseries[i];
        w->samples += ts->n_samples;
        w->histograms += ts->n_histograms;
        w->exemplars += ts->n_exemplars;
    }
    *out = w;
    return STRATA_OK;
}

void rw2_free(rw2_write *w)
{
    if (!w)
        return;
    pb_arena_free(w->arena); /* every object of w->msg is in it */
    free(w);
}

/* ------------------------------------------------------------ storing */

/* Label strings of one series, NUL-terminated copies of its symbols. */
typedef struct lbuf {
    strata_label *labels;
    char *strs;
    size_t cap;
} lbuf;

/* Points lb->labels[0, n_labels_refs / 2) at copies of the series' symbols. */
static int labels_of(const v2_request *req, const v2_series *ts, lbuf *lb)
{
    size_t need = 0, n = ts->n_labels_refs / 2;
    for (size_t j = 0; j < ts->n_labels_refs; j++)
        need += req->symbols[ts->labels_refs[j]].len + 1;
    if (need > lb->cap) {
        char *nb = realloc(lb->strs, need);
        if (!nb)
            return STRATA_ERR_NOMEM;
        lb->strs = nb;
        lb->cap = need;
    }
    char *o = lb->strs;
    for (size_t j = 0; j < 2 * n; j++) {
        const ProtobufCBinaryData *d = &req->symbols[ts->labels_refs[j]];
        if (j % 2)
            lb->labels[j / 2].value = o;
        else
            lb->labels[j / 2].name = o;
        if (d->len)
            memcpy(o, d->data, d->len);
        o += d->len;
        *o++ = 0;
    }
    return STRATA_OK;
}

/* A zero to store at a created timestamp of series ts_index. */
typedef struct start_zero {
    size_t ts_index;
    int64_t st;
} start_zero;

/* 1 when the series of lb (n labels) holds a sample at st, 0 when not,
 * or a negative status. Labels with empty values are absent in strata,
 * so the series is the one matched whose non-empty labels are all. */
static int has_sample_at(strata_db *db, const lbuf *lb, size_t n, int64_t st)
{
    strata_matcher *m = malloc((n ? n : 1) * sizeof *m);
    if (!m)
        return STRATA_ERR_NOMEM;
    size_t nonempty = 0;
    for (size_t j = 0; j < n; j++) {
        m[j] = (strata_matcher){STRATA_MATCH_EQ, lb->labels[j].name, lb->labels[j].value};
        nonempty += *lb->labels[j].value != 0;
    }
    strata_cursor *c = NULL;
    int rc = strata_select_series(db, m, n, st, st, &c);
    free(m);
    if (rc)
        return rc;
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int found = 0;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1)
        if (nl == nonempty) {
            found = 1;
            break;
        }
    strata_cursor_close(c);
    return rc < 0 ? rc : found;
}

/* Stores a zero at each start timestamp of zs that its series does not
 * hold yet (after the samples were committed, so the look-up sees them).
 * A zero the database refuses (out of its time range) is dropped, as
 * Prometheus drops a start timestamp it cannot append. */
static int store_start_zeros(strata_db *db, const v2_request *req, const start_zero *zs, size_t nz, lbuf *lb,
                             uint64_t *stored)
{
    strata_batch *b = NULL;
    int rc = strata_batch_new(db, &b);
    for (size_t i = 0; i < nz && !rc; i++) {
        const v2_series *ts = req->timeseries[zs[i].ts_index];
        if ((rc = labels_of(req, ts, lb)) != 0)
            break;
        int has = has_sample_at(db, lb, ts->n_labels_refs / 2, zs[i].st);
        if (has < 0) {
            rc = has;
            break;
        }
        if (has)
            continue;
        const double zero = 0;
        const char *why = NULL;
        int a = strata_batch_add(b, lb->labels, ts->n_labels_refs / 2, &zs[i].st, &zero, 1, &why);
        if (a != STRATA_ERR_INVALID && a != STRATA_ERR_LIMIT)
            rc = a;
    }
    strata_write_result res = {0};
    if (b) {
        int rc2 = strata_batch_commit(b, &res);
        rc = rc ? rc : rc2;
    }
    strata_batch_free(b);
    *stored = res.samples;
    return rc;
}

/* Adds the float samples of every series to one batch; collects the
 * start timestamps worth a zero in *zs. */
static int store_samples(strata_db *db, const v2_request *req, lbuf *lb, rw2_stored *out, start_zero **zs, size_t *nz)
{
    size_t max_samples = 0, zcap = 0;
    for (size_t i = 0; i < req->n_timeseries; i++)
        if (req->timeseries[i]->n_samples > max_samples)
            max_samples = req->timeseries[i]->n_samples;
    int64_t *t = malloc((max_samples ? max_samples : 1) * sizeof *t);
    double *v = malloc((max_samples ? max_samples : 1) * sizeof *v);
    strata_batch *b = NULL;
    int rc = t && v ? strata_batch_new(db, &b) : STRATA_ERR_NOMEM;
    for (size_t i = 0; i < req->n_timeseries && !rc; i++) {
        const v2_series *ts = req->timeseries[i];
        out->refused_histograms += ts->n_histograms;
        out->refused_exemplars += ts->n_exemplars;
        if (!ts->n_samples)
            continue;
        if ((rc = labels_of(req, ts, lb)) != 0)
            break;
        for (size_t j = 0; j < ts->n_samples; j++) {
            t[j] = ts->samples[j]->timestamp;
            v[j] = ts->samples[j]->value;
        }
        const char *why = NULL;
        int a = strata_batch_add(b, lb->labels, ts->n_labels_refs / 2, t, v, ts->n_samples, &why);
        if (a == STRATA_ERR_INVALID || a == STRATA_ERR_LIMIT) {
            if (!out->refused_series) {
                out->first_refused = i;
                snprintf(out->first_reason, sizeof out->first_reason, "%s", why ? why : strata_strerror(a));
            }
            out->refused_series++;
            out->refused_samples += ts->n_samples;
            continue;
        }
        if ((rc = a) != 0)
            break;
        for (size_t j = 0; j < ts->n_samples; j++) {
            int64_t st = ts->samples[j]->start_timestamp;
            if (st <= 0 || st >= ts->samples[j]->timestamp || (j && st == ts->samples[j - 1]->start_timestamp))
                continue;
            if (*nz == zcap) {
                size_t nc = zcap ? zcap * 2 : 16;
                start_zero *nzs = realloc(*zs, nc * sizeof *nzs);
                if (!nzs) {
                    rc = STRATA_ERR_NOMEM;
                    break;
                }
                *zs = nzs;
                zcap = nc;
            }
            (*zs)[(*nz)++] = (start_zero){i, st};
        }
    }
    strata_write_result res = {0};
    if (b) {
        int rc2 = strata_batch_commit(b, &res);
        rc = rc ? rc : rc2;
    }
    out->samples = res.samples;
    out->new_series = res.new_series;
    strata_batch_free(b);
    free(t);
    free(v);
    return rc;
}

/* ------------------------------------------------------------ metadata */

/* One series' metadata by symbol references; the name is the value of
 * its __name__ label. */
typedef struct md_ref {
    uint32_t name, type, help, unit;
} md_ref;

static int md_ref_cmp(const void *a, const void *b)
{
    const md_ref *x = a, *y = b;
    if (x->name != y->name)
        return x->name < y->name ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->help != y->help)
        return x->help < y->help ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* Stores the metadata the series carry, once per distinct (name, type,
 * help, unit) of the request. Series without a __name__ or with nothing
 * said (type unspecified, no help, no unit) give none. */
static int store_metadata(strata_db *db, const v2_request *req, uint64_t *skipped)
{
    static const char *const types[] = {"unknown", "counter", "gauge", "histogram",
                                        "gaugehistogram", "summary", "info", "stateset"};
    md_ref *refs = malloc((req->n_timeseries ? req->n_timeseries : 1) * sizeof *refs);
    if (!refs)
        return STRATA_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < req->n_timeseries; i++) {
        const v2_series *ts = req->timeseries[i];
        const Io__Prometheus__Write__V2__Metadata *md = ts->metadata;
        if (!md || (!md->type && !req->symbols[md->help_ref].len && !req->symbols[md->unit_ref].len))
            continue;
        int named = 0;
        for (size_t j = 0; j + 1 < ts->n_labels_refs; j += 2) {
            const ProtobufCBinaryData *nm = &req->symbols[ts->labels_refs[j]];
            if (nm->len == 8 && !memcmp(nm->data, "__name__", 8) && req->symbols[ts->labels_refs[j + 1]].len) {
                refs[n] = (md_ref){ts->labels_refs[j + 1], (uint32_t)md->type, md->help_ref, md->unit_ref};
                named = 1;
                break;
            }
        }
        if (!named)
            ++*skipped;
        else
            n++;
    }
    qsort(refs, n, sizeof *refs, md_ref_cmp);
    strata_metadata *e = calloc(n ? n : 1, sizeof *e);
    int nomem = !e;
    size_t ne = 0;
    for (size_t i = 0; i < n && !nomem; i++) {
        if (i && !md_ref_cmp(&refs[i], &refs[i - 1]))
            continue;
        strata_metadata *x = &e[ne];
        x->metric = rw_metadata_text(&req->symbols[refs[i].name], &nomem);
        x->help = rw_metadata_text(&req->symbols[refs[i].help], &nomem);
        x->unit = rw_metadata_text(&req->symbols[refs[i].unit], &nomem);
        x->type = refs[i].type < sizeof types / sizeof types[0] ? types[refs[i].type] : NULL;
        if (x->metric && x->help && x->unit && x->type) {
            ne++;
            continue;
        }
        free((char *)x->metric);
        free((char *)x->help);
        free((char *)x->unit);
        ++*skipped;
    }
    /* all at once (one durable rewrite when something is new); should one
     * be refused (text not UTF-8), each alone so the others are kept */
    int rc = nomem ? STRATA_ERR_NOMEM : ne ? strata_metadata_put(db, e, ne) : STRATA_OK;
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        rc = STRATA_OK;
        for (size_t i = 0; i < ne && !rc; i++) {
            rc = strata_metadata_put(db, &e[i], 1);
            if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
                ++*skipped;
                rc = STRATA_OK;
            }
        }
    }
    for (size_t i = 0; e && i < ne; i++) {
        free((char *)e[i].metric);
        free((char *)e[i].help);
        free((char *)e[i].unit);
    }
    free(e);
    free(refs);
    return rc;
}

int rw2_store(strata_db *db, const rw2_write *w, rw2_stored *out)
{
    const v2_request *req = w->msg;
    memset(out, 0, sizeof *out);
    size_t max_labels = 0;
    for (size_t i = 0; i < req->n_timeseries; i++)
        if (req->timeseries[i]->n_labels_refs / 2 > max_labels)
            max_labels = req->timeseries[i]->n_labels_refs / 2;
    lbuf lb = {malloc((max_labels ? max_labels : 1) * sizeof(strata_label)), NULL, 0};
    start_zero *zs = NULL;
    size_t nz = 0;
    int rc = lb.labels ? store_samples(db, req, &lb, out, &zs, &nz) : STRATA_ERR_NOMEM;
    if (!rc && nz)
        rc = store_start_zeros(db, req, zs, nz, &lb, &out->start_zeros);
    if (!rc) /* metadata after the samples: a failure here loses no sample */
        rc = store_metadata(db, req, &out->metadata_skipped);
    free(zs);
    free(lb.labels);
    free(lb.strs);
    return rc;
}

/* ------------------------------------------------------------ content type */

int rw_content_version(const char *ct)
{
    if (!ct)
        return 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "application/x-protobuf", 22))
        return 0;
    const char *p = ct + 22;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p && *p != ';')
        return 0;
    int version = 1;
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t nlen = (size_t)(p - name);
        while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
            nlen--;
        const char *val = "";
        size_t vlen = 0;
        if (*p == '=') {
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            int quoted = *p == '"';
            val = p + quoted;
            p = val;
            while (*p && (quoted ? *p != '"' : *p != ';'))
                p++;
            vlen = (size_t)(p - val);
            if (quoted && *p == '"')
                p++;
            while (!quoted && vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
                vlen--;
            while (*p && *p != ';')
                p++;
        }
        if (nlen == 5 && !strncasecmp(name, "proto", 5)) {
            if (vlen == 23 && !strncmp(val, "prometheus.WriteRequest", 23))
                version = 1;
            else if (vlen == 30 && !strncmp(val, "io.prometheus.write.v2.Request", 30))
                version = 2;
            else
                return 0;
        }
    }
    return *p ? 0 : version;
}
