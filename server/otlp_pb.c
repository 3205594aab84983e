/*
 * otlp_pb.c: an OTLP protobuf body into an ExportMetricsServiceRequest.
 *
 * protobuf-c unpacks nested messages by recursion, half a kilobyte of
 * stack a level, and OTLP's AnyValue nests without end (arrays and
 * key-value lists of AnyValue): a few kilobytes of body could run a
 * worker thread off its stack. walk() reads the wire format first,
 * guided by the descriptors, and refuses a body nested deeper than
 * OTLP_MAX_DEPTH messages or not even well-formed; then pb_unpack
 * (remote.c) builds the objects in an arena of lim->max_objects bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"

/* Reads a varint at *p (< end). 0, or -1 when truncated or over 10 bytes. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* Checks raw[0, n) is a well-formed message of desc, its messages nested
 * at most OTLP_MAX_DEPTH - depth further. 0 or -1 (*deep says why). */
static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n, int depth, int *deep)
{
    if (depth > OTLP_MAX_DEPTH) {
        *deep = 1;
        return -1;
    }
    const uint8_t *end = p + n;
    while (p < end) {
        uint64_t key, len;
        if (get_varint(&p, end, &key))
            return -1;
        unsigned wt = (unsigned)(key & 7);
        uint64_t num = key >> 3;
        switch (wt) {
        case 0:
            if (get_varint(&p, end, &len))
                return -1;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return -1;
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return -1;
            p += 4;
            break;
        case 2: {
            if (get_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return -1;
            const ProtobufCFieldDescriptor *f =
                num && num <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)num) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && walk(f->descriptor, p, (size_t)len, depth + 1, deep))
                return -1;
            /* protobuf-c hands strings over as C strings: a NUL inside
             * would cut a name or value short and store another series */
            if (f && f->type == PROTOBUF_C_TYPE_STRING && len && memchr(p, 0, (size_t)len))
                return -1;
            p += len;
            break;
        }
        default: /* groups (3, 4) are not proto3; 6, 7 do not exist */ return -1;
        }
    }
    return 0;
}

int otlp_decode_pb(const uint8_t *body, size_t len, const otlp_limits *lim, otlp_req **out, char *err, size_t errlen)
{
    const ProtobufCMessageDescriptor *desc =
        &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
    if (len > lim->max_decoded) {
        snprintf(err, errlen, "protobuf body of %zu bytes is over the limit of %zu", len, lim->max_decoded);
        return STRATA_ERR_LIMIT;
    }
    int deep = 0;
    if (walk(desc, body, len, 0, &deep)) {
        if (deep)
            snprintf(err, errlen, "bad protobuf: messages nested deeper than %d", OTLP_MAX_DEPTH);
        else
            snprintf(err, errlen,
                     "bad protobuf: not an ExportMetricsServiceRequest (truncated, corrupt, or a NUL in a string)");
        return STRATA_ERR_INVALID;
    }
    otlp_req *r = calloc(1, sizeof *r);
    if (!r)
        return STRATA_ERR_NOMEM;
    ProtobufCMessage *m = NULL;
    int rc = pb_unpack(desc, body, len, lim->max_objects, &m, &r->arena, err, errlen);
    if (rc) {
        free(r);
        return rc;
    }
    r->msg = (otlp_export_req *)m;
    *out = r;
    return STRATA_OK;
}

void otlp_free(otlp_req *r)
{
    if (!r)
        return;
    pb_arena_free(r->arena); /* every object of r->msg is in it */
    free(r);
}
