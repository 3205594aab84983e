/*
 * remote.c: Prometheus remote write (decode, validate, store) and remote
 * read (decode, select, encode), independent of HTTP so the fuzz target
 * can call it. See remote.h.
 *
 * ReadResponse as written here (proto3 wire format, prom.proto numbers):
 *   ReadResponse  = { 0x0a len QueryResult }*            one per query
 *   QueryResult   = { 0x0a len TimeSeries }*
 *   TimeSeries    = { 0x0a len Label }* { 0x12 len Sample }*
 *   Label         = 0x0a len name-bytes 0x12 len value-bytes
 *   Sample        = 0x09 value-as-8-bytes-little-endian 0x10 varint(timestamp as uint64)
 * len are unsigned LEB128 varints; the whole message is then snappy
 * compressed (block format).
 */
#include "remote.h"

#include "extlabels.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>


/* ------------------------------------------------------------ arena */

/*
 * Every object protobuf-c builds for one request comes from one arena with
 * a byte budget (pb_unpack). Small objects are bump-allocated from chunks
 * and released with the arena; blocks of PB_BIG bytes or more (the member
 * slabs protobuf-c scans a message into and frees at its end, long repeated
 * arrays, long strings) get their own malloc so that protobuf-c's frees
 * really return them. The budget counts the bytes handed out and still
 * live; an allocation over it fails, protobuf-c gives up and pb_unpack
 * says STRATA_ERR_LIMIT. Objects are aligned to 8 bytes: protobuf-c's
 * structs hold pointers, sizes, int64 and double, nothing wider.
 *
 * Blocks of PB_MAP bytes or more are mapped (mmap) rather than malloc()ed
 * and unmapped when released, so the memory of a large request, refused
 * or not, goes back to the system at once instead of staying in the
 * malloc arena of the thread that decoded it (glibc keeps one per thread
 * and raises its mmap threshold after large frees: a second bomb on
 * another thread would otherwise add its peak to the first one's).
 */
#define PB_ALIGN 8
#define PB_BIG 1024
#define PB_MAP (1u << 20)
_Static_assert(_Alignof(double) <= PB_ALIGN && _Alignof(int64_t) <= PB_ALIGN && _Alignof(void *) <= PB_ALIGN &&
                   _Alignof(size_t) <= PB_ALIGN,
               "protobuf-c objects need no wider alignment");

typedef struct pb_chunk {
    struct pb_chunk *next;
    size_t used, cap;
    _Alignas(PB_ALIGN) unsigned char data[];
} pb_chunk;

typedef struct pb_big {
    struct pb_big *prev, *next;
    size_t size; /* bytes charged to the budget, this header included */
    _Alignas(PB_ALIGN) unsigned char data[];
} pb_big;

