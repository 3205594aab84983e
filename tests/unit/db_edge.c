/*
 * db_edge.c: edge cases of writes and reads through the public C API, each
 * checked in the head, after a flush (tables), after close/reopen (WAL
 * replay over tables) and after a full compaction:
 *
 * - out-of-order and duplicate timestamps: the later write wins, also when
 *   the earlier one is already in a table;
 * - values bit-exact: NaN payloads, -0.0, infinities, subnormals, and
 *   special values hidden among integers (codecs that pack integers);
 * - extreme timestamps: INT64_MIN+1, INT64_MAX-1, negative, zero, and
 *   selections whose bounds are inclusive;
 * - empty label values dropped as Prometheus does;
 * - long label names and values within the limits round-trip; beyond them
 *   STRATA_ERR_LIMIT and the database goes on;
 * - deletes: invisible at once, durable across reopen and flush, not hiding
 *   later writes, and only the matched series and range.
 * Seed: STRATA_SEED.
 */
#include <float.h>
#include <math.h>

#include "db_testlib.h"

typedef struct edge {
    char *root;
    strata_options o;
    strata_db *db;
    dbt_set model; /* every write in order; finished copies are compared */
    dbt_log lg;
} edge;

static void edge_open(edge *e, const char *tag)
{
    memset(e, 0, sizeof *e);
    e->root = test_tmpdir(tag);
    dbt_options(&e->o, e->root);
    e->o.partition_ms = 3600 * 1000; /* 1 h: extreme timestamps make extreme partitions */
    e->o.block_samples = 64;
    e->lg.quiet = 1;
    e->o.log_fn = dbt_log_fn;
    e->o.log_ctx = &e->lg;
    e->db = dbt_open_ok(&e->o);
}

static void edge_close(edge *e)
{
    assert_int_equal(strata_close(e->db), STRATA_OK);
    test_rmtree(e->root);
    free(e->root);
    dbt_set_free(&e->model);
}

static void edge_write(edge *e, const char *series_text, strata_sid sid, const int64_t *t, const uint64_t *bits,
                       size_t n)
{
    strata_sample *s = calloc(n, sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        s[i].sid = sid;
        s[i].t_ms = t[i];
        s[i].value = dbt_from_bits(bits[i]);
        dbt_set_add(&e->model, series_text, t[i], bits[i]);
    }
    int rc = strata_write(e->db, s, n);
    if (rc)
        fail_msg("strata_write: %s", strata_strerror(rc));
    free(s);
}

/* The model as of now (later writes win) minus what `drop` says. */
typedef int (*edge_drop_fn)(const dbt_sample *s, void *ctx);

static void edge_check(edge *e, const char *phase, edge_drop_fn drop, void *ctx)
{
    dbt_set want = {0};
    for (size_t i = 0; i < e->model.n; i++)
        dbt_set_add(&want, e->model.v[i].series, e->model.v[i].t, e->model.v[i].bits);
    dbt_set_finish(&want);
    if (drop) {
        size_t w = 0;
        for (size_t i = 0; i < want.n; i++) {
            if (drop(&want.v[i], ctx))
                free(want.v[i].series);
            else
                want.v[w++] = want.v[i];
        }
        want.n = w;
    }
    dbt_set got = {0};
    int rc = dbt_read_all(e->db, &got);
    if (rc)
        fail_msg("%s: read: %s", phase, strata_strerror(rc));
    size_t d = dbt_set_diff(&want, &got, phase);
    dbt_set_free(&want);
    dbt_set_free(&got);
    if (d)
        fail_msg("%s: %zu differences", phase, d);
}

static void edge_reopen(edge *e)
{
    assert_int_equal(strata_close(e->db), STRATA_OK);
    e->db = dbt_open_ok(&e->o);
}

