/*
 * admin.c: deletes, statistics, the file list, snapshots and whole-
 * directory verification.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_int.h"

int strata_delete(strata_db *db, const strata_matcher *matchers, size_t n_matchers, int64_t mint_ms,
                  int64_t maxt_ms)
{
    if (!db || (n_matchers && !matchers) || mint_ms > maxt_ms)
        return STRATA_ERR_INVALID;
    if (db->read_only)
        return STRATA_ERR_READONLY;
    index_sids sids = {0};
    int rc = index_select(db->idx, matchers, n_matchers, &sids);
    if (rc || !sids.n) {
        index_sids_free(&sids);
        return rc;
    }
    bbuf rec = {0};
    if ((rc = wal_delete_encode(&rec, sids.v, sids.n, mint_ms, maxt_ms)) != 0)
        goto out;
    /* Exclusive: no batch is between its WAL record and its head insert,
     * and the tombstone's id is taken while no head can be frozen, so
     * every head frozen later is numbered after it (the active head is cut
     * here at once). The manifest fsync happens under the lock too: a
     * delete makes writers wait that long, which keeps flushes from ever
     * installing tables numbered after a tombstone they did not apply. */
    pthread_rwlock_wrlock(&db->tomb_gate);
    pthread_rwlock_wrlock(&db->ingest);
    pthread_mutex_lock(&db->edit_mu);
    db_version *cur = db_version_pin(db);
    uint64_t id;
    manifest_edit e;
    manifest_edit_init(&e);
    if ((rc = wal_append(db->wal, WAL_REC_DELETE, rec.data, rec.len, NULL)) == 0 &&
        (rc = head_delete(cur->active->h, sids.v, sids.n, mint_ms, maxt_ms)) == 0 &&
        (rc = manifest_alloc_file_no(db->man, &id)) == 0 &&
        (rc = manifest_edit_add_tombstone(&e, id, mint_ms, maxt_ms, sids.v, sids.n)) == 0 &&
        (rc = manifest_apply(db->man, &e)) == 0) {
        rc = db_version_reinstall(db, cur, 0);
    }
    manifest_edit_free(&e);
    db_version_unpin(cur);
    pthread_mutex_unlock(&db->edit_mu);
    pthread_rwlock_unlock(&db->ingest);
    pthread_rwlock_unlock(&db->tomb_gate);
    db_compact_wake(db);
out:
    base_buf_free(&rec);
    index_sids_free(&sids);
    return rc;
}

