/*
 * compactor.c: cpt_run, the compaction mechanism (see compaction.h for the
 * contract). One table_scan per input yields blocks in (sid, time) order;
 * the smallest current sid is processed across all inputs at once:
 *
 *   1. its blocks are gathered from every input and marked "cut" when a
 *      tombstone that applies to their input, or the retention limit,
 *      touches their time range;
 *   2. sorted by first timestamp and grouped into clusters of blocks whose
 *      time ranges overlap (transitively);
 *   3. a lone, uncut cluster block is copied verbatim when it is full or
 *      the series' last and the writer holds no partial block for the
 *      series; a block entirely hidden by one tombstone or by retention is
 *      dropped without decoding; everything else is decoded, filtered,
 *      merged (on equal timestamps the input listed first, the newest,
 *      wins) and handed to table_writer_add, which packs full blocks.
 *
 * Outputs are opened lazily (a series with nothing left opens nothing) and
 * rotated between series. On failure every output file is removed.
 *
 * Trade-off: once a partial block is pending for a series (a flush's tail,
 * a cut), the full blocks after it are decoded too, so the series comes out
 * in full blocks rather than with short blocks in the middle; that costs
 * encoder time (the codecs' encode is ~80% of a merge's instructions under
 * callgrind; the merge itself ~2%) and buys bytes per sample. Measured on 8
 * flush-like files of 2000 series x 1080 samples (gcc -O2): 8.4 M samples/s
 * through the merge path, 311 M samples/s when every block is copied.
 */
#include <stdlib.h>
#include <unistd.h>

#include "codec/codec.h"
#include "compaction.h"

typedef struct src {
    table *t;
    uint64_t file_no;
    table_scan scan;
    int have; /* 1: sid/blk/bytes hold the next block */
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
} src;

typedef struct cblk {
    size_t in; /* input index: 0 is the newest */
    table_block blk;
    const uint8_t *bytes;
    bool cut;  /* some sample may be hidden */
    bool gone; /* every sample is hidden */
} cblk;

typedef struct rsamp {
    int64_t t;
    double v;
    size_t in;
} rsamp;

/* Prometheus' staleness marker: left out of aggregates, as range
 * functions leave it out of their windows. */
#define CPT_STALE_BITS 0x7ff0000000000002ull

typedef struct trange {
    int64_t lo, hi;
} trange;

typedef struct run {
    const cpt_run_args *a;
    uint32_t bs;
    src *srcs;
    cblk *blks;
    size_t n_blks, cap_blks;
    trange *tr;       /* hiding ranges of the current sid, grouped by input */
    size_t *tr_first; /* n_inputs + 1 offsets into tr */
    size_t tr_cap;
    int64_t *dts;     /* decoded cluster, block after block */
    double *dv;
    size_t dcap, dvcap;
    int64_t *mts;     /* merged cluster */
    double *mv;
    size_t mcap, mvcap;
    size_t *heads;    /* per decoded block of a cluster: start, end, input */
    size_t hcap;
    table_writer *w;
    table_meta *outs;
    size_t n_outs, cap_outs;
    cpt_gp_cutter gc;
    int64_t cut;      /* the current sid's retention: samples before it are dropped */
    strata_agg *rows; /* aggregate path: decoded rows, kept rows, output rows */
    size_t rcap;
    strata_agg *keep;
    size_t n_keep, kcap;
    strata_agg *outr;
    size_t ocap;
    struct rsamp *rs; /* aggregate path: raw samples with their input */
    size_t n_rs, rscap;
    bool new_sid;     /* the next emit starts a series in the output */
    uint64_t pending; /* samples of the current sid in the writer's partial block */
    cpt_run_stats st;
} run;

