/*
 * log.c: series.log, the persisted series dictionary: an append-only file
 * of checksummed records, loaded at open, a damaged tail truncated.
 *
 * File format (version 1). Integers are little-endian; "uvarint" is
 * LEB128 (base.h). Offsets are in bytes.
 *
 *   header, 16 bytes:
 *     0   8  magic "STRSERLG"
 *     8   4  u32 format version = 1
 *     12  4  u32 crc32c of bytes 0..11
 *   then records, back to back until the end of the file:
 *     0   4  u32 len: bytes of type + body, 1 .. 2^24
 *     4   4  u32 crc32c of the len bytes that follow (type and body)
 *     8   1  type
 *     9   len-1 body
 *
 *   type 1, NAME: body = the label name (1 .. 2^24-64 bytes, no NUL byte).
 *     Its name id is the number of NAME records before it (0, 1, ...).
 *   type 2, PAIR: body = uvarint name_id, then the value bytes (non-empty,
 *     no NUL). Its pair id is the number of PAIR records before it.
 *   type 3, SERIES: body = uvarint sid, uvarint n (1 .. 65535), then n
 *     uvarint pair ids whose names are strictly ascending (bytewise): the
 *     canonical labels of series sid.
 *
 *   A NAME or PAIR record is written just before the first SERIES record
 *   that uses it, in the same write(2). Names, pairs, sids and label sets
 *   are each defined once; a sid may be at most INDEX_MAX_SID_GAP above
 *   the largest before it (gaps come from WAL replay only).
 *
 * Why a dictionary of names and pairs rather than labels spelled out per
 * series: most series share most pairs, so the file is a fraction of the
 * size, and loading a series is array look-ups plus a sum of cached pair
 * hashes: no string is hashed or compared twice.
 *
 * Loading (load_records): a framing pass counts the series and the arena
 * bytes, so the directory, the hash table and one arena chunk are
 * allocated once at their final size (huge pages hinted); each SERIES
 * record is then decoded straight into its arena record, names checked
 * ascending by precomputed rank; postings are only counted per pair and
 * built at the end at their exact size, in sid order (so sorted even when
 * replay left the sids out of order in the file).
 *
 * Loading stops at the first record that is short, fails its CRC, or
 * breaks a rule above; the bytes from there on are truncated (unless
 * read-only) and counted. A damaged header is STRATA_ERR_CORRUPT (another
 * version: STRATA_ERR_VERSION): losing the whole dictionary silently would
 * make every table unreadable. A file shorter than the header, or of zero
 * bytes only, is a torn creation and is started afresh: the header is
 * fsynced (with the directory entry) before any record is appended.
 *
 * Durability: records are written at once (or when log_buffer_bytes
 * fill) and made durable by index_sync. The bytes written since the last
 * successful fsync are kept in memory until one covers them, and after a
 * failed fsync they are written again before the next one.
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_int.h"

#define LOG_MAGIC "STRSERLG"
#define LOG_VERSION 1u
#define HDR_BYTES 16u
#define REC_HDR 8u
#define REC_MAX (1u << 24)

enum { REC_NAME = 1, REC_PAIR = 2, REC_SERIES = 3 };

static void make_header(uint8_t h[HDR_BYTES])
{
    memcpy(h, LOG_MAGIC, 8);
    store_u32le(h + 8, LOG_VERSION);
    store_u32le(h + 12, base_crc32c(0, h, 12));
}

/* ------------------------------------------------------------ appending */

/* Writers into reserved space (create_locked reserves the bytes). */
static size_t rec_begin(bbuf *b, uint8_t type)
{
    size_t start = b->len;
    b->len += REC_HDR;
    b->data[b->len++] = type;
    return start;
}