int strata_get_stats(strata_db *db, strata_stats *caller_out, size_t out_size)
{
    if (!db || !caller_out || !out_size)
        return STRATA_ERR_INVALID;
    strata_stats full, *out = &full;
    memset(out, 0, sizeof *out);
    db_version *v = db_version_pin(db);
    out->series = index_series_count(db->idx);
    head_stats hs;
    head_get_stats(v->active->h, &hs);
    out->head_samples = hs.samples;
    out->head_bytes = hs.bytes;
    out->head_series = hs.series;
    out->head_min_t_ms = hs.min_t;
    out->head_max_t_ms = hs.max_t;
    for (size_t i = 0; i < v->n_frozen; i++) {
        head_get_stats(v->frozen[i]->h, &hs);
        out->head_samples += hs.samples;
        out->head_bytes += hs.bytes;
        out->head_min_t_ms = MIN(out->head_min_t_ms, hs.min_t);
        out->head_max_t_ms = MAX(out->head_max_t_ms, hs.max_t);
    }
    out->min_t_ms = out->head_min_t_ms;
    out->max_t_ms = out->head_max_t_ms;
    wal_stats ws;
    wal_stats_get(db->wal, &ws);
    out->wal_bytes = ws.bytes;
    out->wal_segments = ws.segments;
    out->wal_corrupt_records = db->wal_corrupt_records;
    out->wal_sync_errors = ws.sync_errors;
    out->wal_sync_lost = ws.lost_pending;
    out->wal_truncated_bytes = db->wal_truncated_bytes;
    out->samples_written = atomic_load(&db->samples_written);
    out->samples_out_of_order = atomic_load(&db->samples_ooo);
    out->flushes = atomic_load(&db->flushes);
    out->flush_bytes = atomic_load(&db->flush_bytes);
    out->compactions = atomic_load(&db->compactions);
    out->compaction_bytes_read = atomic_load(&db->comp_read);
    out->compaction_bytes_written = atomic_load(&db->comp_written);
    out->compaction_blocks_copied = atomic_load(&db->comp_copied);
    out->compaction_blocks_merged = atomic_load(&db->comp_merged);
    out->quarantined_files = atomic_load(&db->quarantined);
    out->write_errors = atomic_load(&db->write_errors);
    out->series_refused = atomic_load(&db->series_refused);
    out->samples_refused = atomic_load(&db->samples_refused);
    out->table_bytes_read = atomic_load(&db->tstats.bytes_read);
    size_t np = 0, nt = 0;
    manifest_version_partitions(v->mv, &np);
    out->partitions = np;
    manifest_version_tombstones(v->mv, &nt);
    out->tombstones = nt;
    for (size_t i = 0; i < v->n_tables; i++) {
        const manifest_table *m = &v->tables[i].m;
        out->table_files++;
        out->table_bytes += m->bytes;
        out->table_samples += m->samples;
        out->table_blocks += m->blocks;
        if (m->samples) {
            out->min_t_ms = MIN(out->min_t_ms, m->min_t_ms);
            out->max_t_ms = MAX(out->max_t_ms, m->max_t_ms);
        }
        if (m->level < STRATA_MAX_LEVELS) {
            out->levels[m->level].files++;
            out->levels[m->level].bytes += m->bytes;
            out->levels[m->level].samples += m->samples;
        }
    }
    const manifest_level_stats *ls = manifest_version_level_stats(v->mv);
    uint64_t written = 0, flushed = 0;
    for (int l = 0; l < STRATA_MAX_LEVELS && l < MANIFEST_MAX_LEVELS; l++) {
        out->levels[l].bytes_read = ls[l].bytes_read;
        out->levels[l].bytes_written = ls[l].bytes_written;
        written += ls[l].bytes_written;
    }
    flushed = ls[0].bytes_written;
    /* flushes write level 0; everything written elsewhere is compaction */
    out->write_amplification = flushed ? (double)written / (double)flushed : 0.0;
    out->compaction_pending_bytes = 0;
    pthread_mutex_lock(&db->bg_mu);
    out->compactions_running = (uint64_t)db->compactions_running;
    for (size_t i = 0; i < db->n_compacting; i++) {
        const manifest_table *m = manifest_version_find_table(v->mv, db->compacting[i]);
        if (m)
            out->compaction_pending_bytes += m->bytes;
    }
    pthread_mutex_unlock(&db->bg_mu);
    db_version_unpin(v);
    memcpy(caller_out, out, out_size < sizeof *out ? out_size : sizeof *out);
    return STRATA_OK;
}

int strata_list_files(strata_db *db, strata_file_info **out, size_t *n)
{
    if (!db || !out || !n)
        return STRATA_ERR_INVALID;
    db_version *v = db_version_pin(db);
    strata_file_info *f = base_calloc(v->n_tables ? v->n_tables : 1, sizeof *f);
    if (!f) {
        db_version_unpin(v);
        return STRATA_ERR_NOMEM;
    }
    for (size_t i = 0; i < v->n_tables; i++) {
        const manifest_table *m = &v->tables[i].m;
        const table_meta *tm = table_get_meta(v->tables[i].t);
        f[i] = (strata_file_info){.file_no = m->file_no,
                                  .partition_start_ms = m->partition_ms,
                                  .level = (int)m->level,
                                  .bytes = m->bytes,
                                  .samples = m->samples,
                                  .series = tm->series,
                                  .blocks = m->blocks,
                                  .min_t_ms = m->min_t_ms,
                                  .max_t_ms = m->max_t_ms};
    }
    *n = v->n_tables;
    *out = f;
    db_version_unpin(v);
    return STRATA_OK;
}

