/*
 * db_crash.c: a writer killed with SIGKILL at random moments, many times
 * over, loses no acknowledged write and leaves a database that opens and
 * verifies.
 *
 * The same executable is the writer: `test_db_crash --writer DIR START
 * BUDGET LEVELED COLD_MS` opens DIR with sync=always, writes batch START, START+1, ... and
 * prints "ack N" (flushed) after strata_write(batch N) returned STRATA_OK.
 * Batch N is a pure function of N (series, timestamps and value bits), so
 * the test knows the truth without any state: every sample of every acked
 * batch must be there, bit-exact, and nothing else may be there but the
 * batch in flight when the kill came. Every 50th operation is a delete of
 * the batch 49 before it: once acknowledged, those samples never come back.
 * Every 10th batch creates a new series first (series records in the WAL
 * and the index log get torn by kills too).
 *
 * Timestamps are scrambled inside windows of 16 batches (out-of-order
 * writes), span several 1-minute partitions, and the head budget is chosen
 * per round (tiny: a flush after almost every batch, so many kills land
 * inside a flush; medium; default: no flush), with one compaction thread,
 * the tiered or leveled planner and sometimes a 20 ms cold_ms (partitions
 * left behind get a full compaction at once), so kills land inside
 * compactions too, and (options.manifest_rewrite_bytes) inside
 * manifest rewrites.
 *
 * After each kill the test opens the directory itself (recovery), reads
 * everything back, closes, and runs strata_verify_dir and, when the strata
 * binary is beside this test, `strata verify -d DIR`.
 *
 * Rounds: STRATA_CRASH_KILLS (default CRASH_DEFAULT_KILLS); seed:
 * STRATA_SEED. db_crash_long.c is the same test with hundreds of kills.
 */
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "db_testlib.h"

#ifndef CRASH_DEFAULT_KILLS
#define CRASH_DEFAULT_KILLS 30
#endif

#define CRASH_SERIES 8
#define CRASH_PER_BATCH 8
#define CRASH_T0 1700000000000LL
#define CRASH_PARTITION_MS 60000

/* Batch n's window-scrambled slot: a bijection on each window of 16. */
static uint64_t slot_of(uint64_t n) { return (n & ~15ull) | ((n * 5 + 3) & 15); }
static uint64_t batch_of_slot(uint64_t s)
{
    /* inverse of x -> 5x+3 mod 16 is x -> 13(x-3) mod 16 */
    return (s & ~15ull) | ((13 * ((s & 15) + 16 - 3)) & 15);
}

static int series_of(uint64_t n, unsigned j) { return (int)((n + j) % CRASH_SERIES); }
static int64_t time_of(uint64_t n, unsigned j) { return CRASH_T0 + (int64_t)slot_of(n) * 1000 + j; }
static uint64_t value_of(uint64_t n, unsigned j)
{
    uint64_t b = test_mix(n * 131 + j);
    /* now and then a special value: NaN payload, -0.0, an infinity */
    switch (b % 23) {
    case 0: return 0x7ff0000000000002ull;
    case 1: return 0x8000000000000000ull;
    case 2: return 0x7ff0000000000000ull;
    default: return b;
    }
}

/* Every 50th operation is a delete of the batch 49 before it. */
#define CRASH_DELETE_EVERY 50
static int is_delete(uint64_t n) { return n % CRASH_DELETE_EVERY == CRASH_DELETE_EVERY - 1; }
/* Batch m is deleted by operation m + 49 (when m % 50 == 0). */
static int deleted_by(uint64_t m, uint64_t *op)
{
    if (m % CRASH_DELETE_EVERY != 0)
        return 0;
    *op = m + CRASH_DELETE_EVERY - 1;
    return 1;
}

/* Every 10th batch (n % 10 == 5) also creates a series "n<N>" and writes
 * sample #CRASH_PER_BATCH of the batch into it. */
static int has_new_series(uint64_t n) { return n % 10 == 5; }
#define SLOTS (CRASH_PER_BATCH + 1)

/* ------------------------------------------------------------ writer */

