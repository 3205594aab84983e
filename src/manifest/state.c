/*
 * state.c: applying an encoded edit (edit.c has the layout) to the mutable
 * state, checking that it makes sense. The same code serves replay at open
 * (where a failure is corruption of the file) and manifest_apply (where it
 * is a caller's mistake, reported before anything is written), so what can
 * be written can always be read back.
 *
 * Rules an edit must follow (checked item by item, in order, then as a
 * whole):
 *   - the partition width is set once (> 0) and never changes, and before
 *     any table is added;
 *   - an added table is not already there, is numbered > 0, has level <
 *     MANIFEST_MAX_LEVELS, min <= max for sids and times, and its time range
 *     lies inside its partition, whose start is a multiple of the width;
 *   - a removed table or tombstone exists; an added tombstone id does not;
 *     tombstone sids strictly increase and mint <= maxt;
 *   - the file counter and the WAL checkpoint never go back;
 *   - after the edit, every table number and tombstone id is below the
 *     file counter.
 */
#include <stdio.h>

#include "manifest_int.h"

void manifest_state_init(mstate *s) { memset(s, 0, sizeof *s); }

void manifest_state_free(mstate *s)
{
    if (!s)
        return;
    base_free(s->tables);
    for (size_t i = 0; i < s->n_tombs; i++)
        manifest_tomb_unref(s->tombs[i]);
    base_free(s->tombs);
    base_free(s->touched);
    memset(s, 0, sizeof *s);
}