void cpt_run_args_from_job(cpt_run_args *a, const cpt_job *job, size_t split)
{
    memset(a, 0, sizeof *a);
    a->retention_before_ms = INT64_MIN;
    a->target_file_bytes = job->target_file_bytes;
    a->sid_lo = 0;
    a->sid_hi = UINT64_MAX;
    if (split < job->n_splits) {
        a->sid_lo = job->splits[split].sid_lo;
        a->sid_hi = job->splits[split].sid_hi;
    }
    a->gps = job->gps;
    a->n_gps = job->n_gps;
    a->max_gp_overlap_bytes = job->max_gp_overlap_bytes;
}

static int advance(src *s)
{
    int rc = table_scan_next(&s->scan, &s->sid, &s->blk, &s->bytes);
    if (rc < 0) {
        s->have = 0;
        return rc;
    }
    s->have = rc;
    return STRATA_OK;
}

/* Positions s on its first series >= lo. table_scan has no seek; its
 * series cursor is public state, set here after a binary search. */
static int seek(src *s, uint64_t lo)
{
    const table_meta *m = table_get_meta(s->t);
    size_t a = 0, b = (size_t)m->series;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (table_sid_at(s->t, mid) < lo)
            a = mid + 1;
        else
            b = mid;
    }
    table_scan_init(&s->scan, s->t);
    s->scan.series_i = a;
    return advance(s);
}

/* The hiding ranges of sid for every input: retention, then tombstones
 * numbered after the input. */
static int hide_ranges(run *r, uint64_t sid)
{
    const cpt_run_args *a = r->a;
    size_t n = 0;
    for (size_t in = 0; in < a->n_inputs; in++) {
        r->tr_first[in] = n;
        if (r->cut != INT64_MIN) {
            if (base_grow((void **)&r->tr, &r->tr_cap, n + 1, sizeof *r->tr))
                return STRATA_ERR_NOMEM;
            r->tr[n++] = (trange){INT64_MIN, r->cut - 1};
        }
        for (size_t k = 0; k < a->n_tombstones; k++) {
            const manifest_tombstone *t = a->tombstones[k];
            if (!manifest_tombstone_applies(t, r->srcs[in].file_no, sid))
                continue;
            if (base_grow((void **)&r->tr, &r->tr_cap, n + 1, sizeof *r->tr))
                return STRATA_ERR_NOMEM;
            r->tr[n++] = (trange){t->mint_ms, t->maxt_ms};
        }
    }
    r->tr_first[a->n_inputs] = n;
    return STRATA_OK;
}

static bool hidden(const run *r, size_t in, int64_t t)
{
    for (size_t k = r->tr_first[in]; k < r->tr_first[in + 1]; k++)
        if (t >= r->tr[k].lo && t <= r->tr[k].hi)
            return true;
    return false;
}

static void mark(run *r, cblk *b)
{
    for (size_t k = r->tr_first[b->in]; k < r->tr_first[b->in + 1]; k++) {
        const trange *h = &r->tr[k];
        if (h->lo <= b->blk.maxt && b->blk.mint <= h->hi)
            b->cut = true;
        if (h->lo <= b->blk.mint && b->blk.maxt <= h->hi)
            b->gone = true;
    }
}

static int cmp_cblk(const void *x, const void *y)
{
    const cblk *a = x, *b = y;
    if (a->blk.mint != b->blk.mint)
        return a->blk.mint < b->blk.mint ? -1 : 1;
    return a->in < b->in ? -1 : a->in > b->in;
}

static char *out_path(const char *dir, uint64_t no)
{
    char name[64];
    table_file_name(name, sizeof name, no);
    return base_path_join(dir, name);
}

static int close_output(run *r)
{
    table_meta m;
    int rc = base_grow((void **)&r->outs, &r->cap_outs, r->n_outs + 1, sizeof *r->outs);
    if (rc)
        return rc; /* r->w stays for the caller's abort */
    table_writer *w = r->w;
    r->w = NULL;
    rc = table_writer_finish(w, &m); /* frees w in every case */
    if (rc)
        return rc;
    r->outs[r->n_outs++] = m;
    r->st.bytes_written += m.file_bytes;
    return STRATA_OK;
}