/* malloc below PB_MAP bytes, mmap from there on; NULL when neither can. */
static void *pb_sys_alloc(size_t n)
{
    if (n < PB_MAP)
        return malloc(n);
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void pb_sys_free(void *p, size_t n)
{
    if (n < PB_MAP)
        free(p);
    else
        munmap(p, n);
}

struct pb_arena {
    pb_chunk *chunks;
    pb_big *bigs;
    size_t hint;     /* size of the next chunk */
    size_t live;     /* bytes handed out and not freed */
    size_t budget;   /* live may not exceed it */
    int over;        /* an allocation was refused for the budget */
    int nomem;       /* malloc failed */
};

static int charge(pb_arena *a, size_t n)
{
    if (n > a->budget - a->live) {
        a->over = 1;
        return -1;
    }
    a->live += n;
    return 0;
}

static void *ar_alloc(void *ad, size_t n)
{
    pb_arena *a = ad;
    if (n > SIZE_MAX / 2) {
        a->over = 1;
        return NULL;
    }
    if (n >= PB_BIG) {
        size_t total = sizeof(pb_big) + n;
        if (charge(a, total))
            return NULL;
        pb_big *b = pb_sys_alloc(total);
        if (!b) {
            a->live -= total;
            a->nomem = 1;
            return NULL;
        }
        b->size = total;
        b->prev = NULL;
        b->next = a->bigs;
        if (a->bigs)
            a->bigs->prev = b;
        a->bigs = b;
        return b->data;
    }
    n = (n + PB_ALIGN - 1) & ~(size_t)(PB_ALIGN - 1);
    if (charge(a, n))
        return NULL;
    pb_chunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        /* never a chunk much beyond what the budget still allows */
        size_t left = a->budget - a->live + n;
        size_t cap = a->hint < left ? a->hint : left;
        if (cap < n)
            cap = n;
        c = pb_sys_alloc(sizeof *c + cap);
        if (!c) {
            a->live -= n;
            a->nomem = 1;
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
        if (a->hint < (64u << 20))
            a->hint *= 2;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void ar_free(void *ad, void *p)
{
    pb_arena *a = ad;
    if (!p)
        return;
    /* a small object lies in a chunk (there are few: they double) and is
     * released with the arena; anything else is a big block */
    for (pb_chunk *c = a->chunks; c; c = c->next)
        if ((unsigned char *)p >= c->data && (unsigned char *)p < c->data + c->cap)
            return;
    pb_big *b = (pb_big *)(void *)((unsigned char *)p - offsetof(pb_big, data));
    if (b->prev)
        b->prev->next = b->next;
    else
        a->bigs = b->next;
    if (b->next)
        b->next->prev = b->prev;
    a->live -= b->size;
    pb_sys_free(b, b->size);
}

void pb_arena_free(pb_arena *a)
{
    if (!a)
        return;
    while (a->chunks) {
        pb_chunk *c = a->chunks;
        a->chunks = c->next;
        pb_sys_free(c, sizeof *c + c->cap);
    }
    while (a->bigs) {
        pb_big *b = a->bigs;
        a->bigs = b->next;
        pb_sys_free(b, b->size);
    }
    free(a);
}

size_t pb_arena_bytes(const pb_arena *a)
{
    return a ? a->live : 0;
}

int pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *raw, size_t n, size_t max_bytes,
              ProtobufCMessage **msg, pb_arena **arena, char *err, size_t errlen)
{
    pb_arena *a = calloc(1, sizeof *a);
    if (!a)
        return STRATA_ERR_NOMEM;
    a->budget = max_bytes;
    a->hint = n < (1u << 20) ? n * 2 + 4096 : (2u << 20);
    ProtobufCAllocator alloc = {ar_alloc, ar_free, a};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &alloc, n, raw);
    if (!m) {
        int rc = a->nomem ? STRATA_ERR_NOMEM : a->over ? STRATA_ERR_LIMIT : STRATA_ERR_INVALID;
        if (rc == STRATA_ERR_LIMIT)
            snprintf(err, errlen, "decoded %s of %zu bytes would take more than the limit of %zu bytes of objects",
                     desc->short_name, n, max_bytes);
        else if (rc == STRATA_ERR_INVALID)
            snprintf(err, errlen, "bad protobuf: not a %s", desc->short_name);
        pb_arena_free(a);
        return rc;
    }
    *msg = m;
    *arena = a;
    return STRATA_OK;
}

/* Decompresses a snappy block of at most max_decoded bytes (the length
 * header is checked before allocating) into *out, released with
 * pb_sys_free(*out, *out_len ? *out_len : 1). */
static int pb_unsnappy(const uint8_t *body, size_t len, size_t max_decoded, char **out, size_t *out_len, char *err,
                       size_t errlen)
{
    size_t n;
    if (snappy_uncompressed_length((const char *)body, len, &n) != SNAPPY_OK) {
        snprintf(err, errlen, "bad snappy block: no valid length header");
        return STRATA_ERR_INVALID;
    }
    /* the length header is checked before anything is allocated */
    if (n > max_decoded) {
        snprintf(err, errlen, "decompressed body of %zu bytes is over the limit of %zu", n, max_decoded);
        return STRATA_ERR_LIMIT;
    }
    if (snappy_validate_compressed_buffer((const char *)body, len) != SNAPPY_OK) {
        snprintf(err, errlen, "bad snappy block: corrupt data");
        return STRATA_ERR_INVALID;
    }
    char *buf = pb_sys_alloc(n ? n : 1);
    if (!buf)
        return STRATA_ERR_NOMEM;
    size_t got = n;
    if (snappy_uncompress((const char *)body, len, buf, &got) != SNAPPY_OK || got != n) {
        pb_sys_free(buf, n ? n : 1);
        snprintf(err, errlen, "bad snappy block: corrupt data");
        return STRATA_ERR_INVALID;
    }
    *out = buf;
    *out_len = n;
    return STRATA_OK;
}

int pb_decode_snappy(const ProtobufCMessageDescriptor *desc, const uint8_t *body, size_t len, const rw_limits *lim,
                     ProtobufCMessage **msg, pb_arena **arena, char *err, size_t errlen)
{
    char *raw = NULL;
    size_t n = 0;
    int rc = pb_unsnappy(body, len, lim->max_decoded, &raw, &n, err, errlen);
    if (rc)
        return rc;
    rc = pb_unpack(desc, (const uint8_t *)raw, n, lim->max_objects, msg, arena, err, errlen);
    pb_sys_free(raw, n ? n : 1);
    return rc;
}

/* Checks one series' labels: count, lengths, no empty or duplicate names,
 * no NUL byte inside (Label's fields are protobuf bytes, so their lengths
 * are known: a NUL would cut strata's C strings and merge distinct
 * series), at least one non-empty value. UTF-8 is checked by the library
 * when a series is created. */
static int check_labels(Prometheus__Label **labels, size_t n, const rw_limits *lim, size_t ts_index, char *err,
                        size_t errlen)
{
    if (n > lim->max_labels) {
        snprintf(err, errlen, "series %zu has %zu labels, over the limit of %zu", ts_index, n, lim->max_labels);
        return STRATA_ERR_LIMIT;
    }
    size_t nonempty = 0;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *name = &labels[i]->name, *value = &labels[i]->value;
        size_t nl = name->len, vl = value->len;
        if (nl == 0) {
            snprintf(err, errlen, "series %zu: empty label name", ts_index);
            return STRATA_ERR_INVALID;
        }
        if (memchr(name->data, 0, nl) || (vl && memchr(value->data, 0, vl))) {
            snprintf(err, errlen, "series %zu: label %s holds a NUL byte", ts_index,
                     memchr(name->data, 0, nl) ? "name" : "value");
            return STRATA_ERR_INVALID;
        }
        if (nl > lim->max_label_len || vl > lim->max_label_len) {
            snprintf(err, errlen, "series %zu: label %.*s longer than the limit of %zu bytes", ts_index,
                     (int)(nl < 64 ? nl : 64), (const char *)name->data, lim->max_label_len);
            return STRATA_ERR_LIMIT;
        }
        if (vl)
            nonempty++;
        for (size_t j = 0; j < i; j++)
            if (labels[j]->name.len == nl && !memcmp(labels[j]->name.data, name->data, nl)) {
                snprintf(err, errlen, "series %zu: duplicate label name %.*s", ts_index, (int)(nl < 64 ? nl : 64),
                         (const char *)name->data);
                return STRATA_ERR_INVALID;
            }
    }
    if (!nonempty) {
        snprintf(err, errlen, "series %zu has no labels", ts_index);
        return STRATA_ERR_INVALID;
    }
    return STRATA_OK;
}

