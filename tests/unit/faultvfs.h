/*
 * faultvfs.h: a base_vfs for tests: fails chosen operations (EIO, ENOSPC),
 * calls a hook before each (to count, hold or _exit), and models the page
 * cache so a power cut can be simulated at any sync (faultvfs.c explains
 * the model). Needs only base, so every layer's tests can use it.
 */
#ifndef STRATA_TEST_FAULTVFS_H
#define STRATA_TEST_FAULTVFS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

typedef enum fv_op {
    FV_OPEN,
    FV_CLOSE,
    FV_PWRITE,
    FV_PREAD,
    FV_FTRUNCATE,
    FV_FSYNC, /* fsync and fdatasync of a file */
    FV_RENAME,
    FV_UNLINK,
    FV_MKDIR,
    FV_FSYNC_DIR,
    FV_N_OPS
} fv_op;

typedef struct faultvfs faultvfs;

/* A vfs over the real directory tree below root (which should be empty or
 * absent: files found there are taken as durable). seed drives the choices
 * made at a power cut. NULL when out of memory. */
faultvfs *faultvfs_new(const char *root, uint64_t seed);
void faultvfs_free(faultvfs *f);
const base_vfs *faultvfs_vfs(faultvfs *f);

/* The op of kind op after `after` more of them succeed fails with status
 * (once); a failing pwrite writes the first half of its bytes first, as a
 * kernel that ran out of space may. after < 0 disarms. A failed fsync
 * loses the file's unsynced writes for good (Linux marks the pages clean:
 * a later fsync succeeds without them). */
void faultvfs_fail(faultvfs *f, fv_op op, long after, int status);
/* Whether the armed failure fired. */
bool faultvfs_failed(const faultvfs *f);

/* Called before every operation with its path (for fd operations, the path
 * it was opened by) and offset (pwrite, ftruncate; else 0). A non-zero
 * return fails the operation with that status without doing it. */
typedef int (*fv_hook)(void *ctx, fv_op op, const char *path, uint64_t off);
void faultvfs_set_hook(faultvfs *f, fv_hook hook, void *ctx);

/* Operations of kind op so far. */
uint64_t faultvfs_count(const faultvfs *f, fv_op op);
/* Syncs so far: fsync, fdatasync and directory fsync, each counted once. */
uint64_t faultvfs_syncs(const faultvfs *f);

/* The power fails at sync number n (from 1), before that sync takes
 * effect: it and every later write, sync, rename or unlink fail with
 * STRATA_ERR_IO and change nothing. 0 disarms. */
void faultvfs_cut_at_sync(faultvfs *f, uint64_t n);
/* Cuts the power now (when it has not been cut yet). */
void faultvfs_cut_now(faultvfs *f);
bool faultvfs_cut_done(const faultvfs *f);
/* harsh: at the cut every unsynced write and directory operation is lost
 * (LevelDB's fault_injection_test); otherwise each is kept, lost or torn
 * at random. */
void faultvfs_set_harsh(faultvfs *f, bool harsh);

/* Rewrites the tree below root into what the disk holds after the cut:
 * call it once the engine that used f is closed. Returns 0, or -1 with a
 * message on stderr. The sectors with pending writes that got all of them,
 * none, or some are counted in *kept, *dropped and *torn (may be NULL). */
int faultvfs_apply_cut(faultvfs *f, unsigned *kept, unsigned *dropped, unsigned *torn);

#endif /* STRATA_TEST_FAULTVFS_H */
