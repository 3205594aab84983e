/*
 * writer.c: appending to the write-ahead log: framing records into pages,
 * segment rotation, the sync policies and group commit.
 *
 * ON-DISK FORMAT (format version 1, STRATA_FORMAT_VERSION)
 *
 * The log is a directory of segment files named by their number in decimal,
 * zero-padded to 8 digits ("00000001", "00000002", ...), numbers ascending
 * without gaps. A segment is a sequence of pages of P = 32768 bytes (the
 * last page of a segment may be short: the file simply ends). A page holds
 * fragments; a fragment never crosses a page boundary:
 *
 *   offset size  field
 *   0      1     type: 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST, 5 EOS (0 is never valid)
 *   1      2     length L of the data, little-endian, L <= P - 7 - (offset in page)
 *   3      4     CRC32C (Castagnoli) of bytes 0..2 of this header followed
 *                by the L data bytes, little-endian
 *   7      L     data
 *
 * When fewer than 7 bytes are left in a page they are zero bytes (padding)
 * and the next fragment starts on the next page. Padding is written together
 * with the fragment that follows it, so a log that was not torn ends exactly
 * at the end of its last record.
 *
 * A logical record is the concatenation of the data of one FULL fragment, or
 * of FIRST, MIDDLE*, LAST in consecutive positions. FIRST and MIDDLE
 * fragments always fill their page to the end (a FIRST may have L = 0 when
 * exactly 7 bytes were left). The first byte of a logical record is the
 * record type chosen by the engine (records.c describes the engine's
 * payloads); the rest is the payload. A record never spans two segments:
 * one that does not fit in the rest of a segment starts the next; one larger
 * than a segment has a segment of its own, which is then larger than the
 * configured segment size.
 *
 * A segment that was finished (rotation, wal_cut) ends with an EOS fragment
 * (type 5, length 0); nothing follows it.
 * Only the last segment of a log may lack it. Why: without it a segment
 * that lost its tail at a record boundary (a lost write of the page cache,
 * a truncated copy) would look whole, and replay would go on into the next
 * segment with records missing in between.
 *
 * Why: as in LevelDB's log, a torn write can only damage the record being
 * written, and a reader can check every fragment on its own (type, length,
 * CRC) and the fragment sequence. The CRC covers the type and length too,
 * so a flipped header bit is caught, not just a flipped data bit.
 *
 * CONCURRENCY AND GROUP COMMIT
 *
 * Appends are serialised by w->mu: each frames its records into w->frame and
 * writes them with one pwrite at w->off, so the file only ever grows by
 * whole records. Every successful append gets a sequence number. Under
 * STRATA_SYNC_ALWAYS the appender then waits until seq_synced covers it:
 * if no fsync is running it becomes the leader, notes seq_written, drops the
 * lock, fsyncs, and on return marks everything up to the noted number
 * durable and wakes the others; appenders that arrived meanwhile wait on
 * w->synced and are covered by the next leader. Rotation waits until no
 * fsync runs, then fsyncs the old segment under the lock, so an fsync never
 * races a close and every record of an older segment is durable.
 *
 * ERRORS
 *
 * A failed write (ENOSPC, EIO, a short write) truncates the segment back to
 * w->off, the end of the last whole record, so nothing partial is visible;
 * if that truncate fails, tail_dirty makes the next append retry it first.
 * A failed fsync under ALWAYS rolls back the records it should have covered
 * (truncate to synced_off) and fails every appender waiting for them: an
 * appender that got an error never finds its record at replay.
 *
 * Under INTERVAL the records were acknowledged before their fsync, so
 * there is nobody to fail. Linux marks the pages of a failed writeback
 * clean: a later fsync succeeds without writing them, and re-reading them
 * may return what is no longer on disk, so the log cannot repair itself.
 * What it knows is that the records are still in the engine's memory. So
 * a failed fsync sets `lost` (segment lost_seg), asks the owner through
 * on_lost to write its heads to tables, and every sync reports the failure
 * until the owner's wal_remove_before passes lost_seg: no sync claims the
 * durability of records that may be gone.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "wal_int.h"

uint64_t wal_framed_end(uint32_t page, uint64_t off, size_t len)
{
    size_t left_data = len + 1; /* the type byte */
    bool first = true;
    while (first || left_data) {
        uint64_t left = page - off % page;
        if (left < WAL_HDR) {
            off += left;
            continue;
        }
        size_t frag = (size_t)MIN((uint64_t)left_data, left - WAL_HDR);
        off += WAL_HDR + frag;
        left_data -= frag;
        first = false;
    }
    return off;
}

