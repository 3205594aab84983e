/*
 * fuzz_lineproto.c: the line-protocol parser on arbitrary bytes, split into
 * lines as strata write does, in every precision. Checks beyond "no crash":
 * what a parsed line points to lies inside the input or the parser, the
 * fast path (the structural scan data[0] picks) gives exactly what the
 * reference path gives, and the whole input read as one number through
 * num_parse_double agrees with strtod.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "export/export.h"
#include "ingest/ingest_int.h"

static const char *seeds[] = {
    ("cpu,hostname=host_0,region=eu-west-1 usage_user=47.94715741689967,usage_system=34.618758755463666 1704110400\n"
     "node_cpu_seconds_total,instance=host-00:9100,cpu=0,mode=idle value=222111.78 1704110400\n"),
    "m\\ x\\,y,t\\ k\\=1=v\\,a\\ l=1 f\\ k=1i,u=3u,b=t,B=FALSE,s=\"a \\\" b\" -1\n# comment\n\n",
    "m v=1e-320,w=1.7976931348623157e308,x=-0,y=.5,z=1. 9223372036854775807\r\n",
    "m,a=1,a=2 v=1\nm v=1e400\nm s=\"unterminated\nm v=1 1 2\n",
};

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        n = cap;
    memcpy(out, seeds[i], n);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    strata_precision prec = (strata_precision)(data[0] & 3);
    lp_parser *p = NULL, *ref = NULL;
    if (lp_parser_new(prec, &p) != STRATA_OK)
        return 0;
    if (lp_parser_new(prec, &ref) != STRATA_OK) {
        lp_parser_free(p);
        return 0;
    }
    /* bits 3-4: the structural scan (best, portable, SSE2, AVX2; the best
     * one when the CPU lacks it) */
    static const int impls[4] = {LP_IMPL_BEST, LP_IMPL_SWAR, LP_IMPL_SSE2, LP_IMPL_AVX2};
    if (lp_parser_set_impl(p, impls[(data[0] >> 3) & 3]) != STRATA_OK)
        (void)lp_parser_set_impl(p, LP_IMPL_BEST);
    if (lp_parser_set_impl(ref, LP_IMPL_REF) != STRATA_OK)
        abort();
    if (data[0] & 4) {
        lp_limits lim = {.max_tags = 3, .max_fields = 3, .max_name_len = 8, .max_value_len = 8};
        lp_parser_set_limits(p, &lim);
        lp_parser_set_limits(ref, &lim);
    }
    /* a heap copy so ASan sees any read past the end */
    char *buf = malloc(size - 1 ? size - 1 : 1);
    if (!buf) {
        lp_parser_free(p);
        return 0;
    }
    memcpy(buf, data + 1, size - 1);
    const char *s = buf, *end = buf + size - 1;
    while (s < end) {
        size_t n = lp_line_len(s, (size_t)(end - s));
        lp_line l;
        const char *reason = NULL;
        int rc = lp_parse_line(p, s, n, &l, &reason);
        if (rc < 0 && (rc != STRATA_ERR_INVALID || !reason || !reason[0]))
            abort();
        lp_line rl;
        const char *rreason = NULL;
        int rrc = lp_parse_line(ref, s, n, &rl, &rreason);
        if (rrc != rc || (rc < 0 && strcmp(reason, rreason) != 0))
            abort();
        if (rc == 1) {
            if (rl.measurement_len != l.measurement_len || memcmp(rl.measurement, l.measurement, l.measurement_len) ||
                rl.n_tags != l.n_tags || rl.n_fields != l.n_fields || rl.n_string_fields != l.n_string_fields ||
                rl.has_ts != l.has_ts || rl.ts_ms != l.ts_ms)
                abort();
            for (size_t i = 0; i < l.n_tags; i++)
                if (rl.tags[i].key_len != l.tags[i].key_len || rl.tags[i].val_len != l.tags[i].val_len ||
                    memcmp(rl.tags[i].key, l.tags[i].key, l.tags[i].key_len) ||
                    memcmp(rl.tags[i].val, l.tags[i].val, l.tags[i].val_len))
                    abort();
            for (size_t i = 0; i < l.n_fields; i++)
                if (rl.fields[i].key_len != l.fields[i].key_len ||
                    memcmp(rl.fields[i].key, l.fields[i].key, l.fields[i].key_len) ||
                    memcmp(&rl.fields[i].value, &l.fields[i].value, 8))
                    abort();
        }
        if (rc == 1) {
            if (l.measurement_len == 0)
                abort();
            for (size_t i = 0; i < l.n_tags; i++) {
                if (l.tags[i].key_len == 0 || l.tags[i].val_len == 0)
                    abort();
                /* touch every byte: ASan checks the pointers */
                volatile char c = l.tags[i].key[l.tags[i].key_len - 1];
                c = l.tags[i].val[l.tags[i].val_len - 1];
                (void)c;
            }
            for (size_t i = 0; i < l.n_fields; i++)
                if (l.fields[i].value != l.fields[i].value || l.fields[i].value - l.fields[i].value != 0)
                    abort(); /* NaN or infinity never comes out */
        }
        s += n + 1;
    }
    /* the whole input as one number: num_parse_double agrees with strtod */
    if (size - 1 < 64) {
        char tmp[65];
        memcpy(tmp, data + 1, size - 1);
        tmp[size - 1] = 0;
        double v;
        if (strlen(tmp) == size - 1 && num_parse_double(tmp, size - 1, &v) == STRATA_OK) {
            double w = strtod(tmp, NULL);
            if (memcmp(&v, &w, 8) != 0)
                abort();
        }
    }
    free(buf);
    lp_parser_free(p);
    lp_parser_free(ref);
    return 0;
}
