/*
 * otlp_json.c: an OTLP/JSON body into an ExportMetricsServiceRequest.
 *
 * jansson parses the body into a tree; the tree is written out as the
 * protobuf it stands for, guided by the generated descriptors, and that
 * is unpacked by otlp_decode_pb, so a JSON request meets the same limits
 * and the same translator as a protobuf one.
 *
 * OTLP/JSON is proto3's JSON mapping with OTLP's exceptions: keys are
 * lowerCamelCase (the proto's snake_case names are taken too), 64-bit
 * integers come as strings or numbers, enums as integers (their names are
 * taken too), doubles as numbers or "NaN", "Infinity", "-Infinity", and
 * unknown keys are ignored. bytes fields (trace and span ids of
 * exemplars, an attribute's bytesValue) are skipped: metrics use none.
 *
 * Memory: jansson allocates through json_set_alloc_funcs, process-wide;
 * the functions charge a per-thread budget (lim->max_objects) while a
 * parse runs on that thread, so a body of small values ("[[],[],...]",
 * each a jansson object of some 50 bytes for 3 bytes of text) is refused
 * with STRATA_ERR_LIMIT instead of taking the machine's memory. The
 * protobuf written is bounded by lim->max_decoded.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"

/* ------------------------------------------------------------ budget */

typedef struct jbudget {
    size_t live, max;
    int over;
} jbudget;

static _Thread_local jbudget *cur_budget;

/* Each block carries its size in a header of 16 bytes (alignment of
 * anything jansson stores). */
#define JHDR 16

static void *j_malloc(size_t n)
{
    jbudget *b = cur_budget;
    if (n > SIZE_MAX - JHDR)
        return NULL;
    size_t total = n + JHDR;
    if (b) {
        if (total > b->max - b->live) {
            b->over = 1;
            return NULL;
        }
        b->live += total;
    }
    unsigned char *p = malloc(total);
    if (!p) {
        if (b)
            b->live -= total;
        return NULL;
    }
    memcpy(p, &total, sizeof total);
    return p + JHDR;
}

static void j_free(void *q)
{
    if (!q)
        return;
    unsigned char *p = (unsigned char *)q - JHDR;
    size_t total;
    memcpy(&total, p, sizeof total);
    jbudget *b = cur_budget;
    if (b)
        b->live = total > b->live ? 0 : b->live - total;
    free(p);
}

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void set_alloc(void) { json_set_alloc_funcs(j_malloc, j_free); }

/* ------------------------------------------------------------ encoder */

/* One buffer per nesting level: a message is written into the buffer of
 * its level, then appended to its parent's with its length. */
typedef struct enc {
    sbuf lv[OTLP_MAX_DEPTH + 2];
    size_t max; /* bytes all levels may hold together */
    char *err;
    size_t errlen;
    int rc; /* first error */
} enc;

static int fail(enc *e, int rc, const char *fmt, const char *a)
{
    if (!e->rc) {
        e->rc = rc;
        snprintf(e->err, e->errlen, fmt, a);
    }
    return -1;
}

static int put(enc *e, int d, const void *p, size_t n)
{
    size_t total = n;
    for (int i = 0; i <= d; i++)
        total += e->lv[i].len;
    if (total > e->max) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", e->max);
        return fail(e, STRATA_ERR_LIMIT, "JSON body encodes to more than the limit of %s bytes of protobuf", lim);
    }
    if (sbuf_append(&e->lv[d], p, n))
        return fail(e, STRATA_ERR_NOMEM, "%s", "out of memory");
    return 0;
}

static int put_varint(enc *e, int d, uint64_t v)
{
    uint8_t tmp[10];
    return put(e, d, tmp, sbuf_uvarint(tmp, v));
}

static int put_key(enc *e, int d, unsigned num, unsigned wt) { return put_varint(e, d, ((uint64_t)num << 3) | wt); }

