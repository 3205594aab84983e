/* Times are thread CPU time (see cpu_ns). The index at scale, devops-like label sets (11 labels, 10 metrics per
 * host): creation rate, lookup time per hit, memory per series, sync and
 * load time at open, a few selections. Prints the figures; asserts the
 * answers. SCALE_SERIES is 200k here, 1M in index_scale_long.c. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "index/index.h"
#include "testutil.h"

#ifndef SCALE_SERIES
#define SCALE_SERIES 200000
#endif
#define SAMPLE 65536

static const char *METRICS[] = {"cpu_usage_user", "cpu_usage_system", "cpu_usage_idle", "cpu_usage_nice",
                                "cpu_usage_iowait", "cpu_usage_irq", "cpu_usage_softirq", "cpu_usage_steal",
                                "cpu_usage_guest", "cpu_usage_guest_nice"};
static const char *REGIONS[] = {"us-east-1", "us-west-1", "us-west-2", "eu-west-1",
                                "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1"};
static const char *OS[] = {"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"};
static const char *ARCH[] = {"x64", "x86"};
static const char *TEAM[] = {"SF", "NYC", "LON", "CHI"};
static const char *ENV[] = {"production", "staging", "test"};

typedef struct gen {
    char host[32], dc[32], rack[8], svc[8], ver[4];
    strata_label l[11];
} gen;

/* Labels of series i, in canonical order. */
static void make(gen *g, uint64_t i)
{
    uint64_t h = i / 10;
    snprintf(g->host, sizeof g->host, "host_%llu", (unsigned long long)h);
    snprintf(g->dc, sizeof g->dc, "%s%c", REGIONS[h % 8], (char)('a' + h % 3));
    snprintf(g->rack, sizeof g->rack, "%llu", (unsigned long long)(h % 100));
    snprintf(g->svc, sizeof g->svc, "%llu", (unsigned long long)(h % 20));
    snprintf(g->ver, sizeof g->ver, "%llu", (unsigned long long)(h % 2));
    g->l[0] = (strata_label){"__name__", METRICS[i % 10]};
    g->l[1] = (strata_label){"arch", ARCH[h % 2]};
    g->l[2] = (strata_label){"datacenter", g->dc};
    g->l[3] = (strata_label){"hostname", g->host};
    g->l[4] = (strata_label){"os", OS[h % 3]};
    g->l[5] = (strata_label){"rack", g->rack};
    g->l[6] = (strata_label){"region", REGIONS[h % 8]};
    g->l[7] = (strata_label){"service", g->svc};
    g->l[8] = (strata_label){"service_environment", ENV[h % 3]};
    g->l[9] = (strata_label){"service_version", g->ver};
    g->l[10] = (strata_label){"team", TEAM[h % 4]};
}

static double rss_mb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (double)rss * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

static double secs(uint64_t a, uint64_t b) { return (double)(b - a) / 1e9; }

