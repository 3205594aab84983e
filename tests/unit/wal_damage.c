/* WAL damage: a log cut at every offset, or with a byte changed anywhere,
 * replays exactly the whole records before the damage, never a wrong one;
 * the log opens, the counters say what was cut, and appends after the
 * repair replay correctly. */
#include "wal_testlib.h"

#define PAGE 128

typedef struct pristine {
    gen g;               /* n written records plus two for appends after repair */
    size_t n;            /* records written */
    wal_pos *ends;       /* end of each record */
    size_t n_segs;
    uint8_t *seg[8];     /* the segment files' bytes */
    size_t seg_len[8];
} pristine;

/* Writes g's records into a fresh log and keeps a copy of its files. */
static void make_log(pristine *pr, uint64_t seed, size_t n, size_t max_len, uint64_t seg_bytes)
{
    char *dir = test_tmpdir("wal-src");
    gen_init(&pr->g, seed, n + 2, max_len);
    pr->ends = calloc(n, sizeof *pr->ends);
    assert_non_null(pr->ends);
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_NONE, PAGE, seg_bytes);
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        gen_append(w, &pr->g, i, &pr->ends[i]);
    assert_int_equal(wal_close(w), STRATA_OK);
    pr->n = n;
    pr->n_segs = pr->ends[n - 1].segment;
    assert_true(pr->n_segs <= 8);
    for (size_t s = 0; s < pr->n_segs; s++) {
        char *p = test_seg_path(dir, s + 1);
        pr->seg[s] = test_read_file(p, &pr->seg_len[s]);
        free(p);
    }
    test_rmtree(dir);
    free(dir);
}

static void free_log(pristine *pr)
{
    for (size_t s = 0; s < pr->n_segs; s++)
        free(pr->seg[s]);
    free(pr->ends);
    gen_free(&pr->g);
}

/* Materialises the pristine segments in dir, segment `which` replaced by
 * (data, len). */
static void put_log(const pristine *pr, const char *dir, size_t which, const uint8_t *data, size_t len)
{
    for (uint64_t s = 1; s <= pr->n_segs + 1; s++) { /* what the last run left */
        char *p = test_seg_path(dir, s);
        unlink(p);
        free(p);
    }
    for (size_t s = 0; s < pr->n_segs; s++) {
        char *p = test_seg_path(dir, s + 1);
        if (s == which)
            test_write_file(p, data, len);
        else
            test_write_file(p, pr->seg[s], pr->seg_len[s]);
        free(p);
    }
}

/* Records whose end is at or before (segment, offset). */
static size_t whole_before(const pristine *pr, uint64_t segment, uint64_t offset)
{
    size_t k = 0;
    while (k < pr->n && wal_pos_cmp(pr->ends[k], (wal_pos){segment, offset}) <= 0)
        k++;
    return k;
}

/* Opens the damaged log in dir, checks the replay is the expected prefix,
 * appends two records, and checks a second replay has them and no damage. */
static void replay_and_resume(const pristine *pr, const char *dir, size_t expect, wal_replay_stats *st)
{
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_NONE, PAGE, 1 << 30);
    check ck = {.g = &pr->g};
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, &ck, st);
    assert_int_equal(ck.bad, 0);
    assert_int_equal(ck.got, expect);
    assert_int_equal(st->records, expect);
    assert_true(expect + 2 <= pr->g.n);
    gen_append(w, &pr->g, expect, NULL);
    gen_append(w, &pr->g, expect + 1, NULL);
    assert_int_equal(wal_close(w), STRATA_OK);
    check ck2 = {.g = &pr->g};
    wal_replay_stats st2;
    w = test_open_replay(&o, (wal_pos){0, 0}, &ck2, &st2);
    assert_int_equal(ck2.bad, 0);
    assert_int_equal(ck2.got, expect + 2);
    assert_int_equal(st2.corruptions, 0);
    assert_int_equal(st2.bytes_truncated, 0);
    assert_int_equal(wal_close(w), STRATA_OK);
}

