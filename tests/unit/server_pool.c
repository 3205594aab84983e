/* server/pool.c on its own: a pool takes at most threads + queue jobs at a
 * time and refuses the next, runs them in order, reports what waits and
 * runs, and on close runs every job admitted (abandoned ones told so).
 * Jobs block on a gate the test opens, so every state is waited for, never
 * slept into. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "testutil.h"

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int open;
    int started;              /* jobs that began */
    int order[16];            /* ids in the order they ran */
    int n_done;
    int n_abandoned;
} gate;

typedef struct tjob {
    srv_job job;
    gate *g;
    int id;
} tjob;

static void run(srv_job *j, int abandon)
{
    tjob *t = (tjob *)(void *)j;
    gate *g = t->g;
    pthread_mutex_lock(&g->mu);
    g->started++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open && !abandon)
        pthread_cond_wait(&g->cond, &g->mu);
    g->order[g->n_done++] = t->id;
    g->n_abandoned += abandon;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

static void gate_init(gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cond, NULL);
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mu);
}

static void wait_started(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->started < n)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void wait_done(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->n_done < n)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void open_gate(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

static void submit(srv_pool *p, tjob *t, gate *g, int id)
{
    t->g = g;
    t->id = id;
    t->job.run = run;
    t->job.done = NULL;
    srv_pool_push(p, &t->job);
}

/* done: what the server does there (answer the client); here, take a
 * place in the pool the job just left, as a client's next request does,
 * and queue a job on it. */
static srv_pool *done_pool;
static int done_admitted = -2;
static tjob done_next;

static void done_admits(srv_job *j)
{
    tjob *t = (tjob *)(void *)j;
    done_admitted = srv_pool_admit(done_pool);
    if (done_admitted == 0)
        submit(done_pool, &done_next, t->g, 2);
}

static void a_jobs_place_is_free_when_its_done_step_runs(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    srv_pool *p;
    assert_int_equal(srv_pool_open("test", 1, 1, 0, &p), STRATA_OK);
    done_pool = p;
    tjob a, b;
    a.g = &g;
    a.id = 0;
    a.job.run = run;
    a.job.done = done_admits;
    assert_int_equal(srv_pool_admit(p), 0);
    srv_pool_push(p, &a.job);
    wait_started(&g, 1);
    assert_int_equal(srv_pool_admit(p), 0);
    submit(p, &b, &g, 1);
    assert_int_equal(srv_pool_admit(p), -1); /* one running, one waiting: full */
    open_gate(&g);
    wait_done(&g, 3);
    srv_pool_close(p);
    /* a's done ran after its place was freed (the server answered its
     * client before that, and the client's next request could get a 503) */
    assert_int_equal(done_admitted, 0);
    gate_destroy(&g);
}

static void bounded_by_threads_plus_queue(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    srv_pool *p;
    assert_int_equal(srv_pool_open("test", 2, 3, 0, &p), STRATA_OK);
    tjob jobs[5];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(srv_pool_admit(p), 0);
        submit(p, &jobs[i], &g, i);
    }
    assert_int_equal(srv_pool_admit(p), -1); /* 2 running + 3 waiting: full */
    wait_started(&g, 2);
    unsigned waiting, running;
    srv_pool_counts(p, &waiting, &running);
    assert_int_equal(waiting, 3);
    assert_int_equal(running, 2);
    open_gate(&g);
    wait_done(&g, 5);
    srv_pool_close(p);
    assert_int_equal(g.n_abandoned, 0);
    gate_destroy(&g);
}

static void one_thread_runs_in_order(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    g.open = 1;
    srv_pool *p;
    assert_int_equal(srv_pool_open("test", 1, 16, 0, &p), STRATA_OK);
    tjob jobs[10];
    for (int i = 0; i < 10; i++) {
        assert_int_equal(srv_pool_admit(p), 0);
        submit(p, &jobs[i], &g, i);
    }
    wait_done(&g, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(g.order[i], i);
    srv_pool_close(p);
    gate_destroy(&g);
}

static void close_runs_admitted_jobs_abandoned(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    srv_pool *p;
    assert_int_equal(srv_pool_open("test", 1, 4, 0, &p), STRATA_OK);
    tjob jobs[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(srv_pool_admit(p), 0);
        submit(p, &jobs[i], &g, i);
    }
    wait_started(&g, 1);
    /* the running one is still held by the gate; the rest are abandoned */
    srv_pool_abandon(p);
    open_gate(&g);
    srv_pool_close(p); /* returns only after every job ran */
    assert_int_equal(g.n_done, 4);
    assert_int_equal(g.n_abandoned, 3);
    gate_destroy(&g);
}

static void close_runs_what_was_pushed_and_sizes_are_checked(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    g.open = 1;
    srv_pool *p;
    assert_int_equal(srv_pool_open("test", 3, 1, 0, &p), STRATA_OK);
    assert_int_equal(srv_pool_admit(p), 0);
    tjob j;
    submit(p, &j, &g, 7);
    srv_pool_close(p);
    assert_int_equal(g.n_done, 1);
    assert_int_equal(g.order[0], 7);
    assert_int_equal(srv_pool_open("test", 0, 1, 0, &p), STRATA_ERR_INVALID);
    assert_int_equal(srv_pool_open("test", 1, 0, 0, &p), STRATA_ERR_INVALID);
    srv_pool_close(NULL);
    gate_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bounded_by_threads_plus_queue),
        cmocka_unit_test(a_jobs_place_is_free_when_its_done_step_runs),
        cmocka_unit_test(one_thread_runs_in_order),
        cmocka_unit_test(close_runs_admitted_jobs_abandoned),
        cmocka_unit_test(close_runs_what_was_pushed_and_sizes_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
