/*
 * version.c: immutable, reference-counted versions of the manifest state,
 * their accessors, and the directory check (files nobody needs, files
 * missing).
 *
 * A version owns two copies of its table list (by number for lookups and
 * snapshots; by partition, level and number for planners and readers) and
 * one reference to each of its tombstones, which are shared with the
 * versions before and after it (a delete of a million series is not copied
 * at every edit).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "manifest_int.h"

void manifest_tomb_ref(const manifest_tombstone *t)
{
    mtomb *m = (mtomb *)((char *)(uintptr_t)t - offsetof(mtomb, pub));
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void manifest_tomb_unref(const manifest_tombstone *t)
{
    if (!t)
        return;
    mtomb *m = (mtomb *)((char *)(uintptr_t)t - offsetof(mtomb, pub));
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        base_free(m);
}

static int cmp_part_level_no(const void *a, const void *b)
{
    const manifest_table *x = a, *y = b;
    if (x->partition_ms != y->partition_ms)
        return x->partition_ms < y->partition_ms ? -1 : 1;
    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return x->file_no < y->file_no ? -1 : x->file_no > y->file_no;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool has(const uint64_t *a, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == x;
}

static const manifest_table *find_by_no(const manifest_table *a, size_t n, uint64_t no)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].file_no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo].file_no == no ? &a[lo] : NULL;
}

/* Fills out (s->n_tables entries) in partition order by merging the base
 * version's sorted list, minus every table touched, with the touched
 * tables that are still there, sorted: O(n log t) for t changes instead of
 * sorting everything. */
static int merge_changes(mstate *s, manifest_table *out)
{
    if (s->n_touched)
        qsort(s->touched, s->n_touched, sizeof *s->touched, cmp_u64);
    manifest_table *add = base_malloc((s->n_touched ? s->n_touched : 1) * sizeof *add);
    if (!add)
        return STRATA_ERR_NOMEM;
    size_t n_add = 0;
    for (size_t i = 0; i < s->n_touched; i++) {
        if (i && s->touched[i] == s->touched[i - 1])
            continue;
        const manifest_table *t = find_by_no(s->tables, s->n_tables, s->touched[i]);
        if (t)
            add[n_add++] = *t;
    }
    if (n_add)
        qsort(add, n_add, sizeof *add, cmp_part_level_no);
    size_t k = 0, j = 0;
    for (size_t i = 0; i < s->n_base_sorted; i++) {
        const manifest_table *b = &s->base_sorted[i];
        if (has(s->touched, s->n_touched, b->file_no))
            continue;
        while (j < n_add && cmp_part_level_no(&add[j], b) < 0)
            out[k++] = add[j++];
        out[k++] = *b;
    }
    while (j < n_add)
        out[k++] = add[j++];
    base_free(add);
    return STRATA_OK;
}

static void version_free(manifest_version *v)
{
    base_free(v->by_no);
    base_free(v->tables);
    base_free(v->parts);
    for (size_t i = 0; i < v->n_tombs; i++)
        manifest_tomb_unref(v->tombs[i]);
    base_free(v->tombs);
    base_free(v);
}

int manifest_state_freeze(mstate *s, manifest_version **out)
{
    manifest_version *v = base_calloc(1, sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    atomic_init(&v->refs, 1);
    v->seq = s->seq;
    v->partition_ms = s->partition_ms;
    v->next_file_no = s->next_file_no;
    v->checkpoint = s->checkpoint;
    memcpy(v->levels, s->levels, sizeof v->levels);
    size_t n = s->n_tables, np = 0;
    if (n) {
        v->tables = base_malloc(n * sizeof *v->tables);
        if (!v->tables)
            goto nomem;
        if (s->base_sorted) {
            if (merge_changes(s, v->tables) != STRATA_OK)
                goto nomem;
        } else {
            memcpy(v->tables, s->tables, n * sizeof *v->tables);
            qsort(v->tables, n, sizeof *v->tables, cmp_part_level_no);
        }
        for (size_t i = 0; i < n; i++)
            np += i == 0 || v->tables[i].partition_ms != v->tables[i - 1].partition_ms;
        v->parts = base_malloc(np * sizeof *v->parts);
        if (!v->parts)
            goto nomem;
        for (size_t i = 0, k = 0; i < n; i++) {
            if (i == 0 || v->tables[i].partition_ms != v->tables[i - 1].partition_ms)
                v->parts[k++] = (manifest_partition){.start_ms = v->tables[i].partition_ms, .first = i, .n = 0};
            v->parts[k - 1].n++;
        }
    }
    /* The by-number list and the tombstones move over from s. */
    v->by_no = s->tables;
    v->n_tables = n;
    v->n_parts = np;
    v->tombs = s->tombs;
    v->n_tombs = s->n_tombs;
    s->tables = NULL;
    s->n_tables = 0;
    s->tombs = NULL;
    s->n_tombs = 0;
    manifest_state_free(s);
    *out = v;
    return STRATA_OK;
nomem:
    base_free(v->tables);
    base_free(v->parts);
    base_free(v);
    return STRATA_ERR_NOMEM;
}

void manifest_version_ref(manifest_version *v) { atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed); }

void manifest_version_unref(manifest_version *v)
{
    if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
        version_free(v);
}