static void writer_opts(strata_options *o, const char *dir, uint64_t budget, int leveled, int64_t cold_ms)
{
    strata_options_init(o);
    o->dir = dir;
    o->sync = STRATA_SYNC_ALWAYS;
    o->partition_ms = CRASH_PARTITION_MS;
    if (budget)
        o->head_budget_bytes = budget; /* 0: the default */
    o->compaction_threads = 1;
    o->planner = leveled ? STRATA_PLANNER_LEVELED : STRATA_PLANNER_TIERED;
    if (cold_ms)
        o->cold_ms = cold_ms; /* small: partitions left behind are compacted at once */
    o->block_samples = 16;
    o->wal_segment_bytes = 64 << 10;
}

static int writer_main(const char *dir, uint64_t start, uint64_t budget, int leveled, int64_t cold_ms)
{
    strata_options o;
    writer_opts(&o, dir, budget, leveled, cold_ms);
    /* rewrite the manifest when it passes a few KB, so kills also land
     * inside manifest rewrites (half of the rounds) */
    if (cold_ms)
        o.manifest_rewrite_bytes = 2048;
    strata_db *db;
    int rc = strata_open(&o, &db);
    if (rc) {
        fprintf(stderr, "writer: open: %s\n", strata_strerror(rc));
        return 3;
    }
    strata_sid sids[CRASH_SERIES];
    for (int k = 0; k < CRASH_SERIES; k++) {
        char v[16];
        snprintf(v, sizeof v, "%d", k);
        strata_label l[2] = {{"__name__", "crash"}, {"s", v}};
        rc = strata_series_get_or_create(db, l, 2, &sids[k], NULL);
        if (rc) {
            fprintf(stderr, "writer: series: %s\n", strata_strerror(rc));
            return 3;
        }
    }
    printf("ready\n");
    fflush(stdout);
    for (uint64_t n = start;; n++) {
        if (is_delete(n)) {
            /* deletes exactly the samples of batch n - 49 (no other batch
             * has timestamps in that window) */
            uint64_t m = n - (CRASH_DELETE_EVERY - 1);
            strata_matcher dm = {STRATA_MATCH_EQ, "__name__", "crash"};
            rc = strata_delete(db, &dm, 1, time_of(m, 0), time_of(m, CRASH_PER_BATCH - 1));
            if (rc) {
                fprintf(stderr, "writer: delete %" PRIu64 ": %s\n", n, strata_strerror(rc));
                return 3;
            }
            printf("ack %" PRIu64 "\n", n);
            fflush(stdout);
            continue;
        }
        strata_sample b[CRASH_PER_BATCH + 1];
        for (unsigned j = 0; j < CRASH_PER_BATCH; j++) {
            b[j].sid = sids[series_of(n, j)];
            b[j].t_ms = time_of(n, j);
            b[j].value = dbt_from_bits(value_of(n, j));
        }
        size_t nb = CRASH_PER_BATCH;
        if (has_new_series(n)) {
            /* a series created in this run: its record goes to the WAL and
             * the index log just before the batch */
            char v[32];
            snprintf(v, sizeof v, "n%" PRIu64, n);
            strata_label l[2] = {{"__name__", "crash"}, {"s", v}};
            strata_sid sid;
            rc = strata_series_get_or_create(db, l, 2, &sid, NULL);
            if (rc) {
                fprintf(stderr, "writer: series n%" PRIu64 ": %s\n", n, strata_strerror(rc));
                return 3;
            }
            b[nb].sid = sid;
            b[nb].t_ms = time_of(n, CRASH_PER_BATCH);
            b[nb].value = dbt_from_bits(value_of(n, CRASH_PER_BATCH));
            nb++;
        }
        rc = strata_write(db, b, nb);
        if (rc) {
            fprintf(stderr, "writer: write %" PRIu64 ": %s\n", n, strata_strerror(rc));
            return 3;
        }
        printf("ack %" PRIu64 "\n", n);
        fflush(stdout);
    }
}

/* ------------------------------------------------------------ the test */

typedef struct crash_state {
    char *dir;
    char self[4096];
    char cli[4096]; /* the strata binary beside this test, "" when absent */
    test_rng rng;
    int64_t acked; /* highest acked batch, -1 before any */
    uint64_t kills, kills_before_ready, flushed_rounds;
} crash_state;