static void rec_bytes(bbuf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void rec_uvarint(bbuf *b, uint64_t v) { b->len += base_uvarint_put(b->data + b->len, v); }

static void rec_end(bbuf *b, size_t start)
{
    uint32_t len = (uint32_t)(b->len - start - REC_HDR);
    store_u32le(b->data + start, len);
    store_u32le(b->data + start + 4, base_crc32c(0, b->data + start + REC_HDR, len));
}

int ix_log_flush(strata_index *idx)
{
    if (idx->fd < 0 || idx->pending.len == 0)
        return STRATA_OK;
    /* pwrite at the known end: a partial write of an earlier failed
     * attempt is simply overwritten. */
    int rc = base_vfs_pwrite(idx->opts.vfs, idx->fd, idx->pending.data, idx->pending.len, idx->log_size);
    if (rc != 0) {
        idx->log_write_errors++;
        return rc;
    }
    /* Kept until an fsync covers them: after a failed fsync the kernel may
     * have dropped them, and index_sync writes them again. */
    if ((rc = base_buf_append(&idx->unsynced, idx->pending.data, idx->pending.len)) != 0) {
        idx->resync = 1; /* cannot keep them: the next sync must not trust the page cache */
        base_buf_reset(&idx->unsynced);
    }
    idx->log_size += idx->pending.len;
    base_buf_reset(&idx->pending);
    return STRATA_OK;
}

int ix_log_append_series(strata_index *idx, const ix_series *s, ix_value *const *vals)
{
    bbuf *b = &idx->pending;
    size_t st;
    for (uint32_t i = 0; i < s->n; i++) {
        ix_name *nm = vals[i]->name;
        if (nm->log_id == UINT32_MAX) {
            st = rec_begin(b, REC_NAME);
            rec_bytes(b, nm->str, nm->len);
            rec_end(b, st);
            nm->log_id = idx->log_names++;
        }
        if (vals[i]->log_id == UINT32_MAX) {
            st = rec_begin(b, REC_PAIR);
            rec_uvarint(b, nm->log_id);
            rec_bytes(b, vals[i]->str, vals[i]->len);
            rec_end(b, st);
            vals[i]->log_id = idx->log_pairs++;
        }
    }
    st = rec_begin(b, REC_SERIES);
    rec_uvarint(b, s->sid);
    rec_uvarint(b, s->n);
    for (uint32_t i = 0; i < s->n; i++)
        rec_uvarint(b, vals[i]->log_id);
    rec_end(b, st);
    if (b->len > idx->opts.log_buffer_bytes)
        return ix_log_flush(idx);
    return STRATA_OK;
}

int index_sync(strata_index *idx)
{
    int rc = STRATA_OK;
    pthread_mutex_lock(&idx->wmu);
    if (idx->fd >= 0 && (rc = ix_log_flush(idx)) == 0) {
        /* After a failed fsync the written records are rewritten before
         * the next: Linux marks the pages of a failed writeback clean, so a
         * second fsync would succeed without them (the "fsyncgate" of
         * PostgreSQL), and the engine would drop the WAL segments that
         * still hold those series. */
        if (idx->resync && idx->unsynced.len != idx->log_size - idx->synced_size)
            rc = STRATA_ERR_IO; /* the copy was lost to an allocation failure: refuse, as the WAL is still needed */
        else if (idx->resync)
            rc = base_vfs_pwrite(idx->opts.vfs, idx->fd, idx->unsynced.data, idx->unsynced.len, idx->synced_size);
        if (rc == STRATA_OK && (rc = base_vfs_fdatasync(idx->opts.vfs, idx->fd)) == 0) {
            idx->synced_size = idx->log_size;
            idx->resync = 0;
            base_buf_reset(&idx->unsynced);
        } else {
            idx->resync = 1;
        }
        if (rc == STRATA_OK && idx->dir_unsynced && (rc = base_vfs_fsync_dir(idx->opts.vfs, idx->dirpath)) == 0)
            idx->dir_unsynced = 0;
    }
    pthread_mutex_unlock(&idx->wmu);
    return rc;
}

void ix_log_close(strata_index *idx)
{
    if (idx->fd >= 0)
        (void)base_vfs_close(idx->opts.vfs, idx->fd); /* the caller flushed; what is not synced was never promised */
    idx->fd = -1;
    base_buf_free(&idx->pending);
    base_buf_free(&idx->unsynced);
    base_free(idx->path);
    base_free(idx->dirpath);
    idx->path = idx->dirpath = NULL;
}

/* ------------------------------------------------------------ loading */

typedef struct loader {
    ix_name **names;
    uint32_t n_names, cap_names;
    ix_value **pairs;
    uint32_t *pair_name; /* name id of each pair */
    uint32_t n_pairs, cap_pairs;
    /* rank[name id]: the name's place in bytewise order among the names
     * defined so far, so that checking a series' names ascend is one
     * integer comparison per label. Recomputed when a name was added
     * since (rank_n < n_names); beyond RANK_MAX names, strcmp instead. */
    uint32_t *rank;
    uint32_t rank_n;
} loader;

#define RANK_MAX 4096u

static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp((*(ix_name *const *)a)->str, (*(ix_name *const *)b)->str);
}

