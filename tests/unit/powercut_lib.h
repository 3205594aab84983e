/*
 * powercut_lib.h: the workload and the checks shared by the power-cut and
 * I/O-fault tests of the whole engine (db_power_cut*.c, db_io_faults.c).
 *
 * The workload goes through the public API on a database opened with a
 * faultvfs: series creation, batches of writes, flushes, full
 * compactions, deletes by matcher, one close and reopen, and (small
 * manifest_rewrite_bytes) a manifest rewrite at nearly every edit. It is
 * deterministic for a seed, so it reaches the same sync numbers on every
 * run; it stops at the first call that fails.
 *
 * What was promised is tracked per sample and per delete: SURE (the call
 * returned STRATA_OK and the policy makes it durable: under always at
 * once, under interval once a later WAL sync, flush or close succeeded) or
 * MAYBE (the call failed, or its sync never came). After the cut the
 * database must open, hold every SURE sample exactly unless a later
 * delete (SURE or MAYBE) covers it, hold no sample covered by a later SURE
 * delete, hold nothing that was never written, and verify clean.
 * Timestamps only grow and deletes cover only the past, so no sample is
 * written into a range deleted before it.
 */
#ifndef STRATA_TEST_POWERCUT_LIB_H
#define STRATA_TEST_POWERCUT_LIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "faultvfs.h"
#include "strata.h"
#include "testutil.h"

#define PC_SERIES 4
#define PC_PER_STEP 6    /* samples per series per step */
#define PC_STEPS 12 /* the most; pc_run.steps chooses */
#define PC_MAX_SAMPLES (PC_SERIES * PC_PER_STEP * PC_STEPS)
#define PC_MAX_DELETES 4
#define PC_T0 1700000000000LL
#define PC_STEP_MS (20 * 60 * 1000LL) /* three steps an hour: partitions of an hour fill and roll */

enum { PC_NONE = 0, PC_MAYBE = 1, PC_SURE = 2 };

typedef struct pc_sample {
    int series;
    int64_t t;
    double v;
    int state;
    bool acked; /* the call returned STRATA_OK */
    int order;  /* position in the sequence of calls */
} pc_sample;

typedef struct pc_delete {
    unsigned series_mask;
    int64_t mint, maxt;
    int state;
    bool acked;
    int order;
} pc_delete;

typedef struct pc_run {
    strata_sync sync;
    uint64_t seed;
    int steps; /* 0: PC_STEPS; at least 8 for every kind of call */
    pc_sample s[PC_MAX_SAMPLES];
    int n_s;
    pc_delete d[PC_MAX_DELETES];
    int n_d;
    int order;
    int calls_failed; /* API calls that returned an error */
    int first_error;  /* order of the first */
    char first_error_what[64];
} pc_run;

static inline void pc_opts(strata_options *o, const char *dir, strata_sync sync)
{
    strata_options_init(o);
    o->dir = dir;
    o->sync = sync;
    /* no wall clock anywhere: the interval thread never fires (syncs are
     * driven by the workload), nothing flushes or compacts on its own */
    o->sync_interval_ms = 24LL * 3600 * 1000;
    o->compaction_threads = 0;
    o->partition_ms = 3600 * 1000LL;
    o->manifest_rewrite_bytes = 256;
    o->wal_segment_bytes = 64 * 1024;
    o->block_samples = 16;
}

static inline void pc_labels(int i, strata_label l[2], char *buf)
{
    snprintf(buf, 8, "%d", i);
    l[0] = (strata_label){"__name__", "pc"};
    l[1] = (strata_label){"s", buf};
}

/* A call's outcome: under always success is SURE; under interval it waits
 * for a sync. */
static inline int pc_state_of(const pc_run *r, int rc)
{
    if (rc != STRATA_OK)
        return PC_MAYBE;
    return r->sync == STRATA_SYNC_ALWAYS ? PC_SURE : PC_MAYBE;
}

/* A sync succeeded: everything acknowledged so far is durable. */
static inline void pc_synced(pc_run *r)
{
    for (int i = 0; i < r->n_s; i++)
        if (r->s[i].acked)
            r->s[i].state = PC_SURE;
    for (int i = 0; i < r->n_d; i++)
        if (r->d[i].acked)
            r->d[i].state = PC_SURE;
}

/* A call failed: counted, and the first is remembered for messages. */
static inline void pc_fail(pc_run *r, int rc, const char *what)
{
    if (r->calls_failed++ == 0) {
        r->first_error = r->order;
        snprintf(r->first_error_what, sizeof r->first_error_what, "%s: %s", what, strata_strerror(rc));
    }
}

/* Runs the workload on dir through vfs. Returns when done or at the first
 * failed call (stop_on_error) ; the database is closed in every case. */