int wal_frame_record(bbuf *b, uint32_t page, uint64_t off, uint8_t rtype, const uint8_t *p, size_t len,
                     uint64_t *new_off)
{
    uint64_t end = wal_framed_end(page, off, len);
    int rc = base_buf_reserve(b, (size_t)(end - off));
    if (rc)
        return rc;
    size_t total = len + 1, done = 0; /* logical bytes: index 0 is the type byte */
    bool first = true;
    while (first || done < total) {
        uint64_t left = page - off % page;
        if (left < WAL_HDR) {
            memset(b->data + b->len, 0, (size_t)left);
            b->len += (size_t)left;
            off += left;
            continue;
        }
        size_t frag = (size_t)MIN((uint64_t)(total - done), left - WAL_HDR);
        bool last = done + frag == total;
        uint8_t type = first ? (last ? WAL_FRAG_FULL : WAL_FRAG_FIRST) : (last ? WAL_FRAG_LAST : WAL_FRAG_MIDDLE);
        uint8_t *h = b->data + b->len, *d = h + WAL_HDR;
        h[0] = type;
        store_u16le(h + 1, (uint16_t)frag);
        size_t k = 0;
        if (done == 0 && frag > 0) {
            d[0] = rtype;
            k = 1;
        }
        if (frag > k)
            memcpy(d + k, p + (done + k - 1), frag - k);
        store_u32le(h + 3, base_crc32c(base_crc32c(0, h, 3), d, frag));
        b->len += WAL_HDR + frag;
        off += WAL_HDR + frag;
        done += frag;
        first = false;
    }
    *new_off = off;
    return STRATA_OK;
}

size_t wal_frame_eos(uint8_t *out, uint32_t page, uint64_t off)
{
    size_t n = 0;
    uint64_t left = page - off % page;
    if (left < WAL_HDR) {
        memset(out, 0, (size_t)left);
        n = (size_t)left;
    }
    uint8_t *h = out + n;
    h[0] = WAL_FRAG_EOS;
    store_u16le(h + 1, 0);
    store_u32le(h + 3, base_crc32c(0, h, 3));
    return n + WAL_HDR;
}

/* Cuts the active segment back to off; on failure remembers to retry. */
static int truncate_back(wal *w, uint64_t off)
{
    int rc = base_vfs_ftruncate(w->vfs, w->fd, off);
    if (rc) {
        w->tail_dirty = true;
        base_logf(w->log, STRATA_LOG_ERROR, "wal: cannot truncate segment %08llu to %llu: %s",
                  (unsigned long long)w->seg, (unsigned long long)off, strata_strerror(rc));
        return rc;
    }
    w->tail_dirty = false;
    return STRATA_OK;
}

/* After a failed fsync under ALWAYS: the records after the last good sync
 * are rolled back and their appenders fail with rc. */
static void rollback_unsynced(wal *w, int rc)
{
    if (w->seq_written > w->seq_synced) {
        if (w->n_fails < WAL_MAX_FAILS) {
            w->fails[w->n_fails++] = (wal_fail){w->seq_synced, w->seq_written, rc};
        } else {
            /* Full: widen the newest range. It may then also cover records
             * that were durable: a false failure is safe, a false success
             * would not be. */
            w->fails[WAL_MAX_FAILS - 1].hi = w->seq_written;
        }
    }
    if (w->off > w->synced_off) {
        base_logf(w->log, STRATA_LOG_ERROR, "wal: fsync failed (%s); rolling back %llu bytes of segment %08llu",
                  strata_strerror(rc), (unsigned long long)(w->off - w->synced_off), (unsigned long long)w->seg);
        w->off = w->synced_off;
        (void)truncate_back(w, w->off);
    }
}

/* An fsync of the active segment failed under INTERVAL. mu held. */
static void mark_lost(wal *w, int rc)
{
    if (!w->lost || w->seg > w->lost_seg)
        w->lost_seg = w->seg;
    if (!w->lost)
        w->lost_rc = rc;
    w->lost = true;
    base_logf(w->log, STRATA_LOG_ERROR,
              "wal: fsync of segment %08llu failed (%s); acknowledged records may be lost from the page cache; "
              "syncs fail until the head is written to tables",
              (unsigned long long)w->seg, strata_strerror(rc));
    if (w->on_lost)
        w->on_lost(w->lost_ctx);
}

/* Called with mu held and !syncing. Makes everything written so far
 * durable; drops mu during the fsync. */