static void wal_torn_tail_is_truncated(void **state)
{
    (void)state;
    pristine pr;
    make_log(&pr, test_seed(21), 30, 400, 1 << 30);
    assert_int_equal(pr.n_segs, 1);
    size_t size = pr.seg_len[0];
    assert_true(size > 4 * PAGE); /* records span pages */
    char *dir = test_tmpdir("wal-torn");
    for (size_t cut = 0; cut <= size; cut++) {
        put_log(&pr, dir, 0, pr.seg[0], cut);
        size_t k = whole_before(&pr, 1, cut);
        uint64_t good = k ? pr.ends[k - 1].offset : 0;
        wal_replay_stats st;
        replay_and_resume(&pr, dir, k, &st);
        assert_int_equal(st.bytes_truncated, cut - good);
        assert_int_equal(st.corruptions, cut != good);
        assert_int_equal(st.records_dropped, 0);
        assert_int_equal(st.segments_removed, 0);
        assert_int_equal(st.end.offset, good);
    }
    test_rmtree(dir);
    free(dir);
    free_log(&pr);
}

static void wal_torn_middle_segment_drops_later_segments(void **state)
{
    (void)state;
    pristine pr;
    make_log(&pr, test_seed(22), 40, 300, 1024);
    assert_true(pr.n_segs >= 3);
    size_t in_later = pr.n - whole_before(&pr, 2, UINT64_MAX);
    uint64_t later_bytes = 0;
    for (size_t s = 2; s < pr.n_segs; s++)
        later_bytes += pr.seg_len[s];
    char *dir = test_tmpdir("wal-mid");
    for (size_t cut = 0; cut < pr.seg_len[1]; cut++) {
        put_log(&pr, dir, 1, pr.seg[1], cut);
        size_t k = whole_before(&pr, 2, cut);
        uint64_t good = k && pr.ends[k - 1].segment == 2 ? pr.ends[k - 1].offset : 0;
        wal_replay_stats st;
        replay_and_resume(&pr, dir, k, &st);
        assert_int_equal(st.corruptions, 1);
        assert_int_equal(st.segments_removed, pr.n_segs - 2);
        assert_int_equal(st.bytes_truncated, cut - good + later_bytes);
        assert_int_equal(st.records_dropped, in_later);
        assert_int_equal(st.damage.segment, 2);
        char *p3 = test_seg_path(dir, 3);
        /* replay_and_resume appended into segment 2: 3 must not come back. */
        assert_int_equal(access(p3, F_OK), -1);
        free(p3);
    }
    test_rmtree(dir);
    free(dir);
    free_log(&pr);
}

static void wal_flipped_bytes_yield_a_prefix(void **state)
{
    (void)state;
    pristine pr;
    test_rng r;
    uint64_t seed = test_seed(23);
    test_rng_init(&r, seed);
    make_log(&pr, seed, 60, 400, 2048);
    assert_true(pr.n_segs >= 3);
    uint8_t *copy = malloc(4096 * 8);
    assert_non_null(copy);
    char *dir = test_tmpdir("wal-flip");
    for (int trial = 0; trial < 1000; trial++) {
        size_t s = (size_t)test_rng_below(&r, pr.n_segs);
        size_t pos = (size_t)test_rng_below(&r, pr.seg_len[s]);
        uint8_t x = (uint8_t)(1 + test_rng_below(&r, 255));
        memcpy(copy, pr.seg[s], pr.seg_len[s]);
        copy[pos] ^= x;
        put_log(&pr, dir, s, copy, pr.seg_len[s]);
        /* Every record ending at or before the changed byte survives; the
         * one holding it is caught by its CRC, and the rest is dropped. */
        size_t k = whole_before(&pr, s + 1, pos);
        wal_replay_stats st;
        replay_and_resume(&pr, dir, k, &st);
        assert_int_equal(st.corruptions, 1);
        assert_true(st.bytes_truncated > 0);
    }
    test_rmtree(dir);
    free(dir);
    free(copy);
    free_log(&pr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_torn_tail_is_truncated),
        cmocka_unit_test(wal_torn_middle_segment_drops_later_segments),
        cmocka_unit_test(wal_flipped_bytes_yield_a_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