/* Copies src to dst (a small file) durably. */
static int copy_file(const char *src, const char *dst_dir, const char *name)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = base_file_read_all(src, &data, &len);
    if (!rc)
        rc = base_file_write_atomic(dst_dir, name, data, len);
    base_free(data);
    return rc;
}

/* A snapshot goes to another directory, by hard links and plain POSIX
 * writes: it is outside the database's vfs (which sees only the database's
 * own directory), and durable by the same write-fsync-rename idiom. */
int strata_snapshot(strata_db *db, const char *dir)
{
    if (!db || !dir)
        return STRATA_ERR_INVALID;
    struct stat st;
    if (stat(dir, &st) == 0)
        return STRATA_ERR_INVALID;
    /* everything in tables first, so the snapshot needs no WAL */
    int rc = db_flush_all(db);
    if (rc)
        return rc;
    pthread_mutex_lock(&db->edit_mu);
    db_version *v = db_version_pin(db);
    char *tdir = base_path_join(dir, "tables"), *idir = base_path_join(dir, "index"), *wdir = base_path_join(dir, "wal");
    if (!tdir || !idir || !wdir) {
        rc = STRATA_ERR_NOMEM;
        goto out;
    }
    if ((rc = base_file_mkdir(dir)) || (rc = base_file_mkdir(wdir)))
        goto out;
    /* tables of this version by hard link: immutable, so sharing is safe */
    if ((rc = base_file_mkdir(tdir)) != 0)
        goto out;
    for (size_t i = 0; i < v->n_tables && !rc; i++) {
        char name[32];
        table_file_name(name, sizeof name, v->tables[i].m.file_no);
        char *s = base_path_join(db->table_dir, name), *t = base_path_join(tdir, name);
        if (!s || !t)
            rc = STRATA_ERR_NOMEM;
        else if (link(s, t) != 0)
            rc = copy_file(s, tdir, name);
        base_free(s);
        base_free(t);
    }
    if (rc || (rc = base_file_fsync_dir(tdir)) != 0)
        goto out;
    if ((rc = index_sync(db->idx)) != 0 || (rc = base_file_mkdir(idir)) != 0)
        goto out;
    {
        /* the series log only grows: a copy is a consistent prefix */
        DIR *d = opendir(db->index_dir);
        struct dirent *e;
        while (!rc && d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *s = base_path_join(db->index_dir, e->d_name);
            rc = s ? copy_file(s, idir, e->d_name) : STRATA_ERR_NOMEM;
            base_free(s);
        }
        if (d)
            closedir(d);
        if (rc)
            goto out;
    }
    /* a manifest holding exactly this version */
    {
        bbuf mf = {0};
        uint64_t mnum = manifest_version_next_file_no(v->mv);
        char name[64], cur[80];
        snprintf(name, sizeof name, "MANIFEST-%06llu", (unsigned long long)manifest_number(db->man));
        rc = manifest_encode_file(v->mv, mnum, &mf);
        if (!rc)
            rc = base_file_write_atomic(dir, name, mf.data, mf.len);
        int cl = snprintf(cur, sizeof cur, "%s\n", name);
        if (!rc)
            rc = base_file_write_atomic(dir, "CURRENT", cur, (size_t)cl);
        base_buf_free(&mf);
        char ver[16];
        int vl = snprintf(ver, sizeof ver, "%d\n", STRATA_FORMAT_VERSION);
        if (!rc)
            rc = base_file_write_atomic(dir, "VERSION", ver, (size_t)vl);
    }
    if (!rc)
        rc = engine_metadata_copy(db, dir);
out:
    db_version_unpin(v);
    pthread_mutex_unlock(&db->edit_mu);
    base_free(tdir);
    base_free(idir);
    base_free(wdir);
    return rc;
}

