/*
 * table_lifecycle.c: the life of a table file: no final-named file until
 * finish, abort leaves nothing, an unknown format version is named clearly,
 * references keep an obsolete file until the last one goes, empty files,
 * verification of a sound file, file names.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table/table_format.h"
#include "table_testdata.h"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void table_file_appears_only_at_finish(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_life");
    char *path = td_path(dir, 42);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    table_writer *w;
    assert_int_equal(table_writer_open(dir, 42, &(table_writer_opts){.block_samples = 10}, &w), STRATA_OK);
    int64_t ts[100];
    double v[100];
    for (int i = 0; i < 100; i++) {
        ts[i] = i * 1000;
        v[i] = i;
    }
    for (uint64_t sid = 1; sid < 50; sid++) {
        assert_int_equal(table_writer_add(w, sid, ts, v, 100), STRATA_OK);
        assert_false(exists(path));
    }
    assert_true(table_writer_bytes(w) > 0);
    assert_true(exists(tmp));
    table_meta m;
    assert_int_equal(table_writer_finish(w, &m), STRATA_OK);
    assert_true(exists(path));
    assert_false(exists(tmp));
    assert_int_equal(m.samples, 4900);
    assert_int_equal(m.blocks, 490);
    assert_int_equal(dir_entries(dir), 1);
    free(path);
    test_rmtree(dir);
    free(dir);
}

static void table_abort_leaves_no_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_abort");
    table_writer *w;
    assert_int_equal(table_writer_open(dir, 1, NULL, &w), STRATA_OK);
    int64_t ts[3] = {1, 2, 3};
    double v[3] = {1, 2, 3};
    assert_int_equal(table_writer_add(w, 1, ts, v, 3), STRATA_OK);
    table_writer_abort(w);
    assert_int_equal(dir_entries(dir), 0);
    table_writer_abort(NULL);
    test_rmtree(dir);
    free(dir);
}

static void write_small(const char *dir, uint64_t file_no)
{
    table_writer *w;
    assert_int_equal(table_writer_open(dir, file_no, NULL, &w), STRATA_OK);
    int64_t ts[3] = {1000, 2000, 3000};
    double v[3] = {1.5, 2.5, 3.5};
    assert_int_equal(table_writer_add(w, 9, ts, v, 3), STRATA_OK);
    assert_int_equal(table_writer_finish(w, NULL), STRATA_OK);
}

static void table_unknown_version_is_named(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_version");
    write_small(dir, 1);
    char *path = td_path(dir, 1);
    uint8_t *p;
    size_t n;
    assert_int_equal(base_file_read_all(path, &p, &n), STRATA_OK);
    /* a file of a future version: version 7, its footer CRC recomputed */
    uint8_t *f = p + n - TABLE_FOOTER_SIZE;
    store_u32le(f + TF_VERSION, 7);
    store_u32le(f + TF_FOOTER_CRC, base_crc32c(0, f, TF_FOOTER_CRC));
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(base_file_write_all(fd, p, n), STRATA_OK);
    close(fd);
    table *t = NULL;
    char err[512];
    assert_int_equal(table_open(path, NULL, &t, err, sizeof err), STRATA_ERR_VERSION);
    printf("message: %s\n", err);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "version 7"));
    assert_non_null(strstr(err, "versions 1 to 2"));
    assert_int_equal(table_verify(path, NULL, NULL), STRATA_ERR_VERSION);
    base_free(p);
    free(path);
    test_rmtree(dir);
    free(dir);
}

/* A file of version 1 (written before aggregate blocks: a 108-byte footer
 * without rules_ms) still reads, sample for sample, and verifies. */
