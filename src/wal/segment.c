/*
 * segment.c: the segment files of the log directory: naming, listing,
 * creating, removing; and the handle's life (open, close, stats).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal_int.h"

int wal_seg_path(const wal *w, uint64_t num, char **out)
{
    char name[32];
    snprintf(name, sizeof name, "%0*llu", WAL_SEG_NAME_LEN, (unsigned long long)num);
    char *p = base_path_join(w->dir, name);
    if (!p)
        return STRATA_ERR_NOMEM;
    *out = p;
    return STRATA_OK;
}

int wal_seg_push(wal *w, uint64_t num, uint64_t size)
{
    if (w->n_segs == w->cap_segs) {
        size_t cap = w->cap_segs ? w->cap_segs * 2 : 16;
        wal_seg *s = base_realloc(w->segs, cap * sizeof *s);
        if (!s)
            return STRATA_ERR_NOMEM;
        w->segs = s;
        w->cap_segs = cap;
    }
    w->segs[w->n_segs++] = (wal_seg){num, size};
    return STRATA_OK;
}

/* A segment name is all decimal digits, at least WAL_SEG_NAME_LEN of them,
 * and not zero. Anything else in the directory is left alone. */
static bool parse_name(const char *name, uint64_t *num)
{
    size_t n = strlen(name);
    if (n < WAL_SEG_NAME_LEN || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *num = v;
    return true;
}

static int seg_cmp(const void *a, const void *b)
{
    const wal_seg *x = a, *y = b;
    return x->num < y->num ? -1 : x->num > y->num;
}

int wal_seg_list(wal *w)
{
    int rc = STRATA_OK;
    DIR *d = opendir(w->dir);
    if (!d)
        return base_errno_status(errno);
    w->n_segs = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t num;
        if (!parse_name(de->d_name, &num))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0) {
            rc = base_errno_status(errno);
            goto out;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if ((rc = wal_seg_push(w, num, (uint64_t)st.st_size)) != 0)
            goto out;
    }
    if (w->n_segs > 1)
        qsort(w->segs, w->n_segs, sizeof *w->segs, seg_cmp);
    for (size_t i = 1; i < w->n_segs; i++) {
        if (w->segs[i].num == w->segs[i - 1].num) {
            /* "00000001" and "000000001": two names, one number. */
            base_logf(w->log, STRATA_LOG_ERROR, "wal: two segment files numbered %llu in %s",
                      (unsigned long long)w->segs[i].num, w->dir);
            rc = STRATA_ERR_CORRUPT;
            goto out;
        }
    }
out:
    closedir(d);
    return rc;
}

int wal_seg_unlink(wal *w, uint64_t num)
{
    char *path = NULL;
    int rc = wal_seg_path(w, num, &path);
    if (rc)
        return rc;
    rc = base_vfs_unlink(w->vfs, path);
    if (rc == STRATA_ERR_NOTFOUND)
        rc = STRATA_OK;
    else if (rc)
        base_logf(w->log, STRATA_LOG_ERROR, "wal: cannot remove %s: %s", path, strata_strerror(rc));
    base_free(path);
    if (rc)
        return rc;
    for (size_t i = 0; i < w->n_segs; i++) {
        if (w->segs[i].num == num) {
            memmove(&w->segs[i], &w->segs[i + 1], (w->n_segs - i - 1) * sizeof *w->segs);
            w->n_segs--;
            break;
        }
    }
    return STRATA_OK;
}

int wal_seg_open_active(wal *w, uint64_t num, uint64_t off, bool create)
{
    char *path = NULL;
    int rc = wal_seg_path(w, num, &path);
    if (rc)
        return rc;
    int fd = -1;
    if ((rc = base_vfs_open(w->vfs, path, O_WRONLY | (create ? O_CREAT | O_TRUNC : 0), &fd)) != 0) {
        base_logf(w->log, STRATA_LOG_ERROR, "wal: cannot open %s: %s", path, strata_strerror(rc));
        goto out;
    }
    if (create) {
        if ((rc = wal_seg_push(w, num, 0)) != 0)
            goto out;
        /* The new name must survive a crash before any record in it is
         * acknowledged as durable. */
        if (w->sync != STRATA_SYNC_NONE && (rc = base_vfs_fsync_dir(w->vfs, w->dir)) != 0) {
            w->n_segs--;
            goto out;
        }
    }
    w->fd = fd;
    fd = -1;
    w->seg = num;
    w->off = off;
    w->synced_off = off;
out:
    if (fd >= 0) {
        (void)base_vfs_close(w->vfs, fd); /* nothing was written to it */
        if (create)
            (void)base_vfs_unlink(w->vfs, path); /* best effort: an empty last segment replays as empty */
    }
    base_free(path);
    return rc;
}