static int rank_names(loader *ld)
{
    uint32_t n = ld->n_names;
    ix_name **v = base_malloc((size_t)n * sizeof *v);
    uint32_t *r = base_realloc(ld->rank, (size_t)n * sizeof *r);
    if (!v || !r) {
        base_free(v);
        if (r)
            ld->rank = r;
        return STRATA_ERR_NOMEM;
    }
    memcpy(v, ld->names, (size_t)n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_name_ptr);
    for (uint32_t i = 0; i < n; i++)
        r[v[i]->log_id] = i;
    base_free(v);
    ld->rank = r;
    ld->rank_n = n;
    return STRATA_OK;
}

static int grow(void **arr, uint32_t *cap, size_t elem)
{
    uint32_t nc = *cap ? *cap * 2 : 64;
    void *p = base_realloc(*arr, (size_t)nc * elem);
    if (!p)
        return STRATA_ERR_NOMEM;
    *arr = p;
    *cap = nc;
    return STRATA_OK;
}

/* uvarint_get with the cases of up to three bytes inline (ids and sids
 * below 2^21); same values and lengths as uvarint_get. */
static inline size_t get_uv(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    size_t left = (size_t)(end - p);
    if (left >= 3) {
        if (p[0] < 0x80) {
            *v = p[0];
            return 1;
        }
        if (p[1] < 0x80) {
            *v = (p[0] & 0x7fu) | ((uint64_t)p[1] << 7);
            return 2;
        }
        if (p[2] < 0x80) {
            *v = (p[0] & 0x7fu) | ((uint64_t)(p[1] & 0x7fu) << 7) | ((uint64_t)p[2] << 14);
            return 3;
        }
    } else if (left >= 1 && p[0] < 0x80) {
        *v = p[0];
        return 1;
    }
    return base_uvarint_get(p, end, v);
}

/* Returns STRATA_OK, STRATA_ERR_CORRUPT (the record breaks a rule: stop
 * loading here) or STRATA_ERR_NOMEM. */
static int load_name(strata_index *idx, loader *ld, const uint8_t *p, size_t n)
{
    if (n == 0 || n > INDEX_HARD_MAX_STR || memchr(p, 0, n))
        return STRATA_ERR_CORRUPT;
    if (ld->n_names == UINT32_MAX - 1)
        return STRATA_ERR_CORRUPT;
    if (ld->n_names == ld->cap_names && grow((void **)&ld->names, &ld->cap_names, sizeof *ld->names) != 0)
        return STRATA_ERR_NOMEM;
    pthread_rwlock_wrlock(&idx->plock);
    uint32_t before = idx->n_names;
    ix_name *nm = ix_name_intern(idx, (const char *)p, n);
    pthread_rwlock_unlock(&idx->plock);
    if (!nm)
        return STRATA_ERR_NOMEM;
    if (idx->n_names == before) /* defined twice */
        return STRATA_ERR_CORRUPT;
    nm->log_id = ld->n_names;
    ld->names[ld->n_names++] = nm;
    return STRATA_OK;
}

