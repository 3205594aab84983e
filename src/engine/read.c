/*
 * read.c: selections. A cursor pins a version, selects sids through the
 * index, and for each series merges every source that may hold samples in
 * the range: the active head, the frozen heads, and the tables of the
 * partitions the range touches whose sid range covers the series.
 *
 * Merging goes from the newest source to the oldest: each older source is
 * merged into the result so far, keeping the result's sample on an equal
 * timestamp (the newer write wins). Tombstones are applied to each source
 * they cover before it is merged (see engine_int.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine_int.h"

void db_apply_tombstones(const manifest_tombstone *const *ts, size_t n_ts, uint64_t min_id, uint64_t sid,
                         head_samples *s)
{
    for (size_t k = 0; k < n_ts && s->n; k++) {
        if (!manifest_tombstone_applies(ts[k], min_id, sid))
            continue;
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->t[i] >= ts[k]->mint_ms && s->t[i] <= ts[k]->maxt_ms)
                continue;
            s->t[w] = s->t[i];
            s->v[w] = s->v[i];
            w++;
        }
        s->n = w;
    }
}

/* Merges older (sorted, unique) into acc (sorted, unique), acc winning on
 * equal timestamps; tmp is scratch. */
int db_merge_older(head_samples *acc, head_samples *older, head_samples *tmp)
{
    if (!older->n)
        return STRATA_OK;
    if (!acc->n) { /* the common case of one source: take its arrays */
        head_samples x = *acc;
        *acc = *older;
        *older = x;
        older->n = 0;
        return STRATA_OK;
    }
    if (older->t[0] > acc->t[acc->n - 1]) /* wholly after: append in place */
        return head_samples_append(acc, older->t, older->v, older->n);
    if (older->t[older->n - 1] < acc->t[0]) {
        /* wholly before */
        tmp->n = 0;
        if (head_samples_append(tmp, older->t, older->v, older->n) ||
            head_samples_append(tmp, acc->t, acc->v, acc->n))
            return STRATA_ERR_NOMEM;
    } else {
        tmp->n = 0;
        size_t i = 0, j = 0;
        while (i < acc->n || j < older->n) {
            int rc;
            if (j == older->n || (i < acc->n && acc->t[i] <= older->t[j])) {
                if (j < older->n && acc->t[i] == older->t[j])
                    j++;
                rc = head_samples_push(tmp, acc->t[i], acc->v[i]);
                i++;
            } else {
                rc = head_samples_push(tmp, older->t[j], older->v[j]);
                j++;
            }
            if (rc)
                return rc;
        }
    }
    head_samples x = *acc;
    *acc = *tmp;
    *tmp = x;
    return STRATA_OK;
}

/* Order of tables from newest to oldest: lower level first, then larger
 * file number (compaction.h, AGE ORDER). */
int db_table_age_cmp(const void *a, const void *b)
{
    const db_table *x = *(const db_table *const *)a, *y = *(const db_table *const *)b;
    if (x->m.level != y->m.level)
        return x->m.level < y->m.level ? -1 : 1;
    return x->m.file_no > y->m.file_no ? -1 : x->m.file_no < y->m.file_no;
}

int db_table_read_cmp(const void *a, const void *b)
{
    const db_table *x = *(const db_table *const *)a, *y = *(const db_table *const *)b;
    if (x->m.partition_ms != y->m.partition_ms)
        return x->m.partition_ms < y->m.partition_ms ? -1 : 1;
    return db_table_age_cmp(a, b);
}

int db_tables_add(db_tables_acc *acc, int64_t partition_ms, head_samples *src, head_samples *tmp)
{
    int rc = STRATA_OK;
    if (acc->part.n && partition_ms != acc->part_ms) {
        rc = db_merge_older(&acc->all, &acc->part, tmp);
        acc->part.n = 0;
    }
    acc->part_ms = partition_ms;
    if (!rc && src->n)
        rc = db_merge_older(&acc->part, src, tmp);
    return rc;
}

int db_tables_finish(db_tables_acc *acc, head_samples *out, head_samples *tmp)
{
    int rc = STRATA_OK;
    if (acc->part.n)
        rc = db_merge_older(&acc->all, &acc->part, tmp);
    if (!rc && acc->all.n)
        rc = db_merge_older(out, &acc->all, tmp);
    head_samples_free(&acc->part);
    head_samples_free(&acc->all);
    return rc;
}

