/*
 * db_damage.c: a damaged WAL or table file never gives a wrong answer.
 *
 * - WAL truncated at every offset of a small log: the database opens, keeps
 *   exactly the batches whose record ends at or before the cut (a prefix,
 *   never a partial batch), and when the cut falls inside a record the
 *   counters wal_corrupt_records / wal_truncated_bytes say so. A second open
 *   of the repaired directory finds the same data and nothing to repair.
 * - Bytes flipped at random in a log of several segments: opens, keeps
 *   exactly the batches that end before the damage, counts the loss.
 * - A table file with a flipped byte: strata_verify_table and
 *   strata_verify_dir report it (naming the file and an offset inside it);
 *   opening succeeds, and a full read either equals the truth, or reports an
 *   error, or misses only data of a quarantined file (counted in
 *   quarantined_files) - never a wrong value, never silent loss.
 *
 * The WAL position where each batch ends is observed while writing (the
 * highest segment and its size right after strata_write returned), so the
 * expectation for a cut or a flip at any position is exact.
 * - After an unclean shutdown (DIRTY) open checks every block and
 *   quarantines a damaged table (quarantine/NAME + NAME.reason), the rest
 *   answers exactly; a table the manifest needs but that is missing fails
 *   open with STRATA_ERR_CORRUPT; files the manifest does not know are
 *   removed at open.
 * - A directory of format version 1 opens; its VERSION is rewritten to the
 *   current version only when it is opened for writing; a future version
 *   is refused.
 * Seed: STRATA_SEED.
 */
#include "db_testlib.h"

#define DMG_SERIES 3
#define DMG_T0 1700000000000LL

typedef struct wal_end {
    uint64_t seg; /* segment number (the file name) */
    int64_t off;  /* size of that segment after the batch */
} wal_end;

typedef struct base_db {
    char *root, *dir;
    size_t n_batches, per_batch;
    wal_end *ends;   /* ends[j]: where batch j's record ends */
    wal_end series_end;               /* end of the last series record */
    wal_end series_ends[DMG_SERIES];  /* end of each series record */
    dbt_set *truth;  /* truth[k]: the first k batches, finished */
} base_db;

static void wal_last(const char *dir, wal_end *e)
{
    char wal[4096], last[4096];
    dbt_fmt(wal, sizeof wal, "%s/wal", dir);
    dbt_last_file(wal, last, sizeof last);
    assert_true(last[0] != 0);
    e->seg = strtoull(strrchr(last, '/') + 1, NULL, 10);
    e->off = dbt_file_size(last);
}

static int pos_le(wal_end a, wal_end b) { return a.seg < b.seg || (a.seg == b.seg && a.off <= b.off); }

static uint64_t dmg_value(size_t j, size_t i)
{
    uint64_t b = test_mix(j * 1000 + i);
    return i % 5 == 0 ? 0x7ff8000000000000ull | (b & 0xfffff) : b; /* NaN payloads too */
}

/* A database with n batches written through one WAL, closed. */
static void base_make(base_db *b, const char *tag, size_t n, size_t per_batch, uint64_t segment_bytes)
{
    memset(b, 0, sizeof *b);
    b->root = test_tmpdir(tag);
    b->n_batches = n;
    b->per_batch = per_batch;
    char path[4096];
    dbt_fmt(path, sizeof path, "%s/base", b->root);
    b->dir = strdup(path);
    strata_options o;
    dbt_options(&o, b->dir);
    o.sync = STRATA_SYNC_NONE; /* sizes are observed after write(2) either way */
    if (segment_bytes)
        o.wal_segment_bytes = segment_bytes;
    strata_db *db = dbt_open_ok(&o);
    strata_sid sids[DMG_SERIES];
    char name[32];
    for (int k = 0; k < DMG_SERIES; k++) {
        snprintf(name, sizeof name, "%d", k);
        sids[k] = dbt_series(db, "dmg", "s", name);
        wal_last(b->dir, &b->series_ends[k]);
    }
    b->series_end = b->series_ends[DMG_SERIES - 1];
    b->ends = calloc(n, sizeof *b->ends);
    b->truth = calloc(n + 1, sizeof *b->truth);
    assert_non_null(b->ends);
    assert_non_null(b->truth);
    strata_sample *s = calloc(per_batch, sizeof *s);
    assert_non_null(s);
    dbt_set all = {0};
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < per_batch; i++) {
            int k = (int)((j + i) % DMG_SERIES);
            s[i].sid = sids[k];
            s[i].t_ms = DMG_T0 + (int64_t)(j * 10000 + i * 7);
            s[i].value = dbt_from_bits(dmg_value(j, i));
            snprintf(name, sizeof name, "__name__=dmg,s=%d", k);
            dbt_set_add(&all, name, s[i].t_ms, dmg_value(j, i));
        }
        assert_int_equal(strata_write(db, s, per_batch), STRATA_OK);
        wal_last(b->dir, &b->ends[j]);
    }
    free(s);
    assert_int_equal(strata_close(db), STRATA_OK);
    /* truth[k]: the first k batches (samples were added batch by batch) */
    for (size_t k = 0; k <= n; k++) {
        for (size_t i = 0; i < k * per_batch; i++)
            dbt_set_add(&b->truth[k], all.v[i].series, all.v[i].t, all.v[i].bits);
        dbt_set_finish(&b->truth[k]);
    }
    dbt_set_free(&all);
}

