/*
 * faultvfs.c: the test vfs of faultvfs.h.
 *
 * THE MODEL. Every operation is passed through to the real directory, so
 * the engine reads back what it wrote exactly as from a page cache, and a
 * log of what is not durable is kept beside it:
 *   - per file (an inode: names come and go, the file stays): its durable
 *     content, and its pending writes and truncates since the last
 *     fsync/fdatasync, with their bytes;
 *   - the durable names (path -> file), and the pending directory
 *     operations (link on create, rename, unlink), each belonging to a
 *     directory and made durable by that directory's fsync. A rename
 *     across directories is an unlink in one and a link in the other.
 * A directory made through the vfs (mkdir) is a pending link in its
 * parent like a file's, durable with the parent's fsync; at the cut a
 * dropped one takes every name below it along (directories that existed
 * before, or were made around the vfs, count as durable).
 *
 * At the cut the durable state is built: each pending directory operation
 * is kept or dropped on its own, the kept ones applied in their order (so a
 * later rename can persist without an earlier one: the reordering a
 * journalling file system may show); each sector of each file (512 bytes
 * or 4 KiB) holds what some prefix of its pending writes made of it, so a
 * pending write is kept, dropped or torn (file_after_cut). Sectors rather
 * than whole writes, because two writes into one sector reach the disk
 * together: a model that kept the second without the first would report
 * states no disk can show. faultvfs_apply_cut then deletes every file
 * below root and writes the durable names with that content.
 *
 * Why pass-through with a log rather than an in-memory file system: the
 * engine's reads (pread, mmap, readdir, stat) need no model at all, and the
 * seam is exercised exactly as in production; the log only has to cover
 * writes. Real fsyncs are skipped (the model decides what is durable), so
 * a thousand cuts stay fast.
 */
#include "faultvfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fv_change {
    uint64_t off;
    size_t n;      /* bytes; a truncate has none and sets the size to off */
    uint8_t *data; /* NULL for a truncate */
} fv_change;

typedef struct fv_file {
    uint8_t *dur; /* durable content */
    size_t dur_len;
    fv_change *pend;
    size_t n_pend, cap_pend;
} fv_file;

typedef struct fv_name {
    char *path;
    size_t file;
} fv_name;

enum { DOP_LINK, DOP_UNLINK, DOP_RENAME, DOP_MKDIR };

typedef struct fv_dirop {
    int kind;
    char *dir;
    char *a, *b; /* link: a; unlink: a; rename: a -> b; mkdir: a */
    size_t file;
} fv_dirop;

typedef struct fv_names {
    fv_name *v;
    size_t n, cap;
} fv_names;

#define FV_MAX_FD 4096

struct faultvfs {
    base_vfs vfs;
    char *root;
    pthread_mutex_t mu;
    uint64_t rng;
    fv_file **files;
    size_t n_files, cap_files;
    fv_names cur, dur; /* names as the real tree has them; durable names */
    fv_dirop *ops;
    size_t n_ops, cap_ops;
    long fd_file[FV_MAX_FD]; /* file index + 1, 0: not ours */
    char *fd_path[FV_MAX_FD];
    uint64_t counts[FV_N_OPS], syncs;
    fv_op fail_op;
    long fail_after;
    int fail_status;
    bool fail_fired;
    fv_hook hook;
    void *hook_ctx;
    uint64_t cut_at;
    bool dead, harsh;
    fv_names after;        /* names after the cut */
    char **lost_dirs;      /* directories whose mkdir the cut dropped */
    size_t n_lost_dirs;
    fv_file **after_files; /* content after the cut, per file (NULL: unused) */
    unsigned n_kept, n_dropped, n_torn;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "faultvfs: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "faultvfs: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static uint64_t rnd(faultvfs *f)
{
    /* splitmix64: deterministic from the seed */
    uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return xstrdup(".");
    size_t n = (size_t)(s - path);
    char *d = xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

/* ------------------------------------------------------------ names */

static long names_find(const fv_names *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].path, path) == 0)
            return (long)i;
    return -1;
}

static void names_set(fv_names *t, const char *path, size_t file)
{
    long i = names_find(t, path);
    if (i >= 0) {
        t->v[i].file = file;
        return;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n++] = (fv_name){xstrdup(path), file};
}

static void names_del(fv_names *t, const char *path)
{
    long i = names_find(t, path);
    if (i < 0)
        return;
    free(t->v[i].path);
    t->v[i] = t->v[--t->n];
}

