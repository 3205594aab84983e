/* Manifest under failures: a failed write, fsync or allocation leaves the
 * state in memory and the file on disk as they were, and a later apply
 * works (disk-full safety); a failed rewrite keeps the old manifest. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultvfs.h"
#include "manifest_testlib.h"

static model M, NEXT;

/* Where the manifest's I/O fails, named by what it is doing there. */
enum {
    FAIL_APPEND_WRITE,   /* the write of an edit's record */
    FAIL_APPEND_SYNC,    /* its fdatasync */
    FAIL_REWRITE_WRITE,  /* the write of a new MANIFEST-n (at offset 0) */
    FAIL_REWRITE_CURRENT /* the new CURRENT, once the new MANIFEST-n is durable */
};
static int fail_point = -1, fail_status;

static bool is_manifest(const char *path)
{
    const char *b = strrchr(path, '/');
    return strncmp(b ? b + 1 : path, "MANIFEST-", 9) == 0;
}

static int fail_hook(void *ctx, fv_op op, const char *path, uint64_t off)
{
    (void)ctx;
    const char *b = strrchr(path, '/');
    bool hit = false;
    switch (fail_point) {
    case FAIL_APPEND_WRITE:
        hit = op == FV_PWRITE && is_manifest(path) && off > 0;
        break;
    case FAIL_APPEND_SYNC:
        hit = op == FV_FSYNC && is_manifest(path);
        break;
    case FAIL_REWRITE_WRITE:
        hit = op == FV_PWRITE && is_manifest(path) && off == 0;
        break;
    case FAIL_REWRITE_CURRENT:
        hit = op == FV_OPEN && b && strcmp(b + 1, "CURRENT.tmp") == 0;
        break;
    }
    return hit ? fail_status : STRATA_OK;
}

static uint64_t live_size(manifest *mf, const char *dir)
{
    char *p = mpath(dir, manifest_number(mf));
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    free(p);
    return (uint64_t)st.st_size;
}

/* apply must fail with rc and change nothing, in memory or on disk. */
static void expect_failed_apply(manifest *mf, const char *dir, const manifest_edit *e, int rc)
{
    manifest_version *before = manifest_current(mf);
    uint64_t size = live_size(mf, dir);
    assert_int_equal(manifest_apply(mf, e), rc);
    manifest_version *now = manifest_current(mf);
    assert_ptr_equal(now, before);
    assert_int_equal(live_size(mf, dir), size);
    manifest_version_unref(now);
    manifest_version_unref(before);
}

static void apply_ok(manifest *mf, test_rng *r)
{
    manifest_edit e;
    manifest_edit_init(&e);
    random_edit(r, mf, &M, &NEXT, &e);
    assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
    M = NEXT;
    manifest_edit_free(&e);
}

static void reopen_and_check(manifest **mf, const char *dir, const manifest_options *o)
{
    manifest_close(*mf);
    *mf = NULL;
    assert_int_equal(manifest_open(dir, o, mf), STRATA_OK);
    manifest_version *v = manifest_current(*mf);
    check_model(&M, v);
    manifest_version_unref(v);
}

static void manifest_failed_write_or_fsync_changes_nothing_and_apply_resumes(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(31));
    char *dir = test_tmpdir("manifest_faults");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    faultvfs *fv = faultvfs_new(dir, 1);
    faultvfs_set_hook(fv, fail_hook, NULL);
    o.vfs = faultvfs_vfs(fv);
    manifest *mf = NULL;
    memset(&M, 0, sizeof M);
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    for (int round = 0; round < 20; round++) {
        apply_ok(mf, &r);
        manifest_edit e;
        manifest_edit_init(&e);
        random_edit(&r, mf, &M, &NEXT, &e);
        fail_point = round % 2 ? FAIL_APPEND_SYNC : FAIL_APPEND_WRITE;
        fail_status = round % 3 ? STRATA_ERR_NOSPACE : STRATA_ERR_IO;
        expect_failed_apply(mf, dir, &e, fail_status);
        fail_point = -1;
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK); /* the same edit, once space returns */
        M = NEXT;
        manifest_edit_free(&e);
    }
    reopen_and_check(&mf, dir, &o);
    manifest_close(mf);
    faultvfs_free(fv);
    test_rmtree(dir);
    free(dir);
}