static void table_version_1_file_still_reads(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_v1");
    write_small(dir, 1);
    char *path = td_path(dir, 1);
    uint8_t *p;
    size_t n;
    assert_int_equal(base_file_read_all(path, &p, &n), STRATA_OK);
    table *t2 = NULL;
    assert_int_equal(table_open(path, NULL, &t2, NULL, 0), STRATA_OK);
    uint8_t v1[TABLE_FOOTER_SIZE_V1];
    const uint8_t *f = p + n - TABLE_FOOTER_SIZE;
    memcpy(v1, f, 88);
    store_u32le(v1 + 88, TABLE_FOOTER_SIZE_V1);
    store_u32le(v1 + 92, 1);
    store_u32le(v1 + 96, base_crc32c(0, v1, 96));
    store_u64le(v1 + 100, TABLE_MAGIC);
    char *path1 = td_path(dir, 2);
    int fd = open(path1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(base_file_write_all(fd, p, n - TABLE_FOOTER_SIZE), STRATA_OK);
    assert_int_equal(base_file_write_all(fd, v1, sizeof v1), STRATA_OK);
    close(fd);
    table *t1 = NULL;
    char err[512] = "";
    int rc = table_open(path1, NULL, &t1, err, sizeof err);
    if (rc)
        printf("%s\n", err);
    assert_int_equal(rc, STRATA_OK);
    assert_int_equal(table_get_meta(t1)->samples, table_get_meta(t2)->samples);
    assert_int_equal(table_get_meta(t1)->rules_ms, 0);
    table_scan s1, s2;
    table_scan_init(&s1, t1);
    table_scan_init(&s2, t2);
    uint64_t sid1, sid2;
    table_block b1, b2;
    const uint8_t *x1, *x2;
    int r1, r2;
    size_t blocks = 0;
    while ((r1 = table_scan_next(&s1, &sid1, &b1, &x1)) == 1) {
        r2 = table_scan_next(&s2, &sid2, &b2, &x2);
        assert_int_equal(r2, 1);
        assert_true(sid1 == sid2 && b1.len == b2.len && memcmp(x1, x2, b1.len) == 0);
        blocks++;
    }
    assert_int_equal(r1, 0);
    assert_true(blocks > 0);
    assert_int_equal(table_verify(path1, NULL, NULL), STRATA_OK);
    table_unref(t1);
    table_unref(t2);
    base_free(p);
    free(path);
    free(path1);
    test_rmtree(dir);
    free(dir);
}

static void table_obsolete_file_goes_with_last_reference(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_refs");
    write_small(dir, 3);
    char *path = td_path(dir, 3);
    table *t;
    assert_int_equal(table_open(path, NULL, &t, NULL, 0), STRATA_OK);
    table_ref(t); /* a reader pins it */
    table_mark_obsolete(t);
    table_unref(t); /* the owner lets go */
    assert_true(exists(path));
    /* the reader still reads */
    table_iter it;
    table_iter_init(&it);
    int64_t ts[3] = {1000, 2000, 3000};
    double v[3] = {1.5, 2.5, 3.5};
    td_series s = {.sid = 9, .n = 3, .ts = ts, .v = v};
    assert_int_equal(td_check_range(&it, t, 9, &s, 0, 5000), STRATA_OK);
    table_iter_free(&it);
    table_unref(t);
    assert_false(exists(path));
    table_unref(NULL);
    /* without the mark the file stays */
    write_small(dir, 4);
    free(path);
    path = td_path(dir, 4);
    assert_int_equal(table_open(path, NULL, &t, NULL, 0), STRATA_OK);
    table_unref(t);
    assert_true(exists(path));
    free(path);
    test_rmtree(dir);
    free(dir);
}

static void table_empty_file_round_trips(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_empty");
    table_writer *w;
    assert_int_equal(table_writer_open(dir, 5, NULL, &w), STRATA_OK);
    assert_int_equal(table_writer_add(w, 3, NULL, NULL, 0), STRATA_OK);
    table_meta m;
    assert_int_equal(table_writer_finish(w, &m), STRATA_OK);
    assert_int_equal(m.series, 0);
    assert_int_equal(m.file_bytes, TABLE_FOOTER_SIZE);
    char *path = td_path(dir, 5);
    table *t;
    assert_int_equal(table_open(path, NULL, &t, NULL, 0), STRATA_OK);
    table_block_list l;
    assert_int_equal(table_find(t, 3, &l), STRATA_ERR_NOTFOUND);
    table_scan sc;
    table_scan_init(&sc, t);
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
    assert_int_equal(table_scan_next(&sc, &sid, &blk, &bytes), 0);
    uint64_t *sids;
    size_t n;
    assert_int_equal(table_sids(t, &sids, &n), STRATA_OK);
    assert_int_equal(n, 0);
    assert_null(sids);
    table_unref(t);
    assert_int_equal(table_verify(path, NULL, NULL), STRATA_OK);
    free(path);
    test_rmtree(dir);
    free(dir);
}

static int reports;
static void count_report(void *ctx, const char *file, int64_t off, const char *msg) { reports++; }

static void table_verify_passes_sound_file_and_names_missing_one(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_verify");
    write_small(dir, 8);
    char *path = td_path(dir, 8);
    reports = 0;
    assert_int_equal(strata_verify_table(path, count_report, NULL), STRATA_OK);
    assert_int_equal(reports, 0);
    char *missing = td_path(dir, 9);
    assert_int_equal(strata_verify_table(missing, count_report, NULL), STRATA_ERR_NOTFOUND);
    assert_int_equal(reports, 1);
    char err[512];
    table *t;
    assert_int_equal(table_open(missing, NULL, &t, err, sizeof err), STRATA_ERR_NOTFOUND);
    assert_non_null(strstr(err, missing));
    free(missing);
    free(path);
    test_rmtree(dir);
    free(dir);
}

static void table_file_names_round_trip(void **state)
{
    (void)state;
    char name[40];
    table_file_name(name, sizeof name, 123);
    assert_string_equal(name, "000000000123.tbl");
    uint64_t no;
    assert_int_equal(table_file_no_parse(name, &no), STRATA_OK);
    assert_int_equal(no, 123);
    table_file_name(name, sizeof name, UINT64_MAX);
    assert_int_equal(table_file_no_parse(name, &no), STRATA_OK);
    assert_int_equal(no, UINT64_MAX);
    assert_int_equal(table_file_no_parse("000000000123.tbl.tmp", &no), STRATA_ERR_INVALID);
    assert_int_equal(table_file_no_parse("12a.tbl", &no), STRATA_ERR_INVALID);
    assert_int_equal(table_file_no_parse(".tbl", &no), STRATA_ERR_INVALID);
    assert_int_equal(table_file_no_parse("99999999999999999999.tbl", &no), STRATA_ERR_INVALID);
}

/* Every allocation the writer and reader make may fail: each failure comes
 * back as STRATA_ERR_NOMEM, leaves no file behind (writer) and nothing
 * leaked (ASan), and once no allocation fails everything works. */
static void table_allocation_failures_are_reported(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_nomem");
    int64_t ts[50];
    double v[50];
    for (int i = 0; i < 50; i++) {
        ts[i] = 1000 * i;
        v[i] = i * 0.5;
    }
    int wrote = 0;
    for (long n = 0; !wrote; n++) {
        base_alloc_fail_after(n);
        table_writer *w = NULL;
        int rc = table_writer_open(dir, 1, &(table_writer_opts){.block_samples = 8}, &w);
        for (uint64_t sid = 1; !rc && sid <= 40; sid++)
            rc = table_writer_add(w, sid, ts, v, 50);
        if (rc) {
            assert_int_equal(rc, STRATA_ERR_NOMEM);
            table_writer_abort(w);
            assert_int_equal(dir_entries(dir), 0);
            continue;
        }
        rc = table_writer_finish(w, NULL);
        base_alloc_fail_after(-1);
        if (rc) {
            assert_int_equal(rc, STRATA_ERR_NOMEM);
            assert_int_equal(dir_entries(dir), 0);
            continue;
        }
        wrote = 1;
        printf("writer: %ld failing allocations survived\n", n);
        assert_true(n > 5);
    }
    char *path = td_path(dir, 1);
    td_series s = {.sid = 0, .n = 50, .ts = ts, .v = v};
    int read = 0;
    for (long n = 0; !read; n++) {
        base_alloc_fail_after(n);
        table *t = NULL;
        table_iter it;
        table_iter_init(&it);
        uint64_t *sids = NULL;
        size_t ns;
        int rc = table_open(path, NULL, &t, NULL, 0);
        for (uint64_t sid = 1; !rc && sid <= 40; sid++) {
            s.sid = sid;
            rc = td_check_range(&it, t, sid, &s, 0, INT64_MAX);
        }
        if (!rc)
            rc = table_sids(t, &sids, &ns);
        base_alloc_fail_after(-1);
        table_iter_free(&it);
        base_free(sids);
        table_unref(t);
        if (rc) {
            assert_int_equal(rc, STRATA_ERR_NOMEM);
            continue;
        }
        assert_int_equal(ns, 40);
        read = 1;
        printf("reader: %ld failing allocations survived\n", n);
        assert_true(n > 3);
    }
    free(path);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_file_appears_only_at_finish),
        cmocka_unit_test(table_abort_leaves_no_file),
        cmocka_unit_test(table_version_1_file_still_reads),
        cmocka_unit_test(table_unknown_version_is_named),
        cmocka_unit_test(table_obsolete_file_goes_with_last_reference),
        cmocka_unit_test(table_empty_file_round_trips),
        cmocka_unit_test(table_verify_passes_sound_file_and_names_missing_one),
        cmocka_unit_test(table_file_names_round_trip),
        cmocka_unit_test(table_allocation_failures_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
