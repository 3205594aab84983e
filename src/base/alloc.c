/* alloc.c: the one allocation wrapper, with a failure hook for tests. */
#include <stdatomic.h>
#include <stdlib.h>

#include "base.h"

/* Allocations left before one fails; negative disables the hook. */
static _Atomic long fail_after = -1;

static bool should_fail(void)
{
    long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
    if (LIKELY(n < 0))
        return false;
    if (n == 0) {
        atomic_store(&fail_after, -1);
        return true;
    }
    atomic_fetch_sub(&fail_after, 1);
    return false;
}

void base_alloc_fail_after(long n) { atomic_store(&fail_after, n); }

void *base_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }
void *base_calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1); }
void *base_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }
void base_free(void *p) { free(p); }

char *base_strdup(const char *s) { return base_strndup(s, strlen(s)); }

char *base_strndup(const char *s, size_t n)
{
    char *d = base_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int base_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return STRATA_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return STRATA_ERR_NOMEM;
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem)
        return STRATA_ERR_NOMEM;
    void *q = base_realloc(*p, n * elem);
    if (!q)
        return STRATA_ERR_NOMEM;
    *p = q;
    *cap = n;
    return STRATA_OK;
}