int db_read_series(strata_db *db, db_version *v, uint64_t sid, int64_t mint, int64_t maxt, head_samples *out,
                   head_samples *scratch)
{
    int rc = STRATA_OK;
    size_t n_ts = 0;
    const manifest_tombstone *const *ts = manifest_version_tombstones(v->mv, &n_ts);
    head_samples src = {0};
    out->n = 0;
    if ((rc = head_read(v->active->h, sid, mint, maxt, out)) != 0)
        goto done;
    for (size_t i = v->n_frozen; i-- > 0;) {
        if ((rc = head_read(v->frozen[i]->h, sid, mint, maxt, &src)) != 0)
            goto done;
        db_apply_tombstones(ts, n_ts, v->frozen[i]->freeze_no, sid, &src);
        if ((rc = db_merge_older(out, &src, scratch)) != 0)
            goto done;
    }
    /* the tables that may hold sid in the range, newest first */
    const db_table *cand[64];
    const db_table **list = cand;
    size_t n_cand = 0, cap = 64;
    for (size_t i = 0; i < v->n_tables; i++) {
        const manifest_table *m = &v->tables[i].m;
        if (sid < m->min_sid || sid > m->max_sid || m->max_t_ms < mint || m->min_t_ms > maxt)
            continue;
        if (n_cand == cap) {
            const db_table **nl = base_malloc(2 * cap * sizeof *nl);
            if (!nl) {
                rc = STRATA_ERR_NOMEM;
                goto done_list;
            }
            memcpy(nl, list, n_cand * sizeof *nl);
            if (list != cand)
                base_free(list);
            list = nl;
            cap *= 2;
        }
        list[n_cand++] = &v->tables[i];
    }
    if (n_cand > 1)
        qsort(list, n_cand, sizeof *list, db_table_read_cmp);
    db_tables_acc acc = {0};
    table_iter it;
    table_iter_init(&it);
    for (size_t c = 0; c < n_cand && !rc; c++) {
        src.n = 0;
        if ((rc = table_iter_seek(&it, list[c]->t, sid, mint, maxt)) != 0)
            break;
        const int64_t *t;
        const double *val;
        size_t k;
        int r;
        while ((r = table_iter_next(&it, &t, &val, &k)) == 1)
            if ((rc = head_samples_append(&src, t, val, k)) != 0)
                break;
        if (r < 0) {
            base_logf(&db->log, STRATA_LOG_ERROR, "%s", table_iter_error(&it));
            rc = r;
            break;
        }
        db_apply_tombstones(ts, n_ts, list[c]->m.file_no, sid, &src);
        if (!rc)
            rc = db_tables_add(&acc, list[c]->m.partition_ms, &src, scratch);
    }
    table_iter_free(&it);
    int rc2 = db_tables_finish(&acc, out, scratch);
    if (!rc)
        rc = rc2;
done_list:
    if (list != cand)
        base_free(list);
done:
    head_samples_free(&src);
    /* retention (sid's own: db_rules_of) hides what is older than the cut
     * even before it is dropped */
    int64_t ret_ms = 0;
    int grp;
    if (!rc && out->n)
        rc = db_rules_of(db, sid, &ret_ms, &grp);
    if (!rc && ret_ms > 0 && out->n && out->t[0] < base_now_ms() - ret_ms) {
        int64_t cut = base_now_ms() - ret_ms;
        size_t k = 0;
        while (k < out->n && out->t[k] < cut)
            k++;
        memmove(out->t, out->t + k, (out->n - k) * sizeof *out->t);
        memmove(out->v, out->v + k, (out->n - k) * sizeof *out->v);
        out->n -= k;
    }
    return rc;
}

/* 1 when sid has a sample in [mint, maxt] that no tombstone hides, 0 when
 * not: reads blocks only until it finds one. */