int rw_decode(const uint8_t *body, size_t len, const rw_limits *lim, rw_write **out, char *err, size_t errlen)
{
    rw_write *w = calloc(1, sizeof *w);
    if (!w)
        return STRATA_ERR_NOMEM;
    ProtobufCMessage *m = NULL;
    int rc = pb_decode_snappy(&prometheus__write_request__descriptor, body, len, lim, &m, &w->arena, err, errlen);
    if (rc) {
        free(w);
        return rc;
    }
    Prometheus__WriteRequest *req = (Prometheus__WriteRequest *)m;
    w->msg = req;
    for (size_t i = 0; i < req->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = req->timeseries[i];
        if ((rc = check_labels(ts->labels, ts->n_labels, lim, i, err, errlen)) != 0)
            goto fail;
    }
    *out = w;
    return STRATA_OK;
fail:
    rw_free(w);
    return rc;
}

void rw_free(rw_write *w)
{
    if (!w)
        return;
    pb_arena_free(w->arena); /* every object of w->msg is in it */
    free(w);
}

/* Copies the labels of ts (protobuf bytes, checked by check_labels) into
 * NUL-terminated strings in *buf and points labels[] at them. */
static int labels_of(const Prometheus__TimeSeries *ts, strata_label *labels, char **buf, size_t *cap)
{
    size_t need = 0;
    for (size_t j = 0; j < ts->n_labels; j++)
        need += ts->labels[j]->name.len + ts->labels[j]->value.len + 2;
    if (need > *cap) {
        char *nb = realloc(*buf, need);
        if (!nb)
            return STRATA_ERR_NOMEM;
        *buf = nb;
        *cap = need;
    }
    char *o = *buf;
    for (size_t j = 0; j < ts->n_labels; j++) {
        const ProtobufCBinaryData *nm = &ts->labels[j]->name, *vl = &ts->labels[j]->value;
        labels[j].name = o;
        if (nm->len)
            memcpy(o, nm->data, nm->len);
        o += nm->len;
        *o++ = 0;
        labels[j].value = o;
        if (vl->len)
            memcpy(o, vl->data, vl->len);
        o += vl->len;
        *o++ = 0;
    }
    return STRATA_OK;
}