static void names_free(fv_names *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].path);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static void names_copy(fv_names *dst, const fv_names *src)
{
    names_free(dst);
    for (size_t i = 0; i < src->n; i++)
        names_set(dst, src->v[i].path, src->v[i].file);
}

static void dirop_apply(fv_names *t, const fv_dirop *o)
{
    switch (o->kind) {
    case DOP_MKDIR: /* names below it are kept or dropped with it at the cut */
        break;
    case DOP_LINK:
        names_set(t, o->a, o->file);
        break;
    case DOP_UNLINK:
        names_del(t, o->a);
        break;
    default:
        /* By identity: the file moves to b even when an earlier link of a
         * was dropped, as a journal replaying only this rename would. */
        names_del(t, o->a);
        names_set(t, o->b, o->file);
        break;
    }
}

static void dirop_add(faultvfs *f, int kind, const char *dir_path, const char *a, const char *b, size_t file)
{
    if (f->n_ops == f->cap_ops) {
        f->cap_ops = f->cap_ops ? 2 * f->cap_ops : 32;
        f->ops = xrealloc(f->ops, f->cap_ops * sizeof *f->ops);
    }
    f->ops[f->n_ops++] = (fv_dirop){kind, dir_of(dir_path), xstrdup(a), b ? xstrdup(b) : NULL, file};
}

static void dirop_free(fv_dirop *o)
{
    free(o->dir);
    free(o->a);
    free(o->b);
}

/* ------------------------------------------------------------ files */

static size_t file_new(faultvfs *f)
{
    if (f->n_files == f->cap_files) {
        f->cap_files = f->cap_files ? 2 * f->cap_files : 32;
        f->files = xrealloc(f->files, f->cap_files * sizeof *f->files);
    }
    fv_file *x = xmalloc(sizeof *x);
    memset(x, 0, sizeof *x);
    f->files[f->n_files] = x;
    return f->n_files++;
}

/* A file found on disk that the model has not seen: durable as it is. */
static size_t file_adopt(faultvfs *f, const char *path)
{
    size_t id = file_new(f);
    fv_file *x = f->files[id];
    uint8_t *data = NULL;
    size_t len = 0;
    if (base_file_read_all(path, &data, &len) == STRATA_OK) {
        x->dur = xmalloc(len);
        memcpy(x->dur, data, len);
        x->dur_len = len;
        base_free(data);
    }
    names_set(&f->cur, path, id);
    names_set(&f->dur, path, id);
    return id;
}

static void change_add(fv_file *x, uint64_t off, const void *p, size_t n, bool trunc)
{
    if (x->n_pend == x->cap_pend) {
        x->cap_pend = x->cap_pend ? 2 * x->cap_pend : 16;
        x->pend = xrealloc(x->pend, x->cap_pend * sizeof *x->pend);
    }
    fv_change c = {off, trunc ? 0 : n, NULL};
    if (!trunc) {
        c.data = xmalloc(n);
        memcpy(c.data, p, n);
    }
    x->pend[x->n_pend++] = c;
}

/* Applies bytes [from, to) of change c (relative to c->off) to buf. */
static void put_bytes(uint8_t **buf, size_t *len, const fv_change *c, size_t from, size_t to)
{
    if (from >= to)
        return;
    size_t end = (size_t)c->off + to;
    if (end > *len) {
        *buf = xrealloc(*buf, end);
        memset(*buf + *len, 0, end - *len);
        *len = end;
    }
    memcpy(*buf + c->off + from, c->data + from, to - from);
}

static void apply_change(uint8_t **buf, size_t *len, const fv_change *c)
{
    if (!c->data) {
        size_t nl = (size_t)c->off;
        if (nl > *len) {
            *buf = xrealloc(*buf, nl);
            memset(*buf + *len, 0, nl - *len);
        }
        *len = nl;
        return;
    }
    put_bytes(buf, len, c, 0, c->n);
}

static void pend_clear(fv_file *x)
{
    for (size_t i = 0; i < x->n_pend; i++)
        free(x->pend[i].data);
    x->n_pend = 0;
}

/* fsync: every pending change becomes durable. */
static void file_sync(fv_file *x)
{
    for (size_t i = 0; i < x->n_pend; i++)
        apply_change(&x->dur, &x->dur_len, &x->pend[i]);
    pend_clear(x);
}

/* ------------------------------------------------------------ the cut */

