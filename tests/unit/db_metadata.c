/*
 * db_metadata.c: metric metadata through the public API: stored once per
 * distinct entry, sorted, filtered and limited as /api/v1/metadata asks,
 * durable across close and reopen, bad input refused without storing any
 * of the call, a damaged file moved aside (the database still opens), and
 * a read-only database refusing puts. Seed: STRATA_SEED.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "db_testlib.h"

static strata_db *open_at(const char *root, int read_only)
{
    strata_options o;
    dbt_options(&o, root);
    o.read_only = read_only;
    return dbt_open_ok(&o);
}

static size_t get_all(strata_db *db, const char *metric, size_t limit, size_t per, strata_metadata **out)
{
    size_t n = 99;
    assert_int_equal(strata_metadata_get(db, metric, limit, per, out, &n), STRATA_OK);
    return n;
}

static void metadata_is_deduplicated_sorted_and_durable(void **state)
{
    (void)state;
    char *root = test_tmpdir("md");
    strata_db *db = open_at(root, 0);
    strata_metadata m[] = {
        {"up", "gauge", "1 if the target is up", ""},
        {"http_requests_total", "counter", "Requests.", NULL},
        {"up", "gauge", "1 if the target is up", NULL}, /* the same as the first: NULL is "" */
        {"up", "unknown", "", ""},                      /* another entry of up */
        {"rpc_duration_seconds", "summary", "RPC latency.", "seconds"},
    };
    assert_int_equal(strata_metadata_put(db, m, 5), STRATA_OK);
    assert_int_equal(strata_metadata_put(db, m, 5), STRATA_OK); /* again: nothing new */
    strata_metadata *got;
    size_t n = get_all(db, NULL, 0, 0, &got);
    assert_int_equal(n, 4);
    assert_string_equal(got[0].metric, "http_requests_total");
    assert_string_equal(got[0].unit, "");
    assert_string_equal(got[1].metric, "rpc_duration_seconds");
    assert_string_equal(got[1].unit, "seconds");
    assert_string_equal(got[2].type, "gauge");
    assert_string_equal(got[3].type, "unknown");
    strata_free(got);
    assert_int_equal(get_all(db, "up", 0, 0, &got), 2);
    strata_free(got);
    assert_int_equal(get_all(db, "up", 0, 1, &got), 1);
    strata_free(got);
    assert_int_equal(get_all(db, NULL, 2, 0, &got), 2); /* two metrics: http_requests_total, rpc_... */
    assert_string_equal(got[1].metric, "rpc_duration_seconds");
    strata_free(got);
    assert_int_equal(get_all(db, "nope", 0, 0, &got), 0);
    assert_null(got);
    assert_int_equal(strata_close(db), STRATA_OK);

    db = open_at(root, 0);
    assert_int_equal(get_all(db, NULL, 0, 0, &got), 4);
    assert_string_equal(got[1].help, "RPC latency.");
    strata_free(got);
    assert_int_equal(strata_close(db), STRATA_OK);
    test_rmtree(root);
    free(root);
}

static void metadata_bad_input_stores_nothing_of_the_call(void **state)
{
    (void)state;
    char *root = test_tmpdir("md_bad");
    strata_db *db = open_at(root, 0);
    strata_metadata bad[][2] = {
        {{"a", "gauge", "", ""}, {"b", "gauges", "", ""}},      /* unknown type */
        {{"a", "gauge", "", ""}, {"", "gauge", "", ""}},        /* empty metric */
        {{"a", "gauge", "", ""}, {"b", "gauge", "\xff\xfe", ""}}, /* not UTF-8 */
        {{"a", "gauge", "", ""}, {"b", NULL, "", ""}},          /* no type */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(strata_metadata_put(db, bad[i], 2), STRATA_ERR_INVALID);
    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, 'x', 69999);
    big[69999] = 0;
    strata_metadata over = {"a", "gauge", big, ""};
    assert_int_equal(strata_metadata_put(db, &over, 1), STRATA_ERR_LIMIT);
    free(big);
    strata_metadata *got;
    assert_int_equal(get_all(db, NULL, 0, 0, &got), 0);
    assert_int_equal(strata_close(db), STRATA_OK);
    test_rmtree(root);
    free(root);
}

static void metadata_damaged_file_is_moved_aside_and_the_database_opens(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(7));
    char *root = test_tmpdir("md_dmg");
    strata_db *db = open_at(root, 0);
    strata_metadata m = {"up", "gauge", "help", "unit"};
    assert_int_equal(strata_metadata_put(db, &m, 1), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    char path[4096], aside[4096];
    snprintf(path, sizeof path, "%s/METADATA", root);
    snprintf(aside, sizeof aside, "%s/METADATA.corrupt", root);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    long at = (long)test_rng_below(&r, (uint64_t)len);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    assert_int_not_equal(fputc(c ^ (1 << test_rng_below(&r, 8)), f), EOF);
    assert_int_equal(fclose(f), 0);

    db = open_at(root, 0);
    strata_metadata *got;
    assert_int_equal(get_all(db, NULL, 0, 0, &got), 0); /* never a wrong entry */
    struct stat st;
    assert_int_equal(stat(aside, &st), 0);
    assert_int_equal(strata_metadata_put(db, &m, 1), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    db = open_at(root, 1);
    assert_int_equal(get_all(db, NULL, 0, 0, &got), 1);
    strata_free(got);
    assert_int_equal(strata_metadata_put(db, &m, 1), STRATA_ERR_READONLY);
    assert_int_equal(strata_close(db), STRATA_OK);
    test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metadata_is_deduplicated_sorted_and_durable),
        cmocka_unit_test(metadata_bad_input_stores_nothing_of_the_call),
        cmocka_unit_test(metadata_damaged_file_is_moved_aside_and_the_database_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