static int series_has_data(strata_db *db, db_version *v, uint64_t sid, int64_t mint, int64_t maxt,
                           head_samples *scratch)
{
    size_t n_ts = 0;
    const manifest_tombstone *const *ts = manifest_version_tombstones(v->mv, &n_ts);
    /* what sid's retention hides is not data */
    int64_t ret_ms = 0;
    int grp;
    int rc = db_rules_of(db, sid, &ret_ms, &grp);
    if (rc)
        return rc;
    if (ret_ms > 0 && mint < base_now_ms() - ret_ms)
        mint = base_now_ms() - ret_ms;
    if (mint > maxt)
        return 0;
    rc = head_read(v->active->h, sid, mint, maxt, scratch);
    if (rc || scratch->n)
        return rc ? rc : 1;
    for (size_t i = 0; i < v->n_frozen; i++) {
        if ((rc = head_read(v->frozen[i]->h, sid, mint, maxt, scratch)) != 0)
            return rc;
        db_apply_tombstones(ts, n_ts, v->frozen[i]->freeze_no, sid, scratch);
        if (scratch->n)
            return 1;
    }
    table_iter it;
    table_iter_init(&it);
    int found = 0;
    for (size_t i = 0; i < v->n_tables && !found && !rc; i++) {
        const manifest_table *m = &v->tables[i].m;
        if (sid < m->min_sid || sid > m->max_sid || m->max_t_ms < mint || m->min_t_ms > maxt)
            continue;
        if ((rc = table_iter_seek(&it, v->tables[i].t, sid, mint, maxt)) != 0)
            break;
        const int64_t *t;
        const double *val;
        size_t k;
        int r;
        while (!found && (r = table_iter_next(&it, &t, &val, &k)) == 1) {
            scratch->n = 0;
            rc = head_samples_append(scratch, t, val, k);
            db_apply_tombstones(ts, n_ts, m->file_no, sid, scratch);
            found = scratch->n > 0;
        }
        if (!rc && r < 0) {
            base_logf(&db->log, STRATA_LOG_ERROR, "%s", table_iter_error(&it));
            rc = r;
        }
    }
    table_iter_free(&it);
    return rc ? rc : found;
}

struct strata_cursor {
    strata_db *db;
    db_version *v;
    index_sids sids;
    size_t next;
    int64_t mint, maxt;
    head_samples cur, scratch;
    bool delivered;
    bool series_only;
    bool ex;               /* read through db_read_series_ex (read options) */
    strata_read_options ro;
    strata_agg *rows;      /* the current series as rows (n_rows > 0) */
    size_t n_rows, cap_rows;
};

int strata_select(strata_db *db, const strata_matcher *matchers, size_t n_matchers, int64_t mint_ms,
                  int64_t maxt_ms, strata_cursor **out)
{
    if (!db || !out || (n_matchers && !matchers))
        return STRATA_ERR_INVALID;
    strata_cursor *c = base_calloc(1, sizeof *c);
    if (!c)
        return STRATA_ERR_NOMEM;
    c->db = db;
    c->mint = mint_ms;
    c->maxt = maxt_ms;
    c->v = db_version_pin(db);
    int rc = index_select(db->idx, matchers, n_matchers, &c->sids);
    if (rc) {
        strata_cursor_close(c);
        return rc;
    }
    *out = c;
    return STRATA_OK;
}

/* out = a | b, both sorted and distinct; out is new (a and b untouched). */
static int sids_union(const index_sids *a, const index_sids *b, index_sids *out)
{
    size_t cap = a->n + b->n;
    out->v = base_malloc((cap ? cap : 1) * sizeof *out->v);
    if (!out->v)
        return STRATA_ERR_NOMEM;
    size_t i = 0, j = 0, n = 0;
    while (i < a->n && j < b->n) {
        strata_sid x = a->v[i], y = b->v[j];
        out->v[n++] = x < y ? x : y;
        i += x <= y;
        j += y <= x;
    }
    while (i < a->n)
        out->v[n++] = a->v[i++];
    while (j < b->n)
        out->v[n++] = b->v[j++];
    out->n = n;
    return STRATA_OK;
}

int strata_select_any(strata_db *db, const strata_selector *selectors, size_t n_selectors, int64_t mint_ms,
                      int64_t maxt_ms, unsigned flags, strata_cursor **out)
{
    if (!db || !out || !selectors || !n_selectors)
        return STRATA_ERR_INVALID;
    strata_cursor *c;
    int rc = strata_select(db, selectors[0].matchers, selectors[0].n_matchers, mint_ms, maxt_ms, &c);
    if (rc)
        return rc;
    for (size_t i = 1; i < n_selectors && !rc; i++) {
        index_sids more = {0}, both = {0};
        rc = index_select(db->idx, selectors[i].matchers, selectors[i].n_matchers, &more);
        if (!rc)
            rc = sids_union(&c->sids, &more, &both);
        index_sids_free(&more);
        if (!rc) {
            index_sids_free(&c->sids);
            c->sids = both;
        }
    }
    if (rc) {
        strata_cursor_close(c);
        return rc;
    }
    c->series_only = (flags & STRATA_SELECT_SERIES_ONLY) != 0;
    *out = c;
    return STRATA_OK;
}

