/*
 * verify.c: checks every checksum and every structural rule of a table
 * file, reporting each problem with the file and the byte offset, and the
 * public strata_verify_table() built on it. Unlike a query, which stops at
 * the first bad block, verification goes on to report every bad block.
 */
#include "codec/codec.h"
#include "table_format.h"
#include "table_int.h"

static void report(table_verify_fn fn, void *ctx, const char *path, const table_fault *f)
{
    if (fn)
        fn(ctx, path, f->off, f->what);
}

int table_verify(const char *path, table_verify_fn fn, void *ctx)
{
    table_fault f = {.off = -1, .what = ""};
    table *t = NULL;
    int rc = table_open_fault(NULL, path, NULL, &t, &f);
    if (rc) {
        report(fn, ctx, path, &f);
        return rc;
    }
    int64_t *ts = NULL;
    double *v = NULL;
    strata_agg *rows = NULL;
    size_t cap = 0;
    int bad = 0;
    for (size_t i = 0; i < t->meta.series; i++) {
        table_block_list l;
        table_block blk;
        int r;
        if ((r = table_list_at(t, i, &l, &f))) {
            report(fn, ctx, path, &f);
            bad = 1;
            continue;
        }
        while ((r = table_list_next_fault(&l, &blk, &f)) == 1) {
            if (blk.count > cap) {
                base_free(ts);
                base_free(v);
                base_free(rows);
                cap = blk.count;
                ts = base_malloc((cap + CODEC_PAD) * sizeof *ts);
                v = base_malloc((cap + CODEC_PAD) * sizeof *v);
                rows = base_malloc(cap * sizeof *rows);
                if (!ts || !v || !rows) {
                    rc = STRATA_ERR_NOMEM;
                    goto out;
                }
            }
            int64_t res;
            /* every column of an aggregate block, the values of a raw one */
            if (table_block_decode_agg_fault(t, &blk, ts, v, rows, &res, ~0u, &f) != STRATA_OK) {
                report(fn, ctx, path, &f);
                bad = 1;
                continue;
            }
            for (size_t k = 1; k < blk.count; k++) {
                if (ts[k] <= ts[k - 1]) {
                    table_fault_set(&f, STRATA_ERR_CORRUPT, (int64_t)blk.off,
                                    "timestamps of sid %llu not increasing at sample %zu of the block",
                                    (unsigned long long)l.sid, k);
                    report(fn, ctx, path, &f);
                    bad = 1;
                    break;
                }
            }
        }
        if (r < 0) {
            report(fn, ctx, path, &f);
            bad = 1;
        }
    }
    rc = bad ? STRATA_ERR_CORRUPT : STRATA_OK;
out:
    base_free(ts);
    base_free(v);
    base_free(rows);
    table_unref(t);
    return rc;
}

int strata_verify_table(const char *path, strata_verify_fn fn, void *ctx)
{
    return table_verify(path, fn, ctx);
}
