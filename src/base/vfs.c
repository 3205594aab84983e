/*
 * vfs.c: the I/O seam. base_vfs_posix() is the system calls (through the
 * primitives of fileio.c); base_vfs_* dispatch to a given vfs, or to POSIX
 * when it is NULL, and build the durable idioms (atomic replace, whole-file
 * read, mkdir -p) out of the vfs's own operations, so a test vfs sees every
 * write, sync and rename of them in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

static int px_open(void *ctx, const char *path, int flags, int *fd)
{
    (void)ctx;
    int f = open(path, flags | O_CLOEXEC, 0644);
    if (f < 0) {
        int e = errno;
        int rc = base_errno_status(e);
        base_error_set("open %s: %s", path, strerror(e));
        return rc;
    }
    *fd = f;
    return STRATA_OK;
}

static int px_close(void *ctx, int fd)
{
    (void)ctx;
    /* Linux releases the descriptor even when close fails: never retry. */
    return close(fd) == 0 ? STRATA_OK : base_errno_status(errno);
}

static int px_pwrite(void *ctx, int fd, const void *p, size_t n, uint64_t off)
{
    (void)ctx;
    return base_file_pwrite_all(fd, p, n, off);
}

static int px_pread(void *ctx, int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    (void)ctx;
    return base_file_pread_all(fd, p, n, off, got);
}

static int px_ftruncate(void *ctx, int fd, uint64_t size)
{
    (void)ctx;
    while (ftruncate(fd, (off_t)size) != 0) {
        if (errno != EINTR)
            return base_errno_status(errno);
    }
    return STRATA_OK;
}

static int px_fsync(void *ctx, int fd)
{
    (void)ctx;
    return base_file_fsync(fd);
}

static int px_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    while (fdatasync(fd) != 0) {
        if (errno != EINTR)
            return base_errno_status(errno);
    }
    return STRATA_OK;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    if (rename(from, to) == 0)
        return STRATA_OK;
    int e = errno, rc = base_errno_status(e);
    base_error_set("rename %s to %s: %s", from, to, strerror(e));
    return rc;
}

static int px_unlink(void *ctx, const char *path)
{
    (void)ctx;
    if (unlink(path) == 0)
        return STRATA_OK;
    int e = errno, rc = base_errno_status(e);
    if (e != ENOENT)
        base_error_set("unlink %s: %s", path, strerror(e));
    return rc;
}

static int px_mkdir(void *ctx, const char *path)
{
    (void)ctx;
    return base_file_mkdir(path);
}

static int px_fsync_dir(void *ctx, const char *dir)
{
    (void)ctx;
    return base_file_fsync_dir(dir);
}

static int px_mmap_ro(void *ctx, int fd, size_t len, const void **map)
{
    (void)ctx;
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return base_errno_status(errno);
    *map = m;
    return STRATA_OK;
}

static void px_munmap(void *ctx, const void *map, size_t len)
{
    (void)ctx;
    munmap((void *)map, len);
}

static const base_vfs posix_vfs = {
    .open = px_open,
    .close = px_close,
    .pwrite = px_pwrite,
    .pread = px_pread,
    .ftruncate = px_ftruncate,
    .fsync = px_fsync,
    .fdatasync = px_fdatasync,
    .rename = px_rename,
    .unlink = px_unlink,
    .mkdir = px_mkdir,
    .fsync_dir = px_fsync_dir,
    .mmap_ro = px_mmap_ro,
    .munmap = px_munmap,
    .ctx = NULL,
};

const base_vfs *base_vfs_posix(void) { return &posix_vfs; }

#define V(v) ((v) ? (v) : &posix_vfs)

int base_vfs_open(const base_vfs *v, const char *path, int flags, int *fd) { return V(v)->open(V(v)->ctx, path, flags, fd); }
int base_vfs_close(const base_vfs *v, int fd) { return V(v)->close(V(v)->ctx, fd); }
int base_vfs_pwrite(const base_vfs *v, int fd, const void *p, size_t n, uint64_t off)
{
    return V(v)->pwrite(V(v)->ctx, fd, p, n, off);
}
int base_vfs_pread(const base_vfs *v, int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    return V(v)->pread(V(v)->ctx, fd, p, n, off, got);
}
int base_vfs_ftruncate(const base_vfs *v, int fd, uint64_t size) { return V(v)->ftruncate(V(v)->ctx, fd, size); }
int base_vfs_fsync(const base_vfs *v, int fd) { return V(v)->fsync(V(v)->ctx, fd); }
int base_vfs_fdatasync(const base_vfs *v, int fd) { return V(v)->fdatasync(V(v)->ctx, fd); }
int base_vfs_rename(const base_vfs *v, const char *from, const char *to) { return V(v)->rename(V(v)->ctx, from, to); }
int base_vfs_unlink(const base_vfs *v, const char *path) { return V(v)->unlink(V(v)->ctx, path); }
/* A directory made here is fsynced into its parent, as a file's rename
 * is: without it a power cut right after creating a database could lose
 * the directory and all that was then written in it. One that exists is
 * left alone. */