/* head -> flush -> reopen -> compact, checking after each. */
static void edge_check_everywhere(edge *e, edge_drop_fn drop, void *ctx)
{
    edge_check(e, "head", drop, ctx);
    assert_int_equal(strata_flush(e->db), STRATA_OK);
    edge_check(e, "after flush", drop, ctx);
    edge_reopen(e);
    edge_check(e, "after reopen", drop, ctx);
    assert_int_equal(strata_compact(e->db, 1), STRATA_OK);
    edge_check(e, "after full compaction", drop, ctx);
}

/* ------------------------------------------------------------ tests */

static void out_of_order_and_duplicates_later_write_wins(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_init(&rng, test_seed(11));
    edge e;
    edge_open(&e, "db_edge_ooo");
    strata_sid a = dbt_series(e.db, "ooo", "s", "a");
    strata_sid b = dbt_series(e.db, "ooo", "s", "b");
    const int64_t T = 1700000000000LL;
    int64_t t[400];
    uint64_t v[400];
    /* round 1: shuffled timestamps with duplicates inside one batch */
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 400; i++) {
            t[i] = T + (int64_t)test_rng_below(&rng, 300) * 1000; /* many duplicates */
            v[i] = test_mix((uint64_t)(round * 1000 + i));
        }
        edge_write(&e, "__name__=ooo,s=a", a, t, v, 400);
        /* b: one sample per batch rewritten again and again */
        int64_t tb = T;
        uint64_t vb = (uint64_t)round;
        edge_write(&e, "__name__=ooo,s=b", b, &tb, &vb, 1);
        edge_check(&e, "head", NULL, NULL);
        if (round % 2 == 0) {
            assert_int_equal(strata_flush(e.db), STRATA_OK); /* the earlier value is in a table now */
            edge_check(&e, "after flush", NULL, NULL);
        } else {
            edge_reopen(&e);
            edge_check(&e, "after reopen", NULL, NULL);
        }
    }
    /* a duplicate inside one batch: the later one in the batch wins */
    int64_t td[2] = {T - 5, T - 5};
    uint64_t vd[2] = {dbt_bits(1.0), dbt_bits(2.0)};
    edge_write(&e, "__name__=ooo,s=b", b, td, vd, 2);
    edge_check_everywhere(&e, NULL, NULL);
    edge_close(&e);
}

static void special_values_are_bit_exact(void **state)
{
    (void)state;
    edge e;
    edge_open(&e, "db_edge_values");
    static const uint64_t specials[] = {
        0x7ff0000000000002ull, /* signalling NaN, payload 2 */
        0x7ff8000000000000ull, /* quiet NaN */
        0x7ff8000000000001ull, 0xfff8000000000001ull, 0x7fffffffffffffffull, 0xffffffffffffffffull,
        0x7ff0000000000001ull, 0xfff0000000000001ull,
        0x7ff0000000000000ull, /* +Inf */
        0xfff0000000000000ull, /* -Inf */
        0x8000000000000000ull, /* -0.0 */
        0x0000000000000000ull, /* +0.0 */
        0x0000000000000001ull, /* smallest subnormal */
        0x800fffffffffffffull, /* largest negative subnormal */
        0x7fefffffffffffffull, /* DBL_MAX */
        0x0010000000000000ull, /* DBL_MIN */
        0x7ff00000000007a2ull, /* Prometheus' stale marker 0x7ff0000000000002 has a cousin */
    };
    size_t ns = sizeof specials / sizeof specials[0];
    const int64_t T = 1700000000000LL;
    int64_t t[1000];
    uint64_t v[1000];
    char name[64];
    /* series 0: only specials; series 1..: integers (or decimals) with one
     * special hidden in the middle, so an integer or decimal codec must fall
     * back or carry it exactly */
    strata_sid sid = dbt_series(e.db, "vals", "s", "specials");
    for (size_t i = 0; i < ns; i++) {
        t[i] = T + (int64_t)i * 1000;
        v[i] = specials[i];
    }
    edge_write(&e, "__name__=vals,s=specials", sid, t, v, ns);
    for (size_t k = 0; k < ns; k++) {
        snprintf(name, sizeof name, "int%zu", k);
        sid = dbt_series(e.db, "vals", "s", name);
        for (int i = 0; i < 300; i++) {
            t[i] = T + i * 10000;
            v[i] = k % 2 ? dbt_bits((double)(i % 7)) : dbt_bits((double)(i * 25) / 100.0);
        }
        v[150] = specials[k];
        char text[96];
        snprintf(text, sizeof text, "__name__=vals,s=%s", name);
        edge_write(&e, text, sid, t, v, 300);
    }
    /* a series of nothing but -0.0 and one of nothing but one NaN payload */
    sid = dbt_series(e.db, "vals", "s", "negzero");
    for (int i = 0; i < 200; i++) {
        t[i] = T + i * 1000;
        v[i] = 0x8000000000000000ull;
    }
    edge_write(&e, "__name__=vals,s=negzero", sid, t, v, 200);
    sid = dbt_series(e.db, "vals", "s", "nan2");
    for (int i = 0; i < 200; i++)
        v[i] = 0x7ff0000000000002ull;
    edge_write(&e, "__name__=vals,s=nan2", sid, t, v, 200);
    edge_check_everywhere(&e, NULL, NULL);
    edge_close(&e);
}