uint64_t manifest_version_seq(const manifest_version *v) { return v->seq; }
int64_t manifest_version_partition_ms(const manifest_version *v) { return v->partition_ms; }
uint64_t manifest_version_next_file_no(const manifest_version *v) { return v->next_file_no; }
manifest_wal_pos manifest_version_checkpoint(const manifest_version *v) { return v->checkpoint; }
const manifest_level_stats *manifest_version_level_stats(const manifest_version *v) { return v->levels; }

const manifest_table *manifest_version_tables(const manifest_version *v, size_t *n)
{
    *n = v->n_tables;
    return v->tables;
}

const manifest_partition *manifest_version_partitions(const manifest_version *v, size_t *n)
{
    *n = v->n_parts;
    return v->parts;
}

const manifest_partition *manifest_version_partitions_in(const manifest_version *v, int64_t mint_ms, int64_t maxt_ms,
                                                         size_t *n)
{
    *n = 0;
    if (mint_ms > maxt_ms || v->n_parts == 0)
        return v->parts;
    int64_t first = manifest_partition_start(mint_ms, v->partition_ms);
    size_t lo = 0, hi = v->n_parts;
    while (lo < hi) { /* first partition starting at or after first */
        size_t mid = lo + (hi - lo) / 2;
        if (v->parts[mid].start_ms < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < v->n_parts && v->parts[end].start_ms <= maxt_ms)
        end++;
    *n = end - lo;
    return v->parts + lo;
}

const manifest_tombstone *const *manifest_version_tombstones(const manifest_version *v, size_t *n)
{
    *n = v->n_tombs;
    return v->tombs;
}

const manifest_table *manifest_version_find_table(const manifest_version *v, uint64_t file_no)
{
    size_t lo = 0, hi = v->n_tables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->by_no[mid].file_no < file_no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_tables && v->by_no[lo].file_no == file_no ? &v->by_no[lo] : NULL;
}

int manifest_live_files(const manifest_version *v, uint64_t **out, size_t *n)
{
    uint64_t *a = NULL;
    if (v->n_tables) {
        a = base_malloc(v->n_tables * sizeof *a);
        if (!a)
            return STRATA_ERR_NOMEM;
        for (size_t i = 0; i < v->n_tables; i++)
            a[i] = v->by_no[i].file_no;
    }
    *out = a;
    *n = v->n_tables;
    return STRATA_OK;
}

void manifest_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        base_free(v[i]);
    base_free(v);
}

int manifest_dir_check(const manifest_version *v, const char *table_dir, manifest_name_parse_fn parse,
                       void *ctx, char ***orphans, size_t *n_orphans, uint64_t **missing, size_t *n_missing)
{
    int rc = STRATA_OK;
    char **orph = NULL;
    size_t n_orph = 0, cap_orph = 0;
    uint64_t *seen = NULL, *miss = NULL;
    size_t n_seen = 0, cap_seen = 0, n_miss = 0;
    DIR *d = opendir(table_dir);
    if (!d && errno != ENOENT)
        return base_errno_status(errno);
    for (struct dirent *de; d && (errno = 0, de = readdir(d)) != NULL;) {
        uint64_t no;
        if (!parse(ctx, de->d_name, &no))
            continue;
        if (manifest_version_find_table(v, no)) {
            if (n_seen == cap_seen) {
                size_t nc = cap_seen ? cap_seen * 2 : 64;
                uint64_t *q = base_realloc(seen, nc * sizeof *q);
                if (!q)
                    goto nomem;
                seen = q;
                cap_seen = nc;
            }
            seen[n_seen++] = no;
            continue;
        }
        if (n_orph == cap_orph) {
            size_t nc = cap_orph ? cap_orph * 2 : 16;
            char **q = base_realloc(orph, nc * sizeof *q);
            if (!q)
                goto nomem;
            orph = q;
            cap_orph = nc;
        }
        if (!(orph[n_orph] = base_strdup(de->d_name)))
            goto nomem;
        n_orph++;
    }
    if (d && errno) {
        rc = base_errno_status(errno);
        goto out;
    }
    if (n_seen)
        qsort(seen, n_seen, sizeof *seen, cmp_u64);
    if (v->n_tables) {
        miss = base_malloc(v->n_tables * sizeof *miss);
        if (!miss)
            goto nomem;
        /* Both lists are sorted: one merge pass finds the numbers not seen. */
        for (size_t i = 0, j = 0; i < v->n_tables; i++) {
            while (j < n_seen && seen[j] < v->by_no[i].file_no)
                j++;
            if (j == n_seen || seen[j] != v->by_no[i].file_no)
                miss[n_miss++] = v->by_no[i].file_no;
        }
    }
    *orphans = orph;
    *n_orphans = n_orph;
    *missing = miss;
    *n_missing = n_miss;
    orph = NULL;
    miss = NULL;
    goto out;
nomem:
    rc = STRATA_ERR_NOMEM;
out:
    if (d)
        closedir(d);
    manifest_strings_free(orph, n_orph);
    base_free(miss);
    base_free(seen);
    return rc;
}

bool manifest_tombstone_applies(const manifest_tombstone *t, uint64_t file_no, uint64_t sid)
{
    if (t->id <= file_no)
        return false;
    size_t lo = 0, hi = t->n_sids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->sids[mid] < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n_sids && t->sids[lo] == sid;
}
