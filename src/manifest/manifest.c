/*
 * manifest.c: the manifest of a data directory: CURRENT, the live
 * MANIFEST-<n> (framing in log.c, edits in edit.c), opening, applying
 * edits durably, and rewriting the log into a snapshot.
 *
 * CURRENT holds exactly "MANIFEST-" + the number in at least six decimal
 * digits + "\n", and is replaced with base_file_write_atomic (tmp, fsync,
 * rename, fsync dir), so it always names a complete manifest.
 *
 * Apply: the edit is checked by applying it to a copy of the current state
 * (state.c) before anything is written; then the record is written at the
 * end of the file with pwrite and fsynced; only then is the new version
 * installed. When the write or the fsync fails, the file is cut back to its
 * previous end (retried before the next append when even that fails), so
 * the state in memory and on disk stay the same and a later apply works.
 *
 * Rewrite, in this order (a crash between any two steps leaves a directory
 * that opens to the same state):
 *   1. write MANIFEST-<new> (header + snapshot), fsync it and the directory;
 *   2. replace CURRENT to name it (the commit point);
 *   3. delete the old MANIFEST (a leftover is deleted at the next open).
 * A rewrite failure is logged and leaves the old manifest in charge.
 *
 * Creation writes MANIFEST-000001 then CURRENT; a crash between the two
 * leaves a lone MANIFEST-000001 holding nothing but the options, which the
 * next open recognises as an unfinished creation and starts over.
 *
 * Locks: apply_mu serialises appliers and rewrites (the file, size,
 * number); mu guards cur and next_alloc, held only for pointer swaps, so
 * readers pinning a version never wait for I/O.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest_int.h"

struct manifest {
    char *dir;
    manifest_options opts;
    base_log log;              /* copy of *opts.log; opts.log points here */
    pthread_mutex_t apply_mu;  /* serialises apply and rewrite; guards the fields below up to mu */
    int fd;                    /* live MANIFEST, -1 when read-only */
    uint64_t number;           /* n of the live MANIFEST-n */
    uint64_t size;             /* bytes of valid records in it */
    uint64_t snapshot_bytes;   /* size of its first record */
    bool need_truncate;        /* a failed append left bytes past size */
    bool dir_unsynced;         /* CURRENT renamed but the directory fsync failed */
    int failed;                /* sticky: the live manifest is unknown, every apply fails */
    bbuf payload, record;      /* scratch for apply */
    pthread_mutex_t mu;        /* guards cur and next_alloc */
    manifest_version *cur;
    uint64_t next_alloc;       /* next file number to hand out, >= cur->next_file_no */
};

void manifest_options_init(manifest_options *o)
{
    memset(o, 0, sizeof *o);
    o->rewrite_min_bytes = 1u << 20;
    o->rewrite_ratio = 4;
}

