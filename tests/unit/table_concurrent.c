/*
 * table_concurrent.c: one table read by several threads at once (each with
 * its own iterator and scan, sharing stats counters) while the owner marks
 * it obsolete and lets go: every thread reads exactly the data, and the file
 * is unlinked only after the last reader's unref. Meant for TSan too.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "table_testdata.h"

#define THREADS 4

typedef struct reader_arg {
    table *t;
    const td_set *d;
    int rounds;
    int ok;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    table_iter it;
    table_iter_init(&it);
    int ok = 1;
    for (int r = 0; r < a->rounds && ok; r++) {
        for (size_t i = 0; i < a->d->n_series && ok; i++) {
            const td_series *s = &a->d->s[i];
            const int64_t *ts;
            const double *v;
            size_t n, k = 0;
            ok = table_iter_seek(&it, a->t, s->sid, INT64_MIN, INT64_MAX) == STRATA_OK;
            int rc;
            while (ok && (rc = table_iter_next(&it, &ts, &v, &n)) == 1)
                for (size_t j = 0; j < n && ok; j++, k++)
                    ok = k < s->n && ts[j] == s->ts[k] && td_u64(v[j]) == td_u64(s->v[k]);
            ok = ok && rc == 0 && k == s->n;
        }
    }
    table_iter_free(&it);
    a->ok = ok;
    table_unref(a->t); /* the reference the spawner took for this thread */
    return NULL;
}

static void table_readers_share_a_table_and_the_last_unref_deletes_it(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(31));
    size_t sizes[] = {100, 1, 37, 250};
    td_set d = td_make(&r, 40, sizes, 4);
    char *dir = test_tmpdir("table_conc");
    td_write(&r, &d, dir, 1, 32, NULL);
    char *path = td_path(dir, 1);
    table_stats st = {0};
    table *t;
    assert_int_equal(table_open(path, &st, &t, NULL, 0), STRATA_OK);
    uint64_t blocks = table_get_meta(t)->blocks;
    pthread_t th[THREADS];
    reader_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (reader_arg){.t = t, .d = &d, .rounds = 20};
        table_ref(t);
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    table_mark_obsolete(t);
    table_unref(t); /* the owner's reference: readers keep the file */
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_true(args[i].ok);
    }
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0); /* gone with the last reader */
    /* every round of every reader decoded every block once */
    assert_int_equal(atomic_load(&st.blocks_read), THREADS * 20 * blocks);
    free(path);
    test_rmtree(dir);
    free(dir);
    td_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_readers_share_a_table_and_the_last_unref_deletes_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
