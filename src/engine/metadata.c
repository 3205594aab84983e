/*
 * metadata.c: metric metadata (type, help, unit per metric family), as
 * clients send it (remote write's metadata, OTLP descriptions) and as
 * /api/v1/metadata answers it. Small and rarely changed, so it is kept
 * whole in memory, sorted and deduplicated, and the file is rewritten
 * whole (write to a temporary, fsync, rename, fsync the directory) when a
 * put adds an entry; a put of what is already known writes nothing. All
 * through the database's I/O seam (db->vfs), stat aside.
 *
 * File METADATA in the data directory, little-endian:
 *   0  4  magic "SMD1"
 *   4  4  u32 count
 *   8  .. count records: for metric, type, help, unit in turn a uvarint
 *         length and that many bytes (no NUL)
 *   .. 4  u32 CRC32C of every byte before it
 * A file that fails its checks is moved aside as METADATA.corrupt (the
 * database opens; the metadata is rebuilt from what clients send next)
 * and the failure is logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_int.h"

#define MD_FILE "METADATA"
#define MD_MAX_ENTRIES 1000000u
#define MD_MAX_STRING 65536u

typedef struct md_entry {
    char *s[4]; /* metric, type, help, unit */
} md_entry;

typedef struct md_store {
    pthread_mutex_t mu;
    md_entry *v; /* sorted by md_cmp, distinct */
    size_t n;
} md_store;

static const char *const md_types[] = {"counter", "gauge", "histogram", "gaugehistogram",
                                       "summary", "info",  "stateset",  "unknown"};

static int md_cmp(const md_entry *a, const md_entry *b)
{
    for (int i = 0; i < 4; i++) {
        int c = strcmp(a->s[i], b->s[i]);
        if (c)
            return c;
    }
    return 0;
}

static void md_entry_free(md_entry *e)
{
    for (int i = 0; i < 4; i++)
        base_free(e->s[i]);
}

static void md_free(void *state)
{
    md_store *m = state;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        md_entry_free(&m->v[i]);
    base_free(m->v);
    pthread_mutex_destroy(&m->mu);
    base_free(m);
}

/* Parses a METADATA file into m (empty on entry). */
static int md_decode(md_store *m, const uint8_t *p, size_t len)
{
    if (len < 12 || memcmp(p, "SMD1", 4) || load_u32le(p + len - 4) != base_crc32c(0, p, len - 4))
        return STRATA_ERR_CORRUPT;
    uint32_t count = load_u32le(p + 4);
    const uint8_t *q = p + 8, *end = p + len - 4;
    if (count > MD_MAX_ENTRIES || count > (size_t)(end - q) / 4)
        return STRATA_ERR_CORRUPT;
    if (count && !(m->v = base_calloc(count, sizeof *m->v)))
        return STRATA_ERR_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        md_entry *e = &m->v[i];
        for (int k = 0; k < 4; k++) {
            uint64_t n;
            size_t used = base_uvarint_get(q, end, &n);
            if (!used || n > MD_MAX_STRING || n > (uint64_t)(end - q - (ptrdiff_t)used))
                return STRATA_ERR_CORRUPT;
            q += used;
            if (memchr(q, 0, (size_t)n) || !(e->s[k] = base_strndup((const char *)q, (size_t)n)))
                return e->s[k] || memchr(q, 0, (size_t)n) ? STRATA_ERR_CORRUPT : STRATA_ERR_NOMEM;
            q += n;
        }
        m->n++;
        if (i && md_cmp(&m->v[i - 1], e) >= 0) /* the writer keeps them sorted and distinct */
            return STRATA_ERR_CORRUPT;
    }
    return q == end ? STRATA_OK : STRATA_ERR_CORRUPT;
}