/* Bytes [lo, hi) of file x as they were after its durable content and its
 * first k pending changes, into out (zeros past the end of the file). */
static void state_after(const fv_file *x, size_t k, size_t lo, size_t hi, uint8_t *out)
{
    memset(out, 0, hi - lo);
    if (x->dur_len > lo)
        memcpy(out, x->dur + lo, MIN(hi, x->dur_len) - lo);
    for (size_t i = 0; i < k; i++) {
        const fv_change *c = &x->pend[i];
        if (!c->data) {
            if (c->off < hi) {
                size_t from = MAX((size_t)c->off, lo);
                memset(out + (from - lo), 0, hi - from);
            }
            continue;
        }
        size_t from = MAX((size_t)c->off, lo), to = MIN((size_t)c->off + c->n, hi);
        if (from < to)
            memcpy(out + (from - lo), c->data + (from - (size_t)c->off), to - from);
    }
}

/* The file's size after its durable content and its first k changes. */
static size_t size_after(const fv_file *x, size_t k)
{
    size_t len = x->dur_len;
    for (size_t i = 0; i < k; i++)
        len = x->pend[i].data ? MAX(len, (size_t)x->pend[i].off + x->pend[i].n) : (size_t)x->pend[i].off;
    return len;
}

/* How many of n pending changes reached the disk: all, none, or some. */
static size_t pick_prefix(faultvfs *f, size_t n)
{
    if (f->harsh || n == 0)
        return 0;
    switch (rnd(f) % 3) {
    case 0:
        return n;
    case 1:
        return 0;
    default:
        return (size_t)(rnd(f) % (n + 1));
    }
}

/* The content of file x after the cut. The page cache writes a sector
 * back whole, with whatever the writes so far made of it, so each sector
 * (512 bytes or 4 KiB, chosen per file) holds its state after some prefix
 * of the pending changes, independently of the others; the size is that
 * after a prefix of its own. A pending write is thus kept (all its sectors
 * took it), dropped (none did) or torn (some did). */
static fv_file *file_after_cut(faultvfs *f, const fv_file *x)
{
    fv_file *y = xmalloc(sizeof *y);
    memset(y, 0, sizeof *y);
    size_t n = x->n_pend;
    y->dur_len = size_after(x, pick_prefix(f, n));
    y->dur = xmalloc(y->dur_len);
    size_t g = rnd(f) % 2 ? 512 : 4096;
    for (size_t lo = 0; lo < y->dur_len; lo += g) {
        size_t hi = MIN(lo + g, y->dur_len), k = n ? pick_prefix(f, n) : 0;
        state_after(x, k, lo, hi, y->dur + lo);
        if (n && k == n)
            f->n_kept++;
        else if (n && k == 0)
            f->n_dropped++;
        else if (n)
            f->n_torn++;
    }
    return y;
}

/* Whether path lies below directory dir. */
static bool below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static void do_cut(faultvfs *f)
{
    if (f->dead)
        return;
    f->dead = true;
    names_copy(&f->after, &f->dur);
    for (size_t i = 0; i < f->n_ops; i++) {
        if (!f->harsh && rnd(f) % 2) {
            dirop_apply(&f->after, &f->ops[i]);
        } else if (f->ops[i].kind == DOP_MKDIR) {
            f->lost_dirs = xrealloc(f->lost_dirs, (f->n_lost_dirs + 1) * sizeof *f->lost_dirs);
            f->lost_dirs[f->n_lost_dirs++] = xstrdup(f->ops[i].a);
        }
    }
    for (size_t d = 0; d < f->n_lost_dirs; d++) {
        for (size_t i = 0; i < f->after.n;) {
            if (below(f->after.v[i].path, f->lost_dirs[d]))
                names_del(&f->after, f->after.v[i].path); /* moves the last name here */
            else
                i++;
        }
    }
    f->after_files = xmalloc(f->n_files * sizeof *f->after_files);
    for (size_t i = 0; i < f->n_files; i++)
        f->after_files[i] = file_after_cut(f, f->files[i]);
}

/* Removes the files below dir, keeping the directories; with dirs_too
 * (where no files are left) the directories, dir included. */
static int remove_tree(const char *dir, bool dirs_too)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = base_path_join(dir, e->d_name);
        struct stat st;
        if (!p || lstat(p, &st) != 0)
            rc = -1;
        else if (S_ISDIR(st.st_mode))
            rc = remove_tree(p, dirs_too);
        else if (unlink(p) != 0)
            rc = -1;
        base_free(p);
    }
    closedir(d);
    return rc || !dirs_too || rmdir(dir) == 0 ? rc : -1;
}

