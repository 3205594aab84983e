/* WAL round trips: records of random sizes (spanning pages and segments)
 * come back identical, in order, after reopen; replay from a position;
 * cut and removal of old segments; the framing's own checks. */
#include "wal_testlib.h"
#include "wal/wal_int.h"

static void wal_records_round_trip_across_pages_and_segments(void **state)
{
    (void)state;
    uint64_t seed = test_seed(11);
    struct {
        uint32_t page;
        uint64_t seg;
        size_t max_len;
    } cfg[] = {{0, 256 << 10, 100000}, {128, 4096, 2000}, {64, 1024, 5000}};
    for (size_t c = 0; c < ARRAY_LEN(cfg); c++) {
        char *dir = test_tmpdir("wal-rt");
        gen g;
        gen_init(&g, seed + c, 600, cfg[c].max_len);
        wal_opts o = test_wal_opts(dir, STRATA_SYNC_NONE, cfg[c].page, cfg[c].seg);
        wal_pos *ends = calloc(g.n, sizeof *ends);
        assert_non_null(ends);

        check ck = {.g = &g};
        wal_replay_stats st;
        wal *w = test_open_replay(&o, (wal_pos){0, 0}, &ck, &st);
        assert_int_equal(ck.got, 0);
        assert_int_equal(st.end.segment, 1);
        /* Half now, half after a reopen. */
        for (size_t i = 0; i < g.n / 2; i++)
            gen_append(w, &g, i, &ends[i]);
        assert_int_equal(wal_close(w), STRATA_OK);
        w = test_open_replay(&o, (wal_pos){0, 0}, &ck, &st);
        assert_int_equal(ck.got, g.n / 2);
        assert_int_equal(ck.bad, 0);
        assert_int_equal(st.corruptions, 0);
        assert_int_equal(st.bytes_truncated, 0);
        assert_int_equal(wal_pos_cmp(st.end, ends[g.n / 2 - 1]), 0);
        for (size_t i = g.n / 2; i < g.n; i++)
            gen_append(w, &g, i, &ends[i]);
        wal_stats ws;
        wal_stats_get(w, &ws);
        assert_true(ws.segments > 2); /* records were spread over segments */
        assert_int_equal(wal_close(w), STRATA_OK);

        /* Every record's end position is a valid replay start. */
        test_rng r;
        test_rng_init(&r, seed ^ c);
        for (int k = 0; k < 20; k++) {
            size_t i = (size_t)test_rng_below(&r, g.n);
            check ck2 = {.g = &g, .first = i + 1};
            w = test_open_replay(&o, ends[i], &ck2, &st);
            assert_int_equal(ck2.got, g.n - i - 1);
            assert_int_equal(ck2.bad, 0);
            assert_int_equal(st.corruptions, 0);
            assert_int_equal(wal_close(w), STRATA_OK);
        }
        check all = {.g = &g};
        w = test_open_replay(&o, (wal_pos){0, 0}, &all, &st);
        assert_int_equal(all.got, g.n);
        assert_int_equal(all.bad, 0);
        assert_int_equal(st.segments, ws.segments);
        assert_int_equal(wal_close(w), STRATA_OK);
        free(ends);
        gen_free(&g);
        test_rmtree(dir);
        free(dir);
    }
}

static void wal_cut_starts_a_segment_and_remove_before_deletes_older(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-cut");
    gen g;
    gen_init(&g, test_seed(12), 40, 500);
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_INTERVAL, 0, 0);
    o.sync_interval_ms = 5;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    wal_pos p, e;
    assert_int_equal(wal_cut(w, &p), STRATA_OK); /* empty segment: kept */
    assert_int_equal(p.segment, 1);
    assert_int_equal(p.offset, 0);
    for (size_t i = 0; i < 20; i++)
        gen_append(w, &g, i, &e);
    assert_int_equal(wal_cut(w, &p), STRATA_OK);
    assert_int_equal(p.segment, 2);
    assert_int_equal(p.offset, 0);
    assert_int_equal(wal_pos_cmp(wal_position(w), p), 0);
    for (size_t i = 20; i < 40; i++)
        gen_append(w, &g, i, &e);
    wal_stats ws;
    wal_stats_get(w, &ws);
    assert_int_equal(ws.segments, 2);
    assert_int_equal(ws.records, 40);
    assert_int_equal(wal_close(w), STRATA_OK);

    /* Replay from the cut sees only the second half. */
    check ck = {.g = &g, .first = 20};
    wal_replay_stats st;
    w = test_open_replay(&o, p, &ck, &st);
    assert_int_equal(ck.got, 20);
    assert_int_equal(ck.bad, 0);
    assert_int_equal(wal_remove_before(w, p.segment), STRATA_OK);
    wal_stats_get(w, &ws);
    assert_int_equal(ws.segments, 1);
    assert_int_equal(ws.first_segment, 2);
    char *s1 = test_seg_path(dir, 1);
    assert_int_equal(access(s1, F_OK), -1);
    free(s1);
    /* The segment being written is never removed. */
    assert_int_equal(wal_remove_before(w, 100), STRATA_OK);
    wal_stats_get(w, &ws);
    assert_int_equal(ws.segments, 1);
    assert_int_equal(wal_close(w), STRATA_OK);

    /* Replay from a position past every segment writes there, not before. */
    w = test_open_replay(&o, (wal_pos){7, 0}, NULL, &st);
    assert_int_equal(st.end.segment, 7);
    assert_int_equal(wal_close(w), STRATA_OK);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