static void pc_workload(pc_run *r, const char *dir, const base_vfs *vfs, bool stop_on_error)
{
    strata_options o;
    pc_opts(&o, dir, r->sync);
    test_rng rng;
    test_rng_init(&rng, r->seed);
    r->n_s = r->n_d = r->order = r->calls_failed = 0;
    r->first_error = 1 << 30;
    strata_db *db = NULL;
    strata_sid sids[PC_SERIES] = {0};
    bool have[PC_SERIES] = {false};
    int rc = engine_open_vfs(&o, vfs, &db);
    r->order++;
    if (rc) {
        pc_fail(r, rc, "open");
        return;
    }
    for (int i = 0; i < PC_SERIES; i++) {
        strata_label l[2];
        char b[8];
        pc_labels(i, l, b);
        rc = strata_series_get_or_create(db, l, 2, &sids[i], NULL);
        r->order++;
        if (rc) {
            pc_fail(r, rc, "series");
            if (stop_on_error)
                goto out;
            continue;
        }
        have[i] = true;
    }
    int steps = r->steps > 0 && r->steps < PC_STEPS ? r->steps : PC_STEPS;
    for (int step = 0; step < steps; step++) {
        strata_sample batch[PC_SERIES * PC_PER_STEP];
        size_t n = 0;
        int first = r->n_s;
        for (int i = 0; i < PC_SERIES; i++) {
            for (int k = 0; k < PC_PER_STEP; k++) {
                int64_t t = PC_T0 + step * PC_STEP_MS + k * 60000LL + i;
                double v = (double)(test_rng_next(&rng) >> 11) / 1024.0;
                if (!have[i])
                    continue;
                batch[n++] = (strata_sample){sids[i], t, v};
                r->s[r->n_s++] = (pc_sample){i, t, v, PC_NONE, false, r->order};
            }
        }
        rc = n ? strata_write(db, batch, n) : STRATA_OK;
        for (int j = first; j < r->n_s; j++) {
            r->s[j].state = pc_state_of(r, rc);
            r->s[j].acked = rc == STRATA_OK;
        }
        r->order++;
        if (rc) {
            pc_fail(r, rc, "write");
            if (stop_on_error)
                goto out;
        }
        if (step == 3 || step == 6) { /* a delete of an older range */
            unsigned mask = step == 3 ? 1u << 1 : (1u << 2) | (1u << 3);
            strata_matcher m = {step == 3 ? STRATA_MATCH_EQ : STRATA_MATCH_RE, "s", step == 3 ? "1" : "2|3"};
            int64_t mint = PC_T0 + (step - 3) * PC_STEP_MS + 2 * 60000LL, maxt = mint + 2 * PC_STEP_MS;
            rc = strata_delete(db, &m, 1, mint, maxt);
            r->d[r->n_d++] = (pc_delete){mask, mint, maxt, pc_state_of(r, rc), rc == STRATA_OK, r->order};
            r->order++;
            if (rc) {
                pc_fail(r, rc, "delete");
                if (stop_on_error)
                    goto out;
            }
        }
        if (r->sync == STRATA_SYNC_INTERVAL && step % 2 == 1) {
            /* what the interval thread does, at a point of our choosing */
            rc = wal_sync(db->wal);
            if (rc == STRATA_OK)
                pc_synced(r);
            r->order++;
            if (rc) {
                pc_fail(r, rc, "sync");
                if (stop_on_error)
                    goto out;
            }
        }
        if (step % 3 == 2) {
            rc = strata_flush(db);
            if (rc == STRATA_OK)
                pc_synced(r); /* the frozen head is in fsynced tables */
            r->order++;
            if (rc) {
                pc_fail(r, rc, "flush");
                if (stop_on_error)
                    goto out;
            }
        }
        if (step % 4 == 3) {
            rc = strata_compact(db, 1);
            r->order++;
            if (rc) {
                pc_fail(r, rc, "compact");
                if (stop_on_error)
                    goto out;
            }
        }
        if (step == 5) { /* a clean close and a reopen in the middle */
            rc = strata_close(db);
            db = NULL;
            if (rc == STRATA_OK)
                pc_synced(r);
            r->order++;
            if (rc) {
                pc_fail(r, rc, "close");
                if (stop_on_error)
                    goto out;
            }
            rc = engine_open_vfs(&o, vfs, &db);
            r->order++;
            if (rc) {
                db = NULL;
                pc_fail(r, rc, "reopen");
                goto out; /* no handle to go on with */
            }
        }
    }
out:
    if (db) {
        /* A clean close syncs the WAL and the series log. */
        rc = strata_close(db);
        r->order++;
        if (rc)
            pc_fail(r, rc, "close");
        else
            pc_synced(r);
    }
}

typedef struct pc_found {
    int64_t t;
    double v;
    int series;
} pc_found;

