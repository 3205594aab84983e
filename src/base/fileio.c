/* fileio.c: file writes that survive short writes, EINTR and crashes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

int base_errno_status(int err)
{
    if (err)
        base_error_set("%s", strerror(err));
    switch (err) {
    case 0:
        return STRATA_OK;
    case ENOSPC:
    case EDQUOT:
        return STRATA_ERR_NOSPACE;
    case ENOMEM:
        return STRATA_ERR_NOMEM;
    case ENOENT:
        return STRATA_ERR_NOTFOUND;
    case EROFS:
        return STRATA_ERR_READONLY;
    default:
        return STRATA_ERR_IO;
    }
}

int base_file_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return base_errno_status(errno);
        }
        if (w == 0)
            return STRATA_ERR_IO;
        c += w;
        n -= (size_t)w;
    }
    return STRATA_OK;
}

int base_file_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return base_errno_status(errno);
        }
        if (w == 0)
            return STRATA_ERR_IO;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return STRATA_OK;
}

int base_file_pread_all(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    uint8_t *c = p;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, c + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return base_errno_status(errno);
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return STRATA_OK;
}

int base_file_fsync(int fd)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return base_errno_status(errno);
    }
    return STRATA_OK;
}

/* The status of errno err met by op on path, which also becomes this
 * thread's last error message ("open /x/y: No space left on device"). */
static int path_error(const char *op, const char *path, int err)
{
    int rc = base_errno_status(err);
    base_error_set("%s %s: %s", op, path, strerror(err));
    return rc;
}

int base_file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return path_error("open", dir, errno);
    int rc = base_file_fsync(fd);
    if (rc)
        base_error_set("fsync %s: %s", dir, strata_strerror(rc));
    close(fd);
    return rc;
}

char *base_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = base_malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

int base_file_write_atomic(const char *dir, const char *name, const void *data, size_t n)
{
    return base_vfs_write_atomic(NULL, dir, name, data, n); /* NULL: POSIX */
}

int base_file_read_all(const char *path, uint8_t **out, size_t *len)
{
    return base_vfs_read_all(NULL, path, out, len);
}

int base_file_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return STRATA_OK;
    return path_error("mkdir", path, errno);
}

int base_file_mkdir_p(const char *path)
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
        rc = base_file_mkdir(p);
        p[i] = c;
    }
    base_free(p);
    return rc;
}