static void wal_appendv_writes_records_in_order_and_rejects_misuse(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-v");
    gen g;
    gen_init(&g, test_seed(13), 30, 4000);
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_ALWAYS, 256, 8192);
    wal *w = NULL;
    assert_int_equal(wal_open(&o, &w), STRATA_OK);
    assert_int_equal(wal_append(w, 1, "x", 1, NULL), STRATA_ERR_INVALID); /* before replay */
    assert_int_equal(wal_replay(w, (wal_pos){0, 0}, NULL, NULL, NULL), STRATA_OK);
    assert_int_equal(wal_replay(w, (wal_pos){0, 0}, NULL, NULL, NULL), STRATA_ERR_INVALID); /* twice */
    wal_rec recs[30];
    uint8_t *pl[30];
    for (size_t i = 0; i < 30; i++) {
        pl[i] = gen_payload(&g, i);
        recs[i] = (wal_rec){gen_type(&g, i), pl[i], g.len[i]};
    }
    wal_pos e;
    assert_int_equal(wal_appendv(w, recs, 10, &e), STRATA_OK);
    assert_int_equal(wal_appendv(w, recs + 10, 20, &e), STRATA_OK); /* > one segment: grows one */
    assert_int_equal(wal_close(w), STRATA_OK);
    check ck = {.g = &g};
    wal_replay_stats st;
    w = test_open_replay(&o, (wal_pos){0, 0}, &ck, &st);
    assert_int_equal(ck.got, 30);
    assert_int_equal(ck.bad, 0);
    assert_int_equal(st.segments, 2);
    assert_int_equal(wal_close(w), STRATA_OK);

    /* Read-only: nothing written, nothing repaired. */
    o.read_only = true;
    assert_int_equal(wal_open(&o, &w), STRATA_OK);
    assert_int_equal(wal_replay(w, (wal_pos){0, 0}, NULL, NULL, &st), STRATA_OK);
    assert_int_equal(st.records, 30);
    assert_int_equal(wal_append(w, 1, "x", 1, NULL), STRATA_ERR_INVALID);
    assert_int_equal(wal_close(w), STRATA_OK);
    for (size_t i = 0; i < 30; i++)
        free(pl[i]);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

/* The framing itself: page tails under 7 bytes are zero, FIRST/MIDDLE fill
 * their page, and framed_end agrees with what frame_record writes. */
static void wal_framing_pads_page_tails_and_fills_pages(void **state)
{
    (void)state;
    uint8_t payload[600];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 1);
    for (uint64_t off = 0; off < 256; off++) {
        for (size_t len = 0; len < 400; len += 7) {
            bbuf b = {0};
            uint64_t end;
            assert_int_equal(wal_frame_record(&b, 128, off, 9, payload, len, &end), STRATA_OK);
            assert_int_equal(end, wal_framed_end(128, off, len));
            assert_int_equal(b.len, end - off);
            /* Walk the fragments. */
            uint64_t o = off;
            size_t data = 0;
            int last_type = 0;
            while (o < end) {
                uint64_t left = 128 - o % 128;
                const uint8_t *h = b.data + (o - off);
                if (left < 7) {
                    for (uint64_t k = 0; k < left; k++)
                        assert_int_equal(h[k], 0);
                    o += left;
                    continue;
                }
                uint16_t l = load_u16le(h + 1);
                assert_true(h[0] >= WAL_FRAG_FULL && h[0] <= WAL_FRAG_LAST);
                if (h[0] == WAL_FRAG_FIRST || h[0] == WAL_FRAG_MIDDLE)
                    assert_int_equal(l, left - 7);
                assert_int_equal(load_u32le(h + 3), base_crc32c(base_crc32c(0, h, 3), h + 7, l));
                data += l;
                last_type = h[0];
                o += 7 + l;
            }
            assert_int_equal(data, len + 1);
            assert_true(last_type == WAL_FRAG_FULL || last_type == WAL_FRAG_LAST);
            base_buf_free(&b);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_records_round_trip_across_pages_and_segments),
        cmocka_unit_test(wal_cut_starts_a_segment_and_remove_before_deletes_older),
        cmocka_unit_test(wal_appendv_writes_records_in_order_and_rejects_misuse),
        cmocka_unit_test(wal_framing_pads_page_tails_and_fills_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