/* "MANIFEST-" then 1..20 digits and nothing else. */
static bool parse_manifest_name(const char *name, size_t len, uint64_t *out)
{
    if (len <= 9 || len > 29 || memcmp(name, "MANIFEST-", 9) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 9; i < len; i++) {
        unsigned d = (unsigned)(name[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void manifest_name(char *buf, size_t cap, uint64_t n)
{
    snprintf(buf, cap, "MANIFEST-%06" PRIu64, n);
}

/* Numbers of the MANIFEST-* files in dir (up to cap; *n gets the count seen). */
static int list_manifests(const char *dir, uint64_t *nums, size_t cap, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return base_errno_status(errno);
    *n = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        uint64_t no;
        if (parse_manifest_name(de->d_name, strlen(de->d_name), &no)) {
            if (*n < cap)
                nums[*n] = no;
            (*n)++;
        }
    }
    int rc = errno ? base_errno_status(errno) : STRATA_OK;
    closedir(d);
    return rc;
}

/* Writes a complete new manifest file and makes it durable; returns its fd
 * (open for appending at *size) or removes it on failure. */
static int write_new_file(manifest *m, uint64_t number, const bbuf *content, bool rewrite, int *fd_out)
{
    char name[40];
    manifest_name(name, sizeof name, number);
    char *path = base_path_join(m->dir, name);
    if (!path)
        return STRATA_ERR_NOMEM;
    const base_vfs *vfs = m->opts.vfs;
    int rc, fd = -1;
    if ((rc = base_vfs_open(vfs, path, O_RDWR | O_CREAT | O_TRUNC, &fd)) != 0)
        goto out;
    if ((rc = base_vfs_pwrite(vfs, fd, content->data, content->len, 0)) != 0 || (rc = base_vfs_fsync(vfs, fd)) != 0 ||
        (rc = base_vfs_fsync_dir(vfs, m->dir)) != 0) {
        (void)base_vfs_close(vfs, fd);
        (void)base_vfs_unlink(vfs, path); /* best effort: cleanup at open removes manifests CURRENT does not name */
        goto out;
    }
    *fd_out = fd;
out:
    if (rc)
        base_logf(&m->log, STRATA_LOG_ERROR, "manifest: writing %s/%s failed: %s", m->dir, name, strata_strerror(rc));
    base_free(path);
    return rc;
}

static int write_current(manifest *m, uint64_t number)
{
    char text[48];
    manifest_name(text, sizeof text - 1, number);
    size_t n = strlen(text);
    text[n++] = '\n';
    return base_vfs_write_atomic(m->opts.vfs, m->dir, "CURRENT", text, n);
}

/* Reads CURRENT: *number on success, STRATA_ERR_NOTFOUND when absent. */
static int read_current(manifest *m, uint64_t *number)
{
    char *path = base_path_join(m->dir, "CURRENT");
    uint8_t *data = NULL;
    size_t len = 0;
    if (!path)
        return STRATA_ERR_NOMEM;
    int rc = base_vfs_read_all(m->opts.vfs, path, &data, &len);
    if (rc == STRATA_OK) {
        if (len < 2 || data[len - 1] != '\n' || !parse_manifest_name((const char *)data, len - 1, number)) {
            base_logf(&m->log, STRATA_LOG_ERROR, "manifest: %s is damaged (%zu bytes, expected \"MANIFEST-n\\n\")", path,
                      len);
            rc = STRATA_ERR_CORRUPT;
        }
    }
    base_free(data);
    base_free(path);
    return rc;
}

/* Reads and replays MANIFEST-number into *v. */
static int load(manifest *m, uint64_t number, manifest_version **v, manifest_replay_info *info)
{
    char name[40];
    manifest_name(name, sizeof name, number);
    char *path = base_path_join(m->dir, name);
    uint8_t *data = NULL;
    size_t len = 0;
    if (!path)
        return STRATA_ERR_NOMEM;
    int rc = base_vfs_read_all(m->opts.vfs, path, &data, &len);
    if (rc == STRATA_ERR_NOTFOUND) {
        base_logf(&m->log, STRATA_LOG_ERROR, "manifest: CURRENT names %s, which is missing", path);
        rc = STRATA_ERR_CORRUPT;
    } else if (rc == STRATA_OK) {
        rc = manifest_replay(data, len, path, &m->log, v, info);
    }
    base_free(data);
    base_free(path);
    return rc;
}

/* Writes MANIFEST-000001 holding only the options, then CURRENT. */
static int create(manifest *m)
{
    if (m->opts.partition_ms <= 0) {
        base_logf(&m->log, STRATA_LOG_ERROR, "manifest: creating %s needs a partition width > 0", m->dir);
        return STRATA_ERR_INVALID;
    }
    bbuf payload = {0}, file = {0};
    mstate s;
    char why[128];
    manifest_state_init(&s);
    int rc;
    if ((rc = manifest_item_db_options(&payload, m->opts.partition_ms)) != 0 || (rc = manifest_item_next_file_no(&payload, 2)) != 0 ||
        (rc = manifest_state_apply(&s, payload.data, payload.len, why, sizeof why)) != 0 ||
        (rc = manifest_state_freeze(&s, &m->cur)) != 0 || (rc = manifest_encode_file(m->cur, 2, &file)) != 0 ||
        (rc = write_new_file(m, 1, &file, false, &m->fd)) != 0)
        goto out;
    if ((rc = write_current(m, 1)) != 0)
        goto out;
    m->number = 1;
    m->size = file.len;
    m->snapshot_bytes = file.len - MANIFEST_HEADER_BYTES;
out:
    manifest_state_free(&s);
    base_buf_free(&payload);
    base_buf_free(&file);
    return rc;
}

/* No CURRENT but MANIFEST files: a creation cut between its two steps
 * leaves exactly MANIFEST-000001 with an empty state; anything else needs
 * a human. */
static int missing_current(manifest *m, const uint64_t *nums, size_t n)
{
    char name[40];
    manifest_name(name, sizeof name, nums[0]);
    if (n == 1 && nums[0] == 1 && !m->opts.read_only) {
        manifest_version *v = NULL;
        manifest_replay_info info;
        /* CURRENT is written only once MANIFEST-000001 is complete, so a
         * first manifest without it belongs to a creation that never
         * finished: empty, or torn (a kill before its header was out) */
        int lrc = load(m, 1, &v, &info);
        if (lrc == STRATA_ERR_CORRUPT ||
            (lrc == STRATA_OK && v->n_tables == 0 && v->n_tombs == 0 && v->checkpoint.segment == 0 &&
             v->checkpoint.offset == 0)) {
            manifest_version_unref(v);
            char *path = base_path_join(m->dir, name);
            int rc = path ? base_vfs_unlink(m->opts.vfs, path) : STRATA_ERR_NOMEM;
            base_free(path);
            base_logf(&m->log, STRATA_LOG_WARN, "manifest: %s/%s left by an unfinished creation, starting over",
                      m->dir, name);
            return rc ? rc : create(m);
        }
        manifest_version_unref(v);
    }
    base_logf(&m->log, STRATA_LOG_ERROR, "manifest: %s/CURRENT is missing but %s and %zu other manifest(s) exist",
              m->dir, name, n - 1);
    return STRATA_ERR_CORRUPT;
}

/* Removes CURRENT.tmp and manifests other than the live one. */
static void cleanup(manifest *m)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t no;
        bool stale = strcmp(de->d_name, "CURRENT.tmp") == 0 ||
                     (parse_manifest_name(de->d_name, strlen(de->d_name), &no) && no != m->number);
        if (!stale)
            continue;
        char *path = base_path_join(m->dir, de->d_name);
        if (path && base_vfs_unlink(m->opts.vfs, path) == STRATA_OK)
            base_logf(&m->log, STRATA_LOG_INFO, "manifest: removed leftover %s", path);
        base_free(path);
    }
    closedir(d);
}

/* Opens the live manifest for appending and cuts a torn tail off. */
static int open_live(manifest *m, const manifest_replay_info *info)
{
    char name[40];
    manifest_name(name, sizeof name, m->number);
    char *path = base_path_join(m->dir, name);
    if (!path)
        return STRATA_ERR_NOMEM;
    int rc = STRATA_OK;
    m->fd = -1;
    if ((rc = base_vfs_open(m->opts.vfs, path, O_RDWR, &m->fd)) != 0)
        m->fd = -1;
    else if (info->torn_bytes) {
        if ((rc = base_vfs_ftruncate(m->opts.vfs, m->fd, info->valid_bytes)) == 0)
            rc = base_vfs_fsync(m->opts.vfs, m->fd);
        if (rc == STRATA_OK)
            base_logf(&m->log, STRATA_LOG_WARN, "manifest: %s cut to %zu bytes (torn record of %zu bytes)", path,
                      info->valid_bytes, info->torn_bytes);
    }
    base_free(path);
    return rc;
}

static int do_open(manifest *m)
{
    uint64_t number;
    int rc = read_current(m, &number);
    if (rc == STRATA_ERR_NOTFOUND) {
        uint64_t nums[4];
        size_t n = 0;
        rc = list_manifests(m->dir, nums, ARRAY_LEN(nums), &n);
        if (rc == STRATA_ERR_NOTFOUND && !m->opts.read_only && !m->opts.must_exist)
            rc = base_vfs_mkdir(m->opts.vfs, m->dir);
        if (rc)
            return rc;
        if (n)
            return missing_current(m, nums, MIN(n, ARRAY_LEN(nums)));
        if (m->opts.read_only || m->opts.must_exist)
            return STRATA_ERR_NOTFOUND;
        return create(m);
    }
    if (rc)
        return rc;
    manifest_replay_info info;
    if ((rc = load(m, number, &m->cur, &info)) != 0)
        return rc;
    if (m->opts.partition_ms && m->opts.partition_ms != m->cur->partition_ms) {
        base_logf(&m->log, STRATA_LOG_ERROR,
                  "manifest: %s was created with partition width %" PRId64 " ms, asked for %" PRId64 " ms", m->dir,
                  m->cur->partition_ms, m->opts.partition_ms);
        return STRATA_ERR_INVALID;
    }
    m->number = number;
    m->size = info.valid_bytes;
    m->snapshot_bytes = info.snapshot_bytes;
    if (m->opts.read_only)
        return STRATA_OK;
    if ((rc = open_live(m, &info)) != 0)
        return rc;
    cleanup(m);
    return STRATA_OK;
}

int manifest_open(const char *dir, const manifest_options *opts, manifest **out)
{
    manifest *m = base_calloc(1, sizeof *m);
    if (!m)
        return STRATA_ERR_NOMEM;
    m->fd = -1;
    m->opts = *opts;
    if (opts->log)
        m->log = *opts->log;
    m->opts.log = &m->log;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->apply_mu, NULL);
    int rc = STRATA_ERR_NOMEM;
    if ((m->dir = base_strdup(dir)) != NULL)
        rc = do_open(m);
    if (rc) {
        manifest_close(m);
        return rc;
    }
    m->next_alloc = m->cur->next_file_no;
    *out = m;
    return STRATA_OK;
}