static int put_fixed(enc *e, int d, uint64_t v, int bytes)
{
    uint8_t tmp[8];
    for (int i = 0; i < bytes; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    return put(e, d, tmp, (size_t)bytes);
}

/* An integer from a JSON number or a decimal string. 0 or -1. */
static int get_int(const json_t *v, int is_signed, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (!is_signed && i < 0)
            return -1;
        *out = (uint64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x != floor(x) || x < (is_signed ? -9223372036854775808.0 : 0) || x >= 18446744073709551616.0 ||
            (is_signed && x >= 9223372036854775808.0))
            return -1;
        *out = is_signed ? (uint64_t)(int64_t)x : (uint64_t)x;
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    if (!*s || json_string_length(v) != strlen(s))
        return -1;
    char *end;
    errno = 0;
    if (is_signed) {
        long long x = strtoll(s, &end, 10);
        *out = (uint64_t)x;
    } else {
        if (*s == '-')
            return -1;
        *out = strtoull(s, &end, 10);
    }
    return errno || *end ? -1 : 0;
}

static int get_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    if (!strcmp(s, "NaN"))
        *out = NAN;
    else if (!strcmp(s, "Infinity"))
        *out = INFINITY;
    else if (!strcmp(s, "-Infinity"))
        *out = -INFINITY;
    else {
        char *end;
        if (!*s)
            return -1;
        *out = strtod(s, &end);
        if (*end)
            return -1;
    }
    return 0;
}

static int message(enc *e, const ProtobufCMessageDescriptor *desc, const json_t *obj, int d);

/* One value of field f (a repeated field's element) at level d. */
static int value(enc *e, const ProtobufCFieldDescriptor *f, const json_t *v, int d)
{
    uint64_t u;
    double x;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_SFIXED64: {
        if (get_int(v, 1, &u))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants an integer", f->name);
        int64_t i = (int64_t)u;
        int is32 = f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_SINT32 ||
                   f->type == PROTOBUF_C_TYPE_SFIXED32;
        if (is32 && (i < INT32_MIN || i > INT32_MAX))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s is out of range", f->name);
        if (f->type == PROTOBUF_C_TYPE_SINT32 || f->type == PROTOBUF_C_TYPE_SINT64)
            return put_key(e, d, f->id, 0) || put_varint(e, d, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
        if (f->type == PROTOBUF_C_TYPE_SFIXED32)
            return put_key(e, d, f->id, 5) || put_fixed(e, d, (uint64_t)i, 4);
        if (f->type == PROTOBUF_C_TYPE_SFIXED64)
            return put_key(e, d, f->id, 1) || put_fixed(e, d, (uint64_t)i, 8);
        return put_key(e, d, f->id, 0) || put_varint(e, d, (uint64_t)i);
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FIXED64:
        if (get_int(v, 0, &u))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants an unsigned integer", f->name);
        if ((f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32) && u > UINT32_MAX)
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s is out of range", f->name);
        if (f->type == PROTOBUF_C_TYPE_FIXED32)
            return put_key(e, d, f->id, 5) || put_fixed(e, d, u, 4);
        if (f->type == PROTOBUF_C_TYPE_FIXED64)
            return put_key(e, d, f->id, 1) || put_fixed(e, d, u, 8);
        return put_key(e, d, f->id, 0) || put_varint(e, d, u);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        if (get_double(v, &x))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants a number", f->name);
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
            float fl = (float)x;
            uint32_t bits;
            memcpy(&bits, &fl, 4);
            return put_key(e, d, f->id, 5) || put_fixed(e, d, bits, 4);
        }
        uint64_t bits;
        memcpy(&bits, &x, 8);
        return put_key(e, d, f->id, 1) || put_fixed(e, d, bits, 8);
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants true or false", f->name);
        return put_key(e, d, f->id, 0) || put_varint(e, d, json_is_true(v));
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_string(v)) {
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
            if (!ev)
                return fail(e, STRATA_ERR_INVALID, "bad JSON: unknown value of enum field %s", f->name);
            u = (uint64_t)(int64_t)ev->value;
        } else if (get_int(v, 1, &u) || (int64_t)u < INT32_MIN || (int64_t)u > INT32_MAX) {
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants an enum number", f->name);
        }
        return put_key(e, d, f->id, 0) || put_varint(e, d, u);
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants a string", f->name);
        size_t n = json_string_length(v);
        return put_key(e, d, f->id, 2) || put_varint(e, d, n) || put(e, d, json_string_value(v), n);
    }
    case PROTOBUF_C_TYPE_BYTES: return 0; /* see above: no metric needs one */
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!json_is_object(v))
            return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants an object", f->name);
        if (d + 1 > OTLP_MAX_DEPTH)
            return fail(e, STRATA_ERR_INVALID, "bad JSON: objects nested deeper than %s", "the limit");
        sbuf_reset(&e->lv[d + 1]);
        if (message(e, f->descriptor, v, d + 1))
            return -1;
        return put_key(e, d, f->id, 2) || put_varint(e, d, e->lv[d + 1].len) ||
               put(e, d, e->lv[d + 1].data, e->lv[d + 1].len);
    }
    return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s has a type not handled", f->name);
}