static void base_free(base_db *b)
{
    for (size_t k = 0; k <= b->n_batches; k++)
        dbt_set_free(&b->truth[k]);
    free(b->truth);
    free(b->ends);
    test_rmtree(b->root);
    free(b->root);
    free(b->dir);
}

/* Which prefix of the batches `got` is, or -1 when it is none. */
static long prefix_of(const base_db *b, const dbt_set *got)
{
    for (size_t k = 0; k <= b->n_batches; k++) {
        if (b->truth[k].n != got->n)
            continue;
        size_t i = 0;
        for (; i < got->n; i++)
            if (dbt_cmp(&b->truth[k].v[i], &got->v[i]) || b->truth[k].v[i].bits != got->v[i].bits)
                break;
        if (i == got->n)
            return (long)k;
    }
    return -1;
}

typedef struct opened {
    dbt_set got;
    strata_stats st;
} opened;

/* Opens dir (repairing), reads everything, closes. */
static void open_read(const char *dir, opened *r)
{
    strata_options o;
    dbt_options(&o, dir);
    dbt_log lg = {1};
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    strata_db *db = dbt_open_ok(&o);
    memset(r, 0, sizeof *r);
    int rc = dbt_read_all(db, &r->got);
    if (rc)
        fail_msg("%s: read: %s", dir, strata_strerror(rc));
    assert_int_equal(strata_get_stats(db, &r->st, sizeof r->st), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
}

static void wal_truncated_at_every_offset_loses_only_the_tail(void **state)
{
    (void)state;
    base_db b;
    base_make(&b, "db_dmg_trunc", 5, 4, 0);
    /* one segment: the batches' ends are all in it */
    for (size_t j = 0; j < b.n_batches; j++)
        assert_int_equal(b.ends[j].seg, b.series_end.seg);
    char wal[4096], seg[4096], copy[4096], cseg[4096];
    dbt_fmt(wal, sizeof wal, "%s/wal", b.dir);
    dbt_last_file(wal, seg, sizeof seg);
    int64_t size = dbt_file_size(seg);
    fprintf(stderr, "log: %s, %" PRId64 " bytes; series end at %" PRId64 ", batches end at", seg, size,
            b.series_end.off);
    for (size_t j = 0; j < b.n_batches; j++)
        fprintf(stderr, " %" PRId64, b.ends[j].off);
    fprintf(stderr, "\n");
    assert_true(size >= b.ends[b.n_batches - 1].off);
    size_t failures = 0;
    for (int64_t cut = 0; cut <= size; cut++) {
        dbt_fmt(copy, sizeof copy, "%s/cut%" PRId64, b.root, cut);
        dbt_copy_tree(b.dir, copy);
        dbt_fmt(cseg, sizeof cseg, "%s/wal/%s", copy, strrchr(seg, '/') + 1);
        assert_int_equal(truncate(cseg, cut), 0);
        opened r;
        open_read(copy, &r);
        long k = prefix_of(&b, &r.got);
        size_t want = 0;
        int inside = 0; /* the cut falls strictly inside a record */
        for (int q = 0; q < DMG_SERIES; q++)
            if (cut < b.series_ends[q].off && cut > (q ? b.series_ends[q - 1].off : 0))
                inside = 1;
        for (size_t j = 0; j < b.n_batches; j++) {
            if (b.ends[j].off <= cut)
                want = j + 1;
            else if (cut > (j ? b.ends[j - 1].off : b.series_end.off))
                inside = 1; /* cut inside batch j's record */
        }
        uint64_t counted = r.st.wal_corrupt_records + r.st.wal_truncated_bytes;
        if (k != (long)want) {
            if (failures++ < 5) {
                fprintf(stderr, "cut at %" PRId64 ": kept %ld batches (-1: not a prefix), want %zu\n", cut, k, want);
                dbt_set_diff(&b.truth[want], &r.got, "  cut");
            }
        } else if (inside && counted == 0) {
            if (failures++ < 5)
                fprintf(stderr, "cut at %" PRId64 " inside a record: no counter says so (corrupt %" PRIu64
                        ", truncated %" PRIu64 ")\n", cut, r.st.wal_corrupt_records, r.st.wal_truncated_bytes);
        } else {
            /* the repaired directory opens again with the same data, nothing to repair */
            opened r2;
            open_read(copy, &r2);
            if (prefix_of(&b, &r2.got) != (long)want || r2.st.wal_corrupt_records || r2.st.wal_truncated_bytes) {
                if (failures++ < 5)
                    fprintf(stderr, "cut at %" PRId64 ": second open differs (prefix %ld, corrupt %" PRIu64
                            ", truncated %" PRIu64 ")\n", cut, prefix_of(&b, &r2.got),
                            r2.st.wal_corrupt_records, r2.st.wal_truncated_bytes);
            }
            dbt_set_free(&r2.got);
        }
        dbt_set_free(&r.got);
        test_rmtree(copy);
    }
    if (failures)
        fail_msg("%zu of %" PRId64 " cuts went wrong", failures, size + 1);
    base_free(&b);
}

static void wal_flipped_bytes_lose_only_from_the_damage_on(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_init(&rng, test_seed(77));
    base_db b;
    base_make(&b, "db_dmg_flip", 60, 120, 32768); /* smallest segments (one page): several of them */
    /* the segments in order, with their sizes */
    char wal[4096];
    dbt_fmt(wal, sizeof wal, "%s/wal", b.dir);
    uint64_t first = b.series_end.seg, last = b.ends[b.n_batches - 1].seg;
    fprintf(stderr, "log: segments %" PRIu64 "..%" PRIu64 "\n", first, last);
    assert_true(last > first);
    int64_t total = 0;
    int64_t sizes[4096];
    assert_true(last - first < 4096);
    char seg[4096];
    for (uint64_t s = first; s <= last; s++) {
        dbt_fmt(seg, sizeof seg, "%s/%08" PRIu64, wal, s);
        sizes[s - first] = dbt_file_size(seg);
        if (sizes[s - first] < 0)
            fail_msg("segment %s missing (naming changed?)", seg);
        total += sizes[s - first];
    }
    const char *e = getenv("STRATA_DAMAGE_FLIPS");
    size_t rounds = e && *e ? strtoull(e, NULL, 10) : 150, failures = 0;
    for (size_t round = 0; round < rounds; round++) {
        int64_t g = (int64_t)test_rng_below(&rng, (uint64_t)total);
        wal_end at = {first, g};
        while (at.off >= sizes[at.seg - first]) {
            at.off -= sizes[at.seg - first];
            at.seg++;
        }
        uint8_t mask = (uint8_t)(1 + test_rng_below(&rng, 255));
        char copy[4096], cseg[4096];
        dbt_fmt(copy, sizeof copy, "%s/flip%zu", b.root, round);
        dbt_copy_tree(b.dir, copy);
        dbt_fmt(cseg, sizeof cseg, "%s/wal/%08" PRIu64, copy, at.seg);
        dbt_flip_byte(cseg, at.off, mask);
        opened r;
        open_read(copy, &r);
        long k = prefix_of(&b, &r.got);
        /* batches ending at or before the damaged byte must survive; the
         * batch holding it and everything after must not (the CRC covers
         * every byte of a record; a hole ends replay) */
        size_t want = 0;
        int in_record = 0;
        for (size_t j = 0; j < b.n_batches; j++) {
            wal_end after = {at.seg, at.off + 1};
            if (pos_le(b.ends[j], (wal_end){at.seg, at.off}))
                want = j + 1;
            else if (pos_le(after, b.ends[j]))
                in_record = 1;
        }
        uint64_t counted = r.st.wal_corrupt_records + r.st.wal_truncated_bytes;
        if (k != (long)want && !(k == (long)b.n_batches && !in_record)) {
            if (failures++ < 5) {
                fprintf(stderr, "flip ^%02x at segment %" PRIu64 " offset %" PRId64 ": kept %ld batches (-1: not a "
                        "prefix), want %zu\n", mask, at.seg, at.off, k, want);
                dbt_set_diff(&b.truth[want], &r.got, "  flip");
            }
        } else if (k < (long)b.n_batches && counted == 0) {
            if (failures++ < 5)
                fprintf(stderr, "flip at segment %" PRIu64 " offset %" PRId64 ": lost batches, no counter\n",
                        at.seg, at.off);
        }
        dbt_set_free(&r.got);
        test_rmtree(copy);
    }
    if (failures)
        fail_msg("%zu of %zu flips went wrong (STRATA_SEED=%" PRIu64 ")", failures, rounds, test_seed(0));
    base_free(&b);
}

/* Batches of a few thousand samples make records of several 32 KiB pages
 * (FIRST/MIDDLE/LAST fragments). Cuts around every page boundary and
 * record end, and random flips, keep exactly the batches that end before
 * the damage. */
static void wal_multi_page_records_cut_and_flipped(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_init(&rng, test_seed(77) + 3);
    base_db b;
    base_make(&b, "db_dmg_pages", 4, 6000, 0);
    char wal[4096], seg[4096];
    dbt_fmt(wal, sizeof wal, "%s/wal", b.dir);
    dbt_last_file(wal, seg, sizeof seg);
    int64_t size = dbt_file_size(seg);
    fprintf(stderr, "log of %" PRId64 " bytes, batches end at", size);
    for (size_t j = 0; j < b.n_batches; j++) {
        assert_int_equal(b.ends[j].seg, b.series_end.seg);
        fprintf(stderr, " %" PRId64, b.ends[j].off);
    }
    fprintf(stderr, "\n");
    assert_true(b.ends[0].off - b.series_end.off > 2 * 32768); /* a record spans pages */
    /* the positions to damage: around page boundaries and record ends, and random */
    int64_t pos[2048];
    size_t np = 0;
    for (int64_t pg = 32768; pg < size && np < 1500; pg += 32768)
        for (int64_t d = -9; d <= 9; d++)
            pos[np++] = pg + d;
    for (size_t j = 0; j < b.n_batches; j++)
        for (int64_t d = -9; d <= 9; d++)
            pos[np++] = b.ends[j].off + d;
    for (int i = 0; i < 100; i++)
        pos[np++] = (int64_t)test_rng_below(&rng, (uint64_t)size);
    size_t failures = 0, checked = 0;
    for (size_t i = 0; i < np; i++) {
        int64_t at = pos[i];
        if (at < 0 || at >= size)
            continue;
        for (int mode = 0; mode < 2; mode++) { /* 0: cut at `at`, 1: flip the byte at `at` */
            char copy[4096], cseg[4096];
            dbt_fmt(copy, sizeof copy, "%s/p%zu_%d", b.root, i, mode);
            dbt_copy_tree(b.dir, copy);
            dbt_fmt(cseg, sizeof cseg, "%s/wal/%s", copy, strrchr(seg, '/') + 1);
            if (mode == 0)
                assert_int_equal(truncate(cseg, at), 0);
            else
                dbt_flip_byte(cseg, at, (uint8_t)(1 + test_rng_below(&rng, 255)));
            opened r;
            open_read(copy, &r);
            long k = prefix_of(&b, &r.got);
            /* a cut at `at` keeps the records ending at or before it; a flip
             * of byte `at` keeps those ending at or before it too */
            size_t want = 0;
            int inside = 0;
            for (size_t j = 0; j < b.n_batches; j++) {
                if (b.ends[j].off <= at)
                    want = j + 1;
                else if (at > (j ? b.ends[j - 1].off : b.series_end.off) || mode == 1)
                    inside = 1;
            }
            uint64_t counted = r.st.wal_corrupt_records + r.st.wal_truncated_bytes;
            checked++;
            if (k != (long)want) {
                if (failures++ < 5) {
                    fprintf(stderr, "%s at %" PRId64 ": kept %ld batches (-1: not a prefix), want %zu\n",
                            mode ? "flip" : "cut", at, k, want);
                }
            } else if (inside && want < b.n_batches && counted == 0) {
                if (failures++ < 5)
                    fprintf(stderr, "%s at %" PRId64 " inside a record: no counter says so\n", mode ? "flip" : "cut",
                            at);
            }
            dbt_set_free(&r.got);
            test_rmtree(copy);
        }
    }
    fprintf(stderr, "%zu cuts and flips around pages and records checked\n", checked);
    if (failures)
        fail_msg("%zu of %zu damaged multi-page logs went wrong", failures, checked);
    base_free(&b);
}

/* ------------------------------------------------------------ tables */

typedef struct vreport {
    char file[4096];
    int64_t off;
    size_t n;
} vreport;

static void vcb(void *ctx, const char *file, int64_t off, const char *msg)
{
    vreport *v = ctx;
    if (v->n++ == 0) {
        snprintf(v->file, sizeof v->file, "%s", file);
        v->off = off;
    }
    (void)msg;
}

static void table_flipped_byte_is_reported_never_a_wrong_answer(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_init(&rng, test_seed(91));
    char *root = test_tmpdir("db_dmg_table");
    char base[4096];
    dbt_fmt(base, sizeof base, "%s/base", root);
    strata_options o;
    dbt_options(&o, base);
    o.block_samples = 50;
    strata_db *db = dbt_open_ok(&o);
    dbt_set truth = {0};
    char name[64];
    for (int k = 0; k < 20; k++) {
        snprintf(name, sizeof name, "%d", k);
        strata_sid sid = dbt_series(db, "tbl", "s", name);
        strata_sample s[200];
        for (int i = 0; i < 200; i++) {
            s[i].sid = sid;
            s[i].t_ms = DMG_T0 + i * 15000;
            s[i].value = k % 2 ? (double)(i % 17) : dbt_from_bits(test_mix((uint64_t)(k * 1000 + i)));
        }
        assert_int_equal(strata_write(db, s, 200), STRATA_OK);
        snprintf(name, sizeof name, "__name__=tbl,s=%d", k);
        for (int i = 0; i < 200; i++)
            dbt_set_add(&truth, name, s[i].t_ms, dbt_bits(s[i].value));
    }
    assert_int_equal(strata_flush(db), STRATA_OK);
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_true(st.table_files >= 1);
    assert_int_equal(st.head_samples, 0);
    assert_int_equal(strata_close(db), STRATA_OK);
    dbt_set_finish(&truth);
    char tables[4096], tfile[4096];
    dbt_fmt(tables, sizeof tables, "%s/tables", base);
    dbt_last_file(tables, tfile, sizeof tfile);
    assert_true(tfile[0] != 0);
    const char *tname = strrchr(tfile, '/') + 1;
    int64_t size = dbt_file_size(tfile);
    fprintf(stderr, "table %s: %" PRId64 " bytes\n", tname, size);
    assert_int_equal(strata_verify_dir(base, NULL, NULL), STRATA_OK);

    size_t rounds = 60, failures = 0, quarantined = 0, read_errors = 0, intact = 0;
    for (size_t round = 0; round < rounds; round++) {
        /* a third of the flips in the last 128 bytes (index, footer) */
        int64_t off = round % 3 == 0 && size > 128 ? size - 1 - (int64_t)test_rng_below(&rng, 128)
                                                   : (int64_t)test_rng_below(&rng, (uint64_t)size);
        uint8_t mask = (uint8_t)(1 + test_rng_below(&rng, 255));
        char copy[4096], cfile[4096];
        dbt_fmt(copy, sizeof copy, "%s/flip%zu", root, round);
        dbt_copy_tree(base, copy);
        dbt_fmt(cfile, sizeof cfile, "%s/tables/%s", copy, tname);
        dbt_flip_byte(cfile, off, mask);

        vreport v = {.off = -2};
        int rc = strata_verify_table(cfile, vcb, &v);
        if (rc != STRATA_ERR_CORRUPT || v.n == 0 || !strstr(v.file, tname) || v.off < 0 || v.off >= size) {
            if (failures++ < 5)
                fprintf(stderr, "flip ^%02x at %" PRId64 ": strata_verify_table returned %d (want STRATA_ERR_CORRUPT), %zu reports, first .%s. @%" PRId64
                        "\n", mask, off, rc, v.n, v.file, v.off);
        }
        vreport vd = {.off = -2};
        rc = strata_verify_dir(copy, vcb, &vd);
        if (rc != STRATA_ERR_CORRUPT || !strstr(vd.file, tname)) {
            if (failures++ < 5)
                fprintf(stderr, "flip ^%02x at %" PRId64 ": verify_dir rc %d, first '%s' @%" PRId64 "\n", mask, off,
                        rc, vd.file, vd.off);
        }

        strata_options oc;
        dbt_options(&oc, copy);
        dbt_log lg = {1};
        oc.log_fn = dbt_log_fn;
        oc.log_ctx = &lg;
        strata_db *cdb = NULL;
        rc = strata_open(&oc, &cdb);
        if (rc) {
            if (failures++ < 5)
                fprintf(stderr, "flip at %" PRId64 ": open failed: %s (the rest must open)\n", off,
                        strata_strerror(rc));
            test_rmtree(copy);
            continue;
        }
        dbt_set got = {0};
        rc = dbt_read_all(cdb, &got);
        strata_stats cst;
        assert_int_equal(strata_get_stats(cdb, &cst, sizeof cst), STRATA_OK);
        if (rc < 0) {
            read_errors++; /* reported, not answered wrongly: but what was returned must be true */
        }
        /* every sample returned must be true */
        size_t wrong = 0, missing = 0, i = 0, j = 0;
        while (i < truth.n || j < got.n) {
            int c = i == truth.n ? 1 : j == got.n ? -1 : dbt_cmp(&truth.v[i], &got.v[j]);
            if (c < 0) {
                missing++;
                i++;
            } else if (c > 0) {
                wrong++;
                j++;
            } else {
                wrong += truth.v[i].bits != got.v[j].bits;
                i++;
                j++;
            }
        }
        if (rc == 0 && cst.quarantined_files > 0)
            quarantined++;
        else if (rc == 0 && missing == 0 && wrong == 0)
            intact++;
        if (wrong || (rc == 0 && missing && cst.quarantined_files == 0)) {
            if (failures++ < 5) {
                fprintf(stderr, "flip ^%02x at %" PRId64 ": read rc %d, %zu wrong, %zu missing, quarantined %" PRIu64
                        "\n", mask, off, rc, wrong, missing, cst.quarantined_files);
                dbt_set_diff(&truth, &got, "  table");
            }
        }
        dbt_set_free(&got);
        assert_int_equal(strata_close(cdb), STRATA_OK);
        test_rmtree(copy);
    }
    fprintf(stderr, "%zu table flips: %zu quarantined at open, %zu read errors, %zu read intact\n", rounds,
            quarantined, read_errors, intact);
    dbt_set_free(&truth);
    test_rmtree(root);
    free(root);
    if (failures)
        fail_msg("%zu table-damage checks failed (STRATA_SEED=%" PRIu64 ")", failures, test_seed(0));
}

/* ------------------------------------------------------------ directory hygiene */

/* Two tables: series a in the first flush, series b in the second. */
static void two_tables(const char *dir, dbt_set *truth_a, dbt_set *truth_b, char names[2][64])
{
    strata_options o;
    dbt_options(&o, dir);
    strata_db *db = dbt_open_ok(&o);
    for (int f = 0; f < 2; f++) {
        strata_sid sid = dbt_series(db, "two", "s", f ? "b" : "a");
        strata_sample s[300];
        for (int i = 0; i < 300; i++) {
            s[i] = (strata_sample){sid, DMG_T0 + i * 1000, dbt_from_bits(test_mix((uint64_t)(f * 1000 + i)))};
            dbt_set_add(f ? truth_b : truth_a, f ? "__name__=two,s=b" : "__name__=two,s=a", s[i].t_ms,
                        dbt_bits(s[i].value));
        }
        assert_int_equal(strata_write(db, s, 300), STRATA_OK);
        assert_int_equal(strata_flush(db), STRATA_OK);
        strata_file_info *fi;
        size_t n;
        assert_int_equal(strata_list_files(db, &fi, &n), STRATA_OK);
        assert_int_equal(n, (size_t)f + 1);
        /* the new file is the one with the highest number */
        uint64_t hi = 0;
        for (size_t i = 0; i < n; i++)
            hi = fi[i].file_no > hi ? fi[i].file_no : hi;
        strata_free(fi);
        char tables[4096], last[4096];
        dbt_fmt(tables, sizeof tables, "%s/tables", dir);
        dbt_last_file(tables, last, sizeof last);
        assert_true(strtoull(strrchr(last, '/') + 1, NULL, 10) == hi);
        snprintf(names[f], 64, "%s", strrchr(last, '/') + 1);
    }
    assert_int_equal(strata_close(db), STRATA_OK);
    dbt_set_finish(truth_a);
    dbt_set_finish(truth_b);
}

/* After an unclean shutdown (DIRTY present) open checks every block: a
 * table damaged in a data block is quarantined (moved to quarantine/ with a
 * .reason file), the rest opens and answers exactly. Without DIRTY the same
 * damage is found by the read that meets it. */
static void dirty_open_quarantines_a_damaged_table(void **state)
{
    (void)state;
    char *root = test_tmpdir("db_dmg_dirty");
    char dir[4096], path[4096];
    dbt_fmt(dir, sizeof dir, "%s/db", root);
    dbt_set ta = {0}, tb = {0};
    char names[2][64];
    two_tables(dir, &ta, &tb, names);
    dbt_fmt(path, sizeof path, "%s/tables/%s", dir, names[0]);
    int64_t tsize = dbt_file_size(path);
    dbt_flip_byte(path, tsize / 3, 0x10); /* inside the block's encoded samples */
    char copy[4096];
    dbt_fmt(copy, sizeof copy, "%s/clean", root);
    dbt_copy_tree(dir, copy);

    /* clean shutdown: the read meets the damage and says so */
    strata_options o;
    dbt_options(&o, copy);
    dbt_log lg = {1};
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    strata_db *db = dbt_open_ok(&o);
    dbt_set got = {0};
    int rc = dbt_read_all(db, &got);
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    if (rc == 0 && st.quarantined_files == 0) {
        size_t wrong = dbt_set_diff(&tb, &got, "clean open, damaged table a");
        fail_msg("a read over a damaged block returned success (%zu samples, %zu differences from b alone), "
                 "nothing quarantined", got.n, wrong);
    }
    fprintf(stderr, "clean open (table of %" PRId64 " bytes damaged at %" PRId64 "): read %s, %" PRIu64 " quarantined\n", tsize, tsize / 3, strata_strerror(rc), st.quarantined_files);
    dbt_set_free(&got);
    /* series b alone is still readable */
    strata_matcher mb = {STRATA_MATCH_EQ, "s", "b"};
    assert_int_equal(dbt_read(db, &mb, 1, INT64_MIN, INT64_MAX, &got), 0);
    assert_int_equal(dbt_set_diff(&tb, &got, "series b beside a damaged table"), 0);
    dbt_set_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);

    /* unclean shutdown: DIRTY makes open verify every block */
    char dirty[4096];
    dbt_fmt(dirty, sizeof dirty, "%s/DIRTY", dir);
    FILE *f = fopen(dirty, "w");
    assert_non_null(f);
    fclose(f);
    dbt_options(&o, dir);
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    db = dbt_open_ok(&o);
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.quarantined_files, 1);
    assert_int_equal(dbt_read_all(db, &got), 0);
    assert_int_equal(dbt_set_diff(&tb, &got, "after quarantine"), 0);
    dbt_set_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);
    char q[4096];
    dbt_fmt(q, sizeof q, "%s/quarantine/%s", dir, names[0]);
    if (dbt_file_size(q) < 0)
        fail_msg("%s: the damaged table is not in quarantine/", q);
    dbt_fmt(q, sizeof q, "%s/quarantine/%s.reason", dir, names[0]);
    if (dbt_file_size(q) <= 0)
        fail_msg("%s: no reason file beside the quarantined table", q);
    if (dbt_file_size(path) >= 0)
        fail_msg("%s: still in tables/ after quarantine", path);
    assert_int_equal(strata_verify_dir(dir, NULL, NULL), STRATA_OK);
    dbt_set_free(&ta);
    dbt_set_free(&tb);
    test_rmtree(root);
    free(root);
}

