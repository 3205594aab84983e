/* Series dictionary: canonical labels, sids, lookups, replay inserts,
 * limits, hash collisions, and the canonical encoding. */
#include <stdio.h>
#include <stdlib.h>

#include "index/index.h"
#include "testutil.h"

#define L(n, v) ((strata_label){n, v})

static strata_index *open_mem(int constant_hash)
{
    index_options o;
    index_options_init(&o);
    o.test_constant_hash = constant_hash;
    strata_index *idx = NULL;
    assert_int_equal(index_open(NULL, &o, &idx), STRATA_OK);
    return idx;
}

static void index_sids_are_dense_and_labels_canonical(void **state)
{
    (void)state;
    strata_index *idx = open_mem(0);
    strata_label a[] = {L("job", "api"), L("__name__", "up"), L("empty", ""), L("instance", "h1")};
    strata_label b[] = {L("instance", "h1"), L("__name__", "up"), L("job", "api")};
    strata_label c[] = {L("__name__", "up"), L("instance", "h2"), L("job", "api")};
    strata_sid s1, s2, s3;
    int created;
    assert_int_equal(index_get_or_create(idx, a, 4, &s1, &created), STRATA_OK);
    assert_int_equal(s1, 1);
    assert_int_equal(created, 1);
    assert_int_equal(index_get_or_create(idx, b, 3, &s2, &created), STRATA_OK);
    assert_int_equal(s2, 1); /* same set: other order, empty value dropped */
    assert_int_equal(created, 0);
    assert_int_equal(index_get_or_create(idx, c, 3, &s3, NULL), STRATA_OK);
    assert_int_equal(s3, 2);
    const strata_label *l;
    size_t n;
    assert_int_equal(index_labels(idx, 1, &l, &n), STRATA_OK);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].name, "__name__");
    assert_string_equal(l[1].name, "instance");
    assert_string_equal(l[2].name, "job");
    assert_string_equal(l[2].value, "api");
    assert_int_equal(index_labels(idx, 3, &l, &n), STRATA_ERR_NOTFOUND);
    assert_int_equal(index_labels(idx, 0, &l, &n), STRATA_ERR_NOTFOUND);
    strata_sid got;
    assert_int_equal(index_lookup(idx, b, 3, &got), STRATA_OK);
    assert_int_equal(got, 1);
    assert_int_equal(index_lookup_hashed(idx, c, 3, index_labels_hash(c, 3), &got), STRATA_OK);
    assert_int_equal(got, 2);
    strata_label d[] = {L("__name__", "up")};
    assert_int_equal(index_lookup(idx, d, 1, &got), STRATA_ERR_NOTFOUND);
    assert_int_equal(index_series_count(idx), 2);
    assert_int_equal(index_max_sid(idx), 2);
    assert_int_equal(index_close(idx), STRATA_OK);
}