/* Runs one writer and kills it after a random delay; reads its acks. */
static void crash_round(crash_state *cs, uint64_t max_delay_us)
{
    static const uint64_t budgets[] = {1, 1, 64 << 10, 0};
    uint64_t budget = budgets[test_rng_below(&cs->rng, 4)];
    int leveled = (int)test_rng_below(&cs->rng, 2);
    int64_t cold_ms = test_rng_below(&cs->rng, 2) ? 20 : 0;
    /* delay in microseconds: sometimes during open/replay, mostly later */
    bool during_open = max_delay_us || test_rng_below(&cs->rng, 4) == 0;
    uint64_t delay_us = max_delay_us ? test_rng_below(&cs->rng, max_delay_us)
                                     : during_open ? test_rng_below(&cs->rng, 20000) : 5000 + test_rng_below(&cs->rng, 120000);
    /* the later kills count their delay from "ready", so a slow start (a
     * sanitizer build, a loaded machine) does not turn them into kills
     * during open; 60 s without "ready" is a hang and ends the wait */
    const int64_t ready_wait_us = 60 * 1000000LL;
    int p[2];
    assert_int_equal(pipe(p), 0);
    char start[32], bud[32], lev[8], cold[32];
    snprintf(start, sizeof start, "%" PRId64, cs->acked + 1);
    snprintf(bud, sizeof bud, "%" PRIu64, budget);
    snprintf(lev, sizeof lev, "%d", leveled);
    snprintf(cold, sizeof cold, "%" PRId64, cold_ms);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(cs->self, cs->self, "--writer", cs->dir, start, bud, lev, cold, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[4096];
    size_t have = 0;
    int ready = 0, eof = 0;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t spent = (now.tv_sec - t0.tv_sec) * 1000000 + (now.tv_nsec - t0.tv_nsec) / 1000;
        int64_t limit = !during_open && !ready ? ready_wait_us : (int64_t)delay_us;
        if (spent >= limit || eof)
            break;
        struct pollfd pf = {p[0], POLLIN, 0};
        int left_ms = (int)((limit - spent + 999) / 1000);
        int r = poll(&pf, 1, left_ms);
        if (r > 0) {
            ssize_t got = read(p[0], buf + have, sizeof buf - 1 - have);
            if (got <= 0) {
                eof = 1;
                break;
            }
            have += (size_t)got;
            buf[have] = 0;
            char *nl;
            while ((nl = memchr(buf, '\n', have))) {
                *nl = 0;
                uint64_t n;
                if (sscanf(buf, "ack %" SCNu64, &n) == 1) {
                    assert_int_equal(n, (uint64_t)(cs->acked + 1));
                    cs->acked = (int64_t)n;
                } else if (!strcmp(buf, "ready")) {
                    ready = 1;
                    if (!during_open)
                        clock_gettime(CLOCK_MONOTONIC, &t0);
                }
                size_t used = (size_t)(nl - buf) + 1;
                memmove(buf, nl + 1, have - used);
                have -= used;
            }
        }
    }
    kill(pid, SIGKILL);
    /* acks written before the kill are still in the pipe: they count */
    for (;;) {
        ssize_t got = read(p[0], buf + have, sizeof buf - 1 - have);
        if (got <= 0)
            break;
        have += (size_t)got;
        buf[have] = 0;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            *nl = 0;
            uint64_t n;
            if (sscanf(buf, "ack %" SCNu64, &n) == 1) {
                assert_int_equal(n, (uint64_t)(cs->acked + 1));
                cs->acked = (int64_t)n;
            } else if (!strcmp(buf, "ready")) {
                ready = 1;
            }
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, have - used);
            have -= used;
        }
    }
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("writer ended on its own (status %d) before the kill: see its stderr", status);
    cs->kills++;
    if (!ready)
        cs->kills_before_ready++;
    if (budget == 1)
        cs->flushed_rounds++;
}

static void verify_cb(void *ctx, const char *file, int64_t off, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "verify: %s @%" PRId64 ": %s\n", file, off, msg);
}

/* Opens (recovery), checks every acked batch and nothing foreign, closes,
 * verifies. */
