/*
 * reader.c: replay of the log and repair of a damaged tail.
 *
 * The reader walks the fragments of each segment (format: writer.c) page by
 * page, from a chunk buffer of whole pages read with pread. A record made of
 * one FULL fragment is handed to the callback straight from the chunk; a
 * FIRST..LAST record is assembled in a buffer. Every fragment is checked on
 * its own (type, length within its page, CRC) and in sequence (MIDDLE/LAST
 * only after FIRST/MIDDLE, FIRST/MIDDLE filling their page, padding all
 * zero, no record open at the end of a segment).
 *
 * The first check that fails is "damage": replay stops, the segment is
 * truncated at the end of its last good record and the later segments are
 * deleted (LevelDB would skip to the next block; Prometheus truncates. A
 * log is a sequence: what follows a hole cannot be applied safely, because
 * a later record may depend on a lost one, e.g. samples of a series whose
 * creation was lost). Before deleting, the rest of the log is scanned in a
 * forgiving mode that resynchronises at page boundaries, only to count the
 * intact records being dropped for the log message.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "wal_int.h"

/* Largest logical record accepted: bounds the assembly buffer against a
 * crafted log of valid-CRC fragments that never ends. */
#define WAL_MAX_RECORD (1u << 30)
#define CHUNK_PAGES_BYTES (1u << 20)

typedef struct scan {
    wal *w;
    int fd;
    uint64_t size;      /* of the segment being read */
    uint8_t *chunk;     /* whole pages [chunk_off, chunk_off + chunk_len) */
    size_t chunk_cap;
    uint64_t chunk_off;
    size_t chunk_len;
    bbuf rec;           /* assembly of a multi-fragment record */
    wal_replay_fn fn;   /* NULL in counting mode */
    void *ctx;
    uint64_t records, payload_bytes;
} scan;

/* Result of scanning one segment. */
typedef struct seg_result {
    bool damaged;
    bool eos;          /* the segment ends with its end-of-segment marker */
    uint64_t good_end; /* end of the last good record */
    uint64_t damage;   /* offset of the damage */
} seg_result;

/* Makes the chunk hold the page starting at page_off (whole, or up to the
 * end of the file). */