int base_vfs_mkdir(const base_vfs *v, const char *path)
{
    struct stat st;
    bool existed = stat(path, &st) == 0;
    int rc = V(v)->mkdir(V(v)->ctx, path);
    if (rc || existed)
        return rc;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') /* trailing slashes name the same directory */
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    char *parent = n ? base_strndup(path, n) : base_strdup(".");
    if (!parent)
        return STRATA_ERR_NOMEM;
    rc = V(v)->fsync_dir(V(v)->ctx, parent);
    base_free(parent);
    return rc;
}
int base_vfs_fsync_dir(const base_vfs *v, const char *dir) { return V(v)->fsync_dir(V(v)->ctx, dir); }
int base_vfs_mmap_ro(const base_vfs *v, int fd, size_t len, const void **map)
{
    return V(v)->mmap_ro(V(v)->ctx, fd, len, map);
}
void base_vfs_munmap(const base_vfs *v, const void *map, size_t len) { V(v)->munmap(V(v)->ctx, map, len); }

int base_vfs_write_atomic(const base_vfs *v, const char *dir, const char *name, const void *data, size_t n)
{
    int rc = STRATA_ERR_NOMEM, fd = -1;
    char *path = base_path_join(dir, name);
    char *tmp = NULL;
    if (!path)
        goto out;
    size_t pl = strlen(path);
    tmp = base_malloc(pl + 5);
    if (!tmp)
        goto out;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    if ((rc = base_vfs_open(v, tmp, O_WRONLY | O_CREAT | O_TRUNC, &fd)) != 0)
        goto out;
    if ((rc = base_vfs_pwrite(v, fd, data, n, 0)) != 0 || (rc = base_vfs_fsync(v, fd)) != 0) {
        base_error_set("write %s: %s", tmp, strata_strerror(rc));
        goto out_unlink;
    }
    rc = base_vfs_close(v, fd);
    fd = -1;
    if (rc) {
        base_error_set("close %s: %s", tmp, strata_strerror(rc));
        goto out_unlink;
    }
    if ((rc = base_vfs_rename(v, tmp, path)) != 0)
        goto out_unlink;
    rc = base_vfs_fsync_dir(v, dir);
    goto out;
out_unlink:
    (void)base_vfs_unlink(v, tmp); /* best effort: a stale .tmp is garbage to every reader */
out:
    if (fd >= 0)
        (void)base_vfs_close(v, fd);
    base_free(tmp);
    base_free(path);
    return rc;
}

int base_vfs_read_all(const base_vfs *v, const char *path, uint8_t **out, size_t *len)
{
    int fd = -1;
    int rc = base_vfs_open(v, path, O_RDONLY, &fd);
    if (rc)
        return rc;
    uint8_t *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if ((rc = base_grow((void **)&data, &cap, n + 4096 + 1, 1)) != 0)
            goto out;
        size_t got = 0;
        if ((rc = base_vfs_pread(v, fd, data + n, cap - n - 1, n, &got)) != 0)
            goto out;
        n += got;
        if (got == 0)
            break;
    }
    data[n] = 0;
    *out = data;
    *len = n;
    data = NULL;
out:
    base_free(data);
    (void)base_vfs_close(v, fd); /* read-only: nothing a failed close could lose */
    return rc;
}

int base_vfs_mkdir_p(const base_vfs *v, const char *path)
{
    size_t n = strlen(path);
    char *p = base_strndup(path, n);
    if (!p)
        return STRATA_ERR_NOMEM;
    int rc = STRATA_OK;
    for (size_t i = 1; i <= n && !rc; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char c = p[i];
        p[i] = 0;
        rc = base_vfs_mkdir(v, p);
        p[i] = c;
    }
    base_free(p);
    return rc;
}