static int load_pair(strata_index *idx, loader *ld, const uint8_t *p, size_t n)
{
    uint64_t id;
    size_t k = base_uvarint_get(p, p + n, &id);
    if (!k || id >= ld->n_names || n - k == 0 || n - k > INDEX_HARD_MAX_STR || memchr(p + k, 0, n - k))
        return STRATA_ERR_CORRUPT;
    if (ld->n_pairs == UINT32_MAX - 1)
        return STRATA_ERR_CORRUPT;
    if (ld->n_pairs == ld->cap_pairs) {
        uint32_t cap = ld->cap_pairs;
        uint32_t *pn = base_realloc(ld->pair_name, (size_t)(cap ? cap * 2 : 64) * sizeof *pn);
        if (!pn)
            return STRATA_ERR_NOMEM;
        ld->pair_name = pn;
        if (grow((void **)&ld->pairs, &ld->cap_pairs, sizeof *ld->pairs) != 0)
            return STRATA_ERR_NOMEM;
    }
    ix_name *nm = ld->names[id];
    pthread_rwlock_wrlock(&idx->plock);
    uint32_t before = nm->nvals;
    ix_value *v = ix_value_intern(idx, nm, (const char *)p + k, n - k);
    pthread_rwlock_unlock(&idx->plock);
    if (!v)
        return STRATA_ERR_NOMEM;
    if (nm->nvals == before)
        return STRATA_ERR_CORRUPT;
    v->log_id = ld->n_pairs;
    ld->pair_name[ld->n_pairs] = (uint32_t)id;
    ld->pairs[ld->n_pairs++] = v;
    return STRATA_OK;
}

/* The series record is built in place (labels pointing at the interned
 * strings) and its hash summed from the pairs' cached hashes: no string
 * is read. The CRC has vouched for the bytes; what is checked here is
 * what the index relies on: ids defined, names ascending, sid fresh and
 * plausible, label set new. */
static int load_series(strata_index *idx, loader *ld, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    uint64_t sid, cnt, id;
    size_t k;
    if (!(k = get_uv(p, end, &sid)))
        return STRATA_ERR_CORRUPT;
    p += k;
    if (!(k = get_uv(p, end, &cnt)) || cnt == 0 || cnt > INDEX_HARD_MAX_LABELS || cnt > (uint64_t)(end - p))
        return STRATA_ERR_CORRUPT;
    p += k;
    uint32_t next = atomic_load_explicit(&idx->next_sid, memory_order_relaxed);
    if (sid == 0 || sid > INDEX_MAX_SID || sid > (uint64_t)next + INDEX_MAX_SID_GAP || ix_series_get(idx, sid))
        return STRATA_ERR_CORRUPT;
    /* A record rejected below leaves this allocation unused in the arena:
     * only the last record read can be rejected. */
    ix_series *s = ix_arena_alloc(idx, sizeof *s + (size_t)cnt * sizeof s->l[0]);
    if (!s)
        return STRATA_ERR_NOMEM;
    uint64_t sum = 0;
    if (ld->rank_n < ld->n_names && ld->n_names <= RANK_MAX) {
        int rc = rank_names(ld);
        if (rc != 0)
            return rc;
    }
    const uint32_t *rank = ld->rank_n == ld->n_names ? ld->rank : NULL;
    uint32_t prev = UINT32_MAX; /* name id */
    for (uint64_t i = 0; i < cnt; i++) {
        if (!(k = get_uv(p, end, &id)) || id >= ld->n_pairs)
            return STRATA_ERR_CORRUPT;
        p += k;
        ix_value *v = ld->pairs[id];
        uint32_t nid = ld->pair_name[id];
        if (i > 0 && (rank ? rank[prev] >= rank[nid] : strcmp(ld->names[prev]->str, ld->names[nid]->str) >= 0))
            return STRATA_ERR_CORRUPT;
        prev = nid;
        s->l[i].name = v->name->str;
        s->l[i].value = v->str;
        sum += v->phash;
    }
    if (p != end)
        return STRATA_ERR_CORRUPT;
    s->hash = ix_mix(sum);
    s->sid = (uint32_t)sid;
    s->n = (uint32_t)cnt;
    if (ix_find_interned(idx, s->l, (size_t)cnt, s->hash))
        return STRATA_ERR_CORRUPT;
    return ix_series_load(idx, s);
}

/* Parses data[HDR_BYTES..size); *good receives the end of the last good
 * record. Only STRATA_ERR_NOMEM is returned as an error. */
