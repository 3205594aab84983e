/*
 * fuzz_expfmt.c: the Prometheus text exposition parser of the server
 * (server/expfmt.c), the code POST /api/v1/import/prometheus runs on
 * untrusted bodies, without HTTP.
 *
 * Every sample handed out must satisfy what ef_parse promises: at most
 * max_labels labels, __name__ first, names non-empty and unique, names
 * and values within the length limit; metadata kinds and types from the
 * documented sets. A dry run and a run with callbacks agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../server/expfmt.h"

static const ef_limits lim = {8, 64};

static int on_sample(void *ctx, const strata_label *l, size_t n, double v, int64_t t)
{
    (void)v;
    (void)t;
    if (!n || n > lim.max_labels || strcmp(l[0].name, "__name__"))
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!*l[i].name || strlen(l[i].name) > lim.max_label_len || strlen(l[i].value) > lim.max_label_len)
            abort();
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l[i].name, l[j].name))
                abort();
    }
    ++*(size_t *)ctx;
    return 0;
}

static int on_meta(void *ctx, const char *kind, const char *metric, const char *text)
{
    (void)ctx;
    if (!*metric || (strcmp(kind, "help") && strcmp(kind, "type") && strcmp(kind, "unit")))
        abort();
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "unknown",
                                        "info", "stateset", "gaugehistogram"};
    if (!strcmp(kind, "type")) {
        size_t k = 0;
        while (k < sizeof types / sizeof types[0] && strcmp(types[k], text))
            k++;
        if (k == sizeof types / sizeof types[0])
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    size_t n = 0;
    int dry = ef_parse((const char *)data, size, 1700000000000, &lim, NULL, NULL, NULL, err, sizeof err);
    int full = ef_parse((const char *)data, size, 1700000000000, &lim, on_sample, on_meta, &n, err, sizeof err);
    if (dry != full)
        abort();
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    static const char *const seeds[] = {
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n",
        "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} "
        "1.458255915e9\n# UNIT x_seconds seconds\nx_seconds +Inf\ny NaN -1\n",
        "# TYPE rpc_duration_seconds summary\nrpc_duration_seconds{quantile=\"0.5\",} 4773\r\n"
        "rpc_duration_seconds_sum 1.7560473e+07\n# a comment\n\n",
    };
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        return 0;
    memcpy(out, seeds[i], n);
    return n;
}