void manifest_close(manifest *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        (void)base_vfs_close(m->opts.vfs, m->fd); /* every record was fsynced by its apply */
    manifest_version_unref(m->cur);
    base_buf_free(&m->payload);
    base_buf_free(&m->record);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->apply_mu);
    base_free(m->dir);
    base_free(m);
}

manifest_version *manifest_current(manifest *m)
{
    pthread_mutex_lock(&m->mu);
    manifest_version *v = m->cur;
    manifest_version_ref(v);
    pthread_mutex_unlock(&m->mu);
    return v;
}

int manifest_alloc_file_no(manifest *m, uint64_t *out)
{
    if (m->opts.read_only)
        return STRATA_ERR_READONLY;
    pthread_mutex_lock(&m->mu);
    *out = m->next_alloc++;
    pthread_mutex_unlock(&m->mu);
    return STRATA_OK;
}

uint64_t manifest_number(manifest *m)
{
    pthread_mutex_lock(&m->apply_mu);
    uint64_t n = m->number;
    pthread_mutex_unlock(&m->apply_mu);
    return n;
}

uint64_t manifest_log_bytes(manifest *m)
{
    pthread_mutex_lock(&m->apply_mu);
    uint64_t n = m->size;
    pthread_mutex_unlock(&m->apply_mu);
    return n;
}