int rw_store(strata_db *db, const rw_write *w, rw_stored *out)
{
    const Prometheus__WriteRequest *req = w->msg;
    size_t max_labels = 0, max_samples = 0;
    for (size_t i = 0; i < req->n_timeseries; i++) {
        if (req->timeseries[i]->n_labels > max_labels)
            max_labels = req->timeseries[i]->n_labels;
        if (req->timeseries[i]->n_samples > max_samples)
            max_samples = req->timeseries[i]->n_samples;
    }
    memset(out, 0, sizeof *out);
    strata_label *labels = malloc((max_labels ? max_labels : 1) * sizeof *labels);
    int64_t *t = malloc((max_samples ? max_samples : 1) * sizeof *t);
    double *v = malloc((max_samples ? max_samples : 1) * sizeof *v);
    char *strs = NULL;
    size_t strs_cap = 0;
    strata_batch *b = NULL;
    int rc = labels && t && v ? strata_batch_new(db, &b) : STRATA_ERR_NOMEM;
    for (size_t i = 0; i < req->n_timeseries && !rc; i++) {
        const Prometheus__TimeSeries *ts = req->timeseries[i];
        if (!ts->n_samples)
            continue;
        if ((rc = labels_of(ts, labels, &strs, &strs_cap)) != 0)
            break;
        for (size_t j = 0; j < ts->n_samples; j++) {
            t[j] = ts->samples[j]->timestamp;
            v[j] = ts->samples[j]->value;
        }
        /* a series the database refuses (max_series, a timestamp out of
         * range, labels it cannot take) is refused alone and the rest of
         * the request is stored: the answer then says what was refused */
        const char *why = NULL;
        int a = strata_batch_add(b, labels, ts->n_labels, t, v, ts->n_samples, &why);
        if (a == STRATA_ERR_INVALID || a == STRATA_ERR_LIMIT) {
            if (!out->refused_series) {
                out->first_refused = i;
                snprintf(out->first_reason, sizeof out->first_reason, "%s", why ? why : strata_strerror(a));
            }
            out->refused_series++;
            out->refused_samples += ts->n_samples;
            if (a == STRATA_ERR_LIMIT && why && strstr(why, "max_series"))
                out->refused_max_series += ts->n_samples;
        } else {
            rc = a;
        }
    }
    strata_write_result res = {0};
    if (b) {
        int rc2 = strata_batch_commit(b, &res);
        if (!rc)
            rc = rc2;
    }
    out->samples = res.samples;
    out->new_series = res.new_series;
    strata_batch_free(b);
    free(strs);
    free(labels);
    free(t);
    free(v);
    return rc;
}

