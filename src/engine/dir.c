/*
 * dir.c: the hygiene of a data directory, in the manner of Prometheus 1.x
 * local storage.
 *
 *   LOCK     flock(2)ed for the life of the handle: a second process gets
 *            STRATA_ERR_BUSY instead of sharing the directory. The lock dies
 *            with the process, so a crash never leaves it stale.
 *   VERSION  the storage format version as decimal text and a newline;
 *            another version refuses to open with a message naming both.
 *   DIRTY    exists while a writer has the directory open; found at open it
 *            means the last run did not close cleanly, and the engine runs
 *            recovery (full table verification, quarantine) before use.
 *   quarantine/  damaged files moved aside with a .reason file beside them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_int.h"

int dbdir_lock(const base_vfs *vfs, const char *dir, const base_log *log, int *fd_out)
{
    char *path = base_path_join(dir, "LOCK");
    if (!path)
        return STRATA_ERR_NOMEM;
    int fd = -1;
    int rc = base_vfs_open(vfs, path, O_RDWR | O_CREAT, &fd);
    if (rc) {
        base_logf(log, STRATA_LOG_ERROR, "%s: cannot open: %s", path, strata_strerror(rc));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            rc = STRATA_ERR_BUSY;
            base_logf(log, STRATA_LOG_ERROR, "%s: database in use by another process", dir);
        } else {
            rc = base_errno_status(errno);
            base_logf(log, STRATA_LOG_ERROR, "%s: flock: %s", path, strerror(errno));
        }
        (void)base_vfs_close(vfs, fd); /* nothing written */
        goto out;
    }
    *fd_out = fd;
out:
    base_free(path);
    return rc;
}

/* Version 1 directories are read as they are (every version-1 file is
 * still read) and upgraded to the current version, by rewriting VERSION,
 * when opened for writing: from then on they may hold version-2 tables,
 * which an older strata must not open. */
#define DBDIR_OLDEST_READABLE 1

int dbdir_check_version(const base_vfs *vfs, const char *dir, bool creating, bool read_only, const base_log *log)
{
    char *path = base_path_join(dir, "VERSION");
    if (!path)
        return STRATA_ERR_NOMEM;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = creating ? STRATA_ERR_NOTFOUND : base_vfs_read_all(vfs, path, &data, &len);
    if (rc == STRATA_ERR_NOTFOUND) {
        if (!creating) {
            base_logf(log, STRATA_LOG_ERROR, "%s: missing, but the directory holds a database", path);
            rc = STRATA_ERR_CORRUPT;
            goto out;
        }
        char text[32];
        int n = snprintf(text, sizeof text, "%d\n", STRATA_FORMAT_VERSION);
        rc = base_vfs_write_atomic(vfs, dir, "VERSION", text, (size_t)n);
        goto out;
    }
    if (rc) {
        base_logf(log, STRATA_LOG_ERROR, "%s: cannot read: %s", path, strata_strerror(rc));
        goto out;
    }
    char *end = NULL;
    long v = strtol((const char *)data, &end, 10);
    if (end == (char *)data || (*end && *end != '\n')) {
        base_logf(log, STRATA_LOG_ERROR, "%s: not a format version: \"%.20s\"", path, (const char *)data);
        rc = STRATA_ERR_CORRUPT;
    } else if (v >= DBDIR_OLDEST_READABLE && v < STRATA_FORMAT_VERSION) {
        if (!read_only) {
            char text[32];
            int n = snprintf(text, sizeof text, "%d\n", STRATA_FORMAT_VERSION);
            rc = base_vfs_write_atomic(vfs, dir, "VERSION", text, (size_t)n);
            if (!rc)
                base_logf(log, STRATA_LOG_INFO, "%s: storage format version %ld upgraded to %d", dir, v,
                          STRATA_FORMAT_VERSION);
        }
    } else if (v != STRATA_FORMAT_VERSION) {
        base_logf(log, STRATA_LOG_ERROR,
                  "%s: the database has storage format version %ld, this strata reads version %d", dir, v,
                  STRATA_FORMAT_VERSION);
        rc = STRATA_ERR_VERSION;
    }
out:
    base_free(data);
    base_free(path);
    return rc;
}

int dbdir_mark_dirty(const base_vfs *vfs, const char *dir, bool *was_dirty)
{
    char *path = base_path_join(dir, "DIRTY");
    if (!path)
        return STRATA_ERR_NOMEM;
    struct stat st;
    *was_dirty = stat(path, &st) == 0;
    base_free(path);
    if (*was_dirty)
        return STRATA_OK;
    return base_vfs_write_atomic(vfs, dir, "DIRTY", "", 0);
}

int dbdir_clear_dirty(const base_vfs *vfs, const char *dir)
{
    char *path = base_path_join(dir, "DIRTY");
    if (!path)
        return STRATA_ERR_NOMEM;
    int rc = base_vfs_unlink(vfs, path);
    if (rc == STRATA_ERR_NOTFOUND)
        rc = STRATA_OK;
    base_free(path);
    return rc ? rc : base_vfs_fsync_dir(vfs, dir);
}

int dbdir_quarantine(const base_vfs *vfs, const char *dir, const char *subdir, const char *name, const char *reason,
                     const base_log *log)
{
    int rc = STRATA_ERR_NOMEM;
    char *qdir = base_path_join(dir, "quarantine"), *src_dir = base_path_join(dir, subdir);
    char *src = NULL, *dst = NULL, *why = NULL;
    if (!qdir || !src_dir)
        goto out;
    src = base_path_join(src_dir, name);
    dst = base_path_join(qdir, name);
    size_t nl = strlen(name);
    why = base_malloc(nl + 8);
    if (!src || !dst || !why)
        goto out;
    memcpy(why, name, nl);
    memcpy(why + nl, ".reason", 8);
    if ((rc = base_vfs_mkdir(vfs, qdir)) != 0)
        goto out;
    char text[1024];
    int n = snprintf(text, sizeof text, "%s/%s was moved here by strata: %s\n", subdir, name, reason);
    if ((rc = base_vfs_write_atomic(vfs, qdir, why, text, (size_t)MIN((size_t)n, sizeof text - 1))) != 0)
        goto out;
    if ((rc = base_vfs_rename(vfs, src, dst)) != 0)
        goto out;
    if ((rc = base_vfs_fsync_dir(vfs, src_dir)) != 0 || (rc = base_vfs_fsync_dir(vfs, qdir)) != 0)
        goto out;
    base_logf(log, STRATA_LOG_WARN, "%s: quarantined to %s: %s", src, dst, reason);
out:
    base_free(qdir);
    base_free(src_dir);
    base_free(src);
    base_free(dst);
    base_free(why);
    return rc;
}

bool dbdir_only_own_files(const char *dir)
{
    static const char *own[] = {"LOCK",  "VERSION", "DIRTY",      "CURRENT",         "tables",
                                "wal",   "index",   "quarantine", "METADATA",        "METADATA.corrupt"};
    DIR *d = opendir(dir);
    if (!d)
        return true;
    struct dirent *e;
    bool only = true;
    while (only && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strncmp(n, "MANIFEST-", 9))
            continue;
        bool mine = false;
        for (size_t i = 0; i < ARRAY_LEN(own) && !mine; i++) {
            size_t l = strlen(own[i]);
            /* the name itself or its temporary (name.tmp) */
            mine = !strncmp(n, own[i], l) && (!n[l] || !strcmp(n + l, ".tmp"));
        }
        only = mine;
    }
    closedir(d);
    return only;
}

bool dbdir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "LOCK")) {
            empty = false;
            break;
        }
    }
    closedir(d);
    return empty;
}
