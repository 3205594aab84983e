/* WAL sync policies: with sync=always, concurrent appenders share fsyncs
 * (group commit) and every acknowledged record replays; with interval, the
 * background thread fsyncs without further appends. Run under TSan too
 * (-DSTRATA_SAN=thread). */
#include <pthread.h>
#include <time.h>

#include "wal_testlib.h"

#define THREADS 4
#define PER_THREAD 150

/* An fsync hook that counts, and whose first call waits (bounded) until
 * every thread has written a record: so the first group is guaranteed to
 * have followers, whatever the scheduler does. */
typedef struct hook {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int writes, fsyncs;
    int hold_first_until; /* writes to wait for in the first fsync; 0: no wait */
} hook;

static int hook_pwrite(void *ctx, int fd, const void *p, size_t n, uint64_t off)
{
    hook *h = ctx;
    int rc = base_file_pwrite_all(fd, p, n, off);
    pthread_mutex_lock(&h->mu);
    h->writes++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int hook_fsync(void *ctx, int fd)
{
    hook *h = ctx;
    pthread_mutex_lock(&h->mu);
    if (h->fsyncs == 0 && h->hold_first_until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 10; /* a bound against a hang, not a synchronisation */
        while (h->writes < h->hold_first_until)
            if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
                break;
    }
    h->fsyncs++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return fdatasync(fd) == 0 ? STRATA_OK : STRATA_ERR_IO;
}

typedef struct worker {
    wal *w;
    int id;
    int rc;
} worker;

static void *work(void *arg)
{
    worker *k = arg;
    for (uint32_t i = 0; i < PER_THREAD && k->rc == 0; i++) {
        uint8_t p[64];
        memset(p, (int)(k->id * 37 + i), sizeof p);
        store_u32le(p, (uint32_t)k->id);
        store_u32le(p + 4, i);
        k->rc = wal_append(k->w, 7, p, 8 + i % 50, NULL);
    }
    return NULL;
}

typedef struct seen {
    uint32_t next[THREADS];
    int bad;
    int total;
} seen;

static int seen_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len, wal_pos end)
{
    (void)end;
    seen *s = ctx;
    s->total++;
    if (type != 7 || len < 8) {
        s->bad++;
        return STRATA_OK;
    }
    uint32_t id = load_u32le(p), i = load_u32le(p + 4);
    /* Each thread's records appear in its own order, none missing. */
    if (id >= THREADS || i != s->next[id] || len != 8 + i % 50)
        s->bad++;
    else
        s->next[id]++;
    return STRATA_OK;
}

static void wal_group_commit_shares_fsyncs_between_threads(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-gc");
    hook h = {.hold_first_until = THREADS};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    base_vfs io = *base_vfs_posix();
    io.pwrite = hook_pwrite;
    io.fdatasync = hook_fsync;
    io.ctx = &h;
    /* Small segments: rotation happens under concurrency too. */
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_ALWAYS, 1024, 8192);
    o.vfs = &io;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    pthread_t t[THREADS];
    worker k[THREADS];
    for (int i = 0; i < THREADS; i++) {
        k[i] = (worker){w, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &k[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].rc, STRATA_OK);
    }
    wal_stats ws;
    wal_stats_get(w, &ws);
    assert_int_equal(ws.appends, THREADS * PER_THREAD);
    assert_int_equal(ws.fsyncs, (uint64_t)h.fsyncs);
    print_message("group commit: %d appends, %d fsyncs, %llu segments\n", THREADS * PER_THREAD, h.fsyncs,
                  (unsigned long long)ws.segments);
    /* The first group alone saves THREADS - 2 fsyncs. */
    assert_true(h.fsyncs <= THREADS * PER_THREAD - (THREADS - 2));
    assert_true(ws.segments > 1);
    assert_int_equal(wal_close(w), STRATA_OK);

    seen s = {0};
    o.vfs = NULL;
    wal *w2 = NULL;
    assert_int_equal(wal_open(&o, &w2), STRATA_OK);
    assert_int_equal(wal_replay(w2, (wal_pos){0, 0}, seen_cb, &s, NULL), STRATA_OK);
    assert_int_equal(wal_close(w2), STRATA_OK);
    assert_int_equal(s.bad, 0);
    assert_int_equal(s.total, THREADS * PER_THREAD);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(s.next[i], PER_THREAD);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    test_rmtree(dir);
    free(dir);
}

static void wal_interval_policy_fsyncs_in_the_background(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-iv");
    hook h = {0};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    base_vfs io = *base_vfs_posix();
    io.pwrite = hook_pwrite;
    io.fdatasync = hook_fsync;
    io.ctx = &h;
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_INTERVAL, 0, 0);
    o.sync_interval_ms = 20;
    o.vfs = &io;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    for (int i = 0; i < 10; i++)
        assert_int_equal(wal_append(w, 1, "abc", 3, NULL), STRATA_OK);
    /* No fsync on the append path: only the thread may do it. Wait for it
     * (bounded), signalled by the hook. */
    pthread_mutex_lock(&h.mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while (h.fsyncs == 0)
        if (pthread_cond_timedwait(&h.cv, &h.mu, &ts) != 0)
            break;
    int f = h.fsyncs;
    pthread_mutex_unlock(&h.mu);
    assert_true(f >= 1);
    assert_int_equal(wal_close(w), STRATA_OK);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_group_commit_shares_fsyncs_between_threads),
        cmocka_unit_test(wal_interval_policy_fsyncs_in_the_background),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