int faultvfs_apply_cut(faultvfs *f, unsigned *kept, unsigned *dropped, unsigned *torn)
{
    pthread_mutex_lock(&f->mu);
    do_cut(f);
    int rc = remove_tree(f->root, false);
    for (size_t d = 0; !rc && d < f->n_lost_dirs; d++) {
        if (remove_tree(f->lost_dirs[d], true) != 0) {
            fprintf(stderr, "faultvfs: cannot remove %s: %s\n", f->lost_dirs[d], strerror(errno));
            rc = -1;
        }
    }
    for (size_t i = 0; !rc && i < f->after.n; i++) {
        const fv_file *y = f->after_files[f->after.v[i].file];
        int fd = open(f->after.v[i].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || base_file_write_all(fd, y->dur, y->dur_len) != STRATA_OK)
            rc = -1;
        if (fd >= 0)
            close(fd);
        if (rc)
            fprintf(stderr, "faultvfs: cannot write %s: %s\n", f->after.v[i].path, strerror(errno));
    }
    if (kept)
        *kept = f->n_kept;
    if (dropped)
        *dropped = f->n_dropped;
    if (torn)
        *torn = f->n_torn;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* ------------------------------------------------------------ operations */

/* Common entry: the hook, the count, an armed failure. Returns a status to
 * fail with (mu not held), or 0. *fire says the armed failure fires. */
static int enter(faultvfs *f, fv_op op, const char *path, uint64_t off, bool *fire)
{
    *fire = false;
    if (f->hook) {
        int rc = f->hook(f->hook_ctx, op, path, off);
        if (rc)
            return rc;
    }
    pthread_mutex_lock(&f->mu);
    f->counts[op]++;
    if (f->fail_after >= 0 && f->fail_op == op && f->fail_after-- == 0) {
        *fire = true;
        f->fail_fired = true;
    }
    pthread_mutex_unlock(&f->mu);
    return STRATA_OK;
}

static const char *fd_path(faultvfs *f, int fd)
{
    return fd >= 0 && fd < FV_MAX_FD && f->fd_path[fd] ? f->fd_path[fd] : "?";
}

static fv_file *fd_file(faultvfs *f, int fd)
{
    if (fd < 0 || fd >= FV_MAX_FD || !f->fd_file[fd])
        return NULL;
    return f->files[f->fd_file[fd] - 1];
}

static int fv_open(void *ctx, const char *path, int flags, int *fd)
{
    faultvfs *f = ctx;
    bool fire, writes = (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
    int rc = enter(f, FV_OPEN, path, 0, &fire);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    pthread_mutex_lock(&f->mu);
    if (f->dead && writes) {
        pthread_mutex_unlock(&f->mu);
        return STRATA_ERR_IO;
    }
    int r = open(path, flags | O_CLOEXEC, 0644);
    if (r < 0) {
        rc = base_errno_status(errno);
        pthread_mutex_unlock(&f->mu);
        return rc;
    }
    if (r >= FV_MAX_FD) {
        close(r);
        pthread_mutex_unlock(&f->mu);
        return STRATA_ERR_IO;
    }
    long i = names_find(&f->cur, path);
    size_t id;
    if (i >= 0) {
        id = f->cur.v[i].file;
        if (flags & O_TRUNC)
            change_add(f->files[id], 0, NULL, 0, true);
    } else if (flags & O_CREAT) {
        struct stat st;
        /* created by this open unless it was on disk before the model */
        if (fstat(r, &st) == 0 && st.st_size > 0 && !(flags & O_TRUNC)) {
            id = file_adopt(f, path);
        } else {
            id = file_new(f);
            names_set(&f->cur, path, id);
            dirop_add(f, DOP_LINK, path, path, NULL, id);
        }
    } else {
        id = file_adopt(f, path);
    }
    f->fd_file[r] = (long)id + 1;
    free(f->fd_path[r]);
    f->fd_path[r] = xstrdup(path);
    pthread_mutex_unlock(&f->mu);
    *fd = r;
    return STRATA_OK;
}

static int fv_close(void *ctx, int fd)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_CLOSE, fd_path(f, fd), 0, &fire);
    pthread_mutex_lock(&f->mu);
    if (fd >= 0 && fd < FV_MAX_FD) {
        f->fd_file[fd] = 0;
        free(f->fd_path[fd]);
        f->fd_path[fd] = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    /* the descriptor is released whatever happens, as on Linux */
    int r = close(fd);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    return r == 0 ? STRATA_OK : base_errno_status(errno);
}

static int fv_pwrite(void *ctx, int fd, const void *p, size_t n, uint64_t off)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_PWRITE, fd_path(f, fd), off, &fire);
    if (rc)
        return rc;
    pthread_mutex_lock(&f->mu);
    if (f->dead) {
        pthread_mutex_unlock(&f->mu);
        return STRATA_ERR_IO;
    }
    size_t w = fire ? n / 2 : n;
    rc = base_file_pwrite_all(fd, p, w, off);
    fv_file *x = fd_file(f, fd);
    if (x && w)
        change_add(x, off, p, w, false);
    pthread_mutex_unlock(&f->mu);
    if (fire)
        return f->fail_status;
    return rc;
}