int strata_cursor_next_series(strata_cursor *c, strata_sid *sid, const strata_label **labels, size_t *n_labels)
{
    if (!c)
        return STRATA_ERR_INVALID;
    while (c->next < c->sids.n) {
        strata_sid s = c->sids.v[c->next++];
        if (c->mint > c->maxt)
            continue;
        if (c->series_only) {
            int has = series_has_data(c->db, c->v, s, c->mint, c->maxt, &c->scratch);
            if (has < 0)
                return has;
            if (!has)
                continue;
        } else if (c->ex) {
            int rc = db_read_series_ex(c->db, c->v, s, c->mint, c->maxt, &c->ro, &c->cur, &c->scratch, &c->rows,
                                       &c->n_rows, &c->cap_rows);
            if (rc)
                return rc;
            if (!c->cur.n && !c->n_rows)
                continue;
        } else {
            int rc = db_read_series(c->db, c->v, s, c->mint, c->maxt, &c->cur, &c->scratch);
            if (rc)
                return rc;
            if (!c->cur.n)
                continue;
        }
        int rc;
        if ((rc = index_labels(c->db->idx, s, labels, n_labels)) != 0)
            return rc;
        *sid = s;
        c->delivered = false;
        return 1;
    }
    c->cur.n = 0;
    c->n_rows = 0;
    return 0;
}

int strata_select_series(strata_db *db, const strata_matcher *matchers, size_t n_matchers, int64_t mint_ms,
                         int64_t maxt_ms, strata_cursor **out)
{
    int rc = strata_select(db, matchers, n_matchers, mint_ms, maxt_ms, out);
    if (!rc)
        (*out)->series_only = true;
    return rc;
}

int strata_cursor_next_samples(strata_cursor *c, const int64_t **t_ms, const double **values, size_t *n)
{
    if (!c)
        return STRATA_ERR_INVALID;
    if (c->series_only || c->delivered || !c->cur.n)
        return 0;
    c->delivered = true;
    *t_ms = c->cur.t;
    *values = c->cur.v;
    *n = c->cur.n;
    return 1;
}

int strata_cursor_next_aggs(strata_cursor *c, const strata_agg **rows, size_t *n)
{
    if (!c || !rows || !n)
        return STRATA_ERR_INVALID;
    if (c->series_only || !c->n_rows)
        return 0;
    *rows = c->rows;
    *n = c->n_rows;
    return 1;
}

int strata_select_ex(strata_db *db, const strata_selector *selectors, size_t n_selectors, int64_t mint_ms,
                     int64_t maxt_ms, unsigned flags, const strata_read_options *ro, strata_cursor **out)
{
    int rc = strata_select_any(db, selectors, n_selectors, mint_ms, maxt_ms, flags, out);
    if (rc || !ro)
        return rc;
    strata_cursor *c = *out;
    strata_read_options_init(&c->ro);
    size_t n = ro->size && ro->size < sizeof c->ro ? ro->size : sizeof c->ro;
    memcpy(&c->ro, ro, n);
    c->ro.size = sizeof c->ro;
    c->ex = c->ro.agg_resolution_ms > 0 || c->ro.max_source_resolution_ms >= 0;
    return STRATA_OK;
}

void strata_cursor_close(strata_cursor *c)
{
    if (!c)
        return;
    base_free(c->rows);
    index_sids_free(&c->sids);
    head_samples_free(&c->cur);
    head_samples_free(&c->scratch);
    db_version_unpin(c->v);
    base_free(c);
}

void strata_strings_free(strata_strings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        base_free(s->v[i]);
    base_free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The sids matched that have samples in the range (all matched when the
 * range is unbounded, unless always_check). */
static int select_in_range(strata_db *db, const strata_matcher *m, size_t n, int64_t mint, int64_t maxt,
                           bool always_check, index_sids *out)
{
    int rc = index_select(db->idx, m, n, out);
    if (rc || (mint == INT64_MIN && maxt == INT64_MAX && !always_check))
        return rc;
    db_version *v = db_version_pin(db);
    head_samples s = {0}, scratch = {0};
    size_t w = 0;
    for (size_t i = 0; i < out->n && !rc; i++) {
        int has = series_has_data(db, v, out->v[i], mint, maxt, &scratch);
        if (has < 0)
            rc = has;
        else if (has)
            out->v[w++] = out->v[i];
    }
    out->n = w;
    head_samples_free(&s);
    head_samples_free(&scratch);
    db_version_unpin(v);
    return rc;
}

static int strs_copy(const index_strs *in, strata_strings *out)
{
    out->n = 0;
    out->v = base_calloc(in->n ? in->n : 1, sizeof *out->v);
    if (!out->v)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < in->n; i++) {
        if (!(out->v[i] = base_strdup(in->v[i]))) {
            strata_strings_free(out);
            return STRATA_ERR_NOMEM;
        }
        out->n++;
    }
    return STRATA_OK;
}