static void index_rejects_invalid_label_sets(void **state)
{
    (void)state;
    index_options o;
    index_options_init(&o);
    o.limits.max_labels = 3;
    o.limits.max_name_len = 8;
    o.limits.max_value_len = 16;
    strata_index *idx;
    assert_int_equal(index_open(NULL, &o, &idx), STRATA_OK);
    strata_sid sid;
    strata_label dup[] = {L("a", "1"), L("b", "2"), L("a", "3")};
    assert_int_equal(index_get_or_create(idx, dup, 3, &sid, NULL), STRATA_ERR_INVALID);
    strata_label dup_same[] = {L("a", "1"), L("a", "1")};
    assert_int_equal(index_get_or_create(idx, dup_same, 2, &sid, NULL), STRATA_ERR_INVALID);
    strata_label empty_name[] = {L("", "1")};
    assert_int_equal(index_get_or_create(idx, empty_name, 1, &sid, NULL), STRATA_ERR_INVALID);
    strata_label all_empty[] = {L("a", ""), L("b", "")};
    assert_int_equal(index_get_or_create(idx, all_empty, 2, &sid, NULL), STRATA_ERR_INVALID);
    assert_int_equal(index_get_or_create(idx, NULL, 0, &sid, NULL), STRATA_ERR_INVALID);
    strata_label null_value[] = {L("a", NULL)};
    assert_int_equal(index_get_or_create(idx, null_value, 1, &sid, NULL), STRATA_ERR_INVALID);
    strata_label many[] = {L("a", "1"), L("b", "2"), L("c", "3"), L("d", "4")};
    assert_int_equal(index_get_or_create(idx, many, 4, &sid, NULL), STRATA_ERR_LIMIT);
    /* An empty value does not count against the limit. */
    strata_label many_empty[] = {L("a", "1"), L("b", "2"), L("c", "3"), L("d", "")};
    assert_int_equal(index_get_or_create(idx, many_empty, 4, &sid, NULL), STRATA_OK);
    strata_label long_name[] = {L("abcdefghi", "1")};
    assert_int_equal(index_get_or_create(idx, long_name, 1, &sid, NULL), STRATA_ERR_LIMIT);
    strata_label long_value[] = {L("a", "0123456789abcdefg")};
    assert_int_equal(index_get_or_create(idx, long_value, 1, &sid, NULL), STRATA_ERR_LIMIT);
    /* A duplicate set is not found either (never matches a stored one). */
    strata_label ok[] = {L("a", "1")};
    assert_int_equal(index_get_or_create(idx, ok, 1, &sid, NULL), STRATA_OK);
    strata_label ok_dup[] = {L("a", "1"), L("a", "1")};
    strata_sid got;
    assert_int_equal(index_lookup(idx, ok_dup, 2, &got), STRATA_ERR_NOTFOUND);
    assert_int_equal(index_series_count(idx), 2);
    assert_int_equal(index_close(idx), STRATA_OK);
}

/* With every hash equal, all lookups go through full comparison: the
 * answers must be the same as with the real hash. */
static void index_hash_collisions_are_harmless(void **state)
{
    (void)state;
    strata_index *real = open_mem(0), *coll = open_mem(1);
    test_rng r;
    test_rng_init(&r, test_seed(7));
    char name[3][16], value[3][16];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 1500; i++) {
            strata_label l[3];
            for (int k = 0; k < 3; k++) {
                snprintf(name[k], sizeof name[k], "n%d", k);
                snprintf(value[k], sizeof value[k], "%u", (unsigned)test_rng_below(&r, round ? 30 : 12));
                l[k] = L(name[k], value[k]);
            }
            /* A reversed order must find the same series. */
            strata_label rev[3] = {l[2], l[1], l[0]};
            strata_sid a, b, c;
            int ca, cb;
            assert_int_equal(index_get_or_create(real, l, 3, &a, &ca), STRATA_OK);
            assert_int_equal(index_get_or_create(coll, rev, 3, &b, &cb), STRATA_OK);
            assert_int_equal(a, b);
            assert_int_equal(ca, cb);
            assert_int_equal(index_lookup(coll, l, 3, &c), STRATA_OK);
            assert_int_equal(c, a);
        }
    }
    assert_int_equal(index_series_count(real), index_series_count(coll));
    for (strata_sid s = 1; s <= index_max_sid(real); s++) {
        const strata_label *x, *y;
        size_t nx, ny;
        assert_int_equal(index_labels(real, s, &x, &nx), STRATA_OK);
        assert_int_equal(index_labels(coll, s, &y, &ny), STRATA_OK);
        assert_int_equal(nx, ny);
        for (size_t k = 0; k < nx; k++) {
            assert_string_equal(x[k].name, y[k].name);
            assert_string_equal(x[k].value, y[k].value);
        }
    }
    index_close(real);
    index_close(coll);
}