/* A table the manifest needs but that is gone is a clear error at open
 * (STRATA_ERR_CORRUPT), not an empty answer; files the manifest does not
 * know (a crashed flush's output, temporaries) are removed at open. */
static void missing_table_fails_open_and_orphans_are_removed(void **state)
{
    (void)state;
    char *root = test_tmpdir("db_dmg_missing");
    char dir[4096], path[4096], copy[4096];
    dbt_fmt(dir, sizeof dir, "%s/db", root);
    dbt_set ta = {0}, tb = {0};
    char names[2][64];
    two_tables(dir, &ta, &tb, names);
    dbt_fmt(copy, sizeof copy, "%s/missing", root);
    dbt_copy_tree(dir, copy);
    dbt_fmt(path, sizeof path, "%s/tables/%s", copy, names[0]);
    assert_int_equal(unlink(path), 0);
    strata_options o;
    dbt_options(&o, copy);
    dbt_log lg = {1};
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    strata_db *db = NULL;
    int rc = strata_open(&o, &db);
    if (rc != STRATA_ERR_CORRUPT) {
        if (rc == STRATA_OK)
            strata_close(db);
        fail_msg("open with a table missing returned %s, want STRATA_ERR_CORRUPT", strata_strerror(rc));
    }
    /* orphans: an unknown table number and a temporary */
    char orphan[4096], tmp[4096];
    dbt_fmt(orphan, sizeof orphan, "%s/tables/000000999999.tbl", dir);
    dbt_fmt(tmp, sizeof tmp, "%s/tables/000000999998.tbl.tmp", dir);
    dbt_fmt(path, sizeof path, "%s/tables/%s", dir, names[1]);
    dbt_copy_file(path, orphan);
    dbt_copy_file(path, tmp);
    dbt_options(&o, dir);
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    db = dbt_open_ok(&o);
    dbt_set got = {0}, all = {0};
    assert_int_equal(dbt_read_all(db, &got), 0);
    for (size_t i = 0; i < ta.n; i++)
        dbt_set_add(&all, ta.v[i].series, ta.v[i].t, ta.v[i].bits);
    for (size_t i = 0; i < tb.n; i++)
        dbt_set_add(&all, tb.v[i].series, tb.v[i].t, tb.v[i].bits);
    dbt_set_finish(&all);
    assert_int_equal(dbt_set_diff(&all, &got, "with orphans beside"), 0);
    assert_int_equal(strata_close(db), STRATA_OK);
    if (dbt_file_size(orphan) >= 0)
        fail_msg("%s: a table the manifest does not know survived open", orphan);
    if (dbt_file_size(tmp) >= 0)
        fail_msg("%s: a temporary survived open", tmp);
    dbt_set_free(&got);
    dbt_set_free(&all);
    dbt_set_free(&ta);
    dbt_set_free(&tb);
    test_rmtree(root);
    free(root);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[4096];
    dbt_fmt(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void read_file_text(const char *dir, const char *name, char *buf, size_t cap)
{
    char p[4096];
    dbt_fmt(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    assert_int_equal(fclose(f), 0);
}

/* A directory of format version 1 (what strata wrote before version 2)
 * opens: read-only it is left as it is, opened for writing its VERSION
 * becomes the current one; a version from the future is refused. */
static void version_1_directory_opens_and_is_upgraded_for_writing(void **state)
{
    (void)state;
    char *dir = test_tmpdir("db_dmg_version");
    dbt_log lg = {1};
    strata_options o;
    dbt_options(&o, dir);
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    strata_db *db = dbt_open_ok(&o);
    strata_sid sid = dbt_series(db, "v", "a", "1");
    strata_sample s = {sid, 1700000000000, 1.25};
    assert_int_equal(strata_write(db, &s, 1), STRATA_OK);
    assert_int_equal(strata_flush(db), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    char text[64], want[16];
    dbt_fmt(want, sizeof want, "%d\n", STRATA_FORMAT_VERSION);
    read_file_text(dir, "VERSION", text, sizeof text);
    assert_string_equal(text, want);

    put_file(dir, "VERSION", "1\n");
    o.read_only = 1;
    db = dbt_open_ok(&o);
    dbt_set got = {0};
    assert_int_equal(dbt_read_all(db, &got), 0);
    assert_int_equal(got.n, 1);
    dbt_set_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);
    read_file_text(dir, "VERSION", text, sizeof text);
    assert_string_equal(text, "1\n");

    o.read_only = 0;
    db = dbt_open_ok(&o);
    read_file_text(dir, "VERSION", text, sizeof text);
    assert_string_equal(text, want);
    assert_int_equal(dbt_read_all(db, &got), 0);
    assert_int_equal(got.n, 1);
    dbt_set_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);
    read_file_text(dir, "VERSION", text, sizeof text);
    assert_string_equal(text, want);

    char future[16];
    dbt_fmt(future, sizeof future, "%d\n", STRATA_FORMAT_VERSION + 1);
    put_file(dir, "VERSION", future);
    for (int ro = 0; ro < 2; ro++) {
        o.read_only = ro;
        db = NULL;
        assert_int_equal(strata_open(&o, &db), STRATA_ERR_VERSION);
        read_file_text(dir, "VERSION", text, sizeof text);
        assert_string_equal(text, future);
    }
    test_rmtree(dir);
    free(dir);
}

/* What a process killed while creating a directory leaves (the files of
 * the first open, written one after the other, each temporary renamed into
 * place): the next open must make a database of it, not refuse. */
static void crashed_creation_leftovers_open_as_a_new_database(void **state)
{
    (void)state;
    static const char *const steps[][6] = {
        {"LOCK", NULL},
        {"LOCK", "VERSION.tmp", NULL},
        {"LOCK", "VERSION", NULL},
        {"LOCK", "VERSION", "DIRTY.tmp", NULL},
        {"LOCK", "VERSION", "DIRTY", "tables/", "wal/", NULL},
        {"LOCK", "VERSION", "DIRTY", "tables/", "wal/", "CURRENT.tmp"},
    };
    char version_text[16];
    dbt_fmt(version_text, sizeof version_text, "%d\n", STRATA_FORMAT_VERSION);
    char *root = test_tmpdir("db_dmg_create");
    size_t failures = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char dir[4096], sub[4096];
        dbt_fmt(dir, sizeof dir, "%s/c%zu", root, i);
        assert_int_equal(mkdir(dir, 0755), 0);
        char listing[256] = "";
        for (size_t k = 0; k < 6 && steps[i][k]; k++) {
            const char *n = steps[i][k];
            size_t l = strlen(n);
            if (n[l - 1] == '/') {
                dbt_fmt(sub, sizeof sub, "%s/%.*s", dir, (int)(l - 1), n);
                assert_int_equal(mkdir(sub, 0755), 0);
            } else {
                put_file(dir, n, !strncmp(n, "VERSION", 7) ? version_text : "");
            }
            strcat(strcat(listing, " "), n);
        }
        strata_options o;
        dbt_options(&o, dir);
        dbt_log lg = {1};
        o.log_fn = dbt_log_fn;
        o.log_ctx = &lg;
        strata_db *db = NULL;
        int rc = strata_open(&o, &db);
        if (rc) {
            if (failures++ < 10)
                fprintf(stderr, "a directory holding%s does not open: %s\n", listing, strata_strerror(rc));
            continue;
        }
        strata_sid sid = dbt_series(db, "fresh", "a", "b");
        strata_sample smp = {sid, 1000, 1.0};
        assert_int_equal(strata_write(db, &smp, 1), STRATA_OK);
        assert_int_equal(strata_close(db), STRATA_OK);
        db = dbt_open_ok(&o);
        dbt_set got = {0};
        assert_int_equal(dbt_read_all(db, &got), 0);
        assert_int_equal(got.n, 1);
        dbt_set_free(&got);
        assert_int_equal(strata_close(db), STRATA_OK);
    }
    test_rmtree(root);
    free(root);
    if (failures)
        fail_msg("%zu states a crash during creation can leave do not open", failures);
}

int main(void)
{
    /* damage tests copy directories hundreds of times: use memory when the
     * caller did not choose */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_truncated_at_every_offset_loses_only_the_tail),
        cmocka_unit_test(wal_flipped_bytes_lose_only_from_the_damage_on),
        cmocka_unit_test(wal_multi_page_records_cut_and_flipped),
        cmocka_unit_test(table_flipped_byte_is_reported_never_a_wrong_answer),
        cmocka_unit_test(dirty_open_quarantines_a_damaged_table),
        cmocka_unit_test(missing_table_fails_open_and_orphans_are_removed),
        cmocka_unit_test(crashed_creation_leftovers_open_as_a_new_database),
        cmocka_unit_test(version_1_directory_opens_and_is_upgraded_for_writing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
