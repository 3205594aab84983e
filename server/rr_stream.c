/*
 * rr_stream.c: remote read answered as STREAMED_XOR_CHUNKS (Prometheus'
 * remote read protocol, storage/remote/chunked.go and codec.go).
 *
 * The body is a run of frames, each
 *   uvarint(len) | CRC-32C of the data, 4 bytes big-endian | data
 * where the data is a ChunkedReadResponse (prom.proto) holding one
 * ChunkedSeries (labels and XOR chunks of at most 120 samples) and the
 * index of the query it answers. As Prometheus does, a series whose
 * chunks pass RS_FRAME_BYTES goes on in the next frame with the same
 * labels; series with no sample in the range are not sent.
 *
 * Memory is bounded per request: the state holds one frame and one chunk
 * in the making, whatever the number of series; frames are made as
 * libmicrohttpd asks for bytes (the socket drains), on the connection's
 * thread, which alone touches the state. A client that goes away stops
 * the calls and libmicrohttpd frees the state (the cursor with it).
 *
 * The first query's cursor is opened before the 200 goes out, so a bad
 * regular expression there is a 400; a later query's is opened when its
 * turn comes, and a failure then (or a storage error anywhere) cuts the
 * connection: the client sees a broken answer, never a short one.
 *
 * Frame layout written here (proto3, prom.proto numbers, zero fields left
 * out as Go's marshaller does):
 *   ChunkedReadResponse = 0x0a len ChunkedSeries [0x10 varint(query_index)]
 *   ChunkedSeries       = { 0x0a len Label }* { 0x12 len Chunk }*
 *   Chunk               = [0x08 varint(min_time)] [0x10 varint(max_time)]
 *                         0x18 0x01 (XOR) 0x22 len bytes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extlabels.h"
#include "remote.h"
#include "server.h"
#include "xorchunk.h"

/* Prometheus' default --storage.remote.read-max-bytes-in-frame */
#define RS_FRAME_BYTES (1u << 20)

typedef struct rs_state {
    srv *s;
    rr_read *req;
    size_t qi;             /* the query being answered */
    strata_cursor *c;      /* its cursor, NULL between queries */
    int in_series;         /* a series of c is being sent */
    const int64_t *t;      /* samples lent by the cursor, [pos, n) not yet in a chunk */
    const double *v;
    size_t n, pos;
    sbuf labels;           /* the series' labels (external ones merged in), encoded */
    strata_label *merged;  /* room for merging them */
    size_t merged_cap;
    sbuf chunks;           /* the chunks of the frame in the making, encoded */
    sbuf tmp;
    xc_chunk chunk;        /* the chunk in the making */
    sbuf out;              /* the frame being sent, [out_pos, len) not yet */
    size_t out_pos;
    int done;
} rs_state;

static int open_query(rs_state *st, int *empty)
{
    const Prometheus__Query *q = st->req->msg->queries[st->qi];
    *empty = 0;
    int64_t mint, maxt;
    if (!rr_query_range(q, &mint, &maxt)) {
        *empty = 1;
        return STRATA_OK;
    }
    strata_matcher *m = NULL;
    if (rr_matchers(q, st->s->cfg.ext_labels, st->s->cfg.n_ext_labels, &m))
        return STRATA_ERR_NOMEM;
    int rc = strata_select(st->s->db, m, q->n_matchers, mint, maxt, &st->c);
    free(m);
    return rc;
}

static int put_labels(rs_state *st, const strata_label *l, size_t n)
{
    sbuf_reset(&st->labels);
    size_t n_ext = st->s->cfg.n_ext_labels;
    if (n_ext) {
        if (n + n_ext > st->merged_cap) {
            strata_label *nb = realloc(st->merged, (n + n_ext) * sizeof *nb);
            if (!nb)
                return STRATA_ERR_NOMEM;
            st->merged = nb;
            st->merged_cap = n + n_ext;
        }
        n = el_merge(l, n, st->s->cfg.ext_labels, n_ext, st->merged);
        l = st->merged;
    }
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        sbuf_reset(&st->tmp);
        rc = pb_put_bytes(&st->tmp, 0x0a, l[i].name, strlen(l[i].name));
        if (!rc && *l[i].value)
            rc = pb_put_bytes(&st->tmp, 0x12, l[i].value, strlen(l[i].value));
        if (!rc)
            rc = pb_put_bytes(&st->labels, 0x0a, st->tmp.data, st->tmp.len);
    }
    return rc;
}

