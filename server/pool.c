/*
 * pool.c: a fixed set of worker threads over one bounded FIFO of jobs,
 * one pool per class of request (write, read, admin; see http.c).
 *
 * Jobs are intrusive (srv_job lives inside the caller's request state), so
 * queueing never allocates and never fails once a place was admitted.
 * Admission and queueing are two steps because the caller (http.c) must
 * suspend the connection between them: srv_pool_admit reserves a place or
 * says the queue is full, srv_pool_push hands the job over. A worker may
 * run the job the moment it is pushed, so the caller must have finished
 * with it (suspended the connection) before pushing.
 *
 * "Waiting" counts jobs admitted but not yet taken by a worker. A pool
 * takes at most n_threads + max_waiting jobs at a time (running and
 * waiting together, so that a burst admitted before idle workers wake is
 * not refused). Closing runs
 * every job still queued (with abandon set once srv_pool_abandon was
 * called, so the job answers quickly instead of working) and joins the
 * threads: no job is lost, so every suspended connection is resumed.
 *
 * A pool may lower its threads' CPU priority (nice): Linux schedules
 * threads, and setpriority(PRIO_PROCESS, tid) applies to one thread. The
 * read pool uses it so that queries running flat out leave the CPU to
 * ingest and to the I/O threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server.h"

struct srv_pool {
    const char *name;
    unsigned n_threads;
    unsigned max_waiting;
    int nice;
    pthread_t *threads;
    unsigned n_started;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* a job was pushed, or the pool closes */
    srv_job *head, *tail;     /* queued jobs, FIFO (guarded by mu) */
    unsigned waiting;         /* admitted, not yet taken (guarded by mu; read atomically for metrics) */
    unsigned running;         /* taken, not yet done (same) */
    int closing;              /* guarded by mu */
    int abandon;              /* guarded by mu */
};

static void *worker(void *arg)
{
    srv_pool *p = arg;
    if (p->nice) {
        /* the thread alone: Linux's setpriority takes a thread id */
        pid_t tid = (pid_t)syscall(SYS_gettid);
        if (setpriority(PRIO_PROCESS, (id_t)tid, p->nice) != 0)
            fprintf(stderr, "strata serve: %s threads keep their priority: %s\n", p->name, strerror(errno));
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !(p->closing && p->waiting == 0))
            pthread_cond_wait(&p->cond, &p->mu);
        if (!p->head) { /* closing, nothing queued nor admitted: wake the others to see it too */
            pthread_cond_broadcast(&p->cond);
            break;
        }
        srv_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        __atomic_store_n(&p->waiting, p->waiting - 1, __ATOMIC_RELAXED);
        __atomic_store_n(&p->running, p->running + 1, __ATOMIC_RELAXED);
        int abandon = p->abandon;
        pthread_mutex_unlock(&p->mu);
        j->next = NULL;
        j->run(j, abandon);
        void (*done)(srv_job *) = j->done;
        pthread_mutex_lock(&p->mu);
        __atomic_store_n(&p->running, p->running - 1, __ATOMIC_RELAXED);
        if (done) { /* the place is free before the job's owner may reuse it */
            pthread_mutex_unlock(&p->mu);
            done(j);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int srv_pool_open(const char *name, unsigned n_threads, unsigned max_waiting, int nice, srv_pool **out)
{
    if (!n_threads || !max_waiting)
        return STRATA_ERR_INVALID;
    srv_pool *p = calloc(1, sizeof *p);
    if (!p)
        return STRATA_ERR_NOMEM;
    p->threads = calloc(n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return STRATA_ERR_NOMEM;
    }
    p->name = name;
    p->n_threads = n_threads;
    p->max_waiting = max_waiting;
    p->nice = nice;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (; p->n_started < n_threads; p->n_started++) {
        int e = pthread_create(&p->threads[p->n_started], NULL, worker, p);
        if (e) {
            fprintf(stderr, "strata serve: cannot start %s thread: %s\n", name, strerror(e));
            srv_pool_close(p);
            return STRATA_ERR_NOMEM;
        }
    }
    *out = p;
    return STRATA_OK;
}

int srv_pool_admit(srv_pool *p)
{
    int ok;
    pthread_mutex_lock(&p->mu);
    /* a burst may be admitted faster than idle workers take it: count the
     * running ones too, so that n_threads + max_waiting are always taken */
    ok = !p->closing && p->waiting + p->running < p->n_threads + p->max_waiting;
    if (ok)
        __atomic_store_n(&p->waiting, p->waiting + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

void srv_pool_push(srv_pool *p, srv_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void srv_pool_abandon(srv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->abandon = 1;
    pthread_mutex_unlock(&p->mu);
}

void srv_pool_counts(const srv_pool *p, unsigned *waiting, unsigned *running)
{
    *waiting = p ? __atomic_load_n(&p->waiting, __ATOMIC_RELAXED) : 0;
    *running = p ? __atomic_load_n(&p->running, __ATOMIC_RELAXED) : 0;
}

void srv_pool_close(srv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