int manifest_state_from_version(mstate *s, const manifest_version *v)
{
    manifest_state_init(s);
    s->partition_ms = v->partition_ms;
    s->next_file_no = v->next_file_no;
    s->checkpoint = v->checkpoint;
    s->seq = v->seq;
    memcpy(s->levels, v->levels, sizeof s->levels);
    s->base_sorted = v->tables;
    s->n_base_sorted = v->n_tables;
    if (v->n_tables) {
        s->tables = base_malloc(v->n_tables * sizeof *s->tables);
        if (!s->tables)
            return STRATA_ERR_NOMEM;
        memcpy(s->tables, v->by_no, v->n_tables * sizeof *s->tables);
        s->n_tables = s->cap_tables = v->n_tables;
    }
    if (v->n_tombs) {
        s->tombs = base_malloc(v->n_tombs * sizeof *s->tombs);
        if (!s->tombs)
            return STRATA_ERR_NOMEM;
        for (size_t i = 0; i < v->n_tombs; i++) {
            manifest_tomb_ref(v->tombs[i]);
            s->tombs[i] = v->tombs[i];
        }
        s->n_tombs = s->cap_tombs = v->n_tombs;
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------ sorted arrays */

/* First index whose file_no >= no. */
static size_t table_lb(const mstate *s, uint64_t no)
{
    size_t lo = 0, hi = s->n_tables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tables[mid].file_no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t tomb_lb(const mstate *s, uint64_t id)
{
    size_t lo = 0, hi = s->n_tombs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tombs[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Notes that table no changed, when s tracks changes against a base. */
static int touch(mstate *s, uint64_t no)
{
    if (!s->base_sorted)
        return STRATA_OK;
    int rc = base_grow((void **)&s->touched, &s->cap_touched, s->n_touched + 1, sizeof *s->touched);
    if (rc == STRATA_OK)
        s->touched[s->n_touched++] = no;
    return rc;
}

/* ------------------------------------------------------------ decoding */

typedef struct rd {
    const uint8_t *p, *end;
    bool bad;
} rd;

static uint64_t get_uv(rd *r)
{
    uint64_t v = 0;
    size_t k = r->bad ? 0 : base_uvarint_get(r->p, r->end, &v);
    if (!k) {
        r->bad = true;
        return 0;
    }
    r->p += k;
    return v;
}

static int64_t get_sv(rd *r) { return zigzag_dec(get_uv(r)); }

#define FAIL(...)                                \
    do {                                         \
        snprintf(why, why_len, __VA_ARGS__);     \
        return STRATA_ERR_CORRUPT;               \
    } while (0)

static int add_table(mstate *s, rd *r, char *why, size_t why_len)
{
    manifest_table t;
    t.file_no = get_uv(r);
    t.partition_ms = get_sv(r);
    uint64_t level = get_uv(r);
    t.min_sid = get_uv(r);
    t.max_sid = get_uv(r);
    t.min_t_ms = get_sv(r);
    t.max_t_ms = get_sv(r);
    t.samples = get_uv(r);
    t.blocks = get_uv(r);
    t.bytes = get_uv(r);
    t.created_ms = get_sv(r);
    if (r->bad || r->p != r->end)
        FAIL("add_table item of the wrong length");
    if (!s->partition_ms)
        FAIL("table %llu added before the partition width is set", (unsigned long long)t.file_no);
    if (t.file_no == 0)
        FAIL("table number 0");
    if (level >= MANIFEST_MAX_LEVELS)
        FAIL("table %llu at level %llu", (unsigned long long)t.file_no, (unsigned long long)level);
    t.level = (uint32_t)level;
    if (t.min_sid > t.max_sid || t.min_t_ms > t.max_t_ms)
        FAIL("table %llu has an empty sid or time range", (unsigned long long)t.file_no);
    if (manifest_partition_start(t.partition_ms, s->partition_ms) != t.partition_ms ||
        t.min_t_ms < t.partition_ms ||
        (uint64_t)t.max_t_ms - (uint64_t)t.partition_ms >= (uint64_t)s->partition_ms)
        FAIL("table %llu: times [%lld, %lld] outside partition %lld (width %lld)",
             (unsigned long long)t.file_no, (long long)t.min_t_ms, (long long)t.max_t_ms,
             (long long)t.partition_ms, (long long)s->partition_ms);
    size_t i = table_lb(s, t.file_no);
    if (i < s->n_tables && s->tables[i].file_no == t.file_no)
        FAIL("table %llu added twice", (unsigned long long)t.file_no);
    int rc = base_grow((void **)&s->tables, &s->cap_tables, s->n_tables + 1, sizeof *s->tables);
    if (rc || (rc = touch(s, t.file_no)) != 0)
        return rc;
    memmove(&s->tables[i + 1], &s->tables[i], (s->n_tables - i) * sizeof *s->tables);
    s->tables[i] = t;
    s->n_tables++;
    return STRATA_OK;
}

static int remove_table(mstate *s, uint64_t no, char *why, size_t why_len)
{
    size_t i = table_lb(s, no);
    if (i == s->n_tables || s->tables[i].file_no != no)
        FAIL("removes table %llu, which is not there", (unsigned long long)no);
    int rc = touch(s, no);
    if (rc)
        return rc;
    memmove(&s->tables[i], &s->tables[i + 1], (s->n_tables - i - 1) * sizeof *s->tables);
    s->n_tables--;
    return STRATA_OK;
}

static int add_tombstone(mstate *s, rd *r, char *why, size_t why_len)
{
    uint64_t id = get_uv(r);
    int64_t mint = get_sv(r), maxt = get_sv(r);
    uint64_t n = get_uv(r);
    if (r->bad)
        FAIL("tombstone item cut short");
    /* Each sid takes at least one byte: bounds the allocation by the input. */
    if (n > (uint64_t)(r->end - r->p))
        FAIL("tombstone %llu claims %llu sids in %zu bytes", (unsigned long long)id, (unsigned long long)n,
             (size_t)(r->end - r->p));
    if (mint > maxt)
        FAIL("tombstone %llu has mint > maxt", (unsigned long long)id);
    size_t i = tomb_lb(s, id);
    if (i < s->n_tombs && s->tombs[i]->id == id)
        FAIL("tombstone %llu added twice", (unsigned long long)id);
    mtomb *t = base_malloc(sizeof *t + (size_t)n * sizeof(uint64_t));
    if (!t)
        return STRATA_ERR_NOMEM;
    atomic_init(&t->refs, 1);
    t->pub.id = id;
    t->pub.mint_ms = mint;
    t->pub.maxt_ms = maxt;
    t->pub.n_sids = (size_t)n;
    t->pub.sids = t->sids;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t d = get_uv(r);
        if (k && (d == 0 || t->sids[k - 1] > UINT64_MAX - d))
            r->bad = true;
        t->sids[k] = k ? t->sids[k - 1] + d : d;
        if (r->bad)
            break;
    }
    int rc = base_grow((void **)&s->tombs, &s->cap_tombs, s->n_tombs + 1, sizeof *s->tombs);
    if (r->bad || r->p != r->end || rc) {
        base_free(t);
        if (rc)
            return rc;
        FAIL("tombstone %llu: bad sid list", (unsigned long long)id);
    }
    memmove(&s->tombs[i + 1], &s->tombs[i], (s->n_tombs - i) * sizeof *s->tombs);
    s->tombs[i] = &t->pub;
    s->n_tombs++;
    return STRATA_OK;
}

static int remove_tombstone(mstate *s, uint64_t id, char *why, size_t why_len)
{
    size_t i = tomb_lb(s, id);
    if (i == s->n_tombs || s->tombs[i]->id != id)
        FAIL("removes tombstone %llu, which is not there", (unsigned long long)id);
    manifest_tomb_unref(s->tombs[i]);
    memmove(&s->tombs[i], &s->tombs[i + 1], (s->n_tombs - i - 1) * sizeof *s->tombs);
    s->n_tombs--;
    return STRATA_OK;
}

/* Decodes the body of an item holding exactly the given number of varints. */
static int fixed(rd *r, uint64_t *v, int n, const char *what, char *why, size_t why_len)
{
    for (int i = 0; i < n; i++)
        v[i] = get_uv(r);
    if (r->bad || r->p != r->end)
        FAIL("%s item of the wrong length", what);
    return STRATA_OK;
}

static int apply_item(mstate *s, unsigned tag, rd *r, char *why, size_t why_len)
{
    uint64_t v[3];
    int rc;
    switch (tag) {
    case MITEM_DB_OPTIONS:
        if ((rc = fixed(r, v, 1, "options", why, why_len)) != 0)
            return rc;
        if (v[0] == 0 || v[0] > (uint64_t)INT64_MAX)
            FAIL("partition width %llu", (unsigned long long)v[0]);
        if (s->partition_ms && (uint64_t)s->partition_ms != v[0])
            FAIL("partition width changes from %lld to %llu", (long long)s->partition_ms,
                 (unsigned long long)v[0]);
        s->partition_ms = (int64_t)v[0];
        return STRATA_OK;
    case MITEM_NEXT_FILE_NO:
        if ((rc = fixed(r, v, 1, "next_file_no", why, why_len)) != 0)
            return rc;
        if (v[0] < s->next_file_no)
            FAIL("file counter goes back from %llu to %llu", (unsigned long long)s->next_file_no,
                 (unsigned long long)v[0]);
        s->next_file_no = v[0];
        return STRATA_OK;
    case MITEM_WAL_CHECKPOINT:
        if ((rc = fixed(r, v, 2, "checkpoint", why, why_len)) != 0)
            return rc;
        if (v[0] < s->checkpoint.segment || (v[0] == s->checkpoint.segment && v[1] < s->checkpoint.offset))
            FAIL("WAL checkpoint goes back from %llu:%llu to %llu:%llu", (unsigned long long)s->checkpoint.segment,
                 (unsigned long long)s->checkpoint.offset, (unsigned long long)v[0], (unsigned long long)v[1]);
        s->checkpoint.segment = v[0];
        s->checkpoint.offset = v[1];
        return STRATA_OK;
    case MITEM_ADD_TABLE:
        return add_table(s, r, why, why_len);
    case MITEM_REMOVE_TABLE:
        if ((rc = fixed(r, v, 1, "remove_table", why, why_len)) != 0)
            return rc;
        return remove_table(s, v[0], why, why_len);
    case MITEM_ADD_TOMBSTONE:
        return add_tombstone(s, r, why, why_len);
    case MITEM_REMOVE_TOMBSTONE:
        if ((rc = fixed(r, v, 1, "remove_tombstone", why, why_len)) != 0)
            return rc;
        return remove_tombstone(s, v[0], why, why_len);
    case MITEM_LEVEL_STATS:
        if ((rc = fixed(r, v, 3, "level_stats", why, why_len)) != 0)
            return rc;
        if (v[0] >= MANIFEST_MAX_LEVELS)
            FAIL("stats of level %llu", (unsigned long long)v[0]);
        s->levels[v[0]].bytes_read += v[1];
        s->levels[v[0]].bytes_written += v[2];
        return STRATA_OK;
    default:
        FAIL("unknown item type %u", tag);
    }
}

int manifest_state_apply(mstate *s, const uint8_t *p, size_t n, char *why, size_t why_len)
{
    const uint8_t *end = p + n;
    if (n == 0)
        FAIL("empty edit");
    while (p < end) {
        unsigned tag = *p++;
        uint64_t len = 0;
        size_t k = base_uvarint_get(p, end, &len);
        if (!k || len > (uint64_t)(end - p - k))
            FAIL("item (type %u) cut short", tag);
        p += k;
        rd r = {.p = p, .end = p + len, .bad = false};
        int rc = apply_item(s, tag, &r, why, why_len);
        if (rc)
            return rc;
        p += len;
    }
    if (s->n_tables && s->tables[s->n_tables - 1].file_no >= s->next_file_no)
        FAIL("table %llu is numbered beyond the file counter %llu",
             (unsigned long long)s->tables[s->n_tables - 1].file_no, (unsigned long long)s->next_file_no);
    if (s->n_tombs && s->tombs[s->n_tombs - 1]->id >= s->next_file_no)
        FAIL("tombstone %llu is numbered beyond the file counter %llu",
             (unsigned long long)s->tombs[s->n_tombs - 1]->id, (unsigned long long)s->next_file_no);
    s->seq++;
    return STRATA_OK;
}