/* Makes sure a writer is open for the current series, rotating between
 * series at the target size or the grandparent cut. */
static int ensure_writer(run *r, uint64_t sid)
{
    const cpt_run_args *a = r->a;
    int rc;
    if (r->new_sid) {
        r->new_sid = false;
        bool cut = cpt_gp_cutter_should_cut(&r->gc, sid);
        if (r->w && (cut || (a->target_file_bytes && table_writer_bytes(r->w) >= a->target_file_bytes)))
            if ((rc = close_output(r)))
                return rc;
    }
    if (r->w)
        return STRATA_OK;
    uint64_t no;
    if ((rc = a->alloc(a->alloc_ctx, &no)))
        return rc;
    table_writer_opts wo = {.block_samples = r->bs, .vfs = a->vfs, .rules_ms = a->rules_ms};
    return table_writer_open(a->dir, no, &wo, &r->w);
}

/* Decodes, filters and merges the cluster blks[i..j) and writes it. */
static int merge_cluster(run *r, uint64_t sid, size_t i, size_t j)
{
    size_t total = 0, k;
    int rc;
    for (k = i; k < j; k++)
        total += r->blks[k].blk.count + CODEC_PAD;
    if ((rc = base_grow((void **)&r->dts, &r->dcap, total, sizeof *r->dts)) ||
        (rc = base_grow((void **)&r->dv, &r->dvcap, total, sizeof *r->dv)) ||
        (rc = base_grow((void **)&r->heads, &r->hcap, 3 * (j - i), sizeof *r->heads)))
        return rc;
    /* heads[3b..3b+2]: [start, end) of block b's surviving samples, its input */
    size_t *h = r->heads;
    size_t nb = 0, off = 0, kept = 0;
    for (k = i; k < j; k++) {
        cblk *b = &r->blks[k];
        r->st.bytes_read += b->blk.len;
        if (b->gone) {
            r->st.samples_deleted += b->blk.count;
            continue;
        }
        rc = table_block_decode(r->srcs[b->in].t, &b->blk, r->dts + off, r->dv + off, NULL, 0);
        if (rc)
            return rc;
        r->st.blocks_merged++;
        r->st.samples_read += b->blk.count;
        size_t n = 0;
        for (size_t s = 0; s < b->blk.count; s++) {
            if (b->cut && hidden(r, b->in, r->dts[off + s])) {
                r->st.samples_deleted++;
                continue;
            }
            r->dts[off + n] = r->dts[off + s];
            r->dv[off + n] = r->dv[off + s];
            n++;
        }
        if (n) {
            h[3 * nb] = off;
            h[3 * nb + 1] = off + n;
            h[3 * nb + 2] = b->in;
            nb++;
        }
        kept += n;
        off += b->blk.count + CODEC_PAD;
    }
    if (kept == 0)
        return STRATA_OK;
    if ((rc = base_grow((void **)&r->mts, &r->mcap, kept, sizeof *r->mts)) ||
        (rc = base_grow((void **)&r->mv, &r->mvcap, kept, sizeof *r->mv)))
        return rc;
    /* k-way merge; a cluster holds few blocks, so a linear scan of heads.
     * Each block's timestamps strictly increase, so one head per block
     * holds a given timestamp at most. */
    size_t n = 0;
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t b = 0; b < nb; b++) {
            if (h[3 * b] == h[3 * b + 1])
                continue;
            int64_t tb = r->dts[h[3 * b]];
            if (best == SIZE_MAX || tb < r->dts[h[3 * best]] ||
                (tb == r->dts[h[3 * best]] && h[3 * b + 2] < h[3 * best + 2]))
                best = b;
        }
        if (best == SIZE_MAX)
            break;
        int64_t t = r->dts[h[3 * best]];
        r->mts[n] = t;
        r->mv[n] = r->dv[h[3 * best]];
        n++;
        for (size_t b = 0; b < nb; b++)
            if (h[3 * b] != h[3 * b + 1] && r->dts[h[3 * b]] == t) {
                if (b != best)
                    r->st.samples_shadowed++;
                h[3 * b]++;
            }
    }
    if ((rc = ensure_writer(r, sid)))
        return rc;
    if ((rc = table_writer_add(r->w, sid, r->mts, r->mv, n)))
        return rc;
    r->st.samples_written += n;
    r->pending = (r->pending + n) % r->bs;
    return STRATA_OK;
}