static void index_insert_with_sid_is_idempotent_and_checks_conflicts(void **state)
{
    (void)state;
    strata_index *idx = open_mem(0);
    strata_label a[] = {L("__name__", "a")}, b[] = {L("__name__", "b")}, c[] = {L("__name__", "c")};
    int created;
    assert_int_equal(index_insert_with_sid(idx, a, 1, 1, &created), STRATA_OK);
    assert_int_equal(created, 1);
    assert_int_equal(index_insert_with_sid(idx, a, 1, 1, &created), STRATA_OK);
    assert_int_equal(created, 0);
    assert_int_equal(index_insert_with_sid(idx, b, 1, 1, NULL), STRATA_ERR_CORRUPT); /* sid taken */
    assert_int_equal(index_insert_with_sid(idx, a, 1, 2, NULL), STRATA_ERR_CORRUPT); /* labels taken */
    assert_int_equal(index_insert_with_sid(idx, b, 1, 0, NULL), STRATA_ERR_CORRUPT);
    assert_int_equal(index_insert_with_sid(idx, b, 1, 1u << 30, NULL), STRATA_ERR_CORRUPT);
    /* A gap, then the gap filled: later creations go above both. */
    assert_int_equal(index_insert_with_sid(idx, b, 1, 5, NULL), STRATA_OK);
    assert_int_equal(index_insert_with_sid(idx, c, 1, 3, NULL), STRATA_OK);
    strata_sid sid;
    strata_label d[] = {L("__name__", "d")};
    assert_int_equal(index_get_or_create(idx, d, 1, &sid, NULL), STRATA_OK);
    assert_int_equal(sid, 6);
    const strata_label *l;
    size_t n;
    assert_int_equal(index_labels(idx, 4, &l, &n), STRATA_ERR_NOTFOUND);
    assert_int_equal(index_labels(idx, 3, &l, &n), STRATA_OK);
    assert_string_equal(l[0].value, "c");
    index_sids all = {0};
    assert_int_equal(index_select(idx, NULL, 0, &all), STRATA_OK);
    assert_int_equal(all.n, 4);
    strata_sid want[] = {1, 3, 5, 6};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(all.v[i], want[i]);
    index_sids_free(&all);
    index_close(idx);
}

static void index_canonical_encoding_round_trips_and_rejects_bad_bytes(void **state)
{
    (void)state;
    index_limits lim;
    index_limits_init(&lim);
    strata_label in[] = {L("zone", "eu"), L("__name__", "x"), L("e", ""), L("a", "1")};
    bbuf b = {0};
    assert_int_equal(index_labels_encode(in, 4, &lim, &b), STRATA_OK);
    strata_label *out;
    size_t n;
    assert_int_equal(index_labels_decode(b.data, b.len, &out, &n), STRATA_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].name, "__name__");
    assert_string_equal(out[1].name, "a");
    assert_string_equal(out[2].value, "eu");
    base_free(out);
    /* Every truncation and every single flipped bit is rejected or decodes
     * to a canonical set (never a crash); the truncations all fail. */
    for (size_t k = 0; k < b.len; k++)
        assert_int_equal(index_labels_decode(b.data, k, &out, &n), STRATA_ERR_CORRUPT);
    for (size_t k = 0; k < b.len * 8; k++) {
        b.data[k / 8] ^= (uint8_t)(1u << (k % 8));
        if (index_labels_decode(b.data, b.len, &out, &n) == STRATA_OK) {
            for (size_t i = 1; i < n; i++)
                assert_true(strcmp(out[i - 1].name, out[i].name) < 0);
            base_free(out);
        }
        b.data[k / 8] ^= (uint8_t)(1u << (k % 8));
    }
    strata_label dup[] = {L("a", "1"), L("a", "2")};
    size_t before = b.len;
    assert_int_equal(index_labels_encode(dup, 2, &lim, &b), STRATA_ERR_INVALID);
    assert_int_equal(b.len, before);
    /* Unsorted bytes are not canonical. */
    const uint8_t unsorted[] = {2, 1, 'b', 1, '1', 1, 'a', 1, '2'};
    assert_int_equal(index_labels_decode(unsorted, sizeof unsorted, &out, &n), STRATA_ERR_CORRUPT);
    base_buf_free(&b);
}

static void index_hash_ignores_order_and_empty_values(void **state)
{
    (void)state;
    strata_label a[] = {L("a", "1"), L("b", "2")}, b[] = {L("b", "2"), L("x", ""), L("a", "1")};
    strata_label c[] = {L("a", "2"), L("b", "1")};
    assert_true(index_labels_hash(a, 2) == index_labels_hash(b, 3));
    assert_true(index_labels_hash(a, 2) != index_labels_hash(c, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_sids_are_dense_and_labels_canonical),
        cmocka_unit_test(index_rejects_invalid_label_sets),
        cmocka_unit_test(index_hash_collisions_are_harmless),
        cmocka_unit_test(index_insert_with_sid_is_idempotent_and_checks_conflicts),
        cmocka_unit_test(index_canonical_encoding_round_trips_and_rejects_bad_bytes),
        cmocka_unit_test(index_hash_ignores_order_and_empty_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
