/*
 * table_damage.c: a damaged table file (truncated at every offset, bytes
 * flipped at seeded random positions) gives an error naming the file and
 * an offset, or exactly the right samples: never a crash, never a wrong
 * answer. table_verify finds every single flipped byte, since every byte
 * is under a CRC or compared to a constant.
 */
#include <fcntl.h>
#include <unistd.h>

#include "table_testdata.h"

typedef struct fixture {
    td_set d;
    char *dir;
    uint8_t *orig;
    size_t len;
    char *damaged; /* path of the copy under test */
} fixture;

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(base_file_write_all(fd, p, n), STRATA_OK);
    close(fd);
}

static void make_fixture(fixture *fx)
{
    test_rng r;
    test_rng_init(&r, test_seed(23));
    size_t sizes[] = {9, 1, 20, 8};
    fx->d = td_make(&r, 6, sizes, 4);
    fx->dir = test_tmpdir("table_damage");
    td_write(&r, &fx->d, fx->dir, 1, 8, NULL);
    char *p = td_path(fx->dir, 1);
    assert_int_equal(base_file_read_all(p, &fx->orig, &fx->len), STRATA_OK);
    free(p);
    fx->damaged = malloc(strlen(fx->dir) + 32);
    assert_non_null(fx->damaged);
    sprintf(fx->damaged, "%s/000000000002.tbl", fx->dir);
}

static void free_fixture(fixture *fx)
{
    base_free(fx->orig);
    free(fx->damaged);
    test_rmtree(fx->dir);
    free(fx->dir);
    td_free(&fx->d);
}

typedef struct vctx {
    int reports;
    const char *path;
} vctx;

static void on_problem(void *ctx, const char *file, int64_t offset, const char *msg)
{
    vctx *c = ctx;
    assert_string_equal(file, c->path);
    assert_true(msg && *msg);
    c->reports++;
}

static void assert_names_file_and_offset(const char *err, const char *path)
{
    if (!strstr(err, path) || !strstr(err, "offset"))
        fail_msg("error message \"%s\" does not name %s and an offset", err, path);
}

/* Opens the damaged copy and reads everything every way; each read either
 * fails with a message naming file and offset or returns exactly the data.
 * Returns the number of errors seen. */
static int read_everything(fixture *fx)
{
    char err[512] = "";
    table *t = NULL;
    int rc = table_open(fx->damaged, NULL, &t, err, sizeof err);
    if (rc) {
        assert_true(rc == STRATA_ERR_CORRUPT || rc == STRATA_ERR_VERSION);
        assert_names_file_and_offset(err, fx->damaged);
        return 1;
    }
    int errors = 0;
    table_iter it;
    table_iter_init(&it);
    for (size_t i = 0; i < fx->d.n_series; i++) {
        const td_series *s = &fx->d.s[i];
        if (td_check_range(&it, t, s->sid, s, INT64_MIN, INT64_MAX) != STRATA_OK)
            errors++;
        if (td_check_range(&it, t, s->sid, s, s->ts[s->n / 2], INT64_MAX) != STRATA_OK)
            errors++;
    }
    table_iter_free(&it);
    /* block scan and decode */
    table_scan sc;
    table_scan_init(&sc, t);
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
    int64_t ts[8 + CODEC_PAD];
    double v[8 + CODEC_PAD];
    size_t si = 0, k = 0;
    while ((rc = table_scan_next(&sc, &sid, &blk, &bytes)) == 1) {
        assert_true(blk.count <= 8);
        if (k == fx->d.s[si].n) {
            si++;
            k = 0;
        }
        assert_true(si < fx->d.n_series);
        assert_int_equal(sid, fx->d.s[si].sid);
        if (table_block_decode(t, &blk, ts, v, err, sizeof err) != STRATA_OK) {
            assert_names_file_and_offset(err, fx->damaged);
            errors++;
            k += blk.count;
            continue;
        }
        for (uint32_t j = 0; j < blk.count; j++, k++) {
            assert_int_equal(ts[j], fx->d.s[si].ts[k]);
            assert_int_equal(td_u64(v[j]), td_u64(fx->d.s[si].v[k]));
        }
    }
    if (rc < 0) {
        assert_names_file_and_offset(table_scan_error(&sc), fx->damaged);
        assert_int_equal(table_scan_next(&sc, &sid, &blk, &bytes), rc);
        errors++;
    }
    table_unref(t);
    return errors;
}

static void table_truncated_anywhere_is_an_error(void **state)
{
    (void)state;
    fixture fx;
    make_fixture(&fx);
    printf("file of %zu bytes\n", fx.len);
    for (size_t cut = 0; cut < fx.len; cut++) {
        write_file(fx.damaged, fx.orig, cut);
        char err[512] = "";
        table *t = NULL;
        int rc = table_open(fx.damaged, NULL, &t, err, sizeof err);
        if (rc == STRATA_OK)
            fail_msg("file truncated to %zu of %zu bytes opened", cut, fx.len);
        assert_int_equal(rc, STRATA_ERR_CORRUPT);
        assert_names_file_and_offset(err, fx.damaged);
        vctx c = {0, fx.damaged};
        assert_int_equal(table_verify(fx.damaged, on_problem, &c), STRATA_ERR_CORRUPT);
        assert_true(c.reports >= 1);
    }
    free_fixture(&fx);
}

static void table_flipped_bytes_give_error_or_right_data(void **state)
{
    (void)state;
    fixture fx;
    make_fixture(&fx);
    test_rng r;
    test_rng_init(&r, test_seed(23) + 1);
    uint8_t *buf = malloc(fx.len);
    assert_non_null(buf);
    int read_errors = 0;
    /* every byte once with one flip, then random multi-byte damage */
    for (size_t iter = 0; iter < fx.len + 1500; iter++) {
        memcpy(buf, fx.orig, fx.len);
        size_t flips = iter < fx.len ? 1 : 1 + test_rng_below(&r, 4);
        for (size_t f = 0; f < flips; f++) {
            size_t pos = iter < fx.len ? iter : test_rng_below(&r, fx.len);
            buf[pos] ^= (uint8_t)(1 + test_rng_below(&r, 255));
        }
        write_file(fx.damaged, buf, fx.len);
        vctx c = {0, fx.damaged};
        int rc = table_verify(fx.damaged, on_problem, &c);
        if (rc == STRATA_OK)
            fail_msg("verify missed damage (iteration %zu)", iter);
        assert_true(c.reports >= 1);
        int e = read_everything(&fx);
        if (e == 0)
            fail_msg("damage went unnoticed by every read (iteration %zu)", iter);
        read_errors += e;
    }
    printf("%zu damaged files, %d read errors reported\n", fx.len + 1500, read_errors);
    free(buf);
    free_fixture(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_truncated_anywhere_is_an_error),
        cmocka_unit_test(table_flipped_bytes_give_error_or_right_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