/* The field a JSON key names: lowerCamelCase or the proto's own name. */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *desc, const char *key)
{
    char snake[128];
    size_t o = 0;
    for (const char *c = key; *c; c++) {
        if (o + 3 > sizeof snake)
            return NULL;
        if (*c >= 'A' && *c <= 'Z') {
            snake[o++] = '_';
            snake[o++] = (char)(*c - 'A' + 'a');
        } else {
            snake[o++] = *c;
        }
    }
    snake[o] = 0;
    return protobuf_c_message_descriptor_get_field_by_name(desc, snake);
}

static int message(enc *e, const ProtobufCMessageDescriptor *desc, const json_t *obj, int d)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const ProtobufCFieldDescriptor *f = field_of(desc, key);
        if (!f || json_is_null(v))
            continue; /* unknown keys are ignored (OTLP/JSON); null is the default */
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!json_is_array(v))
                return fail(e, STRATA_ERR_INVALID, "bad JSON: field %s wants an array", f->name);
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
                if (value(e, f, x, d))
                    return -1;
            }
        } else if (value(e, f, v, d)) {
            return -1;
        }
    }
    return 0;
}

int otlp_decode_json(const uint8_t *body, size_t len, const otlp_limits *lim, otlp_req **out, char *err, size_t errlen)
{
    if (pthread_once(&alloc_once, set_alloc))
        return STRATA_ERR_NOMEM;
    jbudget b = {0, lim->max_objects, 0};
    cur_budget = &b;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body, len, 0, &jerr);
    int rc = STRATA_OK;
    enc e;
    memset(&e, 0, sizeof e);
    e.max = lim->max_decoded;
    e.err = err;
    e.errlen = errlen;
    if (!root) {
        if (b.over) {
            snprintf(err, errlen, "JSON body takes more than the limit of %zu bytes parsed", lim->max_objects);
            rc = STRATA_ERR_LIMIT;
        } else {
            snprintf(err, errlen, "bad JSON: %.100s at line %d column %d", jerr.text, jerr.line, jerr.column);
            rc = STRATA_ERR_INVALID;
        }
    } else if (!json_is_object(root)) {
        snprintf(err, errlen, "bad JSON: not an object (an ExportMetricsServiceRequest)");
        rc = STRATA_ERR_INVALID;
    } else if (message(&e, &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
                       root, 0)) {
        rc = e.rc;
    }
    json_decref(root);
    cur_budget = NULL;
    if (!rc)
        rc = otlp_decode_pb(e.lv[0].data, e.lv[0].len, lim, out, err, errlen);
    for (size_t i = 0; i < sizeof e.lv / sizeof e.lv[0]; i++)
        sbuf_free(&e.lv[i]);
    return rc;
}
