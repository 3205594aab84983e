/*
 * fuzz_table.c: the input is a mode byte then a table file. The file is
 * written to a memfd, opened through its /proc path (so the real open and
 * mmap run), and read every way: block scan with decoding, each series whole
 * and over a range, absent sids, aggregate rows (table_block_decode_agg),
 * and table_verify. Nothing may crash, hang
 * or read outside the file. fuzz_seed_input gives small valid tables.
 *
 * Mode byte odd: before reading, the CRCs are recomputed (footer, index,
 * then every block the index locates), so mutations get past the checksums
 * and reach the structural checks behind them: index walk, block headers,
 * codec decoders. Mode byte even: the bytes are used as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codec/codec.h"
#include "table/table.h"
#include "table/table_format.h"

static int memfd = -1;

static void no_report(void *ctx, const char *file, int64_t off, const char *msg)
{
    (void)ctx;
    (void)file;
    (void)off;
    (void)msg;
}

static void read_all(table *t)
{
    const table_meta *m = table_get_meta(t);
    table_scan sc;
    table_scan_init(&sc, t);
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
    int64_t *ts = NULL;
    double *v = NULL;
    strata_agg *rows = NULL;
    size_t cap = 0;
    while (table_scan_next(&sc, &sid, &blk, &bytes) == 1) {
        if (blk.count > cap) {
            free(ts);
            free(v);
            free(rows);
            cap = blk.count;
            ts = malloc((cap + CODEC_PAD) * sizeof *ts);
            v = malloc((cap + CODEC_PAD) * sizeof *v);
            rows = malloc(cap * sizeof *rows);
            if (!ts || !v || !rows)
                abort();
        }
        (void)table_block_decode(t, &blk, ts, v, NULL, 0);
        int64_t res;
        (void)table_block_res(t, &blk, &res);
        (void)table_block_decode_agg(t, &blk, ts, v, rows, &res, NULL, 0);
    }
    free(ts);
    free(v);
    free(rows);
    table_iter it;
    table_iter_init(&it);
    for (size_t i = 0; i < m->series && i < 64; i++) {
        uint64_t s = table_sid_at(t, i);
        int64_t ranges[3][2] = {{INT64_MIN, INT64_MAX}, {m->min_t + 1, m->max_t - 1}, {m->max_t, m->max_t}};
        for (int r = 0; r < 3; r++) {
            if (table_iter_seek(&it, t, s, ranges[r][0], ranges[r][1]) != STRATA_OK)
                continue;
            const int64_t *pts;
            const double *pv;
            size_t n;
            while (table_iter_next(&it, &pts, &pv, &n) == 1)
                ;
        }
        table_block_list l;
        (void)table_find(t, s + 1, &l);
    }
    table_iter_free(&it);
    uint64_t *sids;
    size_t n;
    if (table_sids(t, &sids, &n) == STRATA_OK)
        base_free(sids);
}

static void put_file(const uint8_t *data, size_t size)
{
    if (ftruncate(memfd, 0) != 0 || base_file_pwrite_all(memfd, data, size, 0) != STRATA_OK)
        abort();
}

/* Recomputes footer and index CRCs in place, then block CRCs located
 * through the (now accepted) index. */
static void fix_crcs(uint8_t *p, size_t size, const char *path)
{
    if (size < TABLE_FOOTER_SIZE)
        return;
    uint8_t *f = p + size - TABLE_FOOTER_SIZE;
    uint64_t ioff = load_u64le(f + TF_INDEX_OFF), ilen = load_u64le(f + TF_INDEX_LEN);
    if (ioff <= size && ilen <= size - ioff)
        store_u32le(f + TF_INDEX_CRC, base_crc32c(0, p + ioff, ilen));
    store_u32le(f + TF_FOOTER_CRC, base_crc32c(0, f, TF_FOOTER_CRC));
    put_file(p, size);
    table *t;
    if (table_open(path, NULL, &t, NULL, 0) != STRATA_OK)
        return;
    for (size_t i = 0; i < table_get_meta(t)->series; i++) {
        table_block_list l;
        table_block b;
        if (table_find(t, table_sid_at(t, i), &l) != STRATA_OK)
            continue;
        while (table_block_list_next(&l, &b) == 1)
            if (b.off + b.len <= size && b.len >= 4)
                store_u32le(p + b.off + b.len - 4, base_crc32c(0, p + b.off, b.len - 4));
    }
    table_unref(t);
    put_file(p, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_table", 0);
        if (memfd < 0)
            abort();
    }
    if (size == 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    if (data[0] & 1) {
        uint8_t *copy = malloc(size);
        if (!copy)
            abort();
        memcpy(copy, data + 1, size - 1);
        fix_crcs(copy, size - 1, path);
        free(copy);
    } else {
        put_file(data + 1, size - 1);
    }
    table *t = NULL;
    char err[512];
    if (table_open(path, NULL, &t, err, sizeof err) == STRATA_OK) {
        read_all(t);
        table_unref(t);
    }
    (void)table_verify(path, no_report, NULL);
    return 0;
}

/* Small valid tables: a few series over several blocks, one sample, an
 * empty table, assorted values, aggregate rows beside raw series. */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 10 || cap < 2)
        return 0;
    out[0] = (uint8_t)(i & 1); /* each table in both modes */
    i /= 2;
    out++;
    cap--;
    char dir[] = "/tmp/fuzz_table_seedXXXXXX";
    if (!mkdtemp(dir))
        return 0;
    table_writer *w;
    size_t len = 0;
    if (table_writer_open(dir, i, &(table_writer_opts){.block_samples = 8}, &w) != STRATA_OK)
        goto out;
    int64_t ts[40];
    double v[40];
    size_t n_series = i == 0 || i == 4 ? 4 : i == 1 ? 1 : i == 2 ? 3 : 0;
    size_t n = i == 1 ? 1 : 20;
    for (size_t s = 0; s < n_series; s++) {
        for (size_t k = 0; k < n; k++) {
            ts[k] = 1600000000000ll + (int64_t)(k * 15000) + (i == 2 ? (int64_t)(k * k * 7) : 0);
            v[k] = i == 2 ? (double)k * 0.1 + (double)s : (double)(k * s);
        }
        strata_agg rows[40];
        for (size_t k = 0; k < n; k++)
            rows[k] = (strata_agg){ts[k] - 1000 * (int64_t)(k % 3), ts[k], (double)(1 + k % 3), v[k] * 3, v[k] - 1,
                                   v[k] + 1, v[k] - 1, v[k], (double)(k % 2), 15000};
        if (i == 4 && s % 2 ? table_writer_add_agg(w, 3 + s * 5, 15000, rows, n) != STRATA_OK
                            : table_writer_add(w, 3 + s * 5, ts, v, n) != STRATA_OK) {
            table_writer_abort(w);
            goto out;
        }
    }
    if (table_writer_finish(w, NULL) != STRATA_OK)
        goto out;
    char name[40], path[128];
    table_file_name(name, sizeof name, i);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *p;
    size_t plen;
    if (base_file_read_all(path, &p, &plen) == STRATA_OK) {
        if (plen <= cap) {
            memcpy(out, p, plen);
            len = plen + 1;
        }
        base_free(p);
    }
    unlink(path);
out:
    rmdir(dir);
    return len;
}
