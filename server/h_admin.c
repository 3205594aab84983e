/*
 * h_admin.c: export (streamed JSON lines), delete_series, snapshot,
 * force_flush, force_merge, /metrics and /health.
 *
 * Export streams: the body is made by a producer (srv_reply_stream) that
 * libmicrohttpd calls as the socket drains, one series at a time, so its
 * memory is bounded by the largest series, not by the answer. The cursor
 * lives in the stream state and is used by the connection's thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* ------------------------------------------------------------ export */


typedef struct export_state {
    srv *s;
    strata_export *e;
    uint64_t samples_counted; /* samples already added to the metric */
} export_state;

static long export_read(void *cls, char *buf, size_t max)
{
    export_state *st = cls;
    size_t n = 0;
    int rc = strata_export_read(st->e, buf, max, &n);
    uint64_t samples;
    strata_export_counts(st->e, NULL, &samples);
    METRIC_ADD(st->s->m.samples_out, samples - st->samples_counted);
    st->samples_counted = samples;
    if (rc < 0) {
        fprintf(stderr, "strata serve: export stopped: %s\n", strata_strerror(rc));
        return -1;
    }
    if (rc == 0)
        return 0;
    return (long)n;
}

static void export_free(void *cls)
{
    export_state *st = cls;
    strata_export_close(st->e);
    free(st);
}

int h_export(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_form_load(s, r, w, &ret))
        return ret;
    strata_selector *sels;
    size_t n_sels;
    if (srv_selectors(s, r, w, 0, &sels, &n_sels, &ret))
        return ret;
    const char *names[2] = {"start", "end"}, *why = NULL;
    int64_t range[2], dflt[2] = {INT64_MIN, INT64_MAX};
    for (int i = 0; i < 2; i++) {
        const char *v = srv_param(r, names[i]);
        if (srv_time(v, dflt[i], &range[i], &why)) {
            srv_selectors_free(sels, n_sels);
            return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                                   "invalid parameter \"%s\": cannot parse \"%.80s\"%s%s", names[i], v,
                                   why ? ": " : "", why ? why : "");
        }
    }
    export_state *st = calloc(1, sizeof *st);
    if (!st) {
        srv_selectors_free(sels, n_sels);
        return STRATA_ERR_NOMEM;
    }
    st->s = s;
    /* the selectors compile (a bad regex fails) here, before the 200 goes out */
    int rc = strata_export_open(s->db, sels, n_sels, range[0], range[1], STRATA_EXPORT_JSONL, &st->e);
    srv_selectors_free(sels, n_sels);
    if (rc) {
        free(st);
        return srv_reply_error(s, w, rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST : HTTP_INTERNAL_SERVER_ERROR,
                               rc == STRATA_ERR_INVALID ? R_BAD_MATCHER : R_INTERNAL,
                               rc == STRATA_ERR_INVALID ? "bad_data" : "internal", "%s", strata_strerror(rc));
    }
    return srv_reply_stream(w, HTTP_OK, "application/stream+json", export_read, export_free, st);
}

/* ------------------------------------------------------------ delete */

int h_delete(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_form_load(s, r, w, &ret))
        return ret;
    strata_selector *sels;
    size_t n;
    if (srv_selectors(s, r, w, 1, &sels, &n, &ret))
        return ret;
    const char *names[2] = {"start", "end"}, *why = NULL;
    int64_t t[2], dflt[2] = {INT64_MIN, INT64_MAX};
    for (int i = 0; i < 2; i++) {
        const char *v = srv_param(r, names[i]);
        if (srv_time(v, dflt[i], &t[i], &why)) {
            srv_selectors_free(sels, n);
            return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                                   "invalid parameter \"%s\": cannot parse \"%.80s\"%s%s", names[i], v,
                                   why ? ": " : "", why ? why : "");
        }
    }
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = strata_delete(s->db, sels[i].matchers, sels[i].n_matchers, t[0], t[1]);
    srv_selectors_free(sels, n);
    if (rc)
        return srv_reply_error(s, w, rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST : HTTP_INTERNAL_SERVER_ERROR,
                               rc == STRATA_ERR_INVALID ? R_BAD_MATCHER : R_INTERNAL,
                               rc == STRATA_ERR_INVALID ? "bad_data" : "internal", "delete failed: %s",
                               strata_strerror(rc));
    return srv_reply(w, HTTP_NO_CONTENT, NULL, "", 0);
}

/* ------------------------------------------------------------ snapshot */

/* The name is made here, never taken from the request:
 * 20240101T120000Z-<16 hex digits from /dev/urandom>. */
static int snapshot_name(char *out, size_t cap)
{
    uint64_t rnd = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, &rnd, sizeof rnd);
    close(fd);
    if (n != (ssize_t)sizeof rnd)
        return -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, cap, "%s-%016llx", ts, (unsigned long long)rnd);
    return 0;
}

int h_snapshot(srv *s, srv_req *r, srv_resp *w)
{
    char name[64];
    size_t dl = strlen(s->data_dir);
    char *base = malloc(dl + 16), *path = malloc(dl + 16 + sizeof name);
    if (!base || !path || snapshot_name(name, sizeof name)) {
        free(base);
        free(path);
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "cannot name a snapshot");
    }
    snprintf(base, dl + 16, "%s/snapshots", s->data_dir);
    snprintf(path, dl + 16 + sizeof name, "%s/%s", base, name);
    int rc = STRATA_OK;
    if (mkdir(base, 0755) && errno != EEXIST)
        rc = STRATA_ERR_IO;
    if (!rc)
        rc = strata_snapshot(s->db, path);
    free(base);
    free(path);
    if (rc)
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "snapshot failed: %s",
                               strata_strerror(rc));
    sbuf b = {0};
    int jr = json_raw(&b, "{\"status\":\"success\",\"data\":{\"name\":");
    jr = jr ? jr : json_str(&b, name);
    jr = jr ? jr : json_raw(&b, "}}\n");
    if (jr) {
        sbuf_free(&b);
        return STRATA_ERR_NOMEM;
    }
    return srv_reply_json(w, HTTP_OK, &b);
}

/* ------------------------------------------------------------ flush, merge, metrics */

int h_flush(srv *s, srv_req *r, srv_resp *w)
{
    int rc = strata_flush(s->db);
    if (rc)
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "flush failed: %s",
                               strata_strerror(rc));
    return srv_reply(w, HTTP_OK, "text/plain", "", 0);
}

int h_merge(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_form_load(s, r, w, &ret))
        return ret;
    const char *f = srv_param(r, "full");
    int full = f && (!strcmp(f, "1") || !strcmp(f, "true"));
    int rc = strata_compact(s->db, full);
    if (rc)
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal",
                               "compaction failed: %s", strata_strerror(rc));
    return srv_reply(w, HTTP_OK, "text/plain", "", 0);
}

int h_metrics(srv *s, srv_req *r, srv_resp *w)
{
    sbuf b = {0};
    if (metrics_render(s, &b)) {
        sbuf_free(&b);
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "metrics failed");
    }
    void *p = b.data;
    size_t n = b.len;
    return srv_reply_owned(w, HTTP_OK, "text/plain; version=0.0.4", p, n, NULL);
}

int h_health(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    return srv_reply(w, HTTP_OK, "text/plain", "OK\n", 3);
}