static int pc_found_cmp(const void *a, const void *b)
{
    const pc_found *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

static void pc_problem(void *ctx, const char *file, int64_t off, const char *message)
{
    int *n = ctx;
    (*n)++;
    print_error("verify: %s at %" PRId64 ": %s\n", file, off, message);
}

/* Opens dir without faults and checks it against r; then verify. Returns
 * the number of samples found. Fails the test (with what) on a breach. */
static size_t pc_check(const pc_run *r, const char *dir, const char *what)
{
    strata_options o;
    pc_opts(&o, dir, STRATA_SYNC_ALWAYS);
    strata_db *db = NULL;
    int rc = strata_open(&o, &db);
    if (rc)
        fail_msg("%s: open after the cut: %s (%s)", what, strata_strerror(rc), strata_errmsg());
    pc_found *f = malloc(PC_MAX_SAMPLES * 2 * sizeof *f);
    assert_non_null(f);
    size_t nf = 0;
    strata_matcher m = {STRATA_MATCH_EQ, "__name__", "pc"};
    strata_cursor *c = NULL;
    assert_int_equal(strata_select(db, &m, 1, INT64_MIN / 2, INT64_MAX / 2, &c), STRATA_OK);
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        int series = -1;
        for (size_t i = 0; i < nl; i++)
            if (!strcmp(l[i].name, "s"))
                series = atoi(l[i].value);
        const int64_t *t;
        const double *v;
        size_t n;
        while ((rc = strata_cursor_next_samples(c, &t, &v, &n)) == 1) {
            for (size_t i = 0; i < n; i++) {
                if (nf == PC_MAX_SAMPLES * 2)
                    fail_msg("%s: more samples than were ever written", what);
                f[nf++] = (pc_found){t[i], v[i], series};
            }
        }
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 0);
    strata_cursor_close(c);
    assert_int_equal(strata_close(db), STRATA_OK);
    qsort(f, nf, sizeof *f, pc_found_cmp);

    for (int i = 0; i < r->n_s; i++) {
        const pc_sample *s = &r->s[i];
        int del = PC_NONE;
        for (int k = 0; k < r->n_d; k++) {
            const pc_delete *d = &r->d[k];
            if (d->order > s->order && (d->series_mask >> s->series & 1) && s->t >= d->mint && s->t <= d->maxt &&
                d->state > del)
                del = d->state;
        }
        pc_found key = {s->t, 0, s->series};
        pc_found *hit = bsearch(&key, f, nf, sizeof *f, pc_found_cmp);
        if (hit && memcmp(&hit->v, &s->v, sizeof s->v) != 0)
            fail_msg("%s: series %d t=%" PRId64 ": value %.17g, written %.17g", what, s->series, s->t, hit->v, s->v);
        if (s->state == PC_SURE && del == PC_NONE && !hit)
            fail_msg("%s: acknowledged sample lost: series %d t=%" PRId64 " (call %d)", what, s->series, s->t,
                     s->order);
        if (del == PC_SURE && hit)
            fail_msg("%s: acknowledged delete undone: series %d t=%" PRId64, what, s->series, s->t);
    }
    for (size_t i = 0; i < nf; i++) {
        bool known = false;
        for (int k = 0; k < r->n_s && !known; k++)
            known = r->s[k].series == f[i].series && r->s[k].t == f[i].t && r->s[k].state != PC_NONE;
        if (!known)
            fail_msg("%s: sample never written: series %d t=%" PRId64, what, f[i].series, f[i].t);
    }
    free(f);
    int problems = 0;
    rc = strata_verify_dir(dir, pc_problem, &problems);
    if (rc != STRATA_OK || problems)
        fail_msg("%s: verify: %s, %d problem(s)", what, strata_strerror(rc), problems);
    return nf;
}

/* Runs the workload with the power cut at sync n (0: after the end) and
 * checks the result; returns the syncs the run made. */
static inline uint64_t pc_cut_once(strata_sync sync, int steps, uint64_t wseed, uint64_t cseed, uint64_t n, bool harsh, const char *base)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/db", base);
    test_rmtree(dir);
    static pc_run r;
    memset(&r, 0, sizeof r);
    r.sync = sync;
    r.steps = steps;
    r.seed = wseed;
    faultvfs *fv = faultvfs_new(dir, cseed);
    assert_non_null(fv);
    faultvfs_set_harsh(fv, harsh);
    faultvfs_cut_at_sync(fv, n);
    pc_workload(&r, dir, faultvfs_vfs(fv), true);
    uint64_t syncs = faultvfs_syncs(fv);
    if (r.calls_failed && !faultvfs_cut_done(fv))
        fail_msg("a call failed without a power cut (call %d, %s)", r.first_error, r.first_error_what);
    faultvfs_cut_now(fv);
    unsigned kept = 0, dropped = 0, torn = 0;
    assert_int_equal(faultvfs_apply_cut(fv, &kept, &dropped, &torn), 0);
    faultvfs_free(fv);
    char what[160];
    snprintf(what, sizeof what, "%s, workload seed %llu, cut seed %llu, cut at sync %llu%s",
             sync == STRATA_SYNC_ALWAYS ? "always" : "interval", (unsigned long long)wseed, (unsigned long long)cseed,
             (unsigned long long)n, harsh ? " (harsh)" : "");
    pc_check(&r, dir, what);
    return syncs;
}

static inline double pc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* STRATA_TEST_POWERCUT_LIB_H */
