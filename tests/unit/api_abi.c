/*
 * api_abi.c: the public API can grow without breaking compiled callers,
 * and says what went wrong (public API only).
 *
 *  - options_of_an_older_caller_keep_the_new_defaults: a caller whose
 *    strata_options ends before manifest_rewrite_bytes (size smaller than
 *    today's) opens, and the bytes past its size are never read (they hold
 *    garbage here).
 *  - options_without_init_are_refused: size 0 is STRATA_ERR_INVALID, and
 *    strata_errmsg says to use strata_options_init.
 *  - stats_fill_only_the_callers_size: strata_get_stats writes no byte past
 *    the size it is given.
 *  - errmsg_names_the_file_and_the_os_error: opening a data directory that
 *    is a regular file fails, and the message names it.
 *  - version_number_matches_the_header.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "testutil.h"

static void options_of_an_older_caller_keep_the_new_defaults(void **state)
{
    (void)state;
    char *dir = test_tmpdir("abi-old");
    unsigned char raw[sizeof(strata_options) + 64];
    memset(raw, 0xa5, sizeof raw); /* garbage past the old caller's struct */
    strata_options o;
    strata_options_init(&o);
    o.dir = dir;
    o.compaction_threads = 0;
    o.size = offsetof(strata_options, manifest_rewrite_bytes);
    memcpy(raw, &o, o.size);
    strata_db *db = NULL;
    assert_int_equal(strata_open((const strata_options *)raw, &db), STRATA_OK);
    strata_label l[] = {{"__name__", "m"}};
    strata_sid sid;
    assert_int_equal(strata_series_get_or_create(db, l, 1, &sid, NULL), STRATA_OK);
    strata_sample s = {sid, 1000, 1.5};
    assert_int_equal(strata_write(db, &s, 1), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    test_rmtree(dir);
    free(dir);
}

static void options_without_init_are_refused(void **state)
{
    (void)state;
    strata_options o;
    memset(&o, 0, sizeof o);
    o.dir = "/nonexistent-abi-test";
    strata_db *db = NULL;
    assert_int_equal(strata_open(&o, &db), STRATA_ERR_INVALID);
    assert_null(db);
    assert_non_null(strstr(strata_errmsg(), "strata_options_init"));
}

static void stats_fill_only_the_callers_size(void **state)
{
    (void)state;
    char *dir = test_tmpdir("abi-stats");
    strata_options o;
    strata_options_init(&o);
    o.dir = dir;
    o.compaction_threads = 0;
    strata_db *db;
    assert_int_equal(strata_open(&o, &db), STRATA_OK);
    unsigned char raw[sizeof(strata_stats) + 16];
    memset(raw, 0x5a, sizeof raw);
    size_t part = offsetof(strata_stats, head_bytes);
    assert_int_equal(strata_get_stats(db, (strata_stats *)raw, part), STRATA_OK);
    for (size_t i = part; i < sizeof raw; i++)
        assert_int_equal(raw[i], 0x5a);
    strata_stats full;
    assert_int_equal(strata_get_stats(db, &full, sizeof full), STRATA_OK);
    assert_memory_equal(raw, &full, part);
    assert_int_equal(strata_close(db), STRATA_OK);
    test_rmtree(dir);
    free(dir);
}

static void errmsg_names_the_file_and_the_os_error(void **state)
{
    (void)state;
    char *dir = test_tmpdir("abi-errmsg");
    char path[4200];
    snprintf(path, sizeof path, "%s/not-a-dir", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    strata_options o;
    strata_options_init(&o);
    o.dir = path;
    strata_db *db = NULL;
    int rc = strata_open(&o, &db);
    assert_int_not_equal(rc, STRATA_OK);
    const char *msg = strata_errmsg();
    printf("open of a regular file: %s: %s\n", strata_strerror(rc), msg);
    assert_non_null(strstr(msg, "not-a-dir"));
    test_rmtree(dir);
    free(dir);
}

static void version_number_matches_the_header(void **state)
{
    (void)state;
    assert_int_equal(strata_libversion_number(), STRATA_VERSION_NUMBER);
    assert_true(STRATA_VERSION_NUMBER == STRATA_VERSION_MAJOR * 1000000 + STRATA_VERSION_MINOR * 1000 +
                                             STRATA_VERSION_PATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_of_an_older_caller_keep_the_new_defaults),
        cmocka_unit_test(options_without_init_are_refused),
        cmocka_unit_test(stats_fill_only_the_callers_size),
        cmocka_unit_test(errmsg_names_the_file_and_the_os_error),
        cmocka_unit_test(version_number_matches_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
