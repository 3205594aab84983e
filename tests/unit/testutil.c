/* testutil.c: seeds, a PRNG and temporary directories for the tests. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t test_seed(uint64_t default_seed)
{
    static int printed;
    static uint64_t seed;
    if (!printed) {
        const char *e = getenv("STRATA_SEED");
        seed = e && *e ? strtoull(e, NULL, 10) : default_seed;
        fprintf(stderr, "seed: %llu (set STRATA_SEED to replay)\n", (unsigned long long)seed);
        printed = 1;
    }
    return seed;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = test_mix(*x);
    *x += 0x9e3779b97f4a7c15ull;
    return z;
}

void test_rng_init(test_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t test_rng_next(test_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t test_rng_below(test_rng *r, uint64_t n) { return n ? test_rng_next(r) % n : 0; }

double test_rng_double(test_rng *r) { return (double)(test_rng_next(r) >> 11) * 0x1.0p-53; }

char *test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char *p = malloc(strlen(base) + strlen(tag) + 32);
    if (!p)
        abort();
    sprintf(p, "%s/strata-test-%s-XXXXXX", base, tag);
    if (!mkdtemp(p))
        abort();
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
