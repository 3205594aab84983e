/*
 * otlp_fuzz_common.h: what the two OTLP fuzz targets share: the checks
 * every sample the translation hands out must pass, and the run of the
 * translation over a decoded request with each naming strategy.
 */
#ifndef STRATA_FUZZ_OTLP_COMMON_H
#define STRATA_FUZZ_OTLP_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "../server/otlp.h"

#define FUZZ_MAX_LABELS 16
#define FUZZ_MAX_LABEL_LEN 256

/* Labels of a sample: within the limits, names non-empty and unique,
 * values non-empty, one __name__. */
static int fuzz_otlp_sink(void *ctx, const strata_label *l, size_t n, int64_t t, double v, const char **why)
{
    (void)ctx;
    (void)t;
    (void)v;
    (void)why;
    if (n > FUZZ_MAX_LABELS)
        abort();
    size_t names = 0;
    for (size_t i = 0; i < n; i++) {
        if (!l[i].name[0] || !l[i].value[0] || strlen(l[i].name) > FUZZ_MAX_LABEL_LEN ||
            strlen(l[i].value) > FUZZ_MAX_LABEL_LEN)
            abort();
        names += !strcmp(l[i].name, "__name__");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l[i].name, l[j].name))
                abort();
    }
    if (names != 1)
        abort();
    return STRATA_OK;
}

static void fuzz_otlp_translate(const otlp_req *r)
{
    for (int st = 0; st < 4; st++) {
        otlp_opts o = {(otlp_strategy)st, FUZZ_MAX_LABELS, FUZZ_MAX_LABEL_LEN};
        otlp_result res;
        if (otlp_translate(r->msg, &o, fuzz_otlp_sink, NULL, &res) != STRATA_OK)
            abort(); /* the sink refuses nothing: only memory could fail */
        if (res.rejected_points > res.points)
            abort();
    }
}

#endif