static int fv_pread(void *ctx, int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_PREAD, fd_path(f, fd), off, &fire);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    return base_file_pread_all(fd, p, n, off, got);
}

static int fv_ftruncate(void *ctx, int fd, uint64_t size)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_FTRUNCATE, fd_path(f, fd), size, &fire);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    pthread_mutex_lock(&f->mu);
    if (f->dead) {
        pthread_mutex_unlock(&f->mu);
        return STRATA_ERR_IO;
    }
    rc = ftruncate(fd, (off_t)size) == 0 ? STRATA_OK : base_errno_status(errno);
    fv_file *x = fd_file(f, fd);
    if (!rc && x)
        change_add(x, size, NULL, 0, true);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* Counts a sync and cuts the power when it is the chosen one; mu held.
 * Returns true when the power is off. */
static bool sync_point(faultvfs *f)
{
    if (f->dead)
        return true;
    f->syncs++;
    if (f->cut_at && f->syncs >= f->cut_at)
        do_cut(f);
    return f->dead;
}

static int fv_fsync(void *ctx, int fd)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_FSYNC, fd_path(f, fd), 0, &fire);
    if (rc)
        return rc;
    pthread_mutex_lock(&f->mu);
    fv_file *x = fd_file(f, fd);
    if (sync_point(f)) {
        rc = STRATA_ERR_IO;
    } else if (fire) {
        /* The writeback failed: the pages are clean again and their data
         * is not on the disk; no later fsync brings it back. */
        if (x)
            pend_clear(x);
        rc = f->fail_status;
    } else if (x) {
        file_sync(x);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int fv_rename(void *ctx, const char *from, const char *to)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_RENAME, from, 0, &fire);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    pthread_mutex_lock(&f->mu);
    if (f->dead) {
        pthread_mutex_unlock(&f->mu);
        return STRATA_ERR_IO;
    }
    long i = names_find(&f->cur, from);
    if (i < 0) {
        (void)file_adopt(f, from); /* on disk before the model: durable as it is */
        i = names_find(&f->cur, from);
    }
    if (rename(from, to) != 0) {
        rc = base_errno_status(errno);
        pthread_mutex_unlock(&f->mu);
        return rc;
    }
    size_t id = f->cur.v[i].file;
    names_del(&f->cur, from);
    names_set(&f->cur, to, id);
    char *da = dir_of(from), *db = dir_of(to);
    if (strcmp(da, db) == 0) {
        dirop_add(f, DOP_RENAME, from, from, to, id);
    } else {
        dirop_add(f, DOP_UNLINK, from, from, NULL, id);
        dirop_add(f, DOP_LINK, to, to, NULL, id);
    }
    free(da);
    free(db);
    pthread_mutex_unlock(&f->mu);
    return STRATA_OK;
}

static int fv_unlink(void *ctx, const char *path)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_UNLINK, path, 0, &fire);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    pthread_mutex_lock(&f->mu);
    if (f->dead) {
        pthread_mutex_unlock(&f->mu);
        return STRATA_ERR_IO;
    }
    if (unlink(path) != 0) {
        rc = base_errno_status(errno);
    } else {
        long i = names_find(&f->cur, path);
        size_t id = i >= 0 ? f->cur.v[i].file : 0;
        names_del(&f->cur, path);
        dirop_add(f, DOP_UNLINK, path, path, NULL, id);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int fv_mkdir(void *ctx, const char *path)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_MKDIR, path, 0, &fire);
    if (rc || fire)
        return rc ? rc : f->fail_status;
    if (f->dead) {
        struct stat st;
        return stat(path, &st) == 0 ? STRATA_OK : STRATA_ERR_IO;
    }
    struct stat st;
    bool existed = stat(path, &st) == 0;
    rc = base_file_mkdir(path);
    if (rc == STRATA_OK && !existed) {
        pthread_mutex_lock(&f->mu);
        dirop_add(f, DOP_MKDIR, path, path, NULL, 0);
        pthread_mutex_unlock(&f->mu);
    }
    return rc;
}