static void manifest_write_cut_by_the_file_size_limit_is_undone(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(32));
    char *dir = test_tmpdir("manifest_fsize");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    manifest *mf = NULL;
    memset(&M, 0, sizeof M);
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    apply_ok(mf, &r);
    /* A real short write: the kernel stores a few bytes, then EFBIG. */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    manifest_edit e;
    manifest_edit_init(&e);
    manifest_table t;
    uint64_t no;
    assert_int_equal(manifest_alloc_file_no(mf, &no), STRATA_OK);
    rand_table(&r, no, &t);
    assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
    lim = old;
    lim.rlim_cur = live_size(mf, dir) + 5;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    manifest_version *before = manifest_current(mf);
    uint64_t size = live_size(mf, dir);
    int rc = manifest_apply(mf, &e);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, STRATA_ERR_IO);
    manifest_version *now = manifest_current(mf);
    assert_ptr_equal(now, before);
    assert_int_equal(live_size(mf, dir), size); /* the 5 bytes written were cut off */
    manifest_version_unref(now);
    manifest_version_unref(before);
    assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
    M.tables[M.n_tables++] = t;
    reopen_and_check(&mf, dir, &o);
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

static void manifest_failed_rewrite_keeps_the_old_manifest(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(33));
    char *dir = test_tmpdir("manifest_rwfail");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1;
    o.rewrite_ratio = 0;
    faultvfs *fv = faultvfs_new(dir, 1);
    faultvfs_set_hook(fv, fail_hook, NULL);
    o.vfs = faultvfs_vfs(fv);
    manifest *mf = NULL;
    memset(&M, 0, sizeof M);
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    static const int pts[] = {FAIL_REWRITE_WRITE, FAIL_REWRITE_CURRENT};
    for (size_t i = 0; i < ARRAY_LEN(pts); i++) {
        uint64_t number = manifest_number(mf);
        fail_point = pts[i];
        fail_status = STRATA_ERR_NOSPACE;
        apply_ok(mf, &r); /* the edit is durable; only the rewrite failed */
        assert_int_equal(manifest_number(mf), number);
        assert_int_equal(count_manifests(dir), 1);
        assert_int_equal(manifest_rewrite(mf), STRATA_ERR_NOSPACE);
        assert_int_equal(count_manifests(dir), 1);
        fail_point = -1;
        apply_ok(mf, &r); /* retried: now it goes through */
        assert_true(manifest_number(mf) > number);
        assert_int_equal(count_manifests(dir), 1);
        reopen_and_check(&mf, dir, &o);
    }
    manifest_close(mf);
    faultvfs_free(fv);
    test_rmtree(dir);
    free(dir);
}

static void manifest_allocation_failures_change_nothing(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(34));
    char *dir = test_tmpdir("manifest_nomem");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    manifest *mf = NULL;
    memset(&M, 0, sizeof M);
    /* Open (creating) fails cleanly at every allocation, then succeeds. */
    int rc = STRATA_ERR_NOMEM;
    for (long n = 0; rc == STRATA_ERR_NOMEM; n++) {
        base_alloc_fail_after(n);
        rc = manifest_open(dir, &o, &mf);
        base_alloc_fail_after(-1);
        assert_true(rc == STRATA_OK || rc == STRATA_ERR_NOMEM);
    }
    for (int i = 0; i < 10; i++)
        apply_ok(mf, &r);
    manifest_edit e;
    manifest_edit_init(&e);
    random_edit(&r, mf, &M, &NEXT, &e);
    rc = STRATA_ERR_NOMEM;
    for (long n = 0; rc == STRATA_ERR_NOMEM; n++) {
        manifest_version *before = manifest_current(mf);
        base_alloc_fail_after(n);
        rc = manifest_apply(mf, &e);
        base_alloc_fail_after(-1);
        manifest_version *now = manifest_current(mf);
        if (rc == STRATA_ERR_NOMEM)
            assert_ptr_equal(now, before);
        else
            assert_int_equal(rc, STRATA_OK);
        manifest_version_unref(now);
        manifest_version_unref(before);
    }
    M = NEXT;
    manifest_edit_free(&e);
    manifest_close(mf);
    mf = NULL;
    /* Opening (replaying) an existing manifest, likewise. */
    rc = STRATA_ERR_NOMEM;
    for (long n = 0; rc == STRATA_ERR_NOMEM; n++) {
        base_alloc_fail_after(n);
        rc = manifest_open(dir, &o, &mf);
        base_alloc_fail_after(-1);
        assert_true(rc == STRATA_OK || rc == STRATA_ERR_NOMEM);
    }
    manifest_version *v = manifest_current(mf);
    check_model(&M, v);
    manifest_version_unref(v);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_failed_write_or_fsync_changes_nothing_and_apply_resumes),
        cmocka_unit_test(manifest_write_cut_by_the_file_size_limit_is_undone),
        cmocka_unit_test(manifest_failed_rewrite_keeps_the_old_manifest),
        cmocka_unit_test(manifest_allocation_failures_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