static int sync_locked(wal *w, bool rollback)
{
    if (w->fd < 0 || (w->seq_written <= w->seq_synced && w->off <= w->synced_off))
        return w->lost ? w->lost_rc : STRATA_OK;
    uint64_t target = w->seq_written, target_off = w->off;
    int fd = w->fd;
    w->syncing = true;
    pthread_mutex_unlock(&w->mu);
    int rc = base_vfs_fdatasync(w->vfs, fd);
    pthread_mutex_lock(&w->mu);
    w->syncing = false;
    w->n_fsyncs++;
    if (rc == STRATA_OK) {
        if (target > w->seq_synced)
            w->seq_synced = target;
        /* The active segment cannot have changed: rotation waits for !syncing. */
        if (target_off > w->synced_off)
            w->synced_off = target_off;
    } else {
        w->n_sync_errors++;
        if (rollback)
            rollback_unsynced(w, rc);
        else
            mark_lost(w, rc);
    }
    pthread_cond_broadcast(&w->synced);
    return rc == STRATA_OK && w->lost ? w->lost_rc : rc;
}

static bool seq_failed(const wal *w, uint64_t seq, int *rc)
{
    for (size_t i = 0; i < w->n_fails; i++) {
        if (seq > w->fails[i].lo && seq <= w->fails[i].hi) {
            *rc = w->fails[i].rc;
            return true;
        }
    }
    return false;
}

/* Group commit: waits (leading an fsync when none runs) until record seq is
 * durable or known to be rolled back. mu held. */
static int wait_durable(wal *w, uint64_t seq)
{
    int rc;
    w->n_waiters++;
    for (;;) {
        if (seq_failed(w, seq, &rc))
            break;
        if (w->seq_synced >= seq) {
            rc = STRATA_OK;
            break;
        }
        if (!w->syncing) {
            (void)sync_locked(w, true); /* the loop reads the outcome */
            continue;
        }
        pthread_cond_wait(&w->synced, &w->mu);
    }
    if (--w->n_waiters == 0)
        w->n_fails = 0;
    return rc;
}

/* Closes the active segment (durable unless the policy is none) and starts
 * the next. mu held. On failure the old segment stays active. */
static int rotate(wal *w)
{
    int rc;
    while (w->syncing)
        pthread_cond_wait(&w->synced, &w->mu);
    uint64_t rec_end = w->off; /* end of the last record */
    uint8_t eos[WAL_EOS_MAX];
    size_t n = wal_frame_eos(eos, w->page, w->off);
    if ((rc = base_vfs_pwrite(w->vfs, w->fd, eos, n, w->off)) != 0) {
        w->n_write_errors++;
        base_logf(w->log, STRATA_LOG_ERROR, "wal: cannot end segment %08llu: %s", (unsigned long long)w->seg,
                  strata_strerror(rc));
        (void)truncate_back(w, rec_end);
        return rc;
    }
    w->off += n;
    if (w->sync != STRATA_SYNC_NONE) {
        w->n_fsyncs++;
        rc = base_vfs_fdatasync(w->vfs, w->fd);
        if (rc) {
            w->n_sync_errors++;
            if (w->sync == STRATA_SYNC_ALWAYS)
                rollback_unsynced(w, rc); /* cuts the marker too */
            else
                mark_lost(w, rc);
            goto undo;
        }
        w->seq_synced = w->seq_written;
        w->synced_off = w->off;
        pthread_cond_broadcast(&w->synced);
    }
    int old_fd = w->fd;
    uint64_t old_seg = w->seg, old_off = w->off;
    w->segs[w->n_segs - 1].size = old_off;
    rc = wal_seg_open_active(w, old_seg + 1, 0, true);
    if (rc) {
        base_logf(w->log, STRATA_LOG_ERROR, "wal: cannot start segment %08llu: %s",
                  (unsigned long long)(old_seg + 1), strata_strerror(rc));
        goto undo;
    }
    if ((rc = base_vfs_close(w->vfs, old_fd)) != 0) /* its data was synced above; only logged */
        base_logf(w->log, STRATA_LOG_WARN, "wal: close of segment %08llu: %s", (unsigned long long)old_seg,
                  strata_strerror(rc));
    /* Everything written so far is in older segments, durable above. */
    w->seq_synced = w->seq_written;
    return STRATA_OK;
undo:
    /* The old segment stays active: its marker must go, or the next record
     * would follow an end of segment. */
    if (w->off > rec_end) {
        w->off = rec_end;
        (void)truncate_back(w, rec_end);
    }
    if (w->synced_off > w->off)
        w->synced_off = w->off;
    pthread_cond_broadcast(&w->synced);
    return rc;
}

static int check_writable(wal *w)
{
    if (!w->replayed || w->read_only || w->fd < 0)
        return STRATA_ERR_INVALID;
    if (w->tail_dirty)
        return truncate_back(w, w->off);
    return STRATA_OK;
}