static void install(manifest *m, manifest_version *v)
{
    pthread_mutex_lock(&m->mu);
    manifest_version *old = m->cur;
    m->cur = v;
    pthread_mutex_unlock(&m->mu);
    manifest_version_unref(old);
}

/* Cuts the file back to m->size after a failed append. */
static int cut_back(manifest *m)
{
    int rc = base_vfs_ftruncate(m->opts.vfs, m->fd, m->size);
    if (rc) {
        m->need_truncate = true;
        return rc;
    }
    m->need_truncate = false;
    return STRATA_OK;
}

/* Called with apply_mu held. */
static int rewrite_locked(manifest *m)
{
    bbuf file = {0};
    int rc, fd = -1;
    uint64_t number, next;
    if (m->failed)
        return m->failed;
    pthread_mutex_lock(&m->mu);
    number = m->next_alloc++;
    next = m->next_alloc;
    pthread_mutex_unlock(&m->mu);
    if ((rc = manifest_encode_file(m->cur, next, &file)) != 0 || (rc = write_new_file(m, number, &file, true, &fd)) != 0)
        goto out;
    if ((rc = write_current(m, number)) != 0) {
        /* Which file does CURRENT name now? A rename that happened but whose
         * directory fsync failed still makes the new file the live one. */
        uint64_t named = 0;
        int crc = read_current(m, &named);
        if (crc != STRATA_OK || (named != number && named != m->number)) {
            /* Cannot tell which manifest is live: appending to either could
             * lose edits, so refuse further edits; the next open decides. */
            (void)base_vfs_close(m->opts.vfs, fd);
            m->failed = rc;
            base_logf(&m->log, STRATA_LOG_ERROR,
                      "manifest: CURRENT unreadable after a failed rewrite; edits refused until reopen");
            goto out;
        }
        if (named != number) {
            (void)base_vfs_close(m->opts.vfs, fd);
            char name[40];
            manifest_name(name, sizeof name, number);
            char *path = base_path_join(m->dir, name);
            if (path)
                (void)base_vfs_unlink(m->opts.vfs, path); /* best effort, as in write_new_file */
            base_free(path);
            goto out;
        }
        m->dir_unsynced = true;
        rc = STRATA_OK;
    }
    char old[40];
    manifest_name(old, sizeof old, m->number);
    (void)base_vfs_close(m->opts.vfs, m->fd); /* the old file: every record in it was fsynced */
    m->fd = fd;
    m->number = number;
    m->size = file.len;
    m->snapshot_bytes = file.len - MANIFEST_HEADER_BYTES;
    m->need_truncate = false;
    /* Not durable until the next directory fsync; a crash before it leaves
     * the old file behind, which cleanup at open removes. */
    char *path = base_path_join(m->dir, old);
    int urc = path ? base_vfs_unlink(m->opts.vfs, path) : STRATA_ERR_NOMEM;
    if (urc)
        base_logf(&m->log, STRATA_LOG_WARN, "manifest: cannot remove %s/%s: %s", m->dir, old, strata_strerror(urc));
    base_free(path);
out:
    base_buf_free(&file);
    return rc;
}