/* Each extreme timestamp in its own batch: the engine may refuse one
 * (STRATA_ERR_INVALID, nothing visible); what it accepts must survive the
 * head, a flush, a reopen and a compaction, and stay selectable. */
static void extreme_timestamps(void **state)
{
    (void)state;
    edge e;
    edge_open(&e, "db_edge_times");
    strata_sid sid = dbt_series(e.db, "times", "s", "x");
    int64_t all[] = {INT64_MIN + 1, INT64_MIN + 2, -86400000LL * 365 * 1000, -3600001, -1, 0, 1, 1700000000000LL,
                     INT64_MAX / 2, INT64_MAX - 2, INT64_MAX - 1};
    /* these must be accepted: ordinary negative and positive times */
    const int64_t must_lo = -86400000LL * 365 * 1000, must_hi = INT64_MAX / 2;
    int64_t t[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        strata_sample s = {sid, all[i], (double)i + 0.5};
        int rc = strata_write(e.db, &s, 1);
        if (rc == STRATA_OK) {
            t[n++] = all[i];
            dbt_set_add(&e.model, "__name__=times,s=x", all[i], dbt_bits(s.value));
        } else if (rc != STRATA_ERR_INVALID || (all[i] >= must_lo && all[i] <= must_hi)) {
            fail_msg("write at t=%" PRId64 ": %s", all[i], strata_strerror(rc));
        } else {
            fprintf(stderr, "t=%" PRId64 " refused: %s\n", all[i], strata_strerror(rc));
        }
    }
    edge_check(&e, "head", NULL, NULL);
    int rc = strata_flush(e.db);
    if (rc)
        fail_msg("flush of timestamps %" PRId64 "..%" PRId64 " that strata_write accepted failed: %s "
                 "(an accepted timestamp must be storable)", t[0], t[n - 1], strata_strerror(rc));
    edge_check(&e, "after flush", NULL, NULL);
    edge_reopen(&e);
    edge_check(&e, "after reopen", NULL, NULL);
    assert_int_equal(strata_compact(e.db, 1), STRATA_OK);
    edge_check(&e, "after full compaction", NULL, NULL);
    /* inclusive bounds: [t_i, t_j] returns exactly t_i..t_j */
    strata_matcher m = {STRATA_MATCH_EQ, "s", "x"};
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            dbt_set got = {0};
            rc = dbt_read(e.db, &m, 1, t[i], t[j], &got);
            if (rc)
                fail_msg("select [%" PRId64 ", %" PRId64 "]: %s", t[i], t[j], strata_strerror(rc));
            if (got.n != j - i + 1 || got.v[0].t != t[i] || got.v[got.n - 1].t != t[j])
                fail_msg("select [%" PRId64 ", %" PRId64 "]: %zu samples, want %zu", t[i], t[j], got.n, j - i + 1);
            dbt_set_free(&got);
        }
    /* an empty range between two samples */
    dbt_set got = {0};
    assert_int_equal(dbt_read(e.db, &m, 1, 2, 3, &got), 0);
    assert_int_equal(got.n, 0);
    dbt_set_free(&got);
    edge_close(&e);
}

