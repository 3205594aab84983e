/* Manifest crash safety: a cut at every offset of the last records opens to
 * exactly the edits before the cut; flipped bytes are corruption, never a
 * wrong state; a process killed at every step of a rewrite leaves a
 * directory that opens to the right state with no leftovers; damaged
 * CURRENT, unknown items, nonsense edits and other versions are refused
 * with a message naming the file and offset. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultvfs.h"
#include "manifest_testlib.h"

#define K 12 /* edits in the test manifest */

static model M, NEXT;
static manifest_version *after[K + 1]; /* state after edit i (0: creation) */
static uint64_t bound[K + 1];          /* file size after edit i */
static uint8_t *file_bytes;
static size_t file_len;
static uint64_t file_number;

/* Builds a manifest of K random edits without rewrites; keeps the states. */
static int setup(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(21));
    char *dir = test_tmpdir("manifest_crash_setup");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    memset(&M, 0, sizeof M);
    after[0] = manifest_current(mf);
    bound[0] = manifest_log_bytes(mf);
    manifest_edit e;
    manifest_edit_init(&e);
    for (int i = 1; i <= K; i++) {
        manifest_edit_reset(&e);
        random_edit(&r, mf, &M, &NEXT, &e);
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
        M = NEXT;
        after[i] = manifest_current(mf);
        bound[i] = manifest_log_bytes(mf);
    }
    manifest_edit_free(&e);
    file_number = manifest_number(mf);
    manifest_close(mf);
    char *p = mpath(dir, file_number);
    file_bytes = slurp(p, &file_len);
    assert_int_equal(file_len, bound[K]);
    free(p);
    test_rmtree(dir);
    free(dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i <= K; i++)
        manifest_version_unref(after[i]);
    free(file_bytes);
    return 0;
}

/* The last edit whose record ends at or before cut. */
static int edits_before(size_t cut)
{
    int j = 0;
    while (j < K && bound[j + 1] <= cut)
        j++;
    return j;
}

static void manifest_replay_of_every_prefix_gives_the_edits_before_the_cut(void **state)
{
    (void)state;
    for (size_t cut = 0; cut <= file_len; cut++) {
        manifest_version *v = NULL;
        manifest_replay_info info;
        int rc = manifest_replay(file_bytes, cut, "prefix", NULL, &v, &info);
        if (cut < bound[0]) { /* the header or the snapshot itself: never a torn append */
            assert_int_equal(rc, STRATA_ERR_CORRUPT);
            assert_null(v);
            continue;
        }
        assert_int_equal(rc, STRATA_OK);
        int j = edits_before(cut);
        assert_true(same_state(v, after[j]));
        assert_int_equal(info.valid_bytes, bound[j]);
        assert_int_equal(info.torn_bytes, cut - bound[j]);
        assert_int_equal(info.records, (size_t)j + 1);
        manifest_version_unref(v);
    }
}

static void write_dir(const char *dir, const uint8_t *bytes, size_t n)
{
    char *p = mpath(dir, file_number), cur[512], text[64];
    spit(p, bytes, n);
    snprintf(cur, sizeof cur, "%s/CURRENT", dir);
    snprintf(text, sizeof text, "MANIFEST-%06llu\n", (unsigned long long)file_number);
    spit(cur, (const uint8_t *)text, strlen(text));
    free(p);
}

static void manifest_open_after_a_cut_in_the_last_records_truncates_and_goes_on(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(22));
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    for (size_t cut = bound[K - 3]; cut <= file_len; cut++) {
        char *dir = test_tmpdir("manifest_cut");
        write_dir(dir, file_bytes, cut);
        manifest *mf = NULL;
        assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
        int j = edits_before(cut);
        manifest_version *v = manifest_current(mf);
        assert_true(same_state(v, after[j]));
        manifest_version_unref(v);
        char *p = mpath(dir, file_number);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal((uint64_t)st.st_size, bound[j]); /* the torn bytes are gone */
        if (cut % 5 == 0) {                               /* and appending works after the cut */
            manifest_edit e;
            manifest_edit_init(&e);
            manifest_table t;
            uint64_t no;
            assert_int_equal(manifest_alloc_file_no(mf, &no), STRATA_OK);
            rand_table(&r, no, &t);
            assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
            assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
            manifest_close(mf);
            mf = NULL;
            assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
            v = manifest_current(mf);
            assert_non_null(manifest_version_find_table(v, no));
            manifest_version_unref(v);
            manifest_edit_free(&e);
        }
        manifest_close(mf);
        free(p);
        test_rmtree(dir);
        free(dir);
    }
}