int manifest_rewrite(manifest *m)
{
    if (m->opts.read_only)
        return STRATA_ERR_READONLY;
    pthread_mutex_lock(&m->apply_mu);
    int rc = rewrite_locked(m);
    pthread_mutex_unlock(&m->apply_mu);
    return rc;
}

static int apply_locked(manifest *m, const manifest_edit *e)
{
    int rc;
    manifest_version *nv = NULL;
    mstate s;
    char why[256];
    manifest_state_init(&s);
    if (m->failed)
        return m->failed;
    if ((m->need_truncate && (rc = cut_back(m)) != 0) || (m->dir_unsynced && (rc = base_vfs_fsync_dir(m->opts.vfs, m->dir)) != 0))
        return rc;
    m->dir_unsynced = false;
    pthread_mutex_lock(&m->mu);
    uint64_t next = m->next_alloc;
    pthread_mutex_unlock(&m->mu);
    base_buf_reset(&m->payload);
    base_buf_reset(&m->record);
    if ((rc = base_buf_append(&m->payload, e->buf.data, e->buf.len)) != 0)
        return rc;
    if (next > m->cur->next_file_no && (rc = manifest_item_next_file_no(&m->payload, next)) != 0)
        return rc;
    if (m->payload.len == 0)
        return STRATA_OK; /* nothing to record */
    if ((rc = manifest_state_from_version(&s, m->cur)) != 0)
        goto out;
    if ((rc = manifest_state_apply(&s, m->payload.data, m->payload.len, why, sizeof why)) != 0) {
        if (rc == STRATA_ERR_CORRUPT) {
            base_logf(&m->log, STRATA_LOG_ERROR, "manifest: edit refused: %s", why);
            rc = STRATA_ERR_INVALID;
        }
        goto out;
    }
    if ((rc = manifest_state_freeze(&s, &nv)) != 0 || (rc = manifest_log_put_record(&m->record, m->payload.data, m->payload.len)) != 0)
        goto out;
    if ((rc = base_vfs_pwrite(m->opts.vfs, m->fd, m->record.data, m->record.len, m->size)) != 0 ||
        (rc = base_vfs_fdatasync(m->opts.vfs, m->fd)) != 0) {
        base_logf(&m->log, STRATA_LOG_ERROR, "manifest: appending to %s/MANIFEST-%06" PRIu64 " failed: %s", m->dir,
                  m->number, strata_strerror(rc));
        cut_back(m);
        goto out;
    }
    m->size += m->record.len;
    install(m, nv);
    nv = NULL;
    if (m->size > m->opts.rewrite_min_bytes &&
        (m->opts.rewrite_ratio == 0 || m->size > (uint64_t)m->opts.rewrite_ratio * m->snapshot_bytes)) {
        int rrc = rewrite_locked(m);
        if (rrc)
            base_logf(&m->log, STRATA_LOG_WARN, "manifest: rewrite failed (%s); will retry", strata_strerror(rrc));
    }
out:
    manifest_state_free(&s);
    manifest_version_unref(nv);
    return rc;
}

int manifest_apply(manifest *m, const manifest_edit *e)
{
    if (m->opts.read_only)
        return STRATA_ERR_READONLY;
    if (e->err)
        return e->err;
    pthread_mutex_lock(&m->apply_mu);
    int rc = apply_locked(m, e);
    pthread_mutex_unlock(&m->apply_mu);
    return rc;
}
