/*
 * ast.h: the syntax tree of a parsed PromQL expression, shared by the
 * parser (parse.c, lex.c), the printers (printer.c) and the evaluator.
 *
 * Shape
 * The tree mirrors Prometheus 3's promql/parser AST (ast.go) node for node,
 * so that Prometheus' engine can be read side by side with ours:
 *
 *   NUMBER            1, 0x1f, Inf, NaN, 5m used as a number (is_duration)
 *   STRING            "a", 'a', `a`
 *   PAREN             ( expr )
 *   UNARY             -expr, +expr (never over a NUMBER: -1 is NUMBER -1)
 *   BINARY            lhs op rhs, with bool, on/ignoring, group_x, fill
 *   AGGREGATE         sum by (a) (expr), topk(3, expr)
 *   CALL              rate(x[5m]); args typed per the function table
 *   VECTOR_SELECTOR   name{a="b"} offset 5m @ 123 anchored
 *   MATRIX_SELECTOR   <vector selector>[5m]; its offset, @ and the
 *                     anchored/smoothed flags live on the inner selector,
 *                     as in Prometheus
 *   SUBQUERY          expr[1h:5m] offset 1m @ end()
 *   DURATION          duration arithmetic of Prometheus 3 in ranges, steps
 *                     and offsets: [5m+1m], offset (1h*2), step(), range(),
 *                     min_of(a, b), max_of(a, b); evaluated at query time
 *                     since step() and range() are only known then
 *
 * Durations of ranges, steps and offsets are kept as milliseconds when the
 * text gave a constant, and as a DURATION node (the *_expr field, non-NULL)
 * when it gave arithmetic; exactly one of the two is meaningful.
 *
 * Memory
 * Every node, string and array of one tree lives in the arena of its
 * query_ast and is released at once by query_ast_free; nothing in the tree
 * is freed on its own. A tree is immutable after parsing and may be read by
 * any number of threads at once. Per-node state of the evaluator belongs in
 * side tables indexed by query_node.id (0 .. query_ast.n_nodes-1, unique:
 * expression nodes in preorder, then the DURATION trees of ranges, steps
 * and offsets), not in the tree.
 *
 * Positions are byte offsets into the parsed text: [pos_start, pos_end).
 */
#ifndef STRATA_QUERY_AST_H
#define STRATA_QUERY_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata.h"

/* The value type an expression evaluates to (Prometheus' ValueType). */
typedef enum query_type {
    QUERY_TYPE_NONE = 0,
    QUERY_TYPE_SCALAR,
    QUERY_TYPE_VECTOR, /* instant vector */
    QUERY_TYPE_MATRIX, /* range vector */
    QUERY_TYPE_STRING
} query_type;

typedef enum query_node_kind {
    QUERY_NODE_NUMBER = 1,
    QUERY_NODE_STRING,
    QUERY_NODE_PAREN,
    QUERY_NODE_UNARY,
    QUERY_NODE_BINARY,
    QUERY_NODE_AGGREGATE,
    QUERY_NODE_CALL,
    QUERY_NODE_VECTOR_SELECTOR,
    QUERY_NODE_MATRIX_SELECTOR,
    QUERY_NODE_SUBQUERY,
    QUERY_NODE_DURATION
} query_node_kind;

/* Operators of BINARY, UNARY (ADD, SUB only) and DURATION nodes. */
typedef enum query_op {
    QUERY_OP_NONE = 0,
    /* arithmetic */
    QUERY_OP_ADD, /* + */
    QUERY_OP_SUB, /* - */
    QUERY_OP_MUL, /* * */
    QUERY_OP_DIV, /* / */
    QUERY_OP_MOD, /* % */
    QUERY_OP_POW, /* ^ (right-associative) */
    QUERY_OP_ATAN2,
    /* comparisons */
    QUERY_OP_EQL, /* == */
    QUERY_OP_NEQ, /* != */
    QUERY_OP_LSS, /* <  */
    QUERY_OP_LTE, /* <= */
    QUERY_OP_GTR, /* >  */
    QUERY_OP_GTE, /* >= */
    /* histogram trimming of Prometheus 3 ("</", ">/"): parsed at the
     * comparison level; native histograms only, so the evaluator refuses */
    QUERY_OP_TRIM_UPPER,
    QUERY_OP_TRIM_LOWER,
    /* set operators */
    QUERY_OP_AND,
    QUERY_OP_OR,
    QUERY_OP_UNLESS,
    /* DURATION leaves and functions (no operands for STEP and RANGE) */
    QUERY_OP_STEP,   /* step() */
    QUERY_OP_RANGE,  /* range() */
    QUERY_OP_MIN_OF, /* min_of(lhs, rhs) */
    QUERY_OP_MAX_OF  /* max_of(lhs, rhs) */
} query_op;