typedef struct vctx {
    strata_verify_fn fn;
    void *ctx;
    uint64_t problems;
} vctx;

static void vreport(void *c, const char *file, int64_t off, const char *msg)
{
    vctx *v = c;
    v->problems++;
    if (v->fn)
        v->fn(v->ctx, file, off, msg);
}

int strata_verify_dir(const char *dir, strata_verify_fn fn, void *ctx)
{
    if (!dir)
        return STRATA_ERR_INVALID;
    vctx v = {fn, ctx, 0};
    manifest *m = NULL;
    manifest_options mo;
    manifest_options_init(&mo);
    mo.read_only = true;
    mo.must_exist = true;
    int rc = manifest_open(dir, &mo, &m);
    if (rc) {
        vreport(&v, dir, -1, rc == STRATA_ERR_NOTFOUND ? "not a strata database (no CURRENT)"
                                                       : "the manifest cannot be read");
        return STRATA_ERR_CORRUPT;
    }
    manifest_version *mv = manifest_current(m);
    size_t n = 0;
    const manifest_table *mt = manifest_version_tables(mv, &n);
    char *tdir = base_path_join(dir, "tables");
    for (size_t i = 0; i < n && tdir; i++) {
        char name[32];
        table_file_name(name, sizeof name, mt[i].file_no);
        char *p = base_path_join(tdir, name);
        if (!p)
            break;
        struct stat st;
        if (stat(p, &st) != 0)
            vreport(&v, p, -1, "missing, but the manifest needs it");
        else
            table_verify(p, vreport, &v);
        base_free(p);
    }
    base_free(tdir);
    manifest_version_unref(mv);
    manifest_close(m);
    /* the WAL and the series index: read-only opens report damage */
    char *wdir = base_path_join(dir, "wal");
    wal *w = NULL;
    wal_opts wo = {.dir = wdir, .read_only = true};
    if (wdir && wal_open(&wo, &w) == STRATA_OK) {
        wal_replay_stats rs;
        /* A torn tail (the last record of the last segment cut short, with
         * nothing intact after it) is what a crash leaves and what every
         * open repairs; damage with intact records after it is not. */
        wal_stats ws;
        wal_stats_get(w, &ws);
        if (wal_replay(w, (wal_pos){0, 0}, NULL, NULL, &rs) == STRATA_OK && rs.corruptions &&
            (rs.records_dropped || rs.segments_removed || rs.damage.segment != ws.last_segment)) {
            char msg[160];
            snprintf(msg, sizeof msg, "damaged WAL record (segment %llu); %llu bytes after it would be cut at open",
                     (unsigned long long)rs.damage.segment, (unsigned long long)rs.bytes_truncated);
            char seg[64];
            snprintf(seg, sizeof seg, "%s/%08llu", wdir, (unsigned long long)rs.damage.segment);
            vreport(&v, seg, (int64_t)rs.damage.offset, msg);
        }
        wal_close(w);
    }
    base_free(wdir);
    char *idir = base_path_join(dir, "index");
    index_options io;
    index_options_init(&io);
    io.read_only = 1;
    strata_index *idx = NULL;
    if (idir) {
        int r = index_open(idir, &io, &idx);
        if (r == STRATA_OK) {
            index_stats is;
            index_get_stats(idx, &is);
            if (is.load_corrupt_records || is.load_truncated_bytes)
                vreport(&v, idir, -1, "damaged tail in the series log (it would be cut at open)");
            index_close(idx);
        } else if (r != STRATA_ERR_NOTFOUND) {
            vreport(&v, idir, -1, "the series index cannot be read");
        }
    }
    base_free(idir);
    return v.problems ? STRATA_ERR_CORRUPT : STRATA_OK;
}