static void empty_label_values_are_dropped(void **state)
{
    (void)state;
    edge e;
    edge_open(&e, "db_edge_empty");
    strata_label with[] = {{"__name__", "empty"}, {"a", ""}, {"b", "x"}};
    strata_label without[] = {{"b", "x"}, {"__name__", "empty"}};
    strata_sid s1, s2;
    int created = -1;
    assert_int_equal(strata_series_get_or_create(e.db, with, 3, &s1, &created), STRATA_OK);
    assert_int_equal(created, 1);
    assert_int_equal(strata_series_get_or_create(e.db, without, 2, &s2, &created), STRATA_OK);
    assert_int_equal(created, 0);
    assert_int_equal(s1, s2);
    int64_t t = 1000;
    uint64_t v = dbt_bits(1.0);
    edge_write(&e, "__name__=empty,b=x", s1, &t, &v, 1); /* the model has no "a" */
    edge_check_everywhere(&e, NULL, NULL);
    /* a="" matches the series (it has no a), a!="" does not */
    strata_matcher m_eq[] = {{STRATA_MATCH_EQ, "__name__", "empty"}, {STRATA_MATCH_EQ, "a", ""}};
    strata_matcher m_ne[] = {{STRATA_MATCH_EQ, "__name__", "empty"}, {STRATA_MATCH_NEQ, "a", ""}};
    dbt_set got = {0};
    assert_int_equal(dbt_read(e.db, m_eq, 2, INT64_MIN, INT64_MAX, &got), 0);
    assert_int_equal(got.n, 1);
    dbt_set_free(&got);
    assert_int_equal(dbt_read(e.db, m_ne, 2, INT64_MIN, INT64_MAX, &got), 0);
    assert_int_equal(got.n, 0);
    dbt_set_free(&got);
    /* label names of the series: no "a" */
    strata_strings names;
    assert_int_equal(strata_label_names(e.db, m_eq, 1, INT64_MIN, INT64_MAX, &names), STRATA_OK);
    for (size_t i = 0; i < names.n; i++)
        assert_string_not_equal(names.v[i], "a");
    strata_strings_free(&names);
    edge_close(&e);
}