static inline bool query_op_is_comparison(query_op op) { return op >= QUERY_OP_EQL && op <= QUERY_OP_GTE; }
static inline bool query_op_is_set(query_op op)
{
    return op == QUERY_OP_AND || op == QUERY_OP_OR || op == QUERY_OP_UNLESS;
}

typedef enum query_agg_op {
    QUERY_AGG_SUM = 1,
    QUERY_AGG_MIN,
    QUERY_AGG_MAX,
    QUERY_AGG_AVG,
    QUERY_AGG_GROUP,
    QUERY_AGG_STDDEV,
    QUERY_AGG_STDVAR,
    QUERY_AGG_COUNT,
    QUERY_AGG_COUNT_VALUES, /* param: STRING, the output label */
    QUERY_AGG_BOTTOMK,      /* param: SCALAR k */
    QUERY_AGG_TOPK,         /* param: SCALAR k */
    QUERY_AGG_QUANTILE,     /* param: SCALAR phi */
    QUERY_AGG_LIMITK,       /* param: SCALAR k */
    QUERY_AGG_LIMIT_RATIO   /* param: SCALAR ratio */
} query_agg_op;

/* Vector matching cardinality (Prometheus' VectorMatchCardinality). Set
 * operators are always MANY_TO_MANY; others ONE_TO_ONE unless group_x. */
typedef enum query_card {
    QUERY_CARD_ONE_TO_ONE = 0,
    QUERY_CARD_MANY_TO_ONE, /* group_left */
    QUERY_CARD_ONE_TO_MANY, /* group_right */
    QUERY_CARD_MANY_TO_MANY
} query_card;

/* The @ modifier. */
typedef enum query_at {
    QUERY_AT_NONE = 0,
    QUERY_AT_TIMESTAMP, /* @ <number>: at_ms */
    QUERY_AT_START,     /* @ start() */
    QUERY_AT_END        /* @ end() */
} query_at;

/* Every function of the function table (builtins.c), in its order. The
 * histogram_* functions exist so the parser can type-check them like
 * Prometheus does; evaluating one is an error (float samples only). */