static void manifest_read_only_open_leaves_a_torn_tail_in_place(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_ro");
    size_t cut = bound[K] - 3;
    write_dir(dir, file_bytes, cut);
    manifest_options o = test_opts();
    o.read_only = true;
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_version *v = manifest_current(mf);
    assert_true(same_state(v, after[K - 1]));
    manifest_version_unref(v);
    manifest_edit e;
    manifest_edit_init(&e);
    assert_int_equal(manifest_apply(mf, &e), STRATA_ERR_READONLY);
    manifest_close(mf);
    char *p = mpath(dir, file_number);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((size_t)st.st_size, cut);
    free(p);
    test_rmtree(dir);
    free(dir);
}

static void manifest_flipped_bytes_are_corruption_never_a_wrong_state(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(23));
    uint8_t *buf = malloc(file_len);
    assert_non_null(buf);
    long corrupt = 0, torn = 0;
    for (size_t pos = 0; pos < file_len; pos++) {
        for (int trial = 0; trial < 3; trial++) {
            memcpy(buf, file_bytes, file_len);
            if (trial < 2)
                buf[pos] ^= (uint8_t)(1u << test_rng_below(&r, 8));
            else { /* a burst of up to 4 random bytes */
                /* MIN evaluates its arguments twice: draw the length once */
                size_t burst = 1 + test_rng_below(&r, 4);
                size_t end = MIN(file_len, pos + burst);
                for (size_t k = pos; k < end; k++)
                    buf[k] ^= (uint8_t)(1 + test_rng_below(&r, 255));
            }
            manifest_version *v = NULL;
            manifest_replay_info info;
            int rc = manifest_replay(buf, file_len, "flipped", NULL, &v, &info);
            if (pos < bound[K - 1]) { /* before the last record: always detected */
                if (rc != STRATA_ERR_CORRUPT)
                    fail_msg("flip at %zu (trial %d) gave %d, not corruption", pos, trial, rc);
                corrupt++;
            } else { /* inside the last record: at worst that edit is lost as torn */
                assert_int_equal(rc, STRATA_OK);
                assert_true(same_state(v, after[K - 1]));
                torn++;
            }
            manifest_version_unref(v);
        }
    }
    printf("flips: %ld corrupt, %ld dropped as a torn last record\n", corrupt, torn);
    free(buf);
}

/* ------------------------------------------------------------ messages */

typedef struct logbuf {
    char text[4096];
} logbuf;

static void log_fn(void *ctx, int level, const char *msg)
{
    (void)level;
    logbuf *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s\n", msg);
}

/* Opens dir expecting rc and a log message containing want (when given). */
static void expect_open(const char *dir, int rc, const char *want)
{
    logbuf l = {.text = ""};
    base_log lg = {.fn = log_fn, .ctx = &l};
    manifest_options o = test_opts();
    o.log = &lg;
    manifest *mf = NULL;
    int got = manifest_open(dir, &o, &mf);
    if (got != rc)
        fail_msg("open gave %d, expected %d; log: %s", got, rc, l.text);
    if (want && !strstr(l.text, want))
        fail_msg("log lacks \"%s\": %s", want, l.text);
    manifest_close(mf);
}

/* Appends a record framed as log.c documents it (independent code). */
static size_t append_record(uint8_t *dst, const uint8_t *payload, size_t n)
{
    store_u32le(dst, (uint32_t)n);
    store_u32le(dst + 4, base_crc32c(0, payload, n));
    store_u32le(dst + 8, base_crc32c(0, dst, 8));
    memcpy(dst + 12, payload, n);
    return 12 + n;
}