int strata_label_names(strata_db *db, const strata_matcher *matchers, size_t n_matchers, int64_t mint_ms,
                       int64_t maxt_ms, strata_strings *out)
{
    if (!db || !out)
        return STRATA_ERR_INVALID;
    index_sids within = {0};
    index_strs names = {0};
    /* always the series with samples: a deleted or expired series' names
     * must not be listed, even unbounded and after compaction */
    int rc = select_in_range(db, matchers, n_matchers, mint_ms, maxt_ms, true, &within);
    if (!rc)
        rc = index_label_names(db->idx, NULL, 0, &within, &names);
    if (!rc)
        rc = strs_copy(&names, out);
    index_strs_free(&names);
    index_sids_free(&within);
    return rc;
}

int strata_label_values(strata_db *db, const char *name, const strata_matcher *matchers, size_t n_matchers,
                        int64_t mint_ms, int64_t maxt_ms, strata_strings *out)
{
    if (!db || !out || !name)
        return STRATA_ERR_INVALID;
    index_sids within = {0};
    index_strs vals = {0};
    int rc = select_in_range(db, matchers, n_matchers, mint_ms, maxt_ms, true, &within); /* as above */
    if (!rc)
        rc = index_label_values(db->idx, name, NULL, 0, &within, &vals);
    if (!rc)
        rc = strs_copy(&vals, out);
    index_strs_free(&vals);
    index_sids_free(&within);
    return rc;
}

void strata_label_pairs_free(strata_label_pairs *p)
{
    if (!p)
        return;
    base_free(p->v);
    base_free(p->text);
    memset(p, 0, sizeof *p);
}

/* Copies the lent pairs into out, each name once per run of its pairs. */
static int pairs_copy(const index_pair_count *c, size_t n, strata_label_pairs *out)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += c[i].value_len + 1 + (i && c[i].name == c[i - 1].name ? 0 : c[i].name_len + 1);
    out->v = base_malloc((n ? n : 1) * sizeof *out->v);
    out->text = base_malloc(bytes ? bytes : 1);
    if (!out->v || !out->text)
        return STRATA_ERR_NOMEM;
    char *t = out->text;
    const char *name = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!i || c[i].name != c[i - 1].name) { /* interned: one pointer per name */
            memcpy(t, c[i].name, c[i].name_len + 1);
            name = t;
            t += c[i].name_len + 1;
        }
        memcpy(t, c[i].value, c[i].value_len + 1);
        out->v[i] = (strata_label_pair){name, t, c[i].series};
        t += c[i].value_len + 1;
    }
    out->n = n;
    return STRATA_OK;
}

int strata_label_pair_counts(strata_db *db, const strata_selector *selectors, size_t n_selectors, int64_t mint_ms,
                             int64_t maxt_ms, strata_label_pairs *out)
{
    if (!db || !out || (n_selectors && !selectors))
        return STRATA_ERR_INVALID;
    memset(out, 0, sizeof *out);
    index_sids within = {0};
    int rc = STRATA_OK;
    for (size_t i = 0; i < (n_selectors ? n_selectors : 1) && !rc; i++) {
        index_sids one = {0}, both = {0};
        rc = n_selectors ? select_in_range(db, selectors[i].matchers, selectors[i].n_matchers, mint_ms, maxt_ms, true,
                                           &one)
                         : select_in_range(db, NULL, 0, mint_ms, maxt_ms, true, &one);
        if (!rc && i)
            rc = sids_union(&within, &one, &both);
        if (!rc && i) {
            index_sids_free(&within);
            within = both;
            index_sids_free(&one);
        } else if (!rc) {
            within = one;
        } else {
            index_sids_free(&one);
        }
    }
    index_pair_count *c = NULL;
    size_t n = 0;
    if (!rc)
        rc = index_pair_counts(db->idx, &within, &c, &n);
    if (!rc)
        rc = pairs_copy(c, n, out);
    if (!rc)
        out->series = within.n;
    base_free(c);
    index_sids_free(&within);
    if (rc)
        strata_label_pairs_free(out);
    return rc;
}