/* The blocks of sid marked by what hides them and sorted by time, and a
 * fresh series in the output. */
static int begin_series(run *r, uint64_t sid)
{
    int rc = hide_ranges(r, sid);
    if (rc)
        return rc;
    for (size_t k = 0; k < r->n_blks; k++)
        mark(r, &r->blks[k]);
    qsort(r->blks, r->n_blks, sizeof *r->blks, cmp_cblk);
    r->new_sid = true;
    r->pending = 0;
    return STRATA_OK;
}

static int do_series(run *r, uint64_t sid)
{
    const cpt_run_args *a = r->a;
    int rc = begin_series(r, sid);
    if (rc)
        return rc;
    for (size_t i = 0; i < r->n_blks;) {
        if (a->cancel && atomic_load_explicit(a->cancel, memory_order_relaxed))
            return STRATA_ERR_CANCELLED;
        size_t j = i + 1;
        int64_t end = r->blks[i].blk.maxt;
        while (j < r->n_blks && r->blks[j].blk.mint <= end) {
            end = MAX(end, r->blks[j].blk.maxt);
            j++;
        }
        uint64_t before = r->w ? table_writer_bytes(r->w) : 0;
        const cblk *b = &r->blks[i];
        if (j == i + 1 && !b->cut && r->pending == 0 && (b->blk.count >= r->bs || j == r->n_blks)) {
            if ((rc = ensure_writer(r, sid)))
                return rc;
            before = table_writer_bytes(r->w);
            if ((rc = table_writer_add_raw(r->w, sid, &b->blk, b->bytes)))
                return rc;
            r->st.blocks_copied++;
            r->st.bytes_read += b->blk.len;
            r->st.samples_written += b->blk.count;
        } else if ((rc = merge_cluster(r, sid, i, j))) {
            return rc;
        }
        uint64_t after = r->w ? table_writer_bytes(r->w) : 0;
        if (a->limiter && (rc = cpt_limiter_take(a->limiter, after > before ? after - before : 0, a->cancel)))
            return rc;
        i = j;
    }
    return STRATA_OK;
}

static int cmp_rsamp(const void *x, const void *y)
{
    const rsamp *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->in < b->in ? -1 : a->in > b->in;
}

static int cmp_row(const void *x, const void *y)
{
    const strata_agg *a = x, *b = y;
    if (a->t_last != b->t_last)
        return a->t_last < b->t_last ? -1 : 1;
    return a->t_first < b->t_first ? -1 : a->t_first > b->t_first;
}

static bool is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == CPT_STALE_BITS;
}

/* A series kept as aggregates of res (downsampled now, or already): its
 * blocks are copied when they are aggregate blocks of res that nothing
 * cuts and that do not overlap; otherwise every block is decoded, raw
 * samples merged (newest input wins on equal timestamps), cut and rolled
 * up with the rows of aggregate blocks into rows of res. A cut that takes
 * part of an interval keeps or drops the interval's row whole, by its
 * last sample's time. */