static int fv_fsync_dir(void *ctx, const char *dir)
{
    faultvfs *f = ctx;
    bool fire;
    int rc = enter(f, FV_FSYNC_DIR, dir, 0, &fire);
    if (rc)
        return rc;
    pthread_mutex_lock(&f->mu);
    if (sync_point(f)) {
        rc = STRATA_ERR_IO;
    } else if (fire) {
        rc = f->fail_status;
    } else {
        size_t k = 0;
        for (size_t i = 0; i < f->n_ops; i++) {
            if (strcmp(f->ops[i].dir, dir) == 0) {
                dirop_apply(&f->dur, &f->ops[i]);
                dirop_free(&f->ops[i]);
            } else {
                f->ops[k++] = f->ops[i];
            }
        }
        f->n_ops = k;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int fv_mmap_ro(void *ctx, int fd, size_t len, const void **map)
{
    (void)ctx;
    return base_vfs_posix()->mmap_ro(NULL, fd, len, map);
}

static void fv_munmap(void *ctx, const void *map, size_t len)
{
    (void)ctx;
    base_vfs_posix()->munmap(NULL, map, len);
}

/* ------------------------------------------------------------ setup */

faultvfs *faultvfs_new(const char *root, uint64_t seed)
{
    faultvfs *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->root = xstrdup(root);
    pthread_mutex_init(&f->mu, NULL);
    f->rng = seed;
    f->fail_after = -1;
    f->vfs = (base_vfs){fv_open,   fv_close,  fv_pwrite, fv_pread,     fv_ftruncate, fv_fsync, fv_fsync,
                        fv_rename, fv_unlink, fv_mkdir,  fv_fsync_dir, fv_mmap_ro,   fv_munmap, f};
    return f;
}

static void file_free(fv_file *x)
{
    if (!x)
        return;
    pend_clear(x);
    free(x->pend);
    free(x->dur);
    free(x);
}

void faultvfs_free(faultvfs *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_files; i++) {
        file_free(f->files[i]);
        if (f->after_files)
            file_free(f->after_files[i]);
    }
    free(f->files);
    free(f->after_files);
    for (size_t i = 0; i < f->n_ops; i++)
        dirop_free(&f->ops[i]);
    free(f->ops);
    for (size_t i = 0; i < FV_MAX_FD; i++)
        free(f->fd_path[i]);
    names_free(&f->cur);
    names_free(&f->dur);
    names_free(&f->after);
    for (size_t i = 0; i < f->n_lost_dirs; i++)
        free(f->lost_dirs[i]);
    free(f->lost_dirs);
    pthread_mutex_destroy(&f->mu);
    free(f->root);
    free(f);
}

const base_vfs *faultvfs_vfs(faultvfs *f) { return &f->vfs; }

void faultvfs_fail(faultvfs *f, fv_op op, long after, int status)
{
    pthread_mutex_lock(&f->mu);
    f->fail_op = op;
    f->fail_after = after;
    f->fail_status = status;
    f->fail_fired = false;
    pthread_mutex_unlock(&f->mu);
}

bool faultvfs_failed(const faultvfs *f) { return f->fail_fired; }

void faultvfs_set_hook(faultvfs *f, fv_hook hook, void *ctx)
{
    f->hook = hook;
    f->hook_ctx = ctx;
}

uint64_t faultvfs_count(const faultvfs *f, fv_op op) { return f->counts[op]; }
uint64_t faultvfs_syncs(const faultvfs *f) { return f->syncs; }

void faultvfs_cut_at_sync(faultvfs *f, uint64_t n) { f->cut_at = n; }

void faultvfs_cut_now(faultvfs *f)
{
    pthread_mutex_lock(&f->mu);
    do_cut(f);
    pthread_mutex_unlock(&f->mu);
}

bool faultvfs_cut_done(const faultvfs *f) { return f->dead; }

void faultvfs_set_harsh(faultvfs *f, bool harsh) { f->harsh = harsh; }