int rr_decode(const uint8_t *body, size_t len, const rw_limits *lim, rr_read **out, char *err, size_t errlen)
{
    rr_read *rd = calloc(1, sizeof *rd);
    if (!rd)
        return STRATA_ERR_NOMEM;
    ProtobufCMessage *m = NULL;
    int rc = pb_decode_snappy(&prometheus__read_request__descriptor, body, len, lim, &m, &rd->arena, err, errlen);
    if (rc) {
        free(rd);
        return rc;
    }
    Prometheus__ReadRequest *req = (Prometheus__ReadRequest *)m;
    rd->msg = req;
    for (size_t i = 0; i < req->n_queries; i++) {
        const Prometheus__Query *q = req->queries[i];
        for (size_t j = 0; j < q->n_matchers; j++) {
            const Prometheus__LabelMatcher *mt = q->matchers[j];
            /* a NUL would cut the C string and widen the matcher */
            if ((unsigned)mt->type > PROMETHEUS__LABEL_MATCHER__TYPE__NRE || !mt->name.len ||
                memchr(mt->name.data, 0, mt->name.len) || (mt->value.len && memchr(mt->value.data, 0, mt->value.len))) {
                snprintf(err, errlen, "query %zu: bad matcher %zu", i, j);
                rr_free(rd);
                return STRATA_ERR_INVALID;
            }
        }
    }
    *out = rd;
    return STRATA_OK;
}

int rr_response_type(const Prometheus__ReadRequest *req)
{
    /* as Prometheus' NegotiateResponseType: the first type the client
     * lists that the server knows; none listed: SAMPLES */
    if (!req->n_accepted_response_types)
        return PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES;
    for (size_t i = 0; i < req->n_accepted_response_types; i++) {
        int t = (int)req->accepted_response_types[i];
        if (t == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES ||
            t == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__STREAMED_XOR_CHUNKS)
            return t;
    }
    return -1;
}

int rr_query_range(const Prometheus__Query *q, int64_t *mint, int64_t *maxt)
{
    *mint = q->start_timestamp_ms;
    *maxt = q->end_timestamp_ms;
    const Prometheus__ReadHints *h = q->hints;
    /* hints with neither bound set say nothing of the range */
    if (h && (h->start_ms || h->end_ms) && h->start_ms <= h->end_ms) {
        if (h->start_ms > *mint)
            *mint = h->start_ms;
        if (h->end_ms < *maxt)
            *maxt = h->end_ms;
    }
    return *mint <= *maxt;
}

void rr_free(rr_read *rd)
{
    if (!rd)
        return;
    pb_arena_free(rd->arena);
    free(rd);
}

int pb_put_varint(sbuf *b, uint64_t v)
{
    return sbuf_append_uvarint(b, v);
}

int pb_put_bytes(sbuf *b, uint8_t tag, const void *p, size_t n)
{
    int rc = sbuf_append(b, &tag, 1);
    if (!rc)
        rc = sbuf_append_uvarint(b, n);
    if (!rc && n)
        rc = sbuf_append(b, p, n);
    return rc;
}

static int put_label(sbuf *ts, sbuf *tmp, const char *name, const char *value)
{
    sbuf_reset(tmp);
    int rc = pb_put_bytes(tmp, 0x0a, name, strlen(name));
    if (!rc)
        rc = pb_put_bytes(tmp, 0x12, value, strlen(value));
    if (!rc)
        rc = pb_put_bytes(ts, 0x0a, tmp->data, tmp->len);
    return rc;
}

static int put_samples(sbuf *ts, const int64_t *t, const double *v, size_t n)
{
    /* one Sample: 0x12 len 0x09 <8 bytes> 0x10 varint: at most 1+1+9+1+10 */
    int rc = sbuf_reserve(ts, n * 22);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t s[22];
        size_t k = 2;
        uint64_t bits;
        memcpy(&bits, &v[i], 8);
        s[k++] = 0x09;
        for (int j = 0; j < 8; j++)
            s[k++] = (uint8_t)(bits >> (8 * j));
        s[k++] = 0x10;
        uint64_t u = (uint64_t)t[i];
        while (u >= 0x80) {
            s[k++] = (uint8_t)(u | 0x80);
            u >>= 7;
        }
        s[k++] = (uint8_t)u;
        s[0] = 0x12;
        s[1] = (uint8_t)(k - 2);
        memcpy(ts->data + ts->len, s, k);
        ts->len += k;
    }
    return STRATA_OK;
}