static void crash_check(crash_state *cs)
{
    strata_options o;
    writer_opts(&o, cs->dir, 0, 0, 0);
    o.compaction_threads = 0;
    dbt_log lg = {1};
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    strata_db *db = NULL;
    int orc = strata_open(&o, &db);
    if (orc) {
        char names[1024] = "";
        DIR *d = opendir(cs->dir);
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (de->d_name[0] != '.' && strlen(names) + strlen(de->d_name) + 2 < sizeof names)
                strcat(strcat(names, " "), de->d_name);
        if (d)
            closedir(d);
        fail_msg("after kill %" PRIu64 " (acked %" PRId64 ") the directory does not open: %s; it holds:%s",
                 cs->kills, cs->acked, strata_strerror(orc), names);
    }
    dbt_set got = {0};
    int rc = dbt_read_all(db, &got);
    if (rc)
        fail_msg("read after kill %" PRIu64 ": %s", cs->kills, strata_strerror(rc));
    uint64_t nb = (uint64_t)(cs->acked + 2); /* acked batches + the one in flight */
    uint8_t *seen = calloc(nb * SLOTS, 1);
    assert_non_null(seen);
    size_t bad = 0;
    for (size_t i = 0; i < got.n; i++) {
        const dbt_sample *s = &got.v[i];
        int k = -1;
        uint64_t created = UINT64_MAX;
        if (s->t < CRASH_T0 || (sscanf(s->series, "__name__=crash,s=n%" SCNu64, &created) != 1 &&
                                sscanf(s->series, "__name__=crash,s=%d", &k) != 1)) {
            if (bad++ < 10)
                fprintf(stderr, "foreign sample %s @%" PRId64 "\n", s->series, s->t);
            continue;
        }
        uint64_t off = (uint64_t)(s->t - CRASH_T0);
        unsigned j = (unsigned)(off % 1000);
        uint64_t n = batch_of_slot(off / 1000);
        if (created != UINT64_MAX) {
            if (created != n || j != CRASH_PER_BATCH || !has_new_series(n) || n >= nb ||
                value_of(n, j) != s->bits) {
                if (bad++ < 10)
                    fprintf(stderr, "wrong sample %s @%" PRId64 "\n", s->series, s->t);
                continue;
            }
            seen[n * SLOTS + j] = 1;
            continue;
        }
        uint64_t op;
        if (j < CRASH_PER_BATCH && n < nb && deleted_by(n, &op) && (int64_t)op <= cs->acked) {
            if (bad++ < 10)
                fprintf(stderr, "deleted sample is back: %s @%" PRId64 " (batch %" PRIu64 ", deleted by acked %" PRIu64
                        ")\n", s->series, s->t, n, op);
            continue;
        }
        if (j >= CRASH_PER_BATCH || n >= nb || is_delete(n) || series_of(n, j) != k || value_of(n, j) != s->bits) {
            if (bad++ < 10)
                fprintf(stderr, "wrong sample %s @%" PRId64 " = %016" PRIx64 " (batch %" PRIu64 ", acked %" PRId64
                        ")\n", s->series, s->t, s->bits, n, cs->acked);
            continue;
        }
        seen[n * SLOTS + j] = 1;
    }
    size_t missing = 0;
    for (uint64_t n = 0; n + 1 < nb; n++) {
        uint64_t op;
        if (is_delete(n) || (deleted_by(n, &op) && op <= (uint64_t)(cs->acked + 1)))
            continue; /* no samples, deleted, or its delete in flight: either way */
        for (unsigned j = 0; j < (has_new_series(n) ? SLOTS : CRASH_PER_BATCH); j++)
            if (!seen[n * SLOTS + j] && missing++ < 10)
                fprintf(stderr, "lost acked sample: batch %" PRIu64 " #%u (s=%d t=%" PRId64 ")\n", n, j,
                        j < CRASH_PER_BATCH ? series_of(n, j) : -1, time_of(n, j));
    }
    free(seen);
    dbt_set_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);
    if (bad || missing)
        fail_msg("after kill %" PRIu64 " (acked %" PRId64 "): %zu wrong, %zu lost acked samples; replay with "
                 "STRATA_SEED=%" PRIu64, cs->kills, cs->acked, bad, missing, test_seed(0));
    rc = strata_verify_dir(cs->dir, verify_cb, NULL);
    if (rc)
        fail_msg("strata_verify_dir after kill %" PRIu64 ": %s", cs->kills, strata_strerror(rc));
    if (cs->cli[0] && cs->kills % 5 == 0) {
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "'%s' verify -d '%s' >/dev/null", cs->cli, cs->dir);
        int st = system(cmd);
        if (st != 0)
            fail_msg("`strata verify -d` after kill %" PRIu64 " exited %d", cs->kills, st);
    }
}

