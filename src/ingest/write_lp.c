/*
 * write_lp.c: strata_write_lp, Influx line protocol into the database
 * through the engine's write API.
 *
 * The series of field f of measurement m is named m_f, or m alone when f is
 * "value" (Telegraf's convention for Prometheus metrics); the tags become
 * labels. The database's key cache (keycache.c, kept in the engine's
 * ingest slot) maps the raw series key of a line ("measurement,tags" as
 * written, plus the field key) to its sid, so a repeated series costs a
 * hash and a memcmp instead of building, sorting, hashing and comparing its
 * labels. Samples are checked here (time range, retention) line by line,
 * so one bad line is rejected alone, and written in batches with
 * engine_write_checked.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "ingest.h"

/* The cache stops growing at this many bytes; new series beyond it are
 * looked up in the index every time. */
#define INGEST_KEYCACHE_BYTES (64ull << 20)

static int keycache_make(strata_db *db, void **out)
{
    (void)db;
    return ingest_keycache_new(INGEST_KEYCACHE_BYTES, (ingest_keycache **)out);
}

static void keycache_destroy(void *state)
{
    ingest_keycache_free(state);
}


static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    /* 8 bytes per multiply, the tail read as one zero-padded word, then a
     * final mix: fast and good enough for a cache whose hits are
     * confirmed by memcmp */
    const uint8_t *c = p;
    h ^= 0x9e3779b97f4a7c15ull + n;
    while (n >= 8) {
        h = (h ^ load_u64le(c)) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        c += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, c, n);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* The raw series key of a line: from its start to the first space that is
 * not escaped (measurement and tags as written). */
static size_t raw_key_len(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    size_t k = sp ? (size_t)(sp - line) : len;
    if (!memchr(line, '\\', k))
        return k; /* no escapes: the first space ends the key */
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\\')
            i++;
        else if (line[i] == ' ')
            return i;
    }
    return len;
}

/* Whether the measurement, a tag or a field key of L holds a NUL byte. */
static bool line_has_nul(const lp_line *L)
{
    if (memchr(L->measurement, 0, L->measurement_len))
        return true;
    for (size_t i = 0; i < L->n_tags; i++)
        if (memchr(L->tags[i].key, 0, L->tags[i].key_len) || memchr(L->tags[i].val, 0, L->tags[i].val_len))
            return true;
    for (size_t i = 0; i < L->n_fields; i++)
        if (memchr(L->fields[i].key, 0, L->fields[i].key_len))
            return true;
    return false;
}

