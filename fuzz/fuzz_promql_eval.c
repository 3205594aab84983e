/* fuzz_promql_eval.c: evaluates any text as a PromQL query, instant and
 * range, over a small fixed database (counters, gauges, histogram buckets,
 * gaps and staleness markers) made once in a temporary directory. Any
 * answer or error is fine; a crash, a leak, a sanitizer report or a status
 * outside the documented ones is a finding. target_info series give
 * info() something to join. Limits (samples, time) keep
 * each input cheap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

static strata_db *fixed(void)
{
    static strata_db *db;
    if (db)
        return db;
    char tmpl[] = "/tmp/fuzz_promql_evalXXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir)
        abort();
    strata_options o;
    strata_options_init(&o);
    o.dir = dir;
    o.sync = STRATA_SYNC_NONE;
    o.compaction_threads = 0;
    if (strata_open(&o, &db) != STRATA_OK)
        abort();
    static const char *names[] = {"up", "req_total", "cpu", "lat_bucket", "target_info"};
    static const char *les[] = {"0.1", "0.5", "1", "+Inf"};
    uint64_t stale_bits = 0x7ff0000000000002ull;
    double stale;
    memcpy(&stale, &stale_bits, sizeof stale);
    for (int m = 0; m < 5; m++) {
        for (int i = 0; i < 4; i++) {
            char inst[8];
            snprintf(inst, sizeof inst, "%d", i);
            strata_label l[] = {{"__name__", names[m]}, {"instance", inst}, {"job", i % 2 ? "api" : "db"},
                                {m == 4 ? "version" : "le", m == 3 ? les[i] : m == 4 ? les[3 - i] : ""}};
            strata_sid sid;
            if (strata_series_get_or_create(db, l, m >= 3 ? 4 : 3, &sid, NULL) != STRATA_OK)
                abort();
            strata_sample s[64];
            size_t n = 0;
            for (int k = 0; k < 64; k++) {
                if ((k + i) % 9 == 4)
                    continue; /* gaps */
                double v = m == 1 ? k * (i + 1) % 50 : m == 3 ? k * (i + 1) : (k * 7 + i) % 13 - 3;
                if (m == 0 && k == 40 + i)
                    v = stale;
                s[n++] = (strata_sample){sid, 1700000000000 + k * 15000, v};
            }
            if (strata_write(db, s, n) != STRATA_OK)
                abort();
        }
    }
    return db;
}

static void check(int rc, strata_result *r)
{
    switch (rc) {
    case STRATA_OK:
        strata_result_free(r);
        return;
    case STRATA_ERR_INVALID:
    case STRATA_ERR_LIMIT:
    case STRATA_ERR_CANCELLED:
        return;
    default:
        fprintf(stderr, "unexpected status %d\n", rc);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_db *db = fixed();
    strata_query_options o;
    strata_query_options_init(&o);
    o.max_samples = 200000;
    o.timeout_ms = 2000;
    strata_result *r = NULL;
    strata_query_error err;
    const char *text = (const char *)data;
    int rc = strata_query_instant(db, text, size, 1700000000000 + 600000, &o, &r, &err);
    check(rc, r);
    r = NULL;
    rc = strata_query_range(db, text, size, 1700000000000, 1700000000000 + 960000, 60000, &o, &r, &err);
    check(rc, r);
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    static const char *seeds[] = {
        "sum by (instance) (rate(req_total[5m]))",
        "100 * (1 - avg by (instance) (rate(cpu{job=\"api\"}[5m])))",
        "topk(2, cpu) or bottomk(1, up)",
        "count(cpu > 3) + on() group_left vector(1)",
        "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[2m])))",
        "max_over_time(deriv(cpu[1m])[5m:30s] offset 1m)",
        "label_replace(up, \"x\", \"$1\", \"instance\", \"(.*)\") * ignoring(x) up",
        "quantile_over_time(0.5, up[10m] @ start()) unless absent(nope)",
    };
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        n = cap;
    memcpy(out, seeds[i], n);
    return n;
}
