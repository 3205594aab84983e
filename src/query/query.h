/*
 * query.h: the interface of the query layer inside the library: parsing
 * PromQL into the tree of ast.h, printing a tree back as text, and (in the
 * section at the end, owned by the evaluator) evaluating it.
 *
 * The public face of all of this is the "queries" section of strata.h;
 * server/, cli/ and embedding programs use only that.
 */
#ifndef STRATA_QUERY_H
#define STRATA_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "ast.h"

/* ================================================================ parsing */

/* A parse error: where and why, in Prometheus' words. pos is a byte offset
 * into the text, line and col are 1-based (col counts bytes). */
typedef struct query_error {
    int64_t pos;
    int line, col;
    char msg[512];
} query_error;

/* Deepest nesting the parser accepts (parentheses, calls, unary signs),
 * and the tallest tree it builds (a chain a+b+c+... is as tall as it is
 * long): more is a parse error rather than a deep C stack, so code that
 * recurses over a tree (printers, evaluator) may rely on the height. */
#define QUERY_MAX_DEPTH 500
#define QUERY_MAX_HEIGHT 1000

/* What the parser accepts at its top. */
typedef enum query_start {
    QUERY_START_EXPR = 0,     /* any PromQL expression */
    QUERY_START_SELECTOR = 1  /* only a (range) vector selector: match[] */
} query_start;

/* Parses [text, text+len) into a new tree. The text need not be
 * NUL-terminated; a NUL byte in it is an error. On STRATA_ERR_INVALID *err
 * (when not NULL) says where and why; STRATA_ERR_NOMEM when memory ran out.
 * *out is set only on success and freed with query_ast_free. */
int query_parse(const char *text, size_t len, query_start start, query_ast **out, query_error *err);
void query_ast_free(query_ast *ast);

/* The tree of a public strata_query (NULL for NULL). */
const query_ast *query_of(const strata_query *q);

/* The function of that name (case-sensitive, as Prometheus), or NULL. */
const query_func *query_func_lookup(const char *name, size_t len);
const query_func *query_func_by_id(query_func_id id);
/* Names for messages and printing: "sum", "+", "scalar", ... */
const char *query_agg_name(query_agg_op op);
const char *query_op_name(query_op op);
const char *query_type_name(query_type t); /* "scalar", "instant vector", ... */

/* ================================================================ printing */

/* Appends the one-line form of node, as Prometheus' String() writes it
 * (`sum by (a) (rate(x[5m]))`); parsing it gives an equal tree. */
int query_print(const query_node *node, bbuf *out);
/* Appends the multi-line form of Prometheus' Pretty() (format_query). */
int query_pretty(const query_node *node, bbuf *out);
/* The same with another line width than Prometheus' 100 (for tests). */
int query_pretty_width(const query_node *node, size_t width, bbuf *out);
/* Appends the JSON of Prometheus' /api/v1/parse_query for node. */
int query_json(const query_node *node, bbuf *out);
/* Appends a duration in Prometheus' form (1h30m, 500ms, -5m). */
int query_print_duration(int64_t ms, bbuf *out);

/* ================================================================ evaluation
 * (this section belongs to the evaluator)
 *
 * The evaluator's public face is strata_query_instant / strata_query_range
 * and strata_result_* in strata.h (eval_api.c, result.c); its value model,
 * context and the interfaces between eval*.c, func*.c, agg.c, binop.c and
 * value.c are private to it, in eval_int.h. It reads the tree of ast.h
 * and nothing else of the parser. */

#endif /* STRATA_QUERY_H */