int wal_open(const wal_opts *opts, wal **out)
{
    if (!opts || !opts->dir || !out)
        return STRATA_ERR_INVALID;
    uint32_t page = opts->page_bytes ? opts->page_bytes : WAL_DEFAULT_PAGE_BYTES;
    if (page < 64 || page > 32768 || (page & (page - 1)))
        return STRATA_ERR_INVALID;
    if (opts->sync != STRATA_SYNC_INTERVAL && opts->sync != STRATA_SYNC_ALWAYS && opts->sync != STRATA_SYNC_NONE)
        return STRATA_ERR_INVALID;
    uint64_t seg_bytes = opts->segment_bytes ? opts->segment_bytes : WAL_DEFAULT_SEGMENT_BYTES;
    if (seg_bytes < page)
        return STRATA_ERR_INVALID;

    int rc = STRATA_ERR_NOMEM;
    wal *w = base_calloc(1, sizeof *w);
    if (!w)
        return STRATA_ERR_NOMEM;
    w->fd = -1;
    w->page = page;
    w->seg_bytes = seg_bytes;
    w->sync = opts->sync;
    w->interval_ms = opts->sync_interval_ms > 0 ? opts->sync_interval_ms : WAL_DEFAULT_SYNC_INTERVAL_MS;
    w->log = opts->log;
    w->on_lost = opts->on_lost;
    w->lost_ctx = opts->lost_ctx;
    w->read_only = opts->read_only;
    w->vfs = opts->vfs ? opts->vfs : base_vfs_posix();
    if (!(w->dir = base_strdup(opts->dir)))
        goto fail_free;

    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        goto fail_free;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int e1 = pthread_mutex_init(&w->mu, NULL);
    int e2 = pthread_cond_init(&w->synced, NULL);
    int e3 = pthread_cond_init(&w->tick, &ca);
    pthread_condattr_destroy(&ca);
    if (e1 || e2 || e3) {
        /* Only glibc-style allocation failures; nothing to unwind portably. */
        goto fail_free;
    }
    if (!w->read_only && (rc = base_vfs_mkdir(w->vfs, w->dir)) != 0)
        goto fail;
    if ((rc = wal_seg_list(w)) != 0)
        goto fail;
    *out = w;
    return STRATA_OK;
fail:
    pthread_cond_destroy(&w->tick);
    pthread_cond_destroy(&w->synced);
    pthread_mutex_destroy(&w->mu);
fail_free:
    base_free(w->segs);
    base_free(w->dir);
    base_free(w);
    return rc;
}

int wal_close(wal *w)
{
    if (!w)
        return STRATA_OK;
    int rc = wal_writer_shutdown(w);
    if (w->fd >= 0) {
        int crc = base_vfs_close(w->vfs, w->fd);
        if (rc == STRATA_OK)
            rc = crc;
    }
    pthread_cond_destroy(&w->tick);
    pthread_cond_destroy(&w->synced);
    pthread_mutex_destroy(&w->mu);
    base_buf_free(&w->frame);
    base_free(w->segs);
    base_free(w->dir);
    base_free(w);
    return rc;
}

int wal_remove_before(wal *w, uint64_t segment)
{
    if (!w)
        return STRATA_ERR_INVALID;
    int rc = STRATA_OK;
    bool removed = false;
    pthread_mutex_lock(&w->mu);
    if (w->read_only) {
        rc = STRATA_ERR_INVALID;
        goto out;
    }
    if (w->lost && w->lost_seg < segment) {
        w->lost = false;
        base_logf(w->log, STRATA_LOG_INFO, "wal: records of the failed fsync (segment %08llu) are in tables",
                  (unsigned long long)w->lost_seg);
    }
    while (w->n_segs > 0 && w->segs[0].num < segment && !(w->fd >= 0 && w->segs[0].num == w->seg)) {
        if ((rc = wal_seg_unlink(w, w->segs[0].num)) != 0)
            goto out;
        removed = true;
    }
out:
    pthread_mutex_unlock(&w->mu);
    /* Not durable until the directory is; a crash before that only leaves
     * old segments that the next removal deletes again. */
    if (removed && rc == STRATA_OK && w->sync != STRATA_SYNC_NONE)
        rc = base_vfs_fsync_dir(w->vfs, w->dir);
    return rc;
}

wal_pos wal_position(wal *w)
{
    pthread_mutex_lock(&w->mu);
    wal_pos p = {w->seg, w->off};
    pthread_mutex_unlock(&w->mu);
    return p;
}

void wal_stats_get(wal *w, wal_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n_segs; i++) {
        bool active = w->fd >= 0 && w->segs[i].num == w->seg;
        out->bytes += active ? w->off : w->segs[i].size;
    }
    out->segments = w->n_segs;
    out->first_segment = w->n_segs ? w->segs[0].num : 0;
    out->last_segment = w->fd >= 0 ? w->seg : (w->n_segs ? w->segs[w->n_segs - 1].num : 0);
    out->records = w->n_records;
    out->appends = w->n_appends;
    out->bytes_written = w->n_bytes_written;
    out->fsyncs = w->n_fsyncs;
    out->write_errors = w->n_write_errors;
    out->sync_errors = w->n_sync_errors;
    out->lost_pending = w->lost;
    pthread_mutex_unlock(&w->mu);
}
