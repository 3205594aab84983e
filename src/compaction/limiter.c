/*
 * limiter.c: the compaction rate limit, a token bucket shared by the
 * compaction threads. Tokens are bytes; the bucket refills at bytes_per_s
 * and holds at most one second's worth. take(n) spends n at once, possibly
 * into debt, and then sleeps until the debt is paid, in slices of at most
 * 10 ms so cancellation (database close) is noticed quickly.
 */
#include <pthread.h>
#include <time.h>

#include "compaction.h"

struct cpt_limiter {
    pthread_mutex_t mu;
    uint64_t rate;     /* bytes per second; 0 unlimited */
    double tokens;     /* guarded by mu; negative is debt */
    uint64_t last_ns;  /* guarded by mu; monotonic time of the last refill */
};

int cpt_limiter_new(uint64_t bytes_per_s, cpt_limiter **out)
{
    cpt_limiter *l = base_calloc(1, sizeof *l);
    if (!l)
        return STRATA_ERR_NOMEM;
    if (pthread_mutex_init(&l->mu, NULL)) {
        base_free(l);
        return STRATA_ERR_NOMEM;
    }
    l->rate = bytes_per_s;
    l->tokens = (double)bytes_per_s;
    l->last_ns = base_mono_ns();
    *out = l;
    return STRATA_OK;
}

void cpt_limiter_free(cpt_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    base_free(l);
}

int cpt_limiter_take(cpt_limiter *l, uint64_t n, const atomic_int *cancel)
{
    if (cancel && atomic_load_explicit(cancel, memory_order_relaxed))
        return STRATA_ERR_CANCELLED;
    if (!l || l->rate == 0 || n == 0)
        return STRATA_OK;
    pthread_mutex_lock(&l->mu);
    uint64_t now = base_mono_ns();
    l->tokens += (double)(now - l->last_ns) * 1e-9 * (double)l->rate;
    if (l->tokens > (double)l->rate)
        l->tokens = (double)l->rate;
    l->last_ns = now;
    l->tokens -= (double)n;
    double debt = -l->tokens;
    pthread_mutex_unlock(&l->mu);
    if (debt <= 0)
        return STRATA_OK;
    uint64_t wait_ns = (uint64_t)(debt / (double)l->rate * 1e9);
    uint64_t until = now + wait_ns;
    for (;;) {
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed))
            return STRATA_ERR_CANCELLED;
        uint64_t t = base_mono_ns();
        if (t >= until)
            return STRATA_OK;
        uint64_t slice = MIN(until - t, 10ULL * 1000 * 1000);
        struct timespec ts = {(time_t)(slice / 1000000000ULL), (long)(slice % 1000000000ULL)};
        nanosleep(&ts, NULL);
    }
}
