/*
 * parse_priv.h: the parser's state and the functions its files (parse.c,
 * modifiers.c, check.c) share.
 */
#ifndef STRATA_QUERY_PARSE_PRIV_H
#define STRATA_QUERY_PARSE_PRIV_H

#include "parse_int.h"

typedef struct parser {
    lexer lx;
    const char *s;
    int64_t len;
    token tok;   /* the current token */
    token ahead; /* the one after it, when has_ahead */
    bool has_ahead;
    bool at_start;      /* nothing consumed yet */
    bool selector_only; /* QUERY_START_SELECTOR */
    query_arena *arena;
    query_error *err;
    int rc; /* the first failure */
    int depth;
    int64_t last_closing; /* end of the last ) } ] number or duration lexed */
    uint32_t n_nodes;
} parser;

int query_parse_fail(parser *p, int64_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int query_parse_nomem(parser *p);
int query_parse_unexpected(parser *p, const char *context, const char *expected);
void query_parse_advance(parser *p);
const token *query_parse_peek(parser *p);
query_node *query_parse_node(parser *p, query_node_kind kind, int64_t start, int64_t end);
bool query_parse_child(parser *p, query_node *n, const query_node *child);
char *query_parse_strdup(parser *p, const char *s, size_t n);
char *query_parse_string_tok(parser *p, size_t *len);
bool query_parse_number_tok(parser *p, double *v);
bool query_parse_grouping(parser *p, char ***out, size_t *n_out);
query_node *query_parse_selector(parser *p, bool has_name);
query_node *query_parse_expr(parser *p, int min_prec);

/* modifiers.c: [range], [range:step], offset, @, anchored, smoothed after
 * e (NULL passes through). */
query_node *query_parse_postfix(parser *p, query_node *e);

/* check.c: Prometheus' checkAST over the whole tree; numbers the nodes. */
int query_parse_check(parser *p, query_node *root);

#endif