static int load_records(strata_index *idx, const uint8_t *data, size_t size, size_t *good)
{
    size_t off = HDR_BYTES, nseries = 0;
    int rc;
    loader *ld = base_calloc(1, sizeof *ld);
    if (!ld)
        return STRATA_ERR_NOMEM;
    /* Count the series and the arena bytes first (framing and label
     * counts only, an upper bound if the file is damaged: at most a few
     * times its size) to size the tables and the arena once. */
    uint64_t arena = 0;
    for (size_t o = HDR_BYTES; size - o >= REC_HDR;) {
        uint32_t len = load_u32le(data + o);
        if (len == 0 || len > REC_MAX || len > size - o - REC_HDR)
            break;
        const uint8_t *b = data + o + REC_HDR, *e = b + len;
        uint64_t sid, cnt;
        size_t k;
        if (b[0] == REC_SERIES) {
            nseries++;
            if ((k = get_uv(b + 1, e, &sid)) != 0 && get_uv(b + 1 + k, e, &cnt) != 0 && cnt <= len)
                arena += (sizeof(ix_series) + cnt * sizeof(strata_label) + 7) & ~(uint64_t)7;
        } else {
            arena += sizeof(ix_value) + len + 12;
        }
        o += REC_HDR + len;
    }
    if ((rc = ix_presize(idx, nseries)) != 0 || (arena < SIZE_MAX / 2 && (rc = ix_arena_reserve(idx, (size_t)arena)) != 0))
        goto out;
    idx->loading = 1;
    while (size - off >= REC_HDR) {
        uint32_t len = load_u32le(data + off), crc = load_u32le(data + off + 4);
        if (len == 0 || len > REC_MAX || len > size - off - REC_HDR)
            break;
        const uint8_t *body = data + off + REC_HDR;
        if (base_crc32c(0, body, len) != crc)
            break;
        switch (body[0]) {
        case REC_NAME: rc = load_name(idx, ld, body + 1, len - 1); break;
        case REC_PAIR: rc = load_pair(idx, ld, body + 1, len - 1); break;
        case REC_SERIES: rc = load_series(idx, ld, body + 1, len - 1); break;
        default: rc = STRATA_ERR_CORRUPT; break;
        }
        if (rc == STRATA_ERR_CORRUPT) {
            rc = STRATA_OK;
            break;
        }
        if (rc != 0)
            break;
        off += REC_HDR + len;
        idx->load_records++;
    }
    if (rc == 0)
        rc = ix_load_postings(idx);
    idx->loading = 0;
    idx->log_names = ld->n_names;
    idx->log_pairs = ld->n_pairs;
out:
    base_free(ld->names);
    base_free(ld->pairs);
    base_free(ld->pair_name);
    base_free(ld->rank);
    base_free(ld);
    *good = off;
    return rc;
}

static int read_fd(const base_vfs *vfs, int fd, size_t size, uint8_t **out)
{
    uint8_t *d = base_malloc(size ? size : 1);
    size_t got = 0;
    int rc;
    if (!d)
        return STRATA_ERR_NOMEM;
    if ((rc = base_vfs_pread(vfs, fd, d, size, 0, &got)) != 0 || got != size) {
        base_free(d);
        return rc ? rc : STRATA_ERR_IO;
    }
    *out = d;
    return STRATA_OK;
}

static int write_fresh(strata_index *idx)
{
    uint8_t h[HDR_BYTES];
    int rc;
    make_header(h);
    /* The header is made durable, with the file's name, before any record
     * follows it. Without that fsync a power cut could keep the file's new
     * size but not its first sector (file systems that allocate late show
     * zeros there), and a series log with a zeroed header refuses to open
     * as "not a series log", where lost records alone are only a damaged
     * tail that the WAL replays again. */
    if ((rc = base_vfs_ftruncate(idx->opts.vfs, idx->fd, 0)) != 0 ||
        (rc = base_vfs_pwrite(idx->opts.vfs, idx->fd, h, HDR_BYTES, 0)) != 0 ||
        (rc = base_vfs_fdatasync(idx->opts.vfs, idx->fd)) != 0 || (rc = base_vfs_fsync_dir(idx->opts.vfs, idx->dirpath)) != 0)
        return rc;
    idx->dir_unsynced = 0;
    idx->log_size = idx->synced_size = HDR_BYTES;
    return STRATA_OK;
}