static void manifest_damage_is_reported_with_file_and_offset(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_damage");
    uint8_t *buf = malloc(file_len + 64);
    assert_non_null(buf);
    char want[128];

    /* A bad record in the middle. */
    memcpy(buf, file_bytes, file_len);
    buf[bound[3] + 14] ^= 0x40;
    write_dir(dir, buf, file_len);
    snprintf(want, sizeof want, "MANIFEST-%06llu: damaged record followed by more data at offset %llu",
             (unsigned long long)file_number, (unsigned long long)bound[3]);
    expect_open(dir, STRATA_ERR_CORRUPT, want);

    /* A record with sound CRCs but an unknown item type. */
    memcpy(buf, file_bytes, file_len);
    uint8_t item[] = {99, 1, 0};
    size_t n = file_len + append_record(buf + file_len, item, sizeof item);
    write_dir(dir, buf, n);
    snprintf(want, sizeof want, "record at offset %zu: unknown item type 99", file_len);
    expect_open(dir, STRATA_ERR_CORRUPT, want);

    /* A sound record removing a table that is not there. */
    uint8_t rm[] = {5, 2, 0xff, 0x7f};
    n = file_len + append_record(buf + file_len, rm, sizeof rm);
    write_dir(dir, buf, n);
    expect_open(dir, STRATA_ERR_CORRUPT, "removes table 16383, which is not there");

    /* A future format version in the header (with a correct header CRC). */
    memcpy(buf, file_bytes, file_len);
    store_u32le(buf + 8, 3);
    store_u32le(buf + 12, base_crc32c(0, buf, 12));
    write_dir(dir, buf, file_len);
    expect_open(dir, STRATA_ERR_VERSION, "format version 3, this build reads version");

    /* A damaged CURRENT, and one naming a file that is not there. */
    write_dir(dir, file_bytes, file_len);
    char cur[512];
    snprintf(cur, sizeof cur, "%s/CURRENT", dir);
    spit(cur, (const uint8_t *)"MANIFEST-00x\n", 13);
    expect_open(dir, STRATA_ERR_CORRUPT, "CURRENT is damaged");
    spit(cur, (const uint8_t *)"MANIFEST-000777\n", 16);
    expect_open(dir, STRATA_ERR_CORRUPT, "MANIFEST-000777, which is missing");

    /* No CURRENT but a manifest with tables: needs a human, not a new database. */
    unlink(cur);
    expect_open(dir, STRATA_ERR_CORRUPT, "CURRENT is missing");

    free(buf);
    test_rmtree(dir);
    free(dir);
}

