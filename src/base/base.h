/*
 * base.h: the leaf layer every other layer uses: status codes (shared with
 * the public API), allocation through one wrapper, growable byte buffers,
 * varints, CRC32C, little-endian loads and stores, and durable file I/O.
 *
 * Nothing here knows about time series.
 */
#ifndef STRATA_BASE_H
#define STRATA_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "strata.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* ------------------------------------------------------------ allocation
 * Every allocation goes through these so a test can make the Nth one fail
 * (base_alloc_fail_after). They return NULL on failure; callers turn that
 * into STRATA_ERR_NOMEM. */
void *base_malloc(size_t n);
void *base_calloc(size_t n, size_t size);
void *base_realloc(void *p, size_t n);
/* Grows the array *p of *cap elements of elem bytes so it holds at least
 * need (doubling, at least 16): STRATA_OK, or STRATA_ERR_NOMEM with *p and
 * *cap unchanged (also when the size would overflow). */
int base_grow(void **p, size_t *cap, size_t need, size_t elem);
void base_free(void *p);
char *base_strdup(const char *s);
char *base_strndup(const char *s, size_t n);
/* Test hook: the allocation after n more succeed fails; -1 disables. */
void base_alloc_fail_after(long n);

/* ------------------------------------------------------------ buffers
 * A growable byte buffer. Zero-initialised is empty and valid. */
typedef struct bbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} bbuf;

int base_buf_reserve(bbuf *b, size_t extra); /* ensures cap >= len + extra */
int base_buf_append(bbuf *b, const void *p, size_t n);
int base_buf_put_u8(bbuf *b, uint8_t v);
int base_buf_put_u32le(bbuf *b, uint32_t v);
int base_buf_put_u64le(bbuf *b, uint64_t v);
int base_buf_put_uvarint(bbuf *b, uint64_t v);
int base_buf_put_svarint(bbuf *b, int64_t v); /* zig-zag */
void base_buf_reset(bbuf *b);                 /* len = 0, keeps memory */
void base_buf_free(bbuf *b);

/* ------------------------------------------------------------ encoding helpers */