int rr_matchers(const Prometheus__Query *q, const strata_label *ext, size_t n_ext, strata_matcher **out)
{
    /* the matchers' names and values (protobuf bytes, checked free of NUL
     * by rr_decode) as C strings, in one block after the array */
    size_t strs = 0;
    for (size_t i = 0; i < q->n_matchers; i++)
        strs += q->matchers[i]->name.len + q->matchers[i]->value.len + 2;
    size_t nm = q->n_matchers ? q->n_matchers : 1;
    strata_matcher *m = calloc(1, nm * sizeof *m + strs);
    if (!m)
        return STRATA_ERR_NOMEM;
    char *o = (char *)(m + nm);
    for (size_t i = 0; i < q->n_matchers; i++) {
        const ProtobufCBinaryData *mn = &q->matchers[i]->name, *mv = &q->matchers[i]->value;
        m[i].type = (strata_match_type)q->matchers[i]->type; /* EQ NEQ RE NRE: same numbers */
        m[i].name = o;
        if (mn->len)
            memcpy(o, mn->data, mn->len);
        o += mn->len;
        *o++ = 0;
        m[i].value = o;
        if (mv->len)
            memcpy(o, mv->data, mv->len);
        o += mv->len;
        *o++ = 0;
        for (size_t e = 0; e < n_ext && m[i].type == STRATA_MATCH_EQ; e++)
            if (!strcmp(ext[e].name, m[i].name) && !strcmp(ext[e].value, m[i].value))
                m[i].value = o - 1; /* the empty string: its NUL */
    }
    *out = m;
    return STRATA_OK;
}

static int run_query(strata_db *db, const Prometheus__Query *q, const rw_limits *lim, sbuf *qr, sbuf *ts,
                     sbuf *tmp, strata_label **merged, size_t *merged_cap, uint64_t *samples, char *err,
                     size_t errlen)
{
    strata_matcher *m = NULL;
    if (rr_matchers(q, lim->ext, lim->n_ext, &m))
        return STRATA_ERR_NOMEM;
    int64_t mint, maxt;
    if (!rr_query_range(q, &mint, &maxt)) {
        free(m);
        return STRATA_OK; /* the hints leave nothing of the range */
    }
    strata_cursor *c = NULL;
    int rc = strata_select(db, m, q->n_matchers, mint, maxt, &c);
    if (rc) {
        if (rc == STRATA_ERR_INVALID)
            snprintf(err, errlen, "bad matcher (a regular expression that does not compile?)");
        free(m);
        return rc;
    }
    strata_sid sid;
    const strata_label *labels;
    size_t nl;
    while ((rc = strata_cursor_next_series(c, &sid, &labels, &nl)) == 1) {
        sbuf_reset(ts);
        rc = STRATA_OK;
        if (lim->n_ext) {
            if (nl + lim->n_ext > *merged_cap) {
                strata_label *nb = realloc(*merged, (nl + lim->n_ext) * sizeof *nb);
                if (!nb) {
                    rc = STRATA_ERR_NOMEM;
                    break;
                }
                *merged = nb;
                *merged_cap = nl + lim->n_ext;
            }
            nl = el_merge(labels, nl, lim->ext, lim->n_ext, *merged);
            labels = *merged;
        }
        for (size_t i = 0; i < nl && !rc; i++)
            rc = put_label(ts, tmp, labels[i].name, labels[i].value);
        const int64_t *t;
        const double *v;
        size_t n;
        size_t got = 0;
        while (!rc && (rc = strata_cursor_next_samples(c, &t, &v, &n)) == 1) {
            *samples += n;
            got += n;
            if (*samples > lim->max_samples) {
                snprintf(err, errlen, "the answer exceeds the limit of %zu samples", lim->max_samples);
                rc = STRATA_ERR_LIMIT;
                break;
            }
            rc = put_samples(ts, t, v, n);
        }
        if (rc < 0)
            break;
        rc = STRATA_OK;
        if (got && (rc = pb_put_bytes(qr, 0x0a, ts->data, ts->len)) != 0)
            break;
    }
    strata_cursor_close(c);
    free(m);
    return rc < 0 ? rc : STRATA_OK;
}

