/* series.log: round trip, torn tail at every offset, flipped bytes,
 * damaged header, read-only opens, and replay of a lost tail. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "index/index.h"
#include "testutil.h"

#define NSMALL 12

/* The label sets of the small file: shared names and values, so the file
 * has NAME, PAIR and SERIES records interleaved. */
static void small_labels(int i, strata_label l[3], char buf[3][32])
{
    snprintf(buf[0], 32, "m%d", i % 3);
    snprintf(buf[1], 32, "h%d", i / 3);
    snprintf(buf[2], 32, "v%d", i % 2);
    l[0] = (strata_label){"__name__", buf[0]};
    l[1] = (strata_label){"host", buf[1]};
    l[2] = (strata_label){i % 4 == 0 ? "zone" : "dc", buf[2]};
}

static char *log_path(const char *dir)
{
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/series.log", dir);
    return p;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)sz + 1);
    assert_int_equal(fread(d, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return d;
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
}

/* Builds the small file in a new directory; returns its bytes. */
static uint8_t *make_small(size_t *n)
{
    char *dir = test_tmpdir("idx_small");
    strata_index *idx;
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    for (int i = 0; i < NSMALL; i++) {
        strata_label l[3];
        char buf[3][32];
        small_labels(i, l, buf);
        strata_sid sid;
        assert_int_equal(index_get_or_create(idx, l, 3, &sid, NULL), STRATA_OK);
        assert_int_equal(sid, (strata_sid)i + 1);
    }
    assert_int_equal(index_sync(idx), STRATA_OK);
    assert_int_equal(index_close(idx), STRATA_OK);
    char *p = log_path(dir);
    uint8_t *d = read_file(p, n);
    free(p);
    test_rmtree(dir);
    free(dir);
    return d;
}

/* Every series present has exactly its original labels. Returns the count. */
static uint64_t check_labels(strata_index *idx)
{
    uint64_t found = 0;
    for (int i = 0; i < NSMALL; i++) {
        const strata_label *got;
        size_t n;
        if (index_labels(idx, (strata_sid)i + 1, &got, &n) != STRATA_OK)
            continue;
        strata_label l[3];
        char buf[3][32];
        small_labels(i, l, buf);
        assert_int_equal(n, 3);
        strata_sid sid;
        assert_int_equal(index_lookup(idx, l, 3, &sid), STRATA_OK);
        assert_int_equal(sid, (strata_sid)i + 1);
        for (size_t k = 0; k < n; k++) {
            int j = 0;
            while (strcmp(l[j].name, got[k].name) != 0)
                j++;
            assert_string_equal(l[j].value, got[k].value);
        }
        found++;
    }
    assert_int_equal(found, index_series_count(idx));
    return found;
}

/* Record boundaries of a series.log, parsed independently: ends[k] is the
 * end offset of record k; is_series[k] says whether it is a SERIES record. */
static size_t parse_bounds(const uint8_t *d, size_t n, size_t *ends, int *is_series)
{
    size_t off = 16, k = 0;
    while (off + 8 <= n) {
        uint32_t len = (uint32_t)d[off] | (uint32_t)d[off + 1] << 8 | (uint32_t)d[off + 2] << 16 |
                       (uint32_t)d[off + 3] << 24;
        is_series[k] = d[off + 8] == 3;
        off += 8 + len;
        ends[k++] = off;
    }
    assert_int_equal(off, n);
    return k;
}

static void index_log_round_trips_and_continues_sids(void **state)
{
    (void)state;
    char *dir = test_tmpdir("idx_rt");
    for (int buffered = 0; buffered < 2; buffered++) {
        index_options o;
        index_options_init(&o);
        o.log_buffer_bytes = buffered ? 1 << 20 : 0;
        strata_index *idx;
        assert_int_equal(index_open(dir, &o, &idx), STRATA_OK);
        for (int i = buffered * NSMALL / 2; i < (buffered + 1) * NSMALL / 2; i++) {
            strata_label l[3];
            char buf[3][32];
            small_labels(i, l, buf);
            strata_sid sid;
            int created;
            assert_int_equal(index_get_or_create(idx, l, 3, &sid, &created), STRATA_OK);
            assert_int_equal(sid, (strata_sid)i + 1);
            assert_int_equal(created, 1);
        }
        index_stats st;
        index_get_stats(idx, &st);
        if (buffered)
            assert_true(st.log_pending_bytes > 0);
        assert_int_equal(index_sync(idx), STRATA_OK);
        index_get_stats(idx, &st);
        assert_int_equal(st.log_pending_bytes, 0);
        assert_int_equal(index_close(idx), STRATA_OK);
    }
    strata_index *idx;
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    assert_int_equal(check_labels(idx), NSMALL);
    index_stats st;
    index_get_stats(idx, &st);
    assert_int_equal(st.load_corrupt_records, 0);
    assert_int_equal(st.load_truncated_bytes, 0);
    printf("small log: %llu bytes, %llu records, %d series\n", (unsigned long long)st.log_bytes,
           (unsigned long long)st.load_records, NSMALL);
    strata_matcher m = {STRATA_MATCH_EQ, "host", "h1"};
    index_sids s = {0};
    assert_int_equal(index_select(idx, &m, 1, &s), STRATA_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.v[0], 4);
    index_sids_free(&s);
    strata_label l[] = {{"__name__", "new"}};
    strata_sid sid;
    assert_int_equal(index_get_or_create(idx, l, 1, &sid, NULL), STRATA_OK);
    assert_int_equal(sid, NSMALL + 1);
    assert_int_equal(index_close(idx), STRATA_OK);
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    assert_int_equal(index_series_count(idx), NSMALL + 1);
    assert_int_equal(index_close(idx), STRATA_OK);
    test_rmtree(dir);
    free(dir);
}

static void index_torn_tail_is_truncated_at_every_offset(void **state)
{
    (void)state;
    size_t n;
    uint8_t *orig = make_small(&n);
    size_t ends[256];
    int is_series[256];
    size_t nrec = parse_bounds(orig, n, ends, is_series);
    char *dir = test_tmpdir("idx_torn");
    char *p = log_path(dir);
    for (size_t cut = 0; cut <= n; cut++) {
        write_file(p, orig, cut);
        strata_index *idx;
        assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
        /* Expected: every record ending at or before the cut. */
        size_t good = 16, series = 0;
        for (size_t k = 0; k < nrec && ends[k] <= cut; k++)
            good = ends[k], series += is_series[k];
        index_stats st;
        index_get_stats(idx, &st);
        assert_int_equal(check_labels(idx), series);
        if (cut >= 16) {
            assert_int_equal(st.load_truncated_bytes, cut - good);
            assert_int_equal(st.load_corrupt_records, cut > good);
        }
        /* Replay of the lost tail restores the same sids. */
        for (int i = (int)series; i < NSMALL; i++) {
            strata_label l[3];
            char buf[3][32];
            small_labels(i, l, buf);
            assert_int_equal(index_insert_with_sid(idx, l, 3, (strata_sid)i + 1, NULL), STRATA_OK);
        }
        assert_int_equal(check_labels(idx), NSMALL);
        assert_int_equal(index_close(idx), STRATA_OK);
        /* The repaired file opens clean with everything. */
        assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
        index_get_stats(idx, &st);
        assert_int_equal(st.load_truncated_bytes, 0);
        assert_int_equal(check_labels(idx), NSMALL);
        assert_int_equal(index_close(idx), STRATA_OK);
    }
    free(p);
    test_rmtree(dir);
    free(dir);
    free(orig);
}

static void index_flipped_bytes_truncate_at_the_damage_never_wrong_labels(void **state)
{
    (void)state;
    size_t n;
    uint8_t *orig = make_small(&n);
    size_t ends[256];
    int is_series[256];
    size_t nrec = parse_bounds(orig, n, ends, is_series);
    char *dir = test_tmpdir("idx_flip");
    char *p = log_path(dir);
    uint8_t *d = malloc(n);
    test_rng r;
    test_rng_init(&r, test_seed(11));
    for (size_t off = 0; off < n; off++) {
        for (int rep = 0; rep < 3; rep++) {
            memcpy(d, orig, n);
            uint8_t x = (uint8_t)(1u << test_rng_below(&r, 8));
            if (rep == 2)
                x = (uint8_t)(1 + test_rng_below(&r, 255)); /* several bits */
            d[off] ^= x;
            write_file(p, d, n);
            strata_index *idx;
            int rc = index_open(dir, NULL, &idx);
            if (off < 16) { /* the header: a clear error, never silent loss */
                assert_true(rc == STRATA_ERR_CORRUPT || rc == STRATA_ERR_VERSION);
                continue;
            }
            assert_int_equal(rc, STRATA_OK);
            size_t k = 0, good = 16, series = 0;
            while (ends[k] <= off)
                good = ends[k], series += is_series[k], k++;
            assert_true(k < nrec);
            index_stats st;
            index_get_stats(idx, &st);
            assert_int_equal(st.load_corrupt_records, 1);
            /* Damage within one byte is a burst CRC32C always detects. */
            assert_int_equal(st.load_truncated_bytes, n - good);
            assert_int_equal(check_labels(idx), series);
            assert_int_equal(index_close(idx), STRATA_OK);
        }
    }
    free(d);
    free(p);
    test_rmtree(dir);
    free(dir);
    free(orig);
}

static void index_read_only_open_changes_nothing(void **state)
{
    (void)state;
    size_t n;
    uint8_t *orig = make_small(&n);
    char *dir = test_tmpdir("idx_ro");
    char *p = log_path(dir);
    write_file(p, orig, n - 3);
    index_options o;
    index_options_init(&o);
    o.read_only = 1;
    strata_index *idx;
    assert_int_equal(index_open(dir, &o, &idx), STRATA_OK);
    assert_int_equal(check_labels(idx), NSMALL - 1);
    strata_label l[] = {{"__name__", "x"}};
    strata_sid sid;
    assert_int_equal(index_get_or_create(idx, l, 1, &sid, NULL), STRATA_ERR_READONLY);
    assert_int_equal(index_close(idx), STRATA_OK);
    size_t m;
    uint8_t *now = read_file(p, &m);
    assert_int_equal(m, n - 3);
    assert_memory_equal(now, orig, m);
    free(now);
    /* A missing file in read-only mode is an empty index. */
    remove(p);
    assert_int_equal(index_open(dir, &o, &idx), STRATA_OK);
    assert_int_equal(index_series_count(idx), 0);
    assert_int_equal(index_close(idx), STRATA_OK);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
    free(p);
    test_rmtree(dir);
    free(dir);
    free(orig);
}

/* Replay fills sids out of order (a lost tail recreated after newer
 * series), so the file holds sids 5, 6, 3, 1: loaded postings must still
 * be sorted, and the next sid follow the largest. */
static void index_load_sorts_postings_of_out_of_order_sids(void **state)
{
    (void)state;
    char *dir = test_tmpdir("idx_gap");
    strata_index *idx;
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    const strata_sid order[] = {5, 6, 3, 1};
    for (size_t i = 0; i < 4; i++) {
        strata_label l[3];
        char buf[3][32];
        small_labels((int)order[i], l, buf);
        l[1].value = "h"; /* one shared pair over every series */
        int created = 0;
        assert_int_equal(index_insert_with_sid(idx, l, 3, order[i], &created), STRATA_OK);
        assert_int_equal(created, 1);
    }
    assert_int_equal(index_close(idx), STRATA_OK);
    assert_int_equal(index_open(dir, NULL, &idx), STRATA_OK);
    assert_int_equal(index_series_count(idx), 4);
    assert_int_equal(index_max_sid(idx), 6);
    strata_matcher m = {STRATA_MATCH_EQ, "host", "h"};
    index_sids s = {0};
    assert_int_equal(index_select(idx, &m, 1, &s), STRATA_OK);
    assert_int_equal(s.n, 4);
    const strata_sid want[] = {1, 3, 5, 6};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s.v[i], want[i]);
    index_sids_free(&s);
    for (size_t i = 0; i < 4; i++) {
        strata_label l[3];
        char buf[3][32];
        small_labels((int)order[i], l, buf);
        l[1].value = "h";
        strata_sid got = 0;
        assert_int_equal(index_lookup(idx, l, 3, &got), STRATA_OK);
        assert_int_equal(got, order[i]);
    }
    strata_label nl[] = {{"__name__", "next"}};
    strata_sid sid;
    assert_int_equal(index_get_or_create(idx, nl, 1, &sid, NULL), STRATA_OK);
    assert_int_equal(sid, 7);
    assert_int_equal(index_close(idx), STRATA_OK);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_log_round_trips_and_continues_sids),
        cmocka_unit_test(index_torn_tail_is_truncated_at_every_offset),
        cmocka_unit_test(index_flipped_bytes_truncate_at_the_damage_never_wrong_labels),
        cmocka_unit_test(index_read_only_open_changes_nothing),
        cmocka_unit_test(index_load_sorts_postings_of_out_of_order_sids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
