/*
 * ast.c: query_parse and query_ast_free, and the arena the trees live in.
 *
 * The arena hands out zeroed, pointer-aligned pieces of chunks that grow
 * geometrically (4 KiB first), so a tree costs a few allocations and is
 * freed by walking the chunk list.
 */
#include "parse_priv.h"

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct query_arena {
    chunk *head;
    size_t next_cap;
};

int query_arena_new(query_arena **out)
{
    query_arena *a = base_calloc(1, sizeof *a);
    if (!a)
        return STRATA_ERR_NOMEM;
    a->next_cap = 4096;
    *out = a;
    return STRATA_OK;
}

void query_arena_free(query_arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        base_free(c);
    }
    base_free(a);
}

void *query_arena_alloc(query_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = a->next_cap;
        while (cap < n)
            cap *= 2;
        c = base_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        if (a->next_cap < (1u << 20))
            a->next_cap *= 2;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

int query_parse(const char *text, size_t len, query_start start, query_ast **out, query_error *err)
{
    parser p;
    memset(&p, 0, sizeof p);
    if (err)
        memset(err, 0, sizeof *err);
    if (!text && len)
        return STRATA_ERR_INVALID;
    if (!text)
        text = "";
    p.s = text;
    p.len = (int64_t)len;
    p.err = err;
    p.at_start = true;
    p.selector_only = start == QUERY_START_SELECTOR;
    const char *nul = memchr(text, 0, len);
    if (nul)
        return query_parse_fail(&p, nul - text, "unexpected character: '\\x00'");
    query_ast *ast = base_calloc(1, sizeof *ast);
    if (!ast || query_arena_new(&p.arena) != STRATA_OK) {
        base_free(ast);
        return query_parse_nomem(&p);
    }
    query_lex_init(&p.lx, text, (int64_t)len);
    query_parse_advance(&p);
    p.at_start = true;
    query_node *root = query_parse_expr(&p, 0);
    if (root && p.tok.type != T_EOF)
        query_parse_unexpected(&p, NULL, NULL);
    if (p.rc == STRATA_OK && p.selector_only) {
        const query_node *vs = root->kind == QUERY_NODE_MATRIX_SELECTOR ? root->u.matrix.vs : root;
        if (vs->kind != QUERY_NODE_VECTOR_SELECTOR ||
            (root->kind == QUERY_NODE_MATRIX_SELECTOR && root->u.matrix.range_expr))
            query_parse_fail(&p, root->pos_start, "expected a vector selector");
    }
    if (p.rc == STRATA_OK)
        query_parse_check(&p, root);
    if (p.rc != STRATA_OK) {
        query_arena_free(p.arena);
        base_free(ast);
        return p.rc;
    }
    ast->root = root;
    ast->n_nodes = p.n_nodes;
    ast->arena = p.arena;
    *out = ast;
    return STRATA_OK;
}

void query_ast_free(query_ast *ast)
{
    if (!ast)
        return;
    query_arena_free(ast->arena);
    base_free(ast);
}