static inline uint64_t zigzag_enc(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t zigzag_dec(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static inline void store_u16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void store_u32le(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* little-endian hosts only */
static inline void store_u64le(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t load_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t load_u32le(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t load_u64le(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Writes v as a LEB128 varint into p (at least 10 bytes); returns bytes written. */
size_t base_uvarint_put(uint8_t *p, uint64_t v);
/* Reads a varint from [p, end): returns bytes read, 0 when truncated or
 * longer than 10 bytes (corrupt input, never a crash). */
size_t base_uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *v);
size_t base_svarint_get(const uint8_t *p, const uint8_t *end, int64_t *v);

/* ------------------------------------------------------------ CRC32C
 * Castagnoli polynomial, as RFC 3720; the SSE4.2 instruction when the CPU
 * has it (checked once at run time), a slicing-by-8 table otherwise.
 * base_crc32c(0, p, n) is the checksum of p; pass a previous result to extend. */
uint32_t base_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t base_crc32c_portable(uint32_t crc, const void *p, size_t n);
bool base_crc32c_hw_available(void);

/* ------------------------------------------------------------ file I/O
 * The POSIX primitives behind base_vfs_posix(). The layers above call the
 * base_vfs_* functions instead, so that every write can be seen by a test.
 * All return a status and keep errno's meaning in the log message; ENOSPC
 * and EDQUOT map to STRATA_ERR_NOSPACE, other failures to STRATA_ERR_IO. */
int base_errno_status(int err);
/* write(2) in a loop over short writes and EINTR. */
int base_file_write_all(int fd, const void *p, size_t n);
/* pwrite(2) likewise. */
int base_file_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
/* read(2)/pread(2) in a loop; *got may be short only at end of file. */
int base_file_pread_all(int fd, void *p, size_t n, uint64_t off, size_t *got);
int base_file_fsync(int fd);
/* fsync of a directory, making a rename or create in it durable. */
int base_file_fsync_dir(const char *dir);
/* Durable replace: writes to path.tmp, fsync, rename over path, fsync dir. */
int base_file_write_atomic(const char *dir, const char *name, const void *p, size_t n);
/* Reads a whole file into *out (caller frees with base_free). */
int base_file_read_all(const char *path, uint8_t **out, size_t *len);
/* mkdir of one level; EEXIST is success. */
int base_file_mkdir(const char *path);
/* mkdir -p: every missing parent too. */
int base_file_mkdir_p(const char *path);
/* Joins dir and name into a new string (caller frees) or NULL. */
char *base_path_join(const char *dir, const char *name);

/* ------------------------------------------------------------ the I/O seam
 * Every file the engine writes, syncs, renames or deletes (WAL segments,
 * tables, the manifest and CURRENT, the series log, LOCK, VERSION, DIRTY,
 * quarantine) goes through a base_vfs, so a test can stand between the
 * engine and the disk: fail the Nth write, fsync or rename, or model the
 * page cache and cut the power (tests/unit/faultvfs.c). The default is
 * POSIX (base_vfs_posix). Listing a directory and stat are not part of the
 * seam: a vfs must keep the real directory's names in step with what it
 * reports (a pass-through one does).
 *
 * Every operation returns a status: STRATA_OK, or STRATA_ERR_NOSPACE,
 * STRATA_ERR_IO, STRATA_ERR_NOTFOUND, STRATA_ERR_NOMEM, STRATA_ERR_READONLY
 * as base_errno_status maps errno. A failed pwrite may have written a
 * prefix of its bytes, as the kernel may. Files are identified by file
 * descriptors; a vfs that is not POSIX underneath must hand out its own. */
typedef struct base_vfs {
    /* open(2) with flags from <fcntl.h> (O_CLOEXEC is added), mode 0644. */
    int (*open)(void *ctx, const char *path, int flags, int *fd);
    int (*close)(void *ctx, int fd);
    /* All n bytes at off (short writes and EINTR retried). */
    int (*pwrite)(void *ctx, int fd, const void *p, size_t n, uint64_t off);
    /* *got may be short only at end of file. */
    int (*pread)(void *ctx, int fd, void *p, size_t n, uint64_t off, size_t *got);
    int (*ftruncate)(void *ctx, int fd, uint64_t size);
    int (*fsync)(void *ctx, int fd);
    /* The data and the size (what reading it back needs), not the mtime. */
    int (*fdatasync)(void *ctx, int fd);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path); /* ENOENT is STRATA_ERR_NOTFOUND */
    int (*mkdir)(void *ctx, const char *path); /* EEXIST is success */
    /* fsync of a directory: makes the creates, renames and unlinks of names
     * in it durable. */
    int (*fsync_dir)(void *ctx, const char *dir);
    /* A read-only shared mapping of the first len bytes of fd (len > 0). */
    int (*mmap_ro)(void *ctx, int fd, size_t len, const void **map);
    void (*munmap)(void *ctx, const void *map, size_t len);
    void *ctx;
} base_vfs;

/* The default: the system calls themselves. Lives for the whole program. */
const base_vfs *base_vfs_posix(void);

/* The operations of v, or of base_vfs_posix() when v is NULL (so an
 * options struct left zeroed means the real disk). */
int base_vfs_open(const base_vfs *v, const char *path, int flags, int *fd);
int base_vfs_close(const base_vfs *v, int fd);
int base_vfs_pwrite(const base_vfs *v, int fd, const void *p, size_t n, uint64_t off);
int base_vfs_pread(const base_vfs *v, int fd, void *p, size_t n, uint64_t off, size_t *got);
int base_vfs_ftruncate(const base_vfs *v, int fd, uint64_t size);
int base_vfs_fsync(const base_vfs *v, int fd);
int base_vfs_fdatasync(const base_vfs *v, int fd);
int base_vfs_rename(const base_vfs *v, const char *from, const char *to);
int base_vfs_unlink(const base_vfs *v, const char *path);
int base_vfs_mkdir(const base_vfs *v, const char *path);
int base_vfs_fsync_dir(const base_vfs *v, const char *dir);
int base_vfs_mmap_ro(const base_vfs *v, int fd, size_t len, const void **map);
void base_vfs_munmap(const base_vfs *v, const void *map, size_t len);
/* Durable replace through v: writes dir/name.tmp, fsync, rename over
 * dir/name, fsync of dir. On failure before the rename the .tmp is removed. */
int base_vfs_write_atomic(const base_vfs *v, const char *dir, const char *name, const void *p, size_t n);
/* Reads a whole file through v into *out (NUL-terminated past *len; the
 * caller frees with base_free). */
int base_vfs_read_all(const base_vfs *v, const char *path, uint8_t **out, size_t *len);
/* mkdir -p through v. */
int base_vfs_mkdir_p(const base_vfs *v, const char *path);

/* ------------------------------------------------------------ logging */

typedef struct base_log {
    void (*fn)(void *ctx, int level, const char *msg);
    void *ctx;
} base_log;

/* Logs through log (which may be NULL or have no fn). Errors and warnings
 * also become this thread's last error message (strata_errmsg). */
void base_logf(const base_log *log, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets this thread's last error message without logging it. */
void base_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------ time */
int64_t base_now_ms(void);       /* wall clock */
uint64_t base_mono_ns(void);     /* monotonic */

/* A label with the lengths of its strings (which need not be
 * NUL-terminated unless the producer says so): what text decoders return
 * and encoders take. */
typedef struct base_label {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} base_label;

#endif /* STRATA_BASE_H */