/* With wmu held, on a fresh index. */
int ix_log_open(strata_index *idx, const char *dir)
{
    int ro = idx->opts.read_only, rc;
    uint8_t *data = NULL;
    uint64_t t0 = base_mono_ns();
    if (!ro && (rc = base_vfs_mkdir(idx->opts.vfs, dir)) != 0)
        return rc;
    if (!(idx->dirpath = base_strdup(dir)) || !(idx->path = base_path_join(dir, "series.log")))
        return STRATA_ERR_NOMEM;
    if ((rc = base_vfs_open(idx->opts.vfs, idx->path, ro ? O_RDONLY : O_RDWR | O_CREAT, &idx->fd)) != 0) {
        idx->fd = -1;
        if (ro && rc == STRATA_ERR_NOTFOUND)
            return STRATA_OK;
        base_logf(&idx->opts.log, STRATA_LOG_ERROR, "index: open %s: %s", idx->path, strata_strerror(rc));
        return rc;
    }
    struct stat st;
    if (fstat(idx->fd, &st) != 0) {
        rc = base_errno_status(errno);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    if (size < HDR_BYTES) {
        if (size > 0) {
            base_logf(&idx->opts.log, STRATA_LOG_WARN, "index: %s: torn header (%zu bytes), starting afresh",
                      idx->path, size);
            idx->load_truncated = size;
            idx->load_corrupt = 1;
        }
        rc = ro ? STRATA_OK : write_fresh(idx);
        goto out;
    }
    if ((rc = read_fd(idx->opts.vfs, idx->fd, size, &data)) != 0)
        goto out;
    size_t nz = 0;
    while (nz < size && data[nz] == 0)
        nz++;
    if (nz == size) {
        /* Only zeros: a creation cut before its header was durable (the
         * size reached the disk, the data did not). Records are appended
         * only after the header's fsync, so nothing was lost. */
        base_logf(&idx->opts.log, STRATA_LOG_WARN, "index: %s: %zu zero bytes (unfinished creation), starting afresh",
                  idx->path, size);
        idx->load_truncated = size;
        idx->load_corrupt = 1;
        rc = ro ? STRATA_OK : write_fresh(idx);
        goto out;
    }
    if (memcmp(data, LOG_MAGIC, 8) != 0 || base_crc32c(0, data, 12) != load_u32le(data + 12)) {
        base_logf(&idx->opts.log, STRATA_LOG_ERROR, "index: %s: damaged header, not a series log", idx->path);
        rc = STRATA_ERR_CORRUPT;
        goto out;
    }
    if (load_u32le(data + 8) != LOG_VERSION) {
        base_logf(&idx->opts.log, STRATA_LOG_ERROR, "index: %s: format version %u, this build reads %u",
                  idx->path, load_u32le(data + 8), LOG_VERSION);
        rc = STRATA_ERR_VERSION;
        goto out;
    }
    size_t good;
    if ((rc = load_records(idx, data, size, &good)) != 0)
        goto out;
    idx->log_size = idx->synced_size = good;
    if (good < size) {
        idx->load_corrupt = 1;
        idx->load_truncated = size - good;
        base_logf(&idx->opts.log, STRATA_LOG_WARN,
                  "index: %s: damaged record at offset %zu, %zu bytes %s (%llu good records)", idx->path, good,
                  size - good, ro ? "ignored" : "truncated", (unsigned long long)idx->load_records);
        if (!ro) {
            /* Not fsynced: if the cut is lost, the old damage reappears
             * beyond what is appended and is cut again; index_sync makes
             * it durable with the file. */
            if ((rc = base_vfs_ftruncate(idx->opts.vfs, idx->fd, good)) != 0)
                goto out;
        }
    }
out:
    base_free(data);
    idx->load_ms = (base_mono_ns() - t0) / 1000000u;
    if (ro && idx->fd >= 0) {
        (void)base_vfs_close(idx->opts.vfs, idx->fd); /* read-only */
        idx->fd = -1;
    }
    return rc;
}