static void crash_init(crash_state *cs_out, uint64_t seed)
{
    crash_state cs;
    memset(&cs, 0, sizeof cs);
    test_rng_init(&cs.rng, seed);
    cs.acked = -1;
    cs.dir = test_tmpdir("db_crash");
    ssize_t n = readlink("/proc/self/exe", cs.self, sizeof cs.self - 1);
    assert_true(n > 0);
    cs.self[n] = 0;
    snprintf(cs.cli, sizeof cs.cli, "%s", cs.self);
    char *slash = strrchr(cs.cli, '/');
    assert_non_null(slash);
    snprintf(slash + 1, sizeof cs.cli - (size_t)(slash + 1 - cs.cli), "strata");
    if (access(cs.cli, X_OK) != 0) {
        fprintf(stderr, "note: %s not built: checking with strata_verify_dir only\n", cs.cli);
        cs.cli[0] = 0;
    }
    *cs_out = cs;
}

/* Kills during the creation of a new directory (the first open: LOCK,
 * VERSION, DIRTY, MANIFEST, CURRENT written one after the other): the
 * directory must open afterwards as a database, never be left unopenable. */
static void writer_killed_while_creating_the_directory(void **state)
{
    (void)state;
    crash_state cs;
    crash_init(&cs, test_seed(20240601) + 1);
    const char *e = getenv("STRATA_CRASH_KILLS");
    uint64_t kills = e && *e ? strtoull(e, NULL, 10) / 2 : CRASH_DEFAULT_KILLS / 2;
    for (uint64_t i = 0; i < kills; i++) {
        test_rmtree(cs.dir);
        assert_int_equal(mkdir(cs.dir, 0700), 0);
        cs.acked = -1;
        crash_round(&cs, 12000);
        crash_check(&cs);
    }
    fprintf(stderr, "%" PRIu64 " kills in the first 12 ms of a new directory's life\n", kills);
    test_rmtree(cs.dir);
    free(cs.dir);
}

static void writer_killed_at_random_loses_no_acked_write(void **state)
{
    (void)state;
    crash_state cs;
    crash_init(&cs, test_seed(20240601));
    const char *e = getenv("STRATA_CRASH_KILLS");
    uint64_t kills = e && *e ? strtoull(e, NULL, 10) : CRASH_DEFAULT_KILLS;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint64_t i = 0; i < kills; i++) {
        crash_round(&cs, 0);
        crash_check(&cs);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "%" PRIu64 " kills (%" PRIu64 " before the writer was ready, %" PRIu64
            " with a flush after every batch), %" PRId64 " batches acked and found, %.1f s\n",
            cs.kills, cs.kills_before_ready, cs.flushed_rounds, cs.acked + 1,
            (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    assert_true(cs.acked >= 0); /* the loop must have made progress */
    /* the kills must have met flushed data, not only the WAL */
    strata_options o;
    writer_opts(&o, cs.dir, 0, 0, 0);
    o.compaction_threads = 0;
    strata_db *db = dbt_open_ok(&o);
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    fprintf(stderr, "at the end: %" PRIu64 " table files in %" PRIu64 " partitions (files by level:", st.table_files,
            st.partitions);
    uint64_t above0 = 0;
    for (int l = 0; l < STRATA_MAX_LEVELS; l++) {
        fprintf(stderr, " %" PRIu64, st.levels[l].files);
        if (l)
            above0 += st.levels[l].files;
    }
    fprintf(stderr, "), %" PRIu64 " samples in tables, %" PRIu64 " in the head\n", st.table_samples, st.head_samples);
    assert_int_equal(strata_close(db), STRATA_OK);
    if (cs.flushed_rounds > 2)
        assert_true(st.table_files > 0);
    if (above0 == 0)
        fprintf(stderr, "note: no compaction output survived: kills did not meet a finished compaction\n");
    test_rmtree(cs.dir);
    free(cs.dir);
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "--writer"))
        return writer_main(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10), atoi(argv[5]),
                           strtoll(argv[6], NULL, 10));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_killed_while_creating_the_directory),
        cmocka_unit_test(writer_killed_at_random_loses_no_acked_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
