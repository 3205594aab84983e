/*
 * func_label.c: label_replace and label_join.
 *
 * label_replace compiles "^(?s:" re ")$", the string Prometheus gives Go's
 * regexp.Compile (so, as there, a re such as "a)|(b" escapes the anchors),
 * with RE2 through the index layer's shim (src/index/re2_shim.h: Go's
 * syntax, leftmost-first), takes the leftmost match with its groups
 * (FindStringSubmatchIndex) and expands the replacement as Go's
 * Regexp.ExpandString does: $1, ${1}, $name, ${name}; $$ is a dollar; a
 * name is the longest run of letters, digits and underscores, so "$1x"
 * names the group "1x" (empty when it does not exist). A regex that does
 * not compile and a bad destination or source label name are errors of
 * execution (HTTP 422), raised before the argument is evaluated, as
 * Prometheus' evaluator raises them. Series whose labels become equal are
 * merged or refused like every other label change (value.c).
 */
#include <stdlib.h>
#include <string.h>

/* The shim is the index layer's private header: the layer's interface
 * (index/index.h) does not carry it. */
#include "base/base.h"
#include "eval_int.h"
#include "index/index.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 128;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *p = base_realloc(b->p, nc);
        if (!p)
            return STRATA_ERR_NOMEM;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* Makes b hold at least cap bytes. */
static int sb_reserve(sbuf *b, size_t cap)
{
    if (cap <= b->cap)
        return 0;
    char *p = base_realloc(b->p, cap);
    if (!p)
        return STRATA_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static const char *str_arg(const query_node *n)
{
    n = query_unwrap(n);
    return n->kind == QUERY_NODE_STRING ? n->u.string.value : "";
}

int query_eval_label_replace(qctx *c, const query_node *n, qvalue *out)
{
    const char *dst = str_arg(n->u.call.args[1]), *repl = str_arg(n->u.call.args[2]),
               *src = str_arg(n->u.call.args[3]), *re_s = str_arg(n->u.call.args[4]);
    memset(out, 0, sizeof *out);
    sbuf pat = {0};
    if (sb_put(&pat, "^(?s:", 5) != 0 || sb_put(&pat, re_s, strlen(re_s)) != 0 || sb_put(&pat, ")$", 2) != 0) {
        base_free(pat.p);
        return query_nomem(c);
    }
    ix_re2 *re = NULL;
    int rc = ix_re2_compile_go(pat.p, pat.len, &re, NULL, 0);
    base_free(pat.p);
    if (rc == STRATA_ERR_NOMEM)
        return query_nomem(c);
    if (rc != 0)
        return query_fail(c, QERR_EXECUTION, "invalid regular expression in label_replace(): %s", re_s);
    if (!query_valid_label_name(dst)) {
        ix_re2_free(re);
        return query_fail(c, QERR_EXECUTION, "invalid destination label name in label_replace(): %s", dst);
    }
    size_t n_pairs = ix_re2_groups(re) + 1;
    ptrdiff_t *ov = base_malloc(2 * n_pairs * sizeof *ov);
    sbuf res = {0};
    rc = ov ? query_eval_node(c, n->u.call.args[0], out) : query_nomem(c);
    if (rc == 0 && out->kind != QV_VECTOR) {
        query_value_free(c, out);
        rc = query_fail(c, QERR_BAD_DATA, "expected an instant vector argument");
    }
    if (rc) {
        base_free(ov);
        ix_re2_free(re);
        return rc;
    }
    size_t tlen = strlen(repl);
    bool changed = false;
    for (size_t k = 0; rc == 0 && k < out->n; k++) {
        const char *v = query_labels_get(&out->s[k].lab, src);
        if (!v)
            v = "";
        int m = ix_re2_find(re, v, strlen(v), ov, n_pairs);
        if (m == 0)
            continue;
        size_t need = 0;
        if (m < 0 || sb_reserve(&res, 128) != 0 ||
            ix_re2_expand(re, repl, tlen, v, ov, n_pairs, res.p, res.cap, &need) != 0 ||
            (need >= res.cap && (sb_reserve(&res, need + 1) != 0 ||
                                 ix_re2_expand(re, repl, tlen, v, ov, n_pairs, res.p, res.cap, &need) != 0))) {
            rc = query_nomem(c);
            break;
        }
        qlabels nl;
        if (query_labels_set(&out->s[k].lab, dst, res.p, &nl) != 0) {
            rc = query_nomem(c);
            break;
        }
        query_labels_free(&out->s[k].lab);
        out->s[k].lab = nl;
        changed = true;
    }
    if (rc == 0 && changed)
        rc = query_vector_dedupe(c, out);
    if (rc)
        query_value_free(c, out);
    base_free(res.p);
    base_free(ov);
    ix_re2_free(re);
    return rc;
}

int query_eval_label_join(qctx *c, const query_node *n, qvalue *out)
{
    const char *dst = str_arg(n->u.call.args[1]), *sep = str_arg(n->u.call.args[2]);
    for (size_t i = 3; i < n->u.call.n_args; i++)
        if (!query_valid_label_name(str_arg(n->u.call.args[i])))
            return query_fail(c, QERR_EXECUTION, "invalid source label name in label_join(): %s",
                              str_arg(n->u.call.args[i]));
    if (!query_valid_label_name(dst))
        return query_fail(c, QERR_EXECUTION, "invalid destination label name in label_join(): %s", dst);
    int rc = query_eval_node(c, n->u.call.args[0], out);
    if (rc)
        return rc;
    if (out->kind != QV_VECTOR) {
        query_value_free(c, out);
        return query_fail(c, QERR_BAD_DATA, "expected an instant vector argument");
    }
    sbuf b = {0};
    for (size_t k = 0; rc == 0 && k < out->n; k++) {
        b.len = 0;
        rc = sb_put(&b, "", 0);
        for (size_t i = 3; rc == 0 && i < n->u.call.n_args; i++) {
            const char *v = query_labels_get(&out->s[k].lab, str_arg(n->u.call.args[i]));
            if (i > 3)
                rc = sb_put(&b, sep, strlen(sep));
            if (rc == 0 && v)
                rc = sb_put(&b, v, strlen(v));
        }
        qlabels nl;
        if (rc == 0 && query_labels_set(&out->s[k].lab, dst, b.p, &nl) == 0) {
            query_labels_free(&out->s[k].lab);
            out->s[k].lab = nl;
        } else {
            rc = query_nomem(c);
        }
    }
    if (rc == 0)
        rc = query_vector_dedupe(c, out);
    base_free(b.p);
    if (rc)
        query_value_free(c, out);
    return rc;
}