int wal_appendv(wal *w, const wal_rec *recs, size_t n, wal_pos *end)
{
    if (!w || (!recs && n))
        return STRATA_ERR_INVALID;
    if (n == 0)
        return STRATA_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (recs[i].len && !recs[i].payload)
            return STRATA_ERR_INVALID;
    pthread_mutex_lock(&w->mu);
    int rc = check_writable(w);
    if (rc)
        goto out;
    uint64_t e = w->off;
    for (size_t i = 0; i < n; i++)
        e = wal_framed_end(w->page, e, recs[i].len);
    if (w->off > 0 && e > w->seg_bytes) {
        if ((rc = rotate(w)) != 0)
            goto out;
    }
    base_buf_reset(&w->frame);
    uint64_t off = w->off;
    for (size_t i = 0; i < n; i++) {
        if ((rc = wal_frame_record(&w->frame, w->page, off, recs[i].type, recs[i].payload, recs[i].len, &off)) != 0)
            goto out;
    }
    rc = base_vfs_pwrite(w->vfs, w->fd, w->frame.data, w->frame.len, w->off);
    if (rc) {
        w->n_write_errors++;
        base_logf(w->log, STRATA_LOG_ERROR, "wal: write of %zu bytes to segment %08llu failed: %s", w->frame.len,
                  (unsigned long long)w->seg, strata_strerror(rc));
        (void)truncate_back(w, w->off);
        goto out;
    }
    w->off = off;
    uint64_t seq = ++w->seq_written;
    w->n_records += n;
    w->n_appends++;
    w->n_bytes_written += w->frame.len;
    wal_pos pos = {w->seg, w->off};
    if (w->sync == STRATA_SYNC_ALWAYS && (rc = wait_durable(w, seq)) != 0)
        goto out;
    if (end)
        *end = pos;
out:
    /* Keep a huge one-off frame from pinning memory. */
    if (w->frame.cap > (4u << 20))
        base_buf_free(&w->frame);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_append(wal *w, uint8_t type, const void *payload, size_t len, wal_pos *end)
{
    wal_rec r = {type, payload, len};
    return wal_appendv(w, &r, 1, end);
}

int wal_sync(wal *w)
{
    if (!w)
        return STRATA_ERR_INVALID;
    pthread_mutex_lock(&w->mu);
    while (w->syncing)
        pthread_cond_wait(&w->synced, &w->mu);
    int rc = sync_locked(w, w->sync == STRATA_SYNC_ALWAYS);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

bool wal_lost_pending(wal *w)
{
    pthread_mutex_lock(&w->mu);
    bool lost = w->lost;
    pthread_mutex_unlock(&w->mu);
    return lost;
}

int wal_cut(wal *w, wal_pos *pos)
{
    if (!w || !pos)
        return STRATA_ERR_INVALID;
    pthread_mutex_lock(&w->mu);
    int rc = check_writable(w);
    if (rc == STRATA_OK && w->off > 0)
        rc = rotate(w);
    if (rc == STRATA_OK)
        *pos = (wal_pos){w->seg, 0};
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* The interval policy's thread: an fsync every interval_ms when something
 * was written. It sleeps on w->tick so wal_close wakes it at once. */
static void *interval_main(void *arg)
{
    wal *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (w->interval_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(w->interval_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!w->stop) {
            int r = pthread_cond_timedwait(&w->tick, &w->mu, &ts);
            if (r == ETIMEDOUT)
                break;
        }
        if (w->stop)
            break;
        if (!w->syncing)
            (void)sync_locked(w, false);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int wal_interval_start(wal *w)
{
    if (w->sync != STRATA_SYNC_INTERVAL || w->read_only || w->bg_started)
        return STRATA_OK;
    int r = pthread_create(&w->bg, NULL, interval_main, w);
    if (r)
        return base_errno_status(r);
    w->bg_started = true;
    return STRATA_OK;
}

/* Stops the interval thread and makes the log durable; mu not held. */
int wal_writer_shutdown(wal *w)
{
    int rc = STRATA_OK;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->tick);
    pthread_mutex_unlock(&w->mu);
    if (w->bg_started) {
        pthread_join(w->bg, NULL);
        w->bg_started = false;
    }
    pthread_mutex_lock(&w->mu);
    while (w->syncing)
        pthread_cond_wait(&w->synced, &w->mu);
    if (w->fd >= 0 && w->sync != STRATA_SYNC_NONE && !w->read_only)
        rc = sync_locked(w, false);
    pthread_mutex_unlock(&w->mu);
    return rc;
}