static int load_page(scan *s, uint64_t page_off)
{
    uint32_t page = s->w->page;
    if (page_off >= s->chunk_off && page_off + page <= s->chunk_off + s->chunk_len)
        return STRATA_OK;
    if (page_off >= s->chunk_off && page_off < s->chunk_off + s->chunk_len &&
        s->chunk_off + s->chunk_len == s->size)
        return STRATA_OK; /* the short last page is loaded */
    uint64_t want = MIN((uint64_t)s->chunk_cap, s->size - page_off);
    size_t got = 0;
    int rc = base_vfs_pread(s->w->vfs, s->fd, s->chunk, (size_t)want, page_off, &got);
    if (rc)
        return rc;
    s->chunk_off = page_off;
    s->chunk_len = got;
    if (got < want)
        s->size = page_off + got; /* the file shrank under us: read what is there */
    return STRATA_OK;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Delivers one logical record (type byte + payload). Returns STRATA_OK,
 * STRATA_ERR_CORRUPT when it is to be treated as damage, or another status
 * to abort. */
static int deliver(scan *s, uint64_t num, const uint8_t *d, size_t n, uint64_t end)
{
    if (n == 0)
        return STRATA_ERR_CORRUPT; /* the writer always writes the type byte */
    s->records++;
    s->payload_bytes += n - 1;
    if (!s->fn)
        return STRATA_OK;
    int rc = s->fn(s->ctx, d[0], d + 1, n - 1, (wal_pos){num, end});
    if (rc) {
        s->records--;
        s->payload_bytes -= n - 1;
    }
    return rc;
}

/*
 * Scans segment num from offset start. In replay mode (s->fn set or not,
 * counting == false) it stops at the first damage and fills *res. In
 * counting mode it resynchronises at the next page after damage and only
 * counts intact records in s->records.
 */
static int scan_segment(scan *s, uint64_t num, uint64_t start, bool counting, seg_result *res)
{
    const uint32_t page = s->w->page;
    uint64_t off = start, good_end = start, rec_start = 0;
    bool in_rec = false;
    int rc = STRATA_OK;
    s->chunk_off = 0;
    s->chunk_len = 0;
    base_buf_reset(&s->rec);
    res->damaged = false;
    res->eos = false;

    while (off < s->size) {
        uint64_t page_off = off - off % page;
        if ((rc = load_page(s, page_off)) != 0)
            return rc;
        if (off >= s->size)
            break;
        const uint8_t *pg = s->chunk + (page_off - s->chunk_off);
        uint64_t page_end = MIN(page_off + page, s->size);
        uint64_t left = page_off + page - off;
        const uint8_t *h = pg + (off - page_off);
        const char *why = NULL;

        if (left < WAL_HDR) {
            if (!all_zero(h, (size_t)(page_end - off))) {
                why = "non-zero page padding";
                goto damage;
            }
            off = page_off + page;
            continue;
        }
        if (page_end - off < WAL_HDR) {
            why = "torn fragment header";
            goto damage;
        }
        uint8_t type = h[0];
        uint32_t len = load_u16le(h + 1);
        if (type < WAL_FRAG_FULL || type > WAL_FRAG_EOS) {
            why = "bad fragment type";
            goto damage;
        }
        if (len > left - WAL_HDR) {
            why = "fragment length crosses the page";
            goto damage;
        }
        if (off + WAL_HDR + len > s->size) {
            why = "torn fragment";
            goto damage;
        }
        if (base_crc32c(base_crc32c(0, h, 3), h + WAL_HDR, len) != load_u32le(h + 3)) {
            why = "fragment checksum mismatch";
            goto damage;
        }
        bool fills_page = len == left - WAL_HDR;
        uint64_t frag_end = off + WAL_HDR + len;
        switch (type) {
        case WAL_FRAG_EOS:
            if (in_rec || len != 0) {
                why = "misplaced end-of-segment marker";
                goto damage;
            }
            if (counting)
                break;
            if (frag_end != s->size) {
                /* Truncating after the marker keeps this segment whole. */
                good_end = frag_end;
                res->eos = true;
                why = "data after the end-of-segment marker";
                off = frag_end;
                goto damage;
            }
            res->eos = true;
            good_end = frag_end;
            break;
        case WAL_FRAG_FULL:
            if (in_rec) {
                why = "FULL fragment inside a record";
                goto damage;
            }
            rc = deliver(s, num, h + WAL_HDR, len, frag_end);
            if (rc == STRATA_ERR_CORRUPT) {
                why = len ? "record rejected by its reader" : "empty record";
                rec_start = off;
                in_rec = true; /* so the damage is reported at this record */
                goto damage;
            }
            if (rc)
                return rc;
            good_end = frag_end;
            break;
        case WAL_FRAG_FIRST:
            if (in_rec) {
                why = "FIRST fragment inside a record";
                goto damage;
            }
            if (!fills_page) {
                why = "FIRST fragment does not fill its page";
                goto damage;
            }
            in_rec = true;
            rec_start = off;
            base_buf_reset(&s->rec);
            if ((rc = base_buf_append(&s->rec, h + WAL_HDR, len)) != 0)
                return rc;
            break;
        case WAL_FRAG_MIDDLE:
        case WAL_FRAG_LAST:
            if (!in_rec) {
                why = "MIDDLE/LAST fragment outside a record";
                goto damage;
            }
            if (type == WAL_FRAG_MIDDLE && !fills_page) {
                why = "MIDDLE fragment does not fill its page";
                goto damage;
            }
            if (s->rec.len + len > WAL_MAX_RECORD) {
                why = "record too large";
                goto damage;
            }
            if ((rc = base_buf_append(&s->rec, h + WAL_HDR, len)) != 0)
                return rc;
            if (type == WAL_FRAG_LAST) {
                rc = deliver(s, num, s->rec.data, s->rec.len, frag_end);
                if (rc == STRATA_ERR_CORRUPT) {
                    why = "record rejected by its reader";
                    goto damage;
                }
                if (rc)
                    return rc;
                in_rec = false;
                good_end = frag_end;
                /* Do not let one huge record pin its memory for the whole replay. */
                if (s->rec.cap > (8u << 20))
                    base_buf_free(&s->rec);
            }
            break;
        }
        off = frag_end;
        continue;

    damage:
        if (counting) {
            in_rec = false;
            off = page_off + page;
            continue;
        }
        res->damaged = true;
        res->damage = in_rec ? rec_start : off;
        res->good_end = good_end;
        base_logf(s->w->log, STRATA_LOG_WARN, "wal: segment %08llu: %s at offset %llu",
                  (unsigned long long)num, why, (unsigned long long)off);
        return STRATA_OK;
    }
    if (in_rec && !counting) {
        base_logf(s->w->log, STRATA_LOG_WARN, "wal: segment %08llu: record torn at the end of the segment",
                  (unsigned long long)num);
        res->damaged = true;
        res->damage = rec_start;
    } else if (good_end < s->size && !counting) {
        /* Only padding of a torn append follows the last record. */
        res->damaged = true;
        res->damage = good_end;
    }
    res->good_end = good_end;
    return STRATA_OK;
}

static int open_segment(scan *s, uint64_t num, uint64_t size)
{
    char *path = NULL;
    int rc = wal_seg_path(s->w, num, &path);
    if (rc)
        return rc;
    s->fd = -1;
    if ((rc = base_vfs_open(s->w->vfs, path, O_RDONLY, &s->fd)) != 0)
        base_logf(s->w->log, STRATA_LOG_ERROR, "wal: cannot open %s: %s", path, strata_strerror(rc));
    base_free(path);
    s->size = size;
    return rc;
}

static void close_segment(scan *s)
{
    if (s->fd >= 0)
        (void)base_vfs_close(s->w->vfs, s->fd); /* read-only */
    s->fd = -1;
}

/* Counts intact records from (seg index i, offset off) up to segment index
 * end_i, for the repair message. Errors only make the count smaller. */
static uint64_t count_dropped(scan *s, size_t i, size_t end_i, uint64_t off)
{
    wal *w = s->w;
    uint64_t before = s->records;
    s->fn = NULL;
    for (; i < end_i; i++, off = 0) {
        if (open_segment(s, w->segs[i].num, w->segs[i].size) != 0)
            continue;
        seg_result r;
        (void)scan_segment(s, w->segs[i].num, off, true, &r);
        close_segment(s);
    }
    return s->records - before;
}

/* Truncates segment num to len durably. */
static int truncate_segment(wal *w, uint64_t num, uint64_t len)
{
    char *path = NULL;
    int rc = wal_seg_path(w, num, &path);
    if (rc)
        return rc;
    int fd = -1;
    if ((rc = base_vfs_open(w->vfs, path, O_WRONLY, &fd)) == 0) {
        if ((rc = base_vfs_ftruncate(w->vfs, fd, len)) == 0)
            rc = w->sync == STRATA_SYNC_NONE ? STRATA_OK : base_vfs_fdatasync(w->vfs, fd);
        int crc = base_vfs_close(w->vfs, fd);
        if (rc == STRATA_OK)
            rc = crc;
    }
    if (rc)
        base_logf(w->log, STRATA_LOG_ERROR, "wal: cannot truncate %s to %llu bytes: %s", path,
                  (unsigned long long)len, strata_strerror(rc));
    base_free(path);
    return rc;
}

int wal_replay(wal *w, wal_pos from, wal_replay_fn fn, void *ctx, wal_replay_stats *stats)
{
    if (!w || w->replayed)
        return STRATA_ERR_INVALID;
    int rc = STRATA_OK;
    wal_replay_stats st;
    memset(&st, 0, sizeof st);
    scan s = {.w = w, .fd = -1, .fn = fn, .ctx = ctx};
    size_t first = 0;
    while (first < w->n_segs && w->segs[first].num < from.segment)
        first++;
    /* Whole pages, at most 1 MiB, no more than the largest segment needs. */
    uint64_t biggest = 0;
    for (size_t i = first; i < w->n_segs; i++)
        biggest = MAX(biggest, w->segs[i].size);
    biggest = (biggest + w->page - 1) / w->page * w->page;
    s.chunk_cap = (size_t)MAX((uint64_t)w->page, MIN((uint64_t)CHUNK_PAGES_BYTES, biggest));
    if (!(s.chunk = base_malloc(s.chunk_cap)))
        return STRATA_ERR_NOMEM;
    if (from.segment && first < w->n_segs && w->segs[first].num != from.segment)
        base_logf(w->log, STRATA_LOG_WARN, "wal: replay starts in segment %08llu but the log continues at %08llu",
                  (unsigned long long)from.segment, (unsigned long long)w->segs[first].num);

    bool damaged = false, past_start = false, last_eos = false;
    size_t dmg_i = 0;
    seg_result r = {0};
    for (size_t i = first; i < w->n_segs; i++) {
        uint64_t num = w->segs[i].num;
        if (i > first && num != w->segs[i - 1].num + 1) {
            base_logf(w->log, STRATA_LOG_WARN, "wal: segments %08llu to %08llu are missing",
                      (unsigned long long)(w->segs[i - 1].num + 1), (unsigned long long)(num - 1));
            damaged = true;
            dmg_i = i - 1;
            r = (seg_result){.damaged = true, .eos = true, .good_end = w->segs[i - 1].size, .damage = w->segs[i - 1].size};
            break;
        }
        uint64_t start = num == from.segment ? from.offset : 0;
        if (start > w->segs[i].size) {
            base_logf(w->log, STRATA_LOG_WARN, "wal: replay position %llu is past the end of segment %08llu (%llu bytes)",
                      (unsigned long long)start, (unsigned long long)num, (unsigned long long)w->segs[i].size);
            past_start = true;
            continue;
        }
        if ((rc = open_segment(&s, num, w->segs[i].size)) != 0)
            goto out;
        st.segments++;
        rc = scan_segment(&s, num, start, false, &r);
        /* The file may have been shorter than listed. */
        w->segs[i].size = s.size;
        close_segment(&s);
        if (rc)
            goto out;
        if (!r.damaged && !r.eos && i + 1 < w->n_segs) {
            /* Only the last segment may be unfinished: this one lost its
             * tail, and with it records the next segment may depend on. */
            base_logf(w->log, STRATA_LOG_WARN, "wal: segment %08llu ends without its end marker",
                      (unsigned long long)num);
            r.damaged = true;
            r.damage = r.good_end;
        }
        last_eos = r.eos;
        if (r.damaged) {
            damaged = true;
            dmg_i = i;
            break;
        }
    }
    st.records = s.records;
    st.payload_bytes = s.payload_bytes;

    if (damaged) {
        wal_seg *d = &w->segs[dmg_i];
        st.corruptions = 1;
        st.damage = (wal_pos){d->num, r.damage};
        st.bytes_truncated = d->size - r.good_end;
        uint64_t resume = r.damage - r.damage % w->page + w->page; /* counting resumes after the bad page */
        st.records_dropped = resume < d->size ? count_dropped(&s, dmg_i, dmg_i + 1, resume) : 0;
        st.records_dropped += count_dropped(&s, dmg_i + 1, w->n_segs, 0);
        for (size_t i = dmg_i + 1; i < w->n_segs; i++) {
            st.bytes_truncated += w->segs[i].size;
            st.segments_removed++;
        }
        base_logf(w->log, STRATA_LOG_WARN,
                  "wal: damage in segment %08llu at offset %llu: %s %llu bytes and %llu later segments "
                  "(%llu intact-looking records dropped)",
                  (unsigned long long)d->num, (unsigned long long)r.damage, w->read_only ? "would cut" : "cutting",
                  (unsigned long long)st.bytes_truncated, (unsigned long long)st.segments_removed,
                  (unsigned long long)st.records_dropped);
        if (!w->read_only) {
            uint64_t dnum = d->num;
            if (r.good_end < d->size) {
                if ((rc = truncate_segment(w, dnum, r.good_end)) != 0)
                    goto out;
                w->segs[dmg_i].size = r.good_end;
            }
            while (w->n_segs > dmg_i + 1) {
                if ((rc = wal_seg_unlink(w, w->segs[w->n_segs - 1].num)) != 0)
                    goto out;
            }
            if (st.segments_removed && w->sync != STRATA_SYNC_NONE && (rc = base_vfs_fsync_dir(w->vfs, w->dir)) != 0)
                goto out;
        }
    }

    /* Where appends continue: the last segment (>= from) at its end, or a
     * new segment that is never before `from`. */
    if (!w->read_only) {
        pthread_mutex_lock(&w->mu);
        /* A finished segment (marker at its end) is not written again. */
        bool have = w->n_segs > 0 && w->segs[w->n_segs - 1].num >= MAX(from.segment, 1) && !past_start && !last_eos;
        if (have) {
            wal_seg *last = &w->segs[w->n_segs - 1];
            rc = wal_seg_open_active(w, last->num, last->size, false);
        } else {
            uint64_t next = MAX(MAX(from.segment, 1), w->n_segs ? w->segs[w->n_segs - 1].num + 1 : 1);
            rc = wal_seg_open_active(w, next, 0, true);
        }
        pthread_mutex_unlock(&w->mu);
        if (rc)
            goto out;
        st.end = (wal_pos){w->seg, w->off};
        if ((rc = wal_interval_start(w)) != 0)
            goto out;
    } else if (w->n_segs) {
        wal_seg *last = &w->segs[w->n_segs - 1];
        st.end = (wal_pos){last->num, last->size};
    }
    w->replayed = true;
    if (stats)
        *stats = st;
out:
    close_segment(&s);
    base_buf_free(&s.rec);
    base_free(s.chunk);
    return rc;
}
