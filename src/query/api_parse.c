/*
 * api_parse.c: the public face of the parser (strata.h, "queries:
 * parsing"): strata_query_parse / _format / _free, and
 * strata_selector_parse, the match[] selector grammar of the HTTP API and
 * the CLI, which is this parser started at a vector selector.
 */
#include <stdio.h>

#include "parse_int.h"

struct strata_query {
    query_ast *ast;
    char *text; /* a copy, for messages */
    size_t len;
};

static void copy_error(const query_error *qe, strata_query_error *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->type = STRATA_QUERY_ERR_BAD_DATA;
    err->pos = qe->pos;
    err->line = qe->line;
    err->col = qe->col;
    snprintf(err->msg, sizeof err->msg, "%s", qe->msg);
}

int strata_query_parse(const char *text, size_t len, strata_query **out, strata_query_error *err)
{
    query_error qe;
    if (err)
        memset(err, 0, sizeof *err);
    if (!out || (!text && len))
        return STRATA_ERR_INVALID;
    query_ast *ast;
    int rc = query_parse(text, len, QUERY_START_EXPR, &ast, &qe);
    if (rc != STRATA_OK) {
        copy_error(&qe, err);
        if (rc == STRATA_ERR_NOMEM && err)
            err->type = STRATA_QUERY_ERR_INTERNAL;
        return rc;
    }
    strata_query *q = base_calloc(1, sizeof *q);
    if (!q || !(q->text = base_malloc(len + 1))) {
        base_free(q);
        query_ast_free(ast);
        return STRATA_ERR_NOMEM;
    }
    if (len)
        memcpy(q->text, text, len);
    q->text[len] = 0;
    q->len = len;
    q->ast = ast;
    *out = q;
    return STRATA_OK;
}

int strata_query_format(const strata_query *q, strata_query_format_style style, char **out, size_t *len)
{
    if (!q || !out)
        return STRATA_ERR_INVALID;
    bbuf b = {0};
    int rc;
    switch (style) {
    case STRATA_QUERY_FORMAT_COMPACT: rc = query_print(q->ast->root, &b); break;
    case STRATA_QUERY_FORMAT_PRETTY: rc = query_pretty(q->ast->root, &b); break;
    case STRATA_QUERY_FORMAT_JSON: rc = query_json(q->ast->root, &b); break;
    default: return STRATA_ERR_INVALID;
    }
    if (rc == STRATA_OK)
        rc = base_buf_put_u8(&b, 0);
    if (rc != STRATA_OK) {
        base_buf_free(&b);
        return rc;
    }
    if (len)
        *len = b.len - 1;
    *out = (char *)b.data;
    return STRATA_OK;
}

void strata_query_free(strata_query *q)
{
    if (!q)
        return;
    query_ast_free(q->ast);
    base_free(q->text);
    base_free(q);
}

const query_ast *query_of(const strata_query *q) { return q ? q->ast : NULL; }

/* ------------------------------------------------------------ selectors */

void strata_selector_free(strata_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n_matchers; i++) {
        base_free((char *)sel->matchers[i].name);
        base_free((char *)sel->matchers[i].value);
    }
    base_free(sel->matchers);
    sel->matchers = NULL;
    sel->n_matchers = 0;
    sel->range_ms = 0;
}

int strata_selector_parse(const char *text, strata_selector *out, char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!text || !out)
        return STRATA_ERR_INVALID;
    query_ast *ast;
    query_error qe;
    int rc = query_parse(text, strlen(text), QUERY_START_SELECTOR, &ast, &qe);
    if (rc != STRATA_OK) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s", qe.msg);
        return rc;
    }
    const query_node *root = ast->root, *vs = root;
    strata_selector sel = {0};
    if (root->kind == QUERY_NODE_MATRIX_SELECTOR) {
        vs = root->u.matrix.vs;
        sel.range_ms = root->u.matrix.range_ms;
    }
    size_t n = vs->u.vs.n_matchers;
    sel.matchers = base_calloc(n ? n : 1, sizeof *sel.matchers);
    rc = sel.matchers ? STRATA_OK : STRATA_ERR_NOMEM;
    /* The metric name written up front comes first here (the tree keeps
     * it last, as Prometheus does). */
    size_t first = vs->u.vs.name ? n - 1 : 0;
    for (size_t k = 0; k < n && rc == STRATA_OK; k++) {
        const strata_matcher *m = &vs->u.vs.matchers[(first + k) % n];
        char *name = base_strdup(m->name), *value = base_strdup(m->value);
        sel.matchers[k] = (strata_matcher){m->type, name, value};
        sel.n_matchers = k + 1;
        if (!name || !value)
            rc = STRATA_ERR_NOMEM;
    }
    query_ast_free(ast);
    if (rc != STRATA_OK) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "out of memory");
        strata_selector_free(&sel);
        return rc;
    }
    *out = sel;
    return STRATA_OK;
}
