/*
 * fuzz_wal_records.c: the WAL record decoders on arbitrary bytes. The first
 * byte picks the decoder (series, samples, delete); the rest is the payload.
 * A payload that decodes must re-encode to something that decodes to the
 * same values.
 */
#include <stdlib.h>
#include <string.h>

#include "wal/wal.h"

static void series(const uint8_t *p, size_t n)
{
    wal_series_iter it;
    bbuf re = {0};
    if (wal_series_iter_init(&it, p, n) != STRATA_OK)
        return;
    if (wal_series_begin(&re) != STRATA_OK)
        abort();
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int r;
    while ((r = wal_series_iter_next(&it, &sid, &l, &nl)) == 1) {
        if (wal_series_add(&re, sid, l, nl) != STRATA_OK)
            abort();
    }
    if (r == 0) {
        /* Canonical except for varint spellings: same entries, so the
         * re-encoding is no longer than the input. */
        if (re.len > n)
            abort();
        wal_series_iter it2;
        if (wal_series_iter_init(&it2, re.data, re.len) != STRATA_OK)
            abort();
        while ((r = wal_series_iter_next(&it2, &sid, &l, &nl)) == 1)
            ;
        if (r != 0)
            abort();
        wal_series_iter_free(&it2);
    }
    wal_series_iter_free(&it);
    base_buf_free(&re);
}

static void samples(const uint8_t *p, size_t n)
{
    strata_sample *s = NULL, *s2 = NULL;
    size_t cap = 0, cap2 = 0, k = 0, k2 = 0;
    if (wal_samples_decode(p, n, &s, &cap, &k) == STRATA_OK) {
        bbuf re = {0};
        if (wal_samples_encode(&re, s, k) != STRATA_OK || wal_samples_decode(re.data, re.len, &s2, &cap2, &k2))
            abort();
        if (k2 != k || (k && memcmp(s, s2, k * sizeof *s)))
            abort();
        base_buf_free(&re);
    }
    base_free(s);
    base_free(s2);
}

static void deletes(const uint8_t *p, size_t n)
{
    strata_sid *s = NULL, *s2 = NULL;
    size_t cap = 0, cap2 = 0, k = 0, k2 = 0;
    int64_t a, b, a2, b2;
    if (wal_delete_decode(p, n, &s, &cap, &k, &a, &b) == STRATA_OK) {
        bbuf re = {0};
        if (wal_delete_encode(&re, s, k, a, b) != STRATA_OK ||
            wal_delete_decode(re.data, re.len, &s2, &cap2, &k2, &a2, &b2) != STRATA_OK)
            abort();
        if (k2 != k || a2 != a || b2 != b || (k && memcmp(s, s2, k * sizeof *s)))
            abort();
        base_buf_free(&re);
    }
    base_free(s);
    base_free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: series(data + 1, size - 1); break;
    case 1: samples(data + 1, size - 1); break;
    default: deletes(data + 1, size - 1); break;
    }
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    bbuf b = {0};
    switch (i) {
    case 0: {
        strata_label l[] = {{"__name__", "cpu"}, {"host", "a"}, {"e", ""}};
        bbuf r = {0};
        wal_series_begin(&r);
        wal_series_add(&r, 7, l, 3);
        wal_series_add(&r, 8, l, 2);
        base_buf_put_u8(&b, 0);
        base_buf_append(&b, r.data, r.len);
        base_buf_free(&r);
        break;
    }
    case 1:
    case 2: {
        strata_sample s[20];
        for (int k = 0; k < 20; k++)
            s[k] = (strata_sample){(strata_sid)(i == 1 ? 5 : k), 1000 + 10 * k, i == 1 ? k : k * 0.1};
        base_buf_put_u8(&b, 1);
        wal_samples_encode(&b, s, 20);
        break;
    }
    case 3: {
        strata_sid s[] = {1, 5, 6, 100};
        base_buf_put_u8(&b, 2);
        wal_delete_encode(&b, s, 4, -10, 10);
        break;
    }
    default:
        return 0;
    }
    size_t n = b.len < cap ? b.len : cap;
    memcpy(out, b.data, n);
    base_buf_free(&b);
    return n;
}