static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static void long_labels_round_trip_and_limits_refuse(void **state)
{
    (void)state;
    edge e;
    edge_open(&e, "db_edge_long");
    /* within limits: a 1000-byte name, a 60000-byte value, 200 labels */
    char *lname = filled(1000, 'n'), *lvalue = filled(60000, 'v');
    strata_label l1[] = {{"__name__", "long"}, {lname, "1"}};
    strata_label l2[] = {{"__name__", "long"}, {"k", lvalue}};
    strata_label many[200];
    char names[200][16];
    many[0] = (strata_label){"__name__", "many"};
    for (int i = 1; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "l%03d", i);
        many[i] = (strata_label){names[i], names[i]};
    }
    strata_sid s1, s2, s3;
    assert_int_equal(strata_series_get_or_create(e.db, l1, 2, &s1, NULL), STRATA_OK);
    assert_int_equal(strata_series_get_or_create(e.db, l2, 2, &s2, NULL), STRATA_OK);
    assert_int_equal(strata_series_get_or_create(e.db, many, 200, &s3, NULL), STRATA_OK);
    size_t cap = 1 << 20;
    char *text = malloc(cap);
    assert_non_null(text);
    int64_t t = 5000;
    uint64_t v = dbt_bits(42.0);
    snprintf(text, cap, "__name__=long,%s=1", lname);
    edge_write(&e, text, s1, &t, &v, 1);
    snprintf(text, cap, "__name__=long,k=%s", lvalue);
    edge_write(&e, text, s2, &t, &v, 1);
    /* sorted by name: __name__ sorts before l001 ('_' < 'l') */
    size_t k = (size_t)snprintf(text, cap, "__name__=many");
    for (int i = 1; i < 200; i++)
        k += (size_t)snprintf(text + k, cap - k, ",%s=%s", names[i], names[i]);
    edge_write(&e, text, s3, &t, &v, 1);
    edge_check_everywhere(&e, NULL, NULL);

    /* beyond: a 100 KB name, a 1 MiB value, 10000 labels */
    char *hname = filled(100000, 'N'), *hvalue = filled(1 << 20, 'V');
    strata_label b1[] = {{"__name__", "long"}, {hname, "1"}};
    strata_label b2[] = {{"__name__", "long"}, {"k", hvalue}};
    strata_label *lots = calloc(10000, sizeof *lots);
    char (*lnames)[16] = calloc(10000, sizeof *lnames);
    assert_non_null(lots);
    assert_non_null(lnames);
    for (int i = 0; i < 10000; i++) {
        snprintf(lnames[i], sizeof lnames[i], "x%05d", i);
        lots[i] = (strata_label){lnames[i], "1"};
    }
    strata_sid bad = 12345;
    assert_int_equal(strata_series_get_or_create(e.db, b1, 2, &bad, NULL), STRATA_ERR_LIMIT);
    assert_int_equal(strata_series_get_or_create(e.db, b2, 2, &bad, NULL), STRATA_ERR_LIMIT);
    assert_int_equal(strata_series_get_or_create(e.db, lots, 10000, &bad, NULL), STRATA_ERR_LIMIT);
    assert_int_equal(bad, 12345); /* outputs set only on success */
    /* invalid: empty name, duplicate names */
    strata_label inv1[] = {{"__name__", "x"}, {"", "1"}};
    strata_label inv2[] = {{"__name__", "x"}, {"a", "1"}, {"a", "2"}};
    assert_int_equal(strata_series_get_or_create(e.db, inv1, 2, &bad, NULL), STRATA_ERR_INVALID);
    assert_int_equal(strata_series_get_or_create(e.db, inv2, 3, &bad, NULL), STRATA_ERR_INVALID);
    /* the database goes on */
    int64_t t2 = 6000;
    edge_write(&e, "__name__=many", dbt_series(e.db, "many", NULL, NULL), &t2, &v, 1);
    edge_check(&e, "after refusals", NULL, NULL);
    edge_reopen(&e);
    edge_check(&e, "after refusals and reopen", NULL, NULL);
    strata_stats st;
    assert_int_equal(strata_get_stats(e.db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.series, 4);
    free(lots);
    free(lnames);
    free(hname);
    free(hvalue);
    free(text);
    free(lname);
    free(lvalue);
    edge_close(&e);
}

/* ------------------------------------------------------------ deletes */

typedef struct del_rule {
    const char *series; /* exact series text */
    int64_t mint, maxt;
    size_t upto; /* applies to model entries written before this index */
} del_rule;

typedef struct del_ctx {
    del_rule r[8];
    size_t n;
    const dbt_set *model; /* to know which write came when */
} del_ctx;

/* The model entry for s written last: its position, to tell a write before
 * a delete from one after it. */
static size_t last_pos(const dbt_set *m, const dbt_sample *s)
{
    size_t pos = SIZE_MAX;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].t == s->t && !strcmp(m->v[i].series, s->series))
            pos = i;
    return pos;
}

static int del_drop(const dbt_sample *s, void *ctx)
{
    const del_ctx *d = ctx;
    size_t pos = last_pos(d->model, s);
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->r[i].series, s->series) && s->t >= d->r[i].mint && s->t <= d->r[i].maxt && pos < d->r[i].upto)
            return 1;
    return 0;
}