static void manifest_unfinished_creation_starts_over(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_creation");
    manifest_options o = test_opts();
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_close(mf);
    char cur[512];
    snprintf(cur, sizeof cur, "%s/CURRENT", dir);
    assert_int_equal(unlink(cur), 0); /* as if killed between MANIFEST-000001 and CURRENT */
    expect_open(dir, STRATA_OK, "unfinished creation");
    struct stat st;
    assert_int_equal(stat(cur, &st), 0);
    assert_int_equal(count_manifests(dir), 1);
    test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------ killed mid-way */

/* The steps of an apply followed by a rewrite, recognised by the I/O the
 * manifest does there. */
enum {
    KILL_APPEND_WRITE,    /* before the record's write */
    KILL_APPEND_SYNC,     /* record written, before its fdatasync */
    KILL_REWRITE_WRITE,   /* before the new MANIFEST-n is written */
    KILL_REWRITE_SYNCED,  /* new MANIFEST-n durable, CURRENT still names the old */
    KILL_REWRITE_CURRENT, /* CURRENT names the new one, old file not yet deleted */
    KILL_N
};
static int kill_at;

static int kill_hook(void *ctx, fv_op op, const char *path, uint64_t off)
{
    (void)ctx;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    bool man = strncmp(b, "MANIFEST-", 9) == 0;
    int step = -1;
    if (op == FV_PWRITE && man)
        step = off > 0 ? KILL_APPEND_WRITE : KILL_REWRITE_WRITE;
    else if (op == FV_FSYNC && man)
        step = KILL_APPEND_SYNC;
    else if (op == FV_OPEN && strcmp(b, "CURRENT.tmp") == 0)
        step = KILL_REWRITE_SYNCED;
    else if (op == FV_UNLINK && man)
        step = KILL_REWRITE_CURRENT;
    if (step == kill_at)
        _exit(0); /* as a crash: no cleanup, no close */
    return STRATA_OK;
}

static void manifest_killed_at_each_step_of_append_and_rewrite_opens_consistently(void **state)
{
    (void)state;
    for (int pi = 0; pi < KILL_N; pi++) {
        char *dir = test_tmpdir("manifest_kill");
        write_dir(dir, file_bytes, bound[K - 1]); /* state after K-1 edits */
        /* The child applies edit K's effect again as a fresh edit: remove
         * nothing, add one table, so before/after are easy to tell apart. */
        manifest_table t;
        test_rng r;
        test_rng_init(&r, 99 + pi);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            manifest_options o = test_opts();
            o.rewrite_min_bytes = 1; /* the apply is followed by a rewrite */
            o.rewrite_ratio = 0;
            faultvfs *fv = faultvfs_new(dir, 1);
            if (!fv)
                _exit(5);
            faultvfs_set_hook(fv, kill_hook, NULL);
            o.vfs = faultvfs_vfs(fv);
            kill_at = pi;
            manifest *mf = NULL;
            uint64_t no;
            manifest_edit e;
            manifest_edit_init(&e);
            if (manifest_open(dir, &o, &mf) || manifest_alloc_file_no(mf, &no))
                _exit(2);
            rand_table(&r, no, &t);
            if (manifest_edit_add_table(&e, &t) || manifest_apply(mf, &e))
                _exit(3);
            _exit(4); /* the hook should have fired */
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        manifest_options o = test_opts();
        manifest *mf = NULL;
        assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
        manifest_version *v = manifest_current(mf);
        size_t n_now, n_before;
        manifest_version_tables(v, &n_now);
        manifest_version_tables(after[K - 1], &n_before);
        if (pi == KILL_APPEND_WRITE) {
            assert_true(same_state(v, after[K - 1])); /* nothing was written */
        } else if (pi == KILL_APPEND_SYNC) {
            /* written, not synced: the OS kept it, or not: old or new, nothing else */
            assert_true(same_state(v, after[K - 1]) || n_now == n_before + 1);
        } else {
            assert_int_equal(n_now, n_before + 1); /* the edit was durable before the rewrite began */
        }
        manifest_version_unref(v);
        assert_int_equal(count_manifests(dir), 1); /* leftovers removed at open */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s/CURRENT.tmp", dir);
        assert_int_equal(access(tmp, F_OK), -1);
        manifest_close(mf);
        test_rmtree(dir);
        free(dir);
    }
}

static void manifest_partial_new_manifest_leaves_the_old_in_charge(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_partial");
    write_dir(dir, file_bytes, file_len);
    /* A rewrite cut while writing MANIFEST-n+1 (half a file), and a CURRENT.tmp. */
    char *p = mpath(dir, file_number + 1000), tmp[512];
    spit(p, file_bytes, bound[0] / 2);
    snprintf(tmp, sizeof tmp, "%s/CURRENT.tmp", dir);
    spit(tmp, (const uint8_t *)"MANIFEST-00", 11);
    manifest_options o = test_opts();
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_version *v = manifest_current(mf);
    assert_true(same_state(v, after[K]));
    manifest_version_unref(v);
    assert_int_equal(manifest_number(mf), file_number);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    manifest_close(mf);
    free(p);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_replay_of_every_prefix_gives_the_edits_before_the_cut),
        cmocka_unit_test(manifest_open_after_a_cut_in_the_last_records_truncates_and_goes_on),
        cmocka_unit_test(manifest_read_only_open_leaves_a_torn_tail_in_place),
        cmocka_unit_test(manifest_flipped_bytes_are_corruption_never_a_wrong_state),
        cmocka_unit_test(manifest_damage_is_reported_with_file_and_offset),
        cmocka_unit_test(manifest_unfinished_creation_starts_over),
        cmocka_unit_test(manifest_killed_at_each_step_of_append_and_rewrite_opens_consistently),
        cmocka_unit_test(manifest_partial_new_manifest_leaves_the_old_in_charge),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
