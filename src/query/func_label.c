/*
 * func_label.c: label_replace and label_join.
 *
 * label_replace compiles its regex with PCRE2 anchored at both ends and
 * with dot-all, as Prometheus compiles "^(?s:re)$" with Go's regexp, and
 * expands the replacement as Go's Regexp.ExpandString does: $1, ${1},
 * $name, ${name}; $$ is a dollar; a name is the longest run of letters,
 * digits and underscores, so "$1x" names the group "1x" (empty when it
 * does not exist). Series whose labels become equal are merged or
 * refused like every other label change (value.c).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

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

static bool is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Go's Regexp.expand over the match of subject in ov (n_groups pairs). */
static int expand(sbuf *out, const char *tmpl, const char *subject, const PCRE2_SIZE *ov, uint32_t n_pairs,
                  const pcre2_code *re)
{
    out->len = 0;
    if (sb_put(out, "", 0) != 0)
        return STRATA_ERR_NOMEM;
    for (const char *p = tmpl; *p;) {
        const char *dollar = strchr(p, '$');
        if (!dollar)
            return sb_put(out, p, strlen(p));
        if (sb_put(out, p, (size_t)(dollar - p)) != 0)
            return STRATA_ERR_NOMEM;
        p = dollar + 1;
        if (*p == '$') {
            if (sb_put(out, "$", 1) != 0)
                return STRATA_ERR_NOMEM;
            p++;
            continue;
        }
        const char *name, *name_end;
        if (*p == '{') {
            const char *q = p + 1;
            while (is_name_char(*q))
                q++;
            if (q == p + 1 || *q != '}') {
                /* malformed: the dollar is kept literally */
                if (sb_put(out, "$", 1) != 0)
                    return STRATA_ERR_NOMEM;
                continue;
            }
            name = p + 1;
            name_end = q;
            p = q + 1;
        } else {
            const char *q = p;
            while (is_name_char(*q))
                q++;
            if (q == p) {
                if (sb_put(out, "$", 1) != 0)
                    return STRATA_ERR_NOMEM;
                continue;
            }
            name = p;
            name_end = q;
            p = q;
        }
        size_t nl = (size_t)(name_end - name);
        long idx = -1;
        bool numeric = true;
        for (size_t i = 0; i < nl; i++)
            numeric &= name[i] >= '0' && name[i] <= '9';
        if (numeric) {
            idx = 0;
            for (size_t i = 0; i < nl && idx < 100000; i++)
                idx = idx * 10 + (name[i] - '0');
        } else {
            char tmp[256];
            if (nl < sizeof tmp) {
                memcpy(tmp, name, nl);
                tmp[nl] = 0;
                int r = pcre2_substring_number_from_name(re, (PCRE2_SPTR)tmp);
                if (r >= 0)
                    idx = r;
            }
        }
        if (idx >= 0 && (uint32_t)idx < n_pairs && ov[2 * idx] != PCRE2_UNSET) {
            if (sb_put(out, subject + ov[2 * idx], ov[2 * idx + 1] - ov[2 * idx]) != 0)
                return STRATA_ERR_NOMEM;
        }
    }
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
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_s, PCRE2_ZERO_TERMINATED,
                                   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY |
                                       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C,
                                   &err, &erroff, NULL);
    if (!re)
        return query_fail(c, QERR_BAD_DATA, "invalid regular expression in label_replace(): %s", re_s);
    if (!query_valid_label_name(dst)) {
        pcre2_code_free(re);
        return query_fail(c, QERR_BAD_DATA, "invalid destination label name in label_replace(): %s", dst);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    sbuf res = {0};
    int rc = (md && mc) ? 0 : query_nomem(c);
    if (mc)
        pcre2_set_match_limit(mc, 1000000);
    if (rc == 0)
        rc = query_eval_node(c, n->u.call.args[0], out);
    if (rc == 0 && out->kind != QV_VECTOR) {
        query_value_free(c, out);
        rc = query_fail(c, QERR_BAD_DATA, "expected an instant vector argument");
    }
    bool changed = false;
    for (size_t k = 0; rc == 0 && k < out->n; k++) {
        const char *v = query_labels_get(&out->s[k].lab, src);
        if (!v)
            v = "";
        int m = pcre2_match(re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, mc);
        if (m == PCRE2_ERROR_NOMATCH)
            continue;
        if (m < 0) {
            rc = query_fail(c, QERR_EXECUTION, "label_replace(): regular expression match failed");
            break;
        }
        if (expand(&res, repl, v, pcre2_get_ovector_pointer(md), pcre2_get_ovector_count(md), re) != 0) {
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
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_code_free(re);
    return rc;
}

int query_eval_label_join(qctx *c, const query_node *n, qvalue *out)
{
    const char *dst = str_arg(n->u.call.args[1]), *sep = str_arg(n->u.call.args[2]);
    for (size_t i = 3; i < n->u.call.n_args; i++)
        if (!query_valid_label_name(str_arg(n->u.call.args[i])))
            return query_fail(c, QERR_BAD_DATA, "invalid source label name in label_join(): %s",
                              str_arg(n->u.call.args[i]));
    if (!query_valid_label_name(dst))
        return query_fail(c, QERR_BAD_DATA, "invalid destination label name in label_join(): %s", dst);
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