int strata_write_lp(strata_db *db, const char *buf, size_t len, strata_precision precision, int64_t now_ms,
                    strata_reject_fn on_reject, void *ctx, strata_lp_result *result)
{
    strata_lp_result res = {0};
    if (result)
        *result = res;
    if (!db || (len && !buf))
        return STRATA_ERR_INVALID;
    const strata_options *o = engine_options(db);
    if (o->read_only)
        return STRATA_ERR_READONLY;
    ingest_keycache *kc;
    int rc = engine_slot(db, ENGINE_SLOT_INGEST, keycache_make, keycache_destroy, (void **)&kc);
    if (rc)
        return rc;
    lp_parser *p = NULL;
    if ((rc = lp_parser_new(precision, &p)) != 0)
        return rc;
    lp_limits lim;
    lp_limits_init(&lim);
    if (o->max_labels)
        lim.max_tags = o->max_labels > 1 ? o->max_labels - 1 : 0; /* __name__ is one */
    if (o->max_label_name_len)
        lim.max_name_len = o->max_label_name_len;
    if (o->max_label_value_len)
        lim.max_value_len = o->max_label_value_len;
    lp_parser_set_limits(p, &lim);
    strata_sample *batch = NULL;
    size_t nb = 0, cap_b = 0;
    strata_label *labels = NULL;
    size_t cap_l = 0;
    bbuf name = {0};
    const size_t flush_at = 1u << 15;
    int64_t cut = engine_retention_cut(db);
    uint64_t line_no = 0;
    const char *pos = buf, *end = buf + len;
    while (pos < end) {
        size_t ll = lp_line_len(pos, (size_t)(end - pos));
        const char *line = pos;
        pos += ll + (pos + ll < end);
        line_no++;
        lp_line L;
        const char *reason = NULL;
        int r = lp_parse_line(p, line, ll, &L, &reason);
        if (r == 0)
            continue;
        res.lines++;
        if (r < 0) {
            if (r != STRATA_ERR_INVALID) {
                rc = r;
                break;
            }
            res.rejected_lines++;
            if (on_reject)
                on_reject(ctx, line_no, reason);
            continue;
        }
        res.skipped_fields += L.n_string_fields;
        int64_t t = L.has_ts ? L.ts_ms : now_ms;
        const char *why;
        if (engine_check_time(db, t, cut, &why)) {
            res.rejected_lines++;
            if (on_reject)
                on_reject(ctx, line_no, why);
            continue;
        }
        size_t kl = raw_key_len(line, ll);
        uint64_t kh = hash_bytes(line, kl, 0);
        if (nb + L.n_fields > cap_b) {
            size_t nc = cap_b ? cap_b * 2 : 4096;
            while (nc < nb + L.n_fields)
                nc *= 2;
            strata_sample *b = base_realloc(batch, nc * sizeof *b);
            if (!b) {
                rc = STRATA_ERR_NOMEM;
                break;
            }
            batch = b;
            cap_b = nc;
        }
        size_t nb_line = nb;
        const char *line_err = NULL;
        size_t refused = 0;
        int checked = 0;
        for (size_t f = 0; f < L.n_fields; f++) {
            const lp_field *fd = &L.fields[f];
            uint64_t h = hash_bytes(fd->key, fd->key_len, kh);
            strata_sid sid;
            if (!ingest_keycache_find(kc, h, line, kl, fd->key, fd->key_len, &sid)) {
                /* labels are C strings: a NUL would cut one and merge
                 * distinct series, so a line holding one in its
                 * measurement, tags or field keys is refused (checked on
                 * the first miss: a cached key passed this check) */
                if (!checked) {
                    checked = 1;
                    if (line_has_nul(&L)) {
                        line_err = "NUL byte in the measurement, a tag or a field key";
                        refused += L.n_fields - f;
                        break;
                    }
                }
                /* build the labels: __name__ = measurement_field, then the tags */
                /* a field named "value" is the measurement's own value
                 * (Telegraf's Prometheus convention): the name is the
                 * measurement alone */
                bool plain = fd->key_len == 5 && !memcmp(fd->key, "value", 5);
                name.len = 0;
                if ((rc = base_buf_append(&name, L.measurement, L.measurement_len)) ||
                    (!plain && ((rc = base_buf_put_u8(&name, '_')) || (rc = base_buf_append(&name, fd->key, fd->key_len)))) ||
                    (rc = base_buf_put_u8(&name, 0)))
                    break;
                size_t nl = L.n_tags + 1;
                if (nl > cap_l) {
                    strata_label *l = base_realloc(labels, nl * sizeof *l);
                    if (!l) {
                        rc = STRATA_ERR_NOMEM;
                        break;
                    }
                    labels = l;
                    cap_l = nl;
                }
                /* tag strings are not NUL-terminated: copy them into one arena */
                bbuf arena = {0};
                size_t need = 0;
                for (size_t i = 0; i < L.n_tags; i++)
                    need += L.tags[i].key_len + L.tags[i].val_len + 2;
                if ((rc = base_buf_reserve(&arena, need)) != 0)
                    break;
                labels[0] = (strata_label){"__name__", (const char *)name.data};
                for (size_t i = 0; i < L.n_tags; i++) {
                    char *k = (char *)arena.data + arena.len;
                    memcpy(k, L.tags[i].key, L.tags[i].key_len);
                    k[L.tags[i].key_len] = 0;
                    char *v = k + L.tags[i].key_len + 1;
                    memcpy(v, L.tags[i].val, L.tags[i].val_len);
                    v[L.tags[i].val_len] = 0;
                    arena.len += L.tags[i].key_len + L.tags[i].val_len + 2;
                    labels[i + 1] = (strata_label){k, v};
                }
                int created = 0;
                const char *refusal = NULL;
                int r2 = engine_series_get_or_create(db, labels, nl, &sid, &created, &refusal);
                base_buf_free(&arena);
                if (r2 == STRATA_ERR_INVALID || r2 == STRATA_ERR_LIMIT) {
                    /* this field's series is refused alone: the samples of
                     * the line's other series are kept (a series that
                     * exists, or fits under max_series, takes its sample) */
                    if (refusal == engine_max_series_reason)
                        engine_count_refused(db, 1);
                    if (!line_err)
                        line_err = refusal;
                    refused++;
                    continue;
                }
                if (r2) {
                    rc = r2;
                    break;
                }
                res.new_series += (uint64_t)created;
                ingest_keycache_put(kc, h, line, kl, fd->key, fd->key_len, sid);
            }
            batch[nb++] = (strata_sample){sid, t, fd->value};
        }
        if (rc)
            break;
        if (line_err) {
            res.rejected_lines++;
            if (on_reject) {
                char msg[200];
                if (nb > nb_line)
                    snprintf(msg, sizeof msg, "%s (%zu of %zu fields refused, the others stored)", line_err, refused,
                             L.n_fields);
                else
                    snprintf(msg, sizeof msg, "%s", line_err);
                on_reject(ctx, line_no, msg);
            }
        }
        if (nb >= flush_at) {
            if ((rc = engine_write_checked(db, batch, nb)) != 0)
                break;
            res.samples += nb;
            nb = 0;
        }
    }
    if (!rc && nb) {
        rc = engine_write_checked(db, batch, nb);
        if (!rc)
            res.samples += nb;
    }
    base_free(batch);
    base_free(labels);
    base_buf_free(&name);
    lp_parser_free(p);
    if (result)
        *result = res;
    return rc;
}
