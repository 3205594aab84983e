/*
 * testutil.h: what the unit tests share beside cmocka.
 *
 * Randomised tests take their seed from STRATA_SEED (decimal) when set,
 * otherwise a fixed default, and print it so a failure can be replayed:
 *   STRATA_SEED=1234 ./build/test_codec_roundtrip
 */
#ifndef STRATA_TESTUTIL_H
#define STRATA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* The seed for this run (printed once on first call). */
uint64_t test_seed(uint64_t default_seed);

/* splitmix64's step: a well-mixed 64-bit function of x, for tests that
 * derive data from an index and a seed without keeping state. */
static inline uint64_t test_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A small deterministic PRNG (splitmix64 seeded xoshiro256**). */
typedef struct test_rng {
    uint64_t s[4];
} test_rng;

void test_rng_init(test_rng *r, uint64_t seed);
uint64_t test_rng_next(test_rng *r);
/* Uniform in [0, n). */
uint64_t test_rng_below(test_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double test_rng_double(test_rng *r);

/* Makes a fresh empty directory under $TMPDIR (or /tmp) named after tag;
 * returns a malloc'd path. test_rmtree removes it. */
char *test_tmpdir(const char *tag);
void test_rmtree(const char *path);

#endif