static int do_series_agg(run *r, uint64_t sid, int64_t res)
{
    int rc = begin_series(r, sid);
    if (rc)
        return rc;
    bool copy = true;
    for (size_t k = 0; k < r->n_blks && copy; k++) {
        int64_t rb;
        if ((rc = table_block_res(r->srcs[r->blks[k].in].t, &r->blks[k].blk, &rb)))
            return rc;
        copy = rb == res && !r->blks[k].cut && (k == 0 || r->blks[k].blk.mint > r->blks[k - 1].blk.maxt);
    }
    if (copy) {
        for (size_t k = 0; k < r->n_blks; k++) {
            const cblk *b = &r->blks[k];
            if ((rc = ensure_writer(r, sid)) || (rc = table_writer_add_raw(r->w, sid, &b->blk, b->bytes)))
                return rc;
            r->st.blocks_copied++;
            r->st.bytes_read += b->blk.len;
            r->st.samples_written += b->blk.count;
        }
        return STRATA_OK;
    }
    r->n_rs = 0;
    r->n_keep = 0;
    for (size_t k = 0; k < r->n_blks; k++) {
        cblk *b = &r->blks[k];
        r->st.bytes_read += b->blk.len;
        if (b->gone) {
            r->st.samples_deleted += b->blk.count;
            continue;
        }
        size_t cnt = b->blk.count;
        int64_t rb;
        if ((rc = base_grow((void **)&r->dts, &r->dcap, cnt + CODEC_PAD, sizeof *r->dts)) ||
            (rc = base_grow((void **)&r->dv, &r->dvcap, cnt + CODEC_PAD, sizeof *r->dv)) ||
            (rc = base_grow((void **)&r->rows, &r->rcap, cnt, sizeof *r->rows)) ||
            (rc = base_grow((void **)&r->rs, &r->rscap, r->n_rs + cnt, sizeof *r->rs)) ||
            (rc = base_grow((void **)&r->keep, &r->kcap, r->n_keep + cnt, sizeof *r->keep)))
            return rc;
        if ((rc = table_block_decode_agg(r->srcs[b->in].t, &b->blk, r->dts, r->dv, r->rows, &rb, NULL, 0)))
            return rc;
        r->st.blocks_merged++;
        r->st.samples_read += cnt;
        for (size_t i = 0; i < cnt; i++) {
            const strata_agg *x = &r->rows[i];
            if (b->cut && hidden(r, b->in, x->t_last)) {
                r->st.samples_deleted++;
                continue;
            }
            if (rb)
                r->keep[r->n_keep++] = *x;
            else if (!is_stale(x->last))
                r->rs[r->n_rs++] = (rsamp){x->t_last, x->last, b->in};
        }
    }
    qsort(r->rs, r->n_rs, sizeof *r->rs, cmp_rsamp);
    size_t n = 0;
    for (size_t i = 0; i < r->n_rs; i++) {
        if (n && r->rs[i].t == r->rs[n - 1].t) {
            r->st.samples_shadowed++; /* sorted by input: the newest came first */
            continue;
        }
        r->rs[n++] = r->rs[i];
    }
    if ((rc = base_grow((void **)&r->mts, &r->mcap, n ? n : 1, sizeof *r->mts)) ||
        (rc = base_grow((void **)&r->mv, &r->mvcap, n ? n : 1, sizeof *r->mv)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        r->mts[i] = r->rs[i].t;
        r->mv[i] = r->rs[i].v;
    }
    qsort(r->keep, r->n_keep, sizeof *r->keep, cmp_row);
    size_t n_out = 0;
    if ((rc = cpt_rollup(res, r->mts, r->mv, n, r->keep, r->n_keep, &r->outr, &n_out, &r->ocap)))
        return rc;
    if (n_out == 0)
        return STRATA_OK;
    if ((rc = ensure_writer(r, sid)) || (rc = table_writer_add_agg(r->w, sid, res, r->outr, n_out)))
        return rc;
    r->st.samples_written += n_out;
    return STRATA_OK;
}

/* The current sid's rules; *res the resolution to keep it at, 0 when it
 * stays as it is (raw, with no aggregate block in this run). */
static int series_rules(run *r, uint64_t sid, int64_t *res)
{
    const cpt_run_args *a = r->a;
    r->cut = a->retention_before_ms;
    *res = 0;
    int rc;
    if (a->rules && (rc = a->rules(a->rules_ctx, sid, &r->cut, res)) != 0)
        return rc;
    for (size_t k = 0; k < r->n_blks; k++) {
        int64_t rb;
        if ((rc = table_block_res(r->srcs[r->blks[k].in].t, &r->blks[k].blk, &rb)))
            return rc;
        *res = MAX(*res, rb);
    }
    return STRATA_OK;
}

int cpt_run(const cpt_run_args *a, table_meta **outs, size_t *n_outs, cpt_run_stats *stats)
{
    int rc = STRATA_OK;
    run r;
    memset(&r, 0, sizeof r);
    r.a = a;
    r.bs = a->block_samples ? a->block_samples : 1000;
    r.cut = a->retention_before_ms;
    if (!a->dir || !a->alloc || (a->n_inputs && !a->inputs) || a->sid_lo > a->sid_hi)
        return STRATA_ERR_INVALID;
    cpt_gp_cutter_init(&r.gc, a->gps, a->n_gps, a->max_gp_overlap_bytes);
    r.srcs = base_calloc(a->n_inputs ? a->n_inputs : 1, sizeof *r.srcs);
    r.tr_first = base_calloc(a->n_inputs + 1, sizeof *r.tr_first);
    if (!r.srcs || !r.tr_first) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < a->n_inputs; i++) {
        r.srcs[i].t = a->inputs[i];
        r.srcs[i].file_no = table_get_meta(a->inputs[i])->file_no;
        if ((rc = seek(&r.srcs[i], a->sid_lo)))
            goto out;
    }
    for (;;) {
        if (a->cancel && atomic_load_explicit(a->cancel, memory_order_relaxed)) {
            rc = STRATA_ERR_CANCELLED;
            goto out;
        }
        bool any = false;
        uint64_t sid = 0;
        for (size_t i = 0; i < a->n_inputs; i++)
            if (r.srcs[i].have && (!any || r.srcs[i].sid < sid)) {
                sid = r.srcs[i].sid;
                any = true;
            }
        if (!any || sid > a->sid_hi)
            break;
        r.n_blks = 0;
        for (size_t i = 0; i < a->n_inputs; i++) {
            src *s = &r.srcs[i];
            while (s->have && s->sid == sid) {
                if ((rc = base_grow((void **)&r.blks, &r.cap_blks, r.n_blks + 1, sizeof *r.blks)))
                    goto out;
                r.blks[r.n_blks++] = (cblk){i, s->blk, s->bytes, false, false};
                if ((rc = advance(s)))
                    goto out;
            }
        }
        int64_t res;
        if ((rc = series_rules(&r, sid, &res)) || (rc = res ? do_series_agg(&r, sid, res) : do_series(&r, sid)))
            goto out;
    }
    if (r.w)
        rc = close_output(&r);
out:
    if (rc) {
        table_writer_abort(r.w);
        for (size_t i = 0; i < r.n_outs; i++) {
            char *p = out_path(a->dir, r.outs[i].file_no);
            if (p)
                (void)base_vfs_unlink(a->vfs, p); /* best effort: an orphan is removed at open */
            base_free(p);
        }
        base_free(r.outs);
    } else {
        *outs = r.outs;
        *n_outs = r.n_outs;
    }
    if (stats) {
        stats->bytes_read += r.st.bytes_read;
        stats->bytes_written += r.st.bytes_written;
        stats->blocks_copied += r.st.blocks_copied;
        stats->blocks_merged += r.st.blocks_merged;
        stats->samples_read += r.st.samples_read;
        stats->samples_written += r.st.samples_written;
        stats->samples_deleted += r.st.samples_deleted;
        stats->samples_shadowed += r.st.samples_shadowed;
    }
    base_free(r.srcs);
    base_free(r.blks);
    base_free(r.tr);
    base_free(r.tr_first);
    base_free(r.dts);
    base_free(r.dv);
    base_free(r.mts);
    base_free(r.mv);
    base_free(r.heads);
    base_free(r.rows);
    base_free(r.keep);
    base_free(r.outr);
    base_free(r.rs);
    return rc;
}