typedef enum query_func_id {
    QUERY_FN_ABS = 0,
    QUERY_FN_ABSENT,
    QUERY_FN_ABSENT_OVER_TIME,
    QUERY_FN_ACOS,
    QUERY_FN_ACOSH,
    QUERY_FN_ASIN,
    QUERY_FN_ASINH,
    QUERY_FN_ATAN,
    QUERY_FN_ATANH,
    QUERY_FN_AVG_OVER_TIME,
    QUERY_FN_CEIL,
    QUERY_FN_CHANGES,
    QUERY_FN_CLAMP,
    QUERY_FN_CLAMP_MAX,
    QUERY_FN_CLAMP_MIN,
    QUERY_FN_COS,
    QUERY_FN_COSH,
    QUERY_FN_COUNT_OVER_TIME,
    QUERY_FN_DAYS_IN_MONTH,
    QUERY_FN_DAY_OF_MONTH,
    QUERY_FN_DAY_OF_WEEK,
    QUERY_FN_DAY_OF_YEAR,
    QUERY_FN_DEG,
    QUERY_FN_END, /* end(): the query end, seconds */
    QUERY_FN_DELTA,
    QUERY_FN_DERIV,
    QUERY_FN_DOUBLE_EXPONENTIAL_SMOOTHING,
    QUERY_FN_EXP,
    QUERY_FN_FIRST_OVER_TIME,
    QUERY_FN_FLOOR,
    QUERY_FN_HISTOGRAM_AVG,
    QUERY_FN_HISTOGRAM_COUNT,
    QUERY_FN_HISTOGRAM_FRACTION,
    QUERY_FN_HISTOGRAM_QUANTILE,
    QUERY_FN_HISTOGRAM_STDDEV,
    QUERY_FN_HISTOGRAM_STDVAR,
    QUERY_FN_HISTOGRAM_QUANTILES,
    QUERY_FN_HISTOGRAM_SUM,
    QUERY_FN_HOLT_WINTERS, /* the 2.x name of double_exponential_smoothing */
    QUERY_FN_HOUR,
    QUERY_FN_IDELTA,
    QUERY_FN_INCREASE,
    QUERY_FN_INFO,
    QUERY_FN_IRATE,
    QUERY_FN_LABEL_JOIN,
    QUERY_FN_LABEL_REPLACE,
    QUERY_FN_LAST_OVER_TIME,
    QUERY_FN_MIN_OF,
    QUERY_FN_MAX_OF, /* max_of(a, b) of two scalars */
    QUERY_FN_LN,
    QUERY_FN_LOG10,
    QUERY_FN_LOG2,
    QUERY_FN_MAD_OVER_TIME,
    QUERY_FN_MAX_OVER_TIME,
    QUERY_FN_MIN_OVER_TIME,
    QUERY_FN_MINUTE,
    QUERY_FN_MONTH,
    QUERY_FN_PI,
    QUERY_FN_PREDICT_LINEAR,
    QUERY_FN_PRESENT_OVER_TIME,
    QUERY_FN_QUANTILE_OVER_TIME,
    QUERY_FN_RAD,
    QUERY_FN_RANGE, /* range(): end - start, seconds */
    QUERY_FN_RATE,
    QUERY_FN_RESETS,
    QUERY_FN_ROUND,
    QUERY_FN_SCALAR,
    QUERY_FN_SGN,
    QUERY_FN_SIN,
    QUERY_FN_SINH,
    QUERY_FN_SORT,
    QUERY_FN_SORT_BY_LABEL,
    QUERY_FN_SORT_BY_LABEL_DESC,
    QUERY_FN_SORT_DESC,
    QUERY_FN_SQRT,
    QUERY_FN_START, /* start(): the query start, seconds */
    QUERY_FN_START_TIMESTAMP,
    QUERY_FN_STEP, /* step(): the query step, seconds */
    QUERY_FN_STDDEV_OVER_TIME,
    QUERY_FN_STDVAR_OVER_TIME,
    QUERY_FN_SUM_OVER_TIME,
    QUERY_FN_TAN,
    QUERY_FN_TANH,
    QUERY_FN_TIME,
    QUERY_FN_TIMESTAMP,
    QUERY_FN_TS_OF_FIRST_OVER_TIME,
    QUERY_FN_TS_OF_LAST_OVER_TIME,
    QUERY_FN_TS_OF_MAX_OVER_TIME,
    QUERY_FN_TS_OF_MIN_OVER_TIME,
    QUERY_FN_VECTOR,
    QUERY_FN_YEAR,
    QUERY_FN_COUNT_ /* number of functions */
} query_func_id;

/* One function of the table (Prometheus' Function). */
typedef struct query_func {
    query_func_id id;
    const char *name;
    const query_type *arg_types; /* n_arg_types entries */
    uint8_t n_arg_types;
    /* 0: exactly n_arg_types arguments; -1: the last may repeat without
     * bound; k > 0: up to k trailing arguments may be left out. */
    int8_t variadic;
    query_type return_type;
    bool experimental; /* behind a feature flag in Prometheus; accepted here */
    bool histogram;    /* native histograms only: evaluation is an error */
} query_func;

typedef struct query_node query_node;

