/* Concurrency: creators racing on overlapping label sets get one sid per
 * set; readers looking up, lending labels and selecting meanwhile always
 * see complete series. Run under TSan with `make test SAN=thread`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "index/index.h"
#include "testutil.h"

#define NSETS 20000
#define WRITERS 3
#define READERS 2

typedef struct shared {
    strata_index *idx;
    _Atomic strata_sid sid_of[NSETS]; /* 0 until some thread created or found it */
    _Atomic int done;
    uint64_t seed;
} shared;

static void labels_of(int i, strata_label l[3], char buf[2][24])
{
    snprintf(buf[0], 24, "h%d", i / 10);
    snprintf(buf[1], 24, "m%d", i % 10);
    l[0] = (strata_label){"host", buf[0]};
    l[1] = (strata_label){"__name__", buf[1]};
    l[2] = (strata_label){"dc", (i & 1) ? "a" : "b"};
}

static void *writer(void *arg)
{
    shared *s = arg;
    test_rng r;
    test_rng_init(&r, s->seed + (uint64_t)pthread_self());
    for (int k = 0; k < NSETS * 2; k++) {
        int i = (int)test_rng_below(&r, NSETS);
        strata_label l[3];
        char buf[2][24];
        labels_of(i, l, buf);
        strata_sid sid;
        if (index_get_or_create(s->idx, l, 3, &sid, NULL) != STRATA_OK)
            return (void *)1;
        strata_sid prev = 0;
        if (!atomic_compare_exchange_strong(&s->sid_of[i], &prev, sid) && prev != sid)
            return (void *)2; /* two sids for one label set */
    }
    return NULL;
}

static void *reader(void *arg)
{
    shared *s = arg;
    test_rng r;
    test_rng_init(&r, s->seed * 31 + (uint64_t)pthread_self());
    while (!atomic_load(&s->done)) {
        int i = (int)test_rng_below(&r, NSETS);
        strata_sid known = atomic_load(&s->sid_of[i]), sid;
        strata_label l[3];
        char buf[2][24];
        labels_of(i, l, buf);
        if (known) {
            if (index_lookup(s->idx, l, 3, &sid) != STRATA_OK || sid != known)
                return (void *)3;
            const strata_label *got;
            size_t n;
            if (index_labels(s->idx, sid, &got, &n) != STRATA_OK || n != 3 || strcmp(got[2].value, buf[0]) != 0)
                return (void *)4;
        }
        strata_matcher m[] = {{STRATA_MATCH_EQ, "host", buf[0]}, {STRATA_MATCH_RE, "__name__", "m[0-4]"}};
        index_sids sel = {0};
        if (index_select(s->idx, m, 2, &sel) != STRATA_OK || sel.n > 5)
            return (void *)5;
        for (size_t k = 0; k < sel.n; k++) {
            const strata_label *got;
            size_t n;
            if (index_labels(s->idx, sel.v[k], &got, &n) != STRATA_OK || strcmp(got[2].value, buf[0]) != 0)
                return (void *)6;
        }
        index_sids_free(&sel);
    }
    return NULL;
}

static void index_concurrent_creators_and_readers_agree(void **state)
{
    (void)state;
    shared *s = calloc(1, sizeof *s);
    s->seed = test_seed(3);
    char *dir = test_tmpdir("idx_threads");
    index_options o;
    index_options_init(&o);
    o.log_buffer_bytes = 1 << 16;
    assert_int_equal(index_open(dir, &o, &s->idx), STRATA_OK);
    pthread_t w[WRITERS], rd[READERS];
    for (int k = 0; k < READERS; k++)
        assert_int_equal(pthread_create(&rd[k], NULL, reader, s), 0);
    for (int k = 0; k < WRITERS; k++)
        assert_int_equal(pthread_create(&w[k], NULL, writer, s), 0);
    for (int k = 0; k < WRITERS; k++) {
        void *ret;
        pthread_join(w[k], &ret);
        assert_null(ret);
    }
    atomic_store(&s->done, 1);
    for (int k = 0; k < READERS; k++) {
        void *ret;
        pthread_join(rd[k], &ret);
        assert_null(ret);
    }
    uint64_t distinct = 0;
    for (int i = 0; i < NSETS; i++)
        distinct += atomic_load(&s->sid_of[i]) != 0;
    assert_int_equal(index_series_count(s->idx), distinct);
    assert_int_equal(index_max_sid(s->idx), distinct);
    assert_int_equal(index_close(s->idx), STRATA_OK);
    /* and the log holds exactly those */
    assert_int_equal(index_open(dir, NULL, &s->idx), STRATA_OK);
    for (int i = 0; i < NSETS; i++) {
        strata_label l[3];
        char buf[2][24];
        labels_of(i, l, buf);
        strata_sid sid, want = atomic_load(&s->sid_of[i]);
        if (want) {
            assert_int_equal(index_lookup(s->idx, l, 3, &sid), STRATA_OK);
            assert_int_equal(sid, want);
        }
    }
    assert_int_equal(index_close(s->idx), STRATA_OK);
    test_rmtree(dir);
    free(dir);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_concurrent_creators_and_readers_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