/* CPU time of this thread, ns: the machine is shared, so wall time
 * measures the neighbours too; CPU time (user + system) does not. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void index_scale_figures(void **state)
{
    (void)state;
    const uint64_t N = SCALE_SERIES;
    char *dir = test_tmpdir("idx_scale");
    strata_index *idx;
    double rss0 = rss_mb();
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    gen g;
    uint64_t t0 = cpu_ns();
    for (uint64_t i = 0; i < N; i++) {
        make(&g, i);
        strata_sid sid;
        int created;
        assert_int_equal(index_get_or_create(idx, g.l, 11, &sid, &created), STRATA_OK);
        if (sid != i + 1 || !created)
            fail_msg("series %llu got sid %llu", (unsigned long long)i, (unsigned long long)sid);
    }
    uint64_t t1 = cpu_ns();
    double rss1 = rss_mb();
    index_stats st;
    index_get_stats(idx, &st);
    printf("create: %llu series in %.3f s = %.0f ns/series (write(2) per creation)\n", (unsigned long long)N,
           secs(t0, t1), (double)(t1 - t0) / (double)N);
    printf("memory: %.1f bytes/series (index accounting), %.1f bytes/series (RSS delta); %llu names, %llu pairs\n",
           (double)st.memory_bytes / (double)N, (rss1 - rss0) * 1e6 / (double)N, (unsigned long long)st.names,
           (unsigned long long)st.pairs);
    printf("series.log: %llu bytes = %.1f bytes/series\n", (unsigned long long)st.log_bytes,
           (double)st.log_bytes / (double)N);

    /* Lookups of existing series: a random sample, labels prebuilt. */
    gen *sample = malloc(SAMPLE * sizeof *sample);
    uint64_t *hash = malloc(SAMPLE * sizeof *hash);
    strata_sid *want = malloc(SAMPLE * sizeof *want);
    test_rng r;
    test_rng_init(&r, test_seed(5));
    for (int k = 0; k < SAMPLE; k++) {
        uint64_t i = test_rng_below(&r, N);
        make(&sample[k], i);
        hash[k] = index_labels_hash(sample[k].l, 11);
        want[k] = i + 1;
    }
    const int ROUNDS = 8;
    uint64_t bad = 0;
    t0 = cpu_ns();
    for (int rd = 0; rd < ROUNDS; rd++)
        for (int k = 0; k < SAMPLE; k++) {
            strata_sid sid = 0;
            bad += index_lookup_hashed(idx, sample[k].l, 11, hash[k], &sid) != STRATA_OK || sid != want[k];
        }
    t1 = cpu_ns();
    assert_int_equal(bad, 0);
    printf("lookup hit, hash precomputed, random over all series: %.1f ns\n",
           (double)(t1 - t0) / (ROUNDS * (double)SAMPLE));
    /* A hot set (1000 series, as a batch of a few hosts): in cache. */
    t0 = cpu_ns();
    for (int rd = 0; rd < ROUNDS * 64; rd++)
        for (int k = 0; k < 1000; k++) {
            strata_sid sid = 0;
            bad += index_lookup_hashed(idx, sample[k].l, 11, hash[k], &sid) != STRATA_OK || sid != want[k];
        }
    t1 = cpu_ns();
    assert_int_equal(bad, 0);
    printf("lookup hit, hash precomputed, hot set of 1000: %.1f ns\n", (double)(t1 - t0) / (ROUNDS * 64 * 1000.0));
    t0 = cpu_ns();
    for (int rd = 0; rd < ROUNDS; rd++)
        for (int k = 0; k < SAMPLE; k++) {
            strata_sid sid = 0;
            int created = 1;
            bad += index_get_or_create(idx, sample[k].l, 11, &sid, &created) != STRATA_OK || sid != want[k] ||
                   created;
        }
    t1 = cpu_ns();
    assert_int_equal(bad, 0);
    printf("get_or_create hit, hash computed, random: %.1f ns\n", (double)(t1 - t0) / (ROUNDS * (double)SAMPLE));
    /* Unsorted input costs a sort on the first candidate. */
    for (int k = 0; k < SAMPLE; k++) {
        strata_label t = sample[k].l[0];
        sample[k].l[0] = sample[k].l[10];
        sample[k].l[10] = t;
    }
    t0 = cpu_ns();
    for (int k = 0; k < SAMPLE; k++) {
        strata_sid sid = 0;
        bad += index_lookup_hashed(idx, sample[k].l, 11, hash[k], &sid) != STRATA_OK || sid != want[k];
    }
    t1 = cpu_ns();
    assert_int_equal(bad, 0);
    printf("lookup hit, unsorted input: %.1f ns\n", (double)(t1 - t0) / (double)SAMPLE);

    /* Selections. */
    struct {
        const char *what;
        strata_matcher m[2];
        size_t n;
        uint64_t want;
    } q[] = {
        {"__name__=cpu_usage_user (10%)", {{STRATA_MATCH_EQ, "__name__", "cpu_usage_user"}}, 1, N / 10},
        {"hostname=host_7", {{STRATA_MATCH_EQ, "hostname", "host_7"}}, 1, 10},
        {"hostname=~host_1.* & name=cpu_usage_idle",
         {{STRATA_MATCH_RE, "hostname", "host_1.*"}, {STRATA_MATCH_EQ, "__name__", "cpu_usage_idle"}}, 2, 0},
        {"region=~eu-.+|us-west-1 (3/8)", {{STRATA_MATCH_RE, "region", "eu-west-1|eu-central-1|us-west-1"}}, 1,
         0},
        {"rack=~[0-4][0-9] (regex, 50%)", {{STRATA_MATCH_RE, "rack", "[0-4][0-9]|[0-9]"}}, 1, N / 2},
        {"team!=SF (75%)", {{STRATA_MATCH_NEQ, "team", "SF"}}, 1, N - N / 4},
    };
    for (size_t k = 0; k < ARRAY_LEN(q); k++) {
        index_sids s = {0};
        t0 = cpu_ns();
        assert_int_equal(index_select(idx, q[k].m, q[k].n, &s), STRATA_OK);
        t1 = cpu_ns();
        if (q[k].want)
            assert_int_equal(s.n, q[k].want);
        printf("select %-45s %8zu series in %8.3f ms\n", q[k].what, s.n, (double)(t1 - t0) / 1e6);
        index_sids_free(&s);
    }
    index_strs vals = {0};
    t0 = cpu_ns();
    assert_int_equal(index_label_values(idx, "hostname", NULL, 0, NULL, &vals), STRATA_OK);
    t1 = cpu_ns();
    assert_int_equal(vals.n, (N + 9) / 10);
    printf("label_values hostname: %zu values in %.3f ms\n", vals.n, (double)(t1 - t0) / 1e6);
    index_strs_free(&vals);

    t0 = cpu_ns();
    assert_int_equal(index_sync(idx), STRATA_OK);
    t1 = cpu_ns();
    printf("sync: %.3f ms\n", (double)(t1 - t0) / 1e6);
    assert_int_equal(index_close(idx), STRATA_OK);

    t0 = cpu_ns();
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    t1 = cpu_ns();
    assert_int_equal(index_series_count(idx), N);
    index_get_stats(idx, &st);
    assert_int_equal(st.load_truncated_bytes, 0);
    printf("open (load series.log): %.3f s for %llu series\n", secs(t0, t1), (unsigned long long)N);
    for (int k = 0; k < SAMPLE; k += 97) {
        strata_sid sid = 0;
        assert_int_equal(index_lookup_hashed(idx, sample[k].l, 11, hash[k], &sid), STRATA_OK);
        assert_int_equal(sid, want[k]);
    }
    assert_int_equal(index_close(idx), STRATA_OK);
    free(sample);
    free(hash);
    free(want);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_scale_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