static void deletes_are_immediate_durable_and_do_not_hide_later_writes(void **state)
{
    (void)state;
    edge e;
    edge_open(&e, "db_edge_delete");
    const int64_t T = 1700000000000LL;
    strata_sid sids[4];
    const char *texts[4] = {"__name__=del,s=0", "__name__=del,s=1", "__name__=del,s=2", "__name__=del,s=3"};
    int64_t t[100];
    uint64_t v[100];
    for (int k = 0; k < 4; k++) {
        char name[8];
        snprintf(name, sizeof name, "%d", k);
        sids[k] = dbt_series(e.db, "del", "s", name);
        for (int i = 0; i < 100; i++) {
            t[i] = T + i * 60000;
            v[i] = dbt_bits(k * 1000.0 + i);
        }
        edge_write(&e, texts[k], sids[k], t, v, 100);
    }
    del_ctx d = {.model = &e.model};
    /* 1: delete from the head, s=1, minutes 10..19: invisible at once */
    strata_matcher m1[] = {{STRATA_MATCH_EQ, "__name__", "del"}, {STRATA_MATCH_EQ, "s", "1"}};
    assert_int_equal(strata_delete(e.db, m1, 2, T + 10 * 60000, T + 19 * 60000), STRATA_OK);
    d.r[d.n++] = (del_rule){texts[1], T + 10 * 60000, T + 19 * 60000, e.model.n};
    edge_check(&e, "delete in the head", del_drop, &d);
    /* 2: flush, then delete from tables: s=~"2|3", minutes 50..59 */
    assert_int_equal(strata_flush(e.db), STRATA_OK);
    edge_check(&e, "flushed after delete", del_drop, &d);
    strata_matcher m2[] = {{STRATA_MATCH_RE, "s", "2|3"}};
    assert_int_equal(strata_delete(e.db, m2, 1, T + 50 * 60000, T + 59 * 60000), STRATA_OK);
    d.r[d.n++] = (del_rule){texts[2], T + 50 * 60000, T + 59 * 60000, e.model.n};
    d.r[d.n++] = (del_rule){texts[3], T + 50 * 60000, T + 59 * 60000, e.model.n};
    edge_check(&e, "delete over tables", del_drop, &d);
    /* 3: later writes into deleted ranges are visible */
    int64_t tl[2] = {T + 15 * 60000, T + 55 * 60000};
    uint64_t vl[2] = {dbt_bits(-1.0), dbt_bits(-2.0)};
    edge_write(&e, texts[1], sids[1], &tl[0], &vl[0], 1);
    edge_write(&e, texts[2], sids[2], &tl[1], &vl[1], 1);
    edge_check(&e, "write after delete", del_drop, &d);
    /* durable: reopen (WAL replay of the delete and the later writes) */
    edge_reopen(&e);
    edge_check(&e, "reopen after delete", del_drop, &d);
    assert_int_equal(strata_flush(e.db), STRATA_OK);
    edge_check(&e, "flush after reopen", del_drop, &d);
    edge_reopen(&e);
    edge_check(&e, "second reopen", del_drop, &d);
    assert_int_equal(strata_compact(e.db, 1), STRATA_OK);
    edge_check(&e, "after full compaction", del_drop, &d);
    edge_reopen(&e);
    edge_check(&e, "reopen after compaction", del_drop, &d);
    /* a delete matching nothing is fine; a bad range is not */
    strata_matcher none[] = {{STRATA_MATCH_EQ, "s", "nope"}};
    assert_int_equal(strata_delete(e.db, none, 1, INT64_MIN, INT64_MAX), STRATA_OK);
    assert_int_equal(strata_delete(e.db, m1, 2, 10, 5), STRATA_ERR_INVALID);
    edge_check(&e, "after no-op deletes", del_drop, &d);
    edge_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(out_of_order_and_duplicates_later_write_wins),
        cmocka_unit_test(special_values_are_bit_exact),
        cmocka_unit_test(empty_label_values_are_dropped),
        cmocka_unit_test(long_labels_round_trip_and_limits_refuse),
        cmocka_unit_test(deletes_are_immediate_durable_and_do_not_hide_later_writes),
        /* last: under UBSan an overflow in the engine aborts the process */
        cmocka_unit_test(extreme_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
