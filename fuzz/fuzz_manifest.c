/*
 * fuzz_manifest.c: bytes as a MANIFEST file. Replay must never crash,
 * read out of bounds or leak; when it succeeds, the state must be sound
 * (tables in order, partitions indexing them, every number below the
 * counter) and survive a round trip: the snapshot of the state replays to
 * the same snapshot bytes. Seeds are valid manifests with tables,
 * tombstones, checkpoints, moves and removals.
 */
#include <stdio.h>
#include <stdlib.h>

#include "manifest/manifest_int.h"

#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c)) {                                                       \
            fprintf(stderr, "fuzz_manifest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                      \
        }                                                                 \
    } while (0)

static void check_shape(const manifest_version *v)
{
    size_t n, np, nt;
    const manifest_table *t = manifest_version_tables(v, &n);
    const manifest_partition *p = manifest_version_partitions(v, &np);
    const manifest_tombstone *const *ts = manifest_version_tombstones(v, &nt);
    int64_t w = manifest_version_partition_ms(v);
    uint64_t next = manifest_version_next_file_no(v);
    CHECK(w > 0);
    size_t covered = 0;
    for (size_t i = 0; i < np; i++) {
        CHECK(p[i].first == covered && p[i].n > 0);
        for (size_t k = p[i].first; k < p[i].first + p[i].n; k++) {
            CHECK(t[k].partition_ms == p[i].start_ms);
            CHECK(t[k].min_t_ms >= t[k].partition_ms);
            CHECK((uint64_t)t[k].max_t_ms - (uint64_t)t[k].partition_ms < (uint64_t)w);
            CHECK(t[k].file_no < next && t[k].level < MANIFEST_MAX_LEVELS);
            CHECK(manifest_version_find_table(v, t[k].file_no) != NULL);
        }
        covered += p[i].n;
    }
    CHECK(covered == n);
    for (size_t i = 0; i < nt; i++) {
        CHECK(ts[i]->id < next && ts[i]->mint_ms <= ts[i]->maxt_ms);
        CHECK(i == 0 || ts[i]->id > ts[i - 1]->id);
        for (size_t k = 1; k < ts[i]->n_sids; k++)
            CHECK(ts[i]->sids[k] > ts[i]->sids[k - 1]);
    }
}

static void one(const uint8_t *data, size_t size)
{
    manifest_version *v = NULL, *w = NULL;
    manifest_replay_info info;
    if (manifest_replay(data, size, "fuzz", NULL, &v, &info) != STRATA_OK)
        return;
    CHECK(info.valid_bytes + info.torn_bytes == size && info.records >= 1);
    check_shape(v);
    bbuf a = {0}, b = {0};
    CHECK(manifest_encode_file(v, 0, &a) == STRATA_OK);
    CHECK(manifest_replay(a.data, a.len, "fuzz-snapshot", NULL, &w, &info) == STRATA_OK);
    CHECK(info.torn_bytes == 0 && info.records == 1);
    CHECK(manifest_encode_file(w, 0, &b) == STRATA_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    base_buf_free(&a);
    base_buf_free(&b);
    manifest_version_unref(w);
    manifest_version_unref(v);
}

/* Rewrites every CRC of the file as the writer would have, walking the
 * records by their lengths, so that mutations get past the checksums and
 * reach the edit decoder and its rules. */
static void fix_crcs(uint8_t *p, size_t n)
{
    if (n < MANIFEST_HEADER_BYTES)
        return;
    store_u32le(p + 12, base_crc32c(0, p, 12));
    for (size_t off = MANIFEST_HEADER_BYTES; n - off >= MANIFEST_RECORD_HEADER_BYTES;) {
        uint32_t len = load_u32le(p + off);
        if (len > n - off - MANIFEST_RECORD_HEADER_BYTES)
            break;
        store_u32le(p + off + 4, base_crc32c(0, p + off + MANIFEST_RECORD_HEADER_BYTES, len));
        store_u32le(p + off + 8, base_crc32c(0, p + off, 8));
        off += MANIFEST_RECORD_HEADER_BYTES + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    one(copy, size);
    free(copy);
    return 0;
}

/* Seed i: a snapshot, then i edits of a small deterministic scenario. */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 8)
        return 0;
    const int64_t W = 3600000;
    bbuf f = {0}, snap = {0};
    manifest_edit e;
    manifest_edit_init(&e);
    size_t len = 0;
    if (manifest_log_put_header(&f) || manifest_item_db_options(&snap, W) || manifest_item_next_file_no(&snap, 100) ||
        manifest_log_put_record(&f, snap.data, snap.len))
        goto out;
    for (unsigned k = 0; k < i; k++) {
        manifest_edit_reset(&e);
        manifest_table t = {.file_no = 10 + k, .partition_ms = (int64_t)(k % 3) * W - W, .level = k % 4,
                            .min_sid = k, .max_sid = 100 + k, .samples = 1000u * k, .blocks = k, .bytes = 4096u * k,
                            .created_ms = 1700000000000 + k};
        t.min_t_ms = t.partition_ms + 10;
        t.max_t_ms = t.partition_ms + W - 1;
        uint64_t sids[] = {1, 2, 300, 70000 + k};
        manifest_edit_add_table(&e, &t);
        manifest_edit_set_checkpoint(&e, (manifest_wal_pos){k / 2, 1000u * k});
        if (k % 2)
            manifest_edit_add_tombstone(&e, 50 + k, -5, 1000, sids, 4);
        if (k == 4) { /* a move and a removal */
            manifest_edit_remove_table(&e, 10);
            manifest_edit_remove_table(&e, 11);
            t.file_no = 11;
            t.level = 7;
            t.partition_ms = (int64_t)(1 % 3) * W - W;
            t.min_t_ms = t.partition_ms;
            t.max_t_ms = t.partition_ms + W - 1;
            manifest_edit_add_table(&e, &t);
            manifest_edit_remove_tombstone(&e, 51);
        }
        manifest_edit_add_level_stats(&e, k % MANIFEST_MAX_LEVELS, 100u * k, 200u * k);
        if (e.err || manifest_log_put_record(&f, e.buf.data, e.buf.len))
            goto out;
    }
    /* A seed that does not replay would seed nothing: fail loudly. */
    manifest_version *v = NULL;
    manifest_replay_info info;
    CHECK(manifest_replay(f.data, f.len, "seed", NULL, &v, &info) == STRATA_OK && info.records == i + 1);
    manifest_version_unref(v);
    if (f.len <= cap) {
        memcpy(out, f.data, f.len);
        len = f.len;
    }
out:
    manifest_edit_free(&e);
    base_buf_free(&f);
    base_buf_free(&snap);
    return len;
}