static int md_encode(const md_entry *v, size_t n, bbuf *out)
{
    int rc = base_buf_append(out, "SMD1", 4);
    rc = rc ? rc : base_buf_put_u32le(out, (uint32_t)n);
    for (size_t i = 0; i < n && !rc; i++)
        for (int k = 0; k < 4 && !rc; k++) {
            size_t l = strlen(v[i].s[k]);
            rc = base_buf_put_uvarint(out, l);
            rc = rc ? rc : base_buf_append(out, v[i].s[k], l);
        }
    return rc ? rc : base_buf_put_u32le(out, base_crc32c(0, out->data, out->len));
}

static int md_new(strata_db *db, void **out)
{
    md_store *m = base_calloc(1, sizeof *m);
    if (!m)
        return STRATA_ERR_NOMEM;
    pthread_mutex_init(&m->mu, NULL);
    char *path = base_path_join(db->dir, MD_FILE);
    if (!path) {
        md_free(m);
        return STRATA_ERR_NOMEM;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat st;
    int rc = stat(path, &st) != 0 && errno == ENOENT ? STRATA_ERR_NOTFOUND : base_vfs_read_all(db->vfs, path, &data, &len);
    if (rc == STRATA_ERR_NOTFOUND) {
        rc = STRATA_OK;
    } else if (rc == STRATA_OK) {
        rc = md_decode(m, data, len);
        if (rc == STRATA_ERR_CORRUPT) {
            for (size_t i = 0; i < m->n; i++)
                md_entry_free(&m->v[i]);
            base_free(m->v);
            m->v = NULL;
            m->n = 0;
            char aside[] = MD_FILE ".corrupt";
            char *to = base_path_join(db->dir, aside);
            if (!to)
                rc = STRATA_ERR_NOMEM;
            else if (db->read_only) /* left in place: a read-only open writes nothing */
                rc = STRATA_OK;
            else if ((rc = base_vfs_rename(db->vfs, path, to)) == STRATA_OK)
                rc = base_vfs_fsync_dir(db->vfs, db->dir);
            base_free(to);
            base_logf(&db->log, STRATA_LOG_WARN, "%s: damaged, moved aside as %s; metadata starts empty", path, aside);
        }
    }
    base_free(data);
    base_free(path);
    if (rc) {
        md_free(m);
        return rc;
    }
    *out = m;
    return STRATA_OK;
}

static int md_store_of(strata_db *db, md_store **out)
{
    void *p;
    int rc = engine_slot(db, ENGINE_SLOT_METADATA, md_new, md_free, &p);
    *out = p;
    return rc;
}

/* Checks one entry from a caller: a known type, UTF-8, bounded. */
static int md_check(const strata_metadata *e)
{
    if (!e->metric || !*e->metric || !e->type)
        return STRATA_ERR_INVALID;
    const char *s[4] = {e->metric, e->type, e->help ? e->help : "", e->unit ? e->unit : ""};
    for (int k = 0; k < 4; k++) {
        size_t n = strlen(s[k]);
        if (n > MD_MAX_STRING)
            return STRATA_ERR_LIMIT;
        if (!index_utf8_valid(s[k], n))
            return STRATA_ERR_INVALID;
    }
    for (size_t i = 0; i < sizeof md_types / sizeof md_types[0]; i++)
        if (!strcmp(e->type, md_types[i]))
            return STRATA_OK;
    return STRATA_ERR_INVALID;
}

int strata_metadata_put(strata_db *db, const strata_metadata *in, size_t n)
{
    if (!db || (n && !in))
        return STRATA_ERR_INVALID;
    if (db->read_only)
        return STRATA_ERR_READONLY;
    for (size_t i = 0; i < n; i++) {
        int rc = md_check(&in[i]);
        if (rc)
            return rc;
    }
    md_store *m;
    int rc = md_store_of(db, &m);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    /* The new set is built beside the old and replaces it only once the
     * file holding it is durable. */
    md_entry *v = base_malloc((m->n + n ? m->n + n : 1) * sizeof *v);
    size_t k = 0, added = 0;
    rc = v ? STRATA_OK : STRATA_ERR_NOMEM;
    if (!rc && m->n) /* m->v is NULL while empty */
        memcpy(v, m->v, m->n * sizeof *v), k = m->n;
    for (size_t i = 0; i < n && !rc; i++) {
        md_entry e = {{(char *)in[i].metric, (char *)in[i].type, (char *)(in[i].help ? in[i].help : ""),
                       (char *)(in[i].unit ? in[i].unit : "")}};
        size_t lo = 0, hi = k;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (md_cmp(&v[mid], &e) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < k && md_cmp(&v[lo], &e) == 0)
            continue;
        if (k >= MD_MAX_ENTRIES) {
            rc = STRATA_ERR_LIMIT;
            break;
        }
        md_entry c = {{0}};
        for (int j = 0; j < 4 && !rc; j++)
            if (!(c.s[j] = base_strdup(e.s[j])))
                rc = STRATA_ERR_NOMEM;
        if (rc) {
            md_entry_free(&c);
            break;
        }
        memmove(v + lo + 1, v + lo, (k - lo) * sizeof *v);
        v[lo] = c;
        k++;
        added++;
    }
    bbuf file = {0};
    if (!rc && added) {
        rc = md_encode(v, k, &file);
        rc = rc ? rc : base_vfs_write_atomic(db->vfs, db->dir, MD_FILE, file.data, file.len);
    }
    base_buf_free(&file);
    if (!rc) {
        base_free(m->v);
        m->v = v;
        m->n = k;
    } else if (v) { /* free what this call added: the entries not in m */
        for (size_t i = 0; i < k; i++) {
            size_t lo = 0, hi = m->n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (md_cmp(&m->v[mid], &v[i]) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (!(lo < m->n && m->v[lo].s[0] == v[i].s[0]))
                md_entry_free(&v[i]);
        }
        base_free(v);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int strata_metadata_get(strata_db *db, const char *metric, size_t limit, size_t limit_per_metric,
                        strata_metadata **out, size_t *n_out)
{
    if (!db || !out || !n_out)
        return STRATA_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    md_store *m;
    int rc = md_store_of(db, &m);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    /* pass 0 sizes, pass 1 copies into one block: entries, then strings */
    size_t count = 0, bytes = 0;
    strata_metadata *res = NULL;
    char *text = NULL;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        size_t metrics = 0, per = 0, k = 0;
        const char *cur = NULL; /* the metric of the entries being taken */
        for (size_t i = 0; i < m->n; i++) {
            const md_entry *e = &m->v[i];
            if (metric && strcmp(e->s[0], metric))
                continue;
            if (!cur || strcmp(cur, e->s[0])) {
                if (limit && metrics == limit)
                    break;
                metrics++;
                per = 0;
                cur = e->s[0];
            }
            if (limit_per_metric && per == limit_per_metric)
                continue;
            per++;
            if (pass == 0) {
                count++;
                for (int j = 0; j < 4; j++)
                    bytes += strlen(e->s[j]) + 1;
                continue;
            }
            const char *s[4];
            for (int j = 0; j < 4; j++) {
                size_t l = strlen(e->s[j]) + 1;
                memcpy(text, e->s[j], l);
                s[j] = text;
                text += l;
            }
            res[k++] = (strata_metadata){s[0], s[1], s[2], s[3]};
        }
        if (pass == 0) {
            if (!count)
                break;
            res = base_malloc(count * sizeof *res + bytes);
            if (!res)
                rc = STRATA_ERR_NOMEM;
            else
                text = (char *)(res + count);
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (rc)
        return rc;
    *out = res;
    *n_out = count;
    return STRATA_OK;
}

int engine_metadata_copy(strata_db *db, const char *dir)
{
    char *path = base_path_join(db->dir, MD_FILE);
    if (!path)
        return STRATA_ERR_NOMEM;
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat st;
    int rc = STRATA_OK;
    if (stat(path, &st) == 0 || errno != ENOENT) /* replaced by rename only: a read sees one whole file */
        rc = base_vfs_read_all(db->vfs, path, &data, &len);
    if (!rc && data) /* the snapshot is not the database's: plain POSIX, as the rest of it */
        rc = base_file_write_atomic(dir, MD_FILE, data, len);
    base_free(data);
    base_free(path);
    return rc;
}