/* Moves the chunk in the making (not empty) into st->chunks. */
static int cut_chunk(rs_state *st)
{
    sbuf_reset(&st->tmp);
    uint8_t xor_type[2] = {0x18, 0x01};
    size_t len;
    const uint8_t *b = xc_bytes(&st->chunk, &len);
    int rc = STRATA_OK;
    if (st->chunk.mint) {
        uint8_t tag = 0x08;
        rc = sbuf_append(&st->tmp, &tag, 1);
        rc = rc ? rc : pb_put_varint(&st->tmp, (uint64_t)st->chunk.mint);
    }
    if (!rc && st->chunk.maxt) {
        uint8_t tag = 0x10;
        rc = sbuf_append(&st->tmp, &tag, 1);
        rc = rc ? rc : pb_put_varint(&st->tmp, (uint64_t)st->chunk.maxt);
    }
    rc = rc ? rc : sbuf_append(&st->tmp, xor_type, 2);
    rc = rc ? rc : pb_put_bytes(&st->tmp, 0x22, b, len);
    rc = rc ? rc : pb_put_bytes(&st->chunks, 0x12, st->tmp.data, st->tmp.len);
    xc_reset(&st->chunk);
    return rc;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/* Makes st->out the frame of the labels and chunks gathered. */
static int make_frame(rs_state *st)
{
    sbuf_reset(&st->out);
    st->out_pos = 0;
    size_t cs = st->labels.len + st->chunks.len;
    size_t body = 1 + varint_len(cs) + cs + (st->qi ? 1 + varint_len(st->qi) : 0);
    int rc = pb_put_varint(&st->out, body);
    uint8_t crc[4] = {0};
    rc = rc ? rc : sbuf_append(&st->out, crc, 4);
    size_t at = st->out.len;
    uint8_t tag = 0x0a;
    rc = rc ? rc : sbuf_append(&st->out, &tag, 1);
    rc = rc ? rc : pb_put_varint(&st->out, cs);
    rc = rc ? rc : sbuf_append(&st->out, st->labels.data, st->labels.len);
    rc = rc ? rc : sbuf_append(&st->out, st->chunks.data, st->chunks.len);
    if (!rc && st->qi) {
        tag = 0x10;
        rc = sbuf_append(&st->out, &tag, 1);
        rc = rc ? rc : pb_put_varint(&st->out, st->qi);
    }
    if (rc)
        return rc;
    uint32_t c = xc_crc32c(st->out.data + at, st->out.len - at);
    uint8_t *p = st->out.data + at - 4;
    p[0] = (uint8_t)(c >> 24);
    p[1] = (uint8_t)(c >> 16);
    p[2] = (uint8_t)(c >> 8);
    p[3] = (uint8_t)c;
    sbuf_reset(&st->chunks);
    return STRATA_OK;
}

/* Makes the next frame in st->out: 1, 0 when every query is answered, or
 * a negative status. */
static int next_frame(rs_state *st)
{
    for (;;) {
        int rc;
        if (!st->c) {
            if (st->qi >= st->req->msg->n_queries)
                return 0;
            int empty;
            if ((rc = open_query(st, &empty)) != 0)
                return rc;
            if (empty) {
                st->qi++;
                continue;
            }
        }
        if (!st->in_series) {
            strata_sid sid;
            const strata_label *l;
            size_t nl;
            rc = strata_cursor_next_series(st->c, &sid, &l, &nl);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                strata_cursor_close(st->c);
                st->c = NULL;
                st->qi++;
                continue;
            }
            if ((rc = put_labels(st, l, nl)) != 0)
                return rc;
            st->in_series = 1;
            st->n = st->pos = 0;
            xc_reset(&st->chunk);
            sbuf_reset(&st->chunks);
        }
        int series_end = 0;
        while (st->labels.len + st->chunks.len < RS_FRAME_BYTES) {
            if (st->pos == st->n) {
                rc = strata_cursor_next_samples(st->c, &st->t, &st->v, &st->n);
                if (rc < 0)
                    return rc;
                st->pos = 0;
                if (rc == 0) {
                    st->n = 0;
                    series_end = 1;
                    if (st->chunk.n && (rc = cut_chunk(st)) != 0)
                        return rc;
                    break;
                }
                METRIC_ADD(st->s->m.samples_out, st->n);
            }
            for (; st->pos < st->n && st->chunk.n < XC_MAX_SAMPLES; st->pos++)
                if ((rc = xc_append(&st->chunk, st->t[st->pos], st->v[st->pos])) != 0)
                    return rc;
            if (st->chunk.n == XC_MAX_SAMPLES && (rc = cut_chunk(st)) != 0)
                return rc;
        }
        if (series_end)
            st->in_series = 0;
        if (st->chunks.len) {
            if ((rc = make_frame(st)) != 0)
                return rc;
            return 1;
        }
    }
}

static long rs_read(void *cls, char *buf, size_t max)
{
    rs_state *st = cls;
    while (st->out_pos == st->out.len) {
        if (st->done)
            return 0;
        int rc = next_frame(st);
        if (rc < 0) {
            fprintf(stderr, "strata serve: remote read stopped: %s\n", strata_strerror(rc));
            return -1;
        }
        if (rc == 0)
            st->done = 1;
    }
    size_t n = st->out.len - st->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, st->out.data + st->out_pos, n);
    st->out_pos += n;
    return (long)n;
}

static void rs_free(void *cls)
{
    rs_state *st = cls;
    if (!st)
        return;
    strata_cursor_close(st->c);
    rr_free(st->req);
    sbuf_free(&st->labels);
    sbuf_free(&st->chunks);
    sbuf_free(&st->tmp);
    sbuf_free(&st->out);
    free(st->merged);
    free(st);
}

int rr_reply_streamed(srv *s, rr_read *req, srv_resp *w)
{
    rs_state *st = calloc(1, sizeof *st);
    if (!st) {
        rr_free(req);
        return STRATA_ERR_NOMEM;
    }
    st->s = s;
    st->req = req;
    /* the first query's matchers compile here, before the 200 goes out */
    while (st->qi < req->msg->n_queries) {
        int empty;
        int rc = open_query(st, &empty);
        if (rc) {
            rs_free(st);
            if (rc == STRATA_ERR_INVALID)
                return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_MATCHER, "bad_data",
                                       "bad matcher (a regular expression that does not compile?)");
            return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "%s",
                                   strata_strerror(rc));
        }
        if (!empty)
            break;
        st->qi++;
    }
    return srv_reply_stream(w, HTTP_OK, "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse",
                            rs_read, rs_free, st);
}