/* on(...)/ignoring(...), group_left/right(...) and fill() of a BINARY node. */
typedef struct query_matching {
    query_card card;
    bool on;       /* on(labels) rather than ignoring(labels) */
    char **labels; /* matching labels, n_labels of them */
    size_t n_labels;
    char **include; /* labels of group_left(...)/group_right(...) */
    size_t n_include;
    bool fill_lhs; /* fill()/fill_left(): value for a missing lhs */
    bool fill_rhs; /* fill()/fill_right(): value for a missing rhs */
    double fill_lhs_value;
    double fill_rhs_value;
} query_matching;

struct query_node {
    query_node_kind kind;
    query_type type;   /* what it evaluates to; checked by the parser */
    uint32_t id;       /* preorder index, for the evaluator's side tables */
    uint32_t height;   /* 1 + the height of the tallest child; at most
                          QUERY_MAX_HEIGHT, so recursion over a tree is bounded */
    int64_t pos_start; /* byte offsets of the node in the text */
    int64_t pos_end;
    union {
        struct {
            double value;
            bool is_duration; /* written as a duration (5m): printed so */
        } number;
        struct {
            const char *value; /* unquoted, NUL-terminated */
            size_t len;
        } string;
        struct {
            query_node *expr;
        } paren;
        struct {
            query_op op; /* ADD or SUB */
            query_node *expr;
        } unary;
        struct {
            query_op op;
            query_node *lhs, *rhs;
            bool return_bool; /* comparison with bool */
            /* Meaningful when both sides are vectors; for set operators
             * card is MANY_TO_MANY. has_matching says on/ignoring was
             * written (for printing `ignoring()` vs nothing). */
            bool has_matching;
            query_matching matching;
        } binary;
        struct {
            query_agg_op op;
            query_node *expr;
            query_node *param; /* NULL unless the op takes one */
            char **grouping;
            size_t n_grouping;
            bool without;
        } aggregate;
        struct {
            const query_func *func;
            query_node **args;
            size_t n_args;
        } call;
        struct {
            const char *name; /* metric name, NULL when not given up front */
            /* Every matcher, including the __name__="name" the parser adds
             * for a metric name written up front (as Prometheus does);
             * strings NUL-terminated, owned by the arena. Regex matchers
             * are fully anchored, as strata_select takes them. */
            strata_matcher *matchers;
            size_t n_matchers;
            int64_t offset_ms;       /* offset as written (may be < 0) */
            query_node *offset_expr; /* DURATION, or NULL */
            query_at at;
            int64_t at_ms; /* QUERY_AT_TIMESTAMP: ms since the epoch */
            bool anchored;
            bool smoothed;
            /* Set on info()'s second argument, which may match only
             * empty-matching labels (Prometheus' BypassEmptyMatcherCheck). */
            bool bypass_empty_check;
        } vs;
        struct {
            query_node *vs; /* a VECTOR_SELECTOR */
            int64_t range_ms;
            query_node *range_expr; /* DURATION, or NULL */
        } matrix;
        struct {
            query_node *expr;
            int64_t range_ms;
            query_node *range_expr; /* DURATION, or NULL */
            int64_t step_ms;        /* 0: not given (the query's step) */
            query_node *step_expr;  /* DURATION, or NULL */
            int64_t offset_ms;
            query_node *offset_expr;
            query_at at;
            int64_t at_ms;
        } subquery;
        struct {
            /* ADD SUB MUL DIV MOD POW: binary (lhs may be NULL for unary
             * ADD/SUB); STEP RANGE: no operands; MIN_OF MAX_OF: both.
             * Operands are DURATION or NUMBER nodes (NUMBER in seconds). */
            query_op op;
            query_node *lhs, *rhs;
            bool wrapped; /* written in parentheses */
        } duration;
    } u;
};

/* A parsed expression and the arena that holds it. */
typedef struct query_ast {
    query_node *root;
    uint32_t n_nodes;
    struct query_arena *arena; /* private to parse.c */
} query_ast;

#endif /* STRATA_QUERY_AST_H */
