/*
 * driver.c: runs a libFuzzer target without libFuzzer, for the short fuzz
 * run of `make test` under gcc: the files of fuzz/corpus/<target>/ if any,
 * then N inputs made by seeded random mutation (bit flips, truncation,
 * insertion, splices of earlier inputs). Usage: fuzz_x [N] [seed].
 * Real coverage-guided runs use clang and `make fuzz`.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: a target may provide seed inputs. */
__attribute__((weak)) size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define MAXLEN 8192

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    fprintf(stderr, "fuzz driver: %ld inputs, seed %llu\n", n, (unsigned long long)rng_state);
    static uint8_t pool[16][MAXLEN];
    static size_t pool_len[16];
    size_t npool = 0;
    if (fuzz_seed_input) {
        for (unsigned i = 0; i < 16; i++) {
            size_t len = fuzz_seed_input(i, pool[npool], MAXLEN);
            if (!len)
                break;
            LLVMFuzzerTestOneInput(pool[npool], len);
            pool_len[npool++] = len;
        }
    }
    uint8_t *in = malloc(MAXLEN);
    if (!in)
        return 2;
    for (long i = 0; i < n; i++) {
        size_t len;
        if (npool && rnd() % 8) {
            size_t k = rnd() % npool;
            len = pool_len[k];
            memcpy(in, pool[k], len);
            int muts = 1 + (int)(rnd() % 8);
            for (int m = 0; m < muts; m++) {
                switch (rnd() % 5) {
                case 0: if (len) in[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8)); break;
                case 1: if (len) in[rnd() % len] = (uint8_t)rnd(); break;
                case 2: if (len) len = rnd() % len; break;
                case 3: if (len < MAXLEN) { size_t p = len ? rnd() % len : 0; memmove(in + p + 1, in + p, len - p); in[p] = (uint8_t)rnd(); len++; } break;
                default: { size_t k2 = rnd() % npool; size_t p = len ? rnd() % len : 0; size_t c = pool_len[k2] ? rnd() % pool_len[k2] : 0; if (p + c > MAXLEN) c = MAXLEN - p; memcpy(in + p, pool[k2], c); if (p + c > len) len = p + c; } break;
                }
            }
        } else {
            len = rnd() % 512;
            for (size_t j = 0; j < len; j++)
                in[j] = (uint8_t)rnd();
        }
        LLVMFuzzerTestOneInput(in, len);
    }
    free(in);
    fprintf(stderr, "fuzz driver: done\n");
    return 0;
}