int rr_execute(strata_db *db, const Prometheus__ReadRequest *req, const rw_limits *lim, uint8_t **out,
               size_t *out_len, uint64_t *samples, char *err, size_t errlen)
{
    sbuf resp = {0}, qr = {0}, ts = {0}, tmp = {0};
    strata_label *merged = NULL; /* a series' labels with the external ones */
    size_t merged_cap = 0;
    uint64_t n_samples = 0;
    int rc = STRATA_OK;
    for (size_t i = 0; i < req->n_queries && !rc; i++) {
        sbuf_reset(&qr);
        rc = run_query(db, req->queries[i], lim, &qr, &ts, &tmp, &merged, &merged_cap, &n_samples, err, errlen);
        if (!rc)
            rc = pb_put_bytes(&resp, 0x0a, qr.data, qr.len);
    }
    if (rc)
        goto out;
    size_t cap = snappy_max_compressed_length(resp.len);
    uint8_t *z = malloc(cap ? cap : 1);
    if (!z) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    if (snappy_compress((const char *)resp.data, resp.len, (char *)z, &cap) != SNAPPY_OK) {
        free(z);
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    *out = z;
    *out_len = cap;
    *samples = n_samples;
out:
    sbuf_free(&resp);
    sbuf_free(&qr);
    sbuf_free(&ts);
    sbuf_free(&tmp);
    free(merged);
    return rc;
}

char *rw_metadata_text(const ProtobufCBinaryData *d, int *nomem)
{
    if (d->len > 65536 || (d->len && memchr(d->data, 0, d->len)))
        return NULL;
    char *s = malloc(d->len + 1);
    if (!s) {
        *nomem = 1;
        return NULL;
    }
    if (d->len)
        memcpy(s, d->data, d->len);
    s[d->len] = 0;
    return s;
}

int rw_store_metadata(strata_db *db, const rw_write *w, size_t *skipped)
{
    static const char *const types[] = {"unknown", "counter", "gauge", "histogram",
                                        "gaugehistogram", "summary", "info", "stateset"};
    const Prometheus__WriteRequest *req = w->msg;
    *skipped = 0;
    if (!req->n_metadata)
        return STRATA_OK;
    strata_metadata *e = calloc(req->n_metadata, sizeof *e);
    if (!e)
        return STRATA_ERR_NOMEM;
    size_t n = 0;
    int nomem = 0;
    for (size_t i = 0; i < req->n_metadata && !nomem; i++) {
        const Prometheus__MetricMetadata *m = req->metadata[i];
        strata_metadata *x = &e[n];
        x->metric = rw_metadata_text(&m->metric_family_name, &nomem);
        x->help = rw_metadata_text(&m->help, &nomem);
        x->unit = rw_metadata_text(&m->unit, &nomem);
        x->type = (unsigned)m->type < sizeof types / sizeof types[0] ? types[m->type] : NULL;
        if (x->metric && *x->metric && x->help && x->unit && x->type) {
            n++;
            continue;
        }
        free((char *)x->metric);
        free((char *)x->help);
        free((char *)x->unit);
        ++*skipped;
    }
    /* all at once (one durable rewrite when something is new); should one
     * be refused (text not UTF-8), each alone so the others are kept */
    int rc = nomem ? STRATA_ERR_NOMEM : strata_metadata_put(db, e, n);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        rc = STRATA_OK;
        for (size_t i = 0; i < n && !rc; i++) {
            rc = strata_metadata_put(db, &e[i], 1);
            if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
                ++*skipped;
                rc = STRATA_OK;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)e[i].metric);
        free((char *)e[i].help);
        free((char *)e[i].unit);
    }
    free(e);
    return rc;
}
