/*
 * parse_int.h: private to the PromQL parser (lex.c, parse.c, builtins.c,
 * printer.c): tokens, the lexer, the arena.
 */
#ifndef STRATA_QUERY_PARSE_INT_H
#define STRATA_QUERY_PARSE_INT_H

#include "query.h"

/* Token types, grouped as Prometheus' ItemType (whose grouping decides how
 * an unexpected token is described in messages: <op:+>, <aggr:sum>, <by>). */
typedef enum tok_type {
    T_EOF = 0,
    T_ERROR,
    T_IDENT,        /* foo */
    T_METRIC_IDENT, /* foo:bar (contains a colon) */
    T_STRING,       /* with its quotes */
    T_NUMBER,
    T_DURATION,
    /* punctuation */
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_ASSIGN, /* = */
    T_COLON,
    /* operators */
    T_OPS_START,
    T_ADD,
    T_SUB,
    T_MUL,
    T_DIV,
    T_MOD,
    T_POW,
    T_EQLC, /* == */
    T_NEQ,
    T_LTE,
    T_LSS,
    T_GTE,
    T_GTR,
    T_TRIM_UPPER,
    T_TRIM_LOWER,
    T_EQL_REGEX,
    T_NEQ_REGEX,
    T_AT,
    T_ATAN2,
    T_LAND,
    T_LOR,
    T_LUNLESS,
    T_OPS_END,
    /* aggregators */
    T_AGGS_START,
    T_AVG,
    T_BOTTOMK,
    T_COUNT,
    T_COUNT_VALUES,
    T_GROUP,
    T_MAX,
    T_MIN,
    T_QUANTILE,
    T_STDDEV,
    T_STDVAR,
    T_SUM,
    T_TOPK,
    T_LIMITK,
    T_LIMIT_RATIO,
    T_AGGS_END,
    /* keywords */
    T_KEYWORDS_START,
    T_BOOL,
    T_BY,
    T_GROUP_LEFT,
    T_GROUP_RIGHT,
    T_FILL,
    T_FILL_LEFT,
    T_FILL_RIGHT,
    T_IGNORING,
    T_OFFSET,
    T_SMOOTHED,
    T_ANCHORED,
    T_ON,
    T_WITHOUT,
    T_KEYWORDS_END,
    /* preprocessors */
    T_START,
    T_END,
    T_STEP,
    T_RANGE,
    T_MAX_OF,
    T_MIN_OF
} tok_type;

typedef struct token {
    tok_type type;
    int64_t pos; /* byte offset of the first byte */
    int64_t len; /* bytes of text; for T_ERROR the message is in the lexer */
} token;

typedef struct lexer {
    const char *s;
    int64_t len;
    int64_t pos;   /* next byte to read */
    int64_t start; /* first byte of the token being read */
    int state;     /* which scanning function runs next (lex.c) */
    int paren_depth;
    bool brace_open;
    bool bracket_open;
    bool got_colon;
    bool got_duration;
    char string_open; /* quote of the string being read */
    bool done;        /* an EOF or error was emitted */
    char err[200];    /* message of a T_ERROR */
} lexer;

void query_lex_init(lexer *l, const char *s, int64_t len);
/* The next token, comments skipped. After T_EOF or T_ERROR, T_EOF again. */
void query_lex_next(lexer *l, token *t);

/* Keyword and number helpers shared with the parser. */
bool query_lex_is_space(int c);
/* Decodes one UTF-8 sequence at s[0..n): the code point, or -1 for an
 * invalid sequence; *w gets its width (1 for invalid). */
int32_t query_lex_utf8(const char *s, int64_t n, int *w);
/* Writes a rune as Go's %q would ('a', '\n', '\x00'); returns out. */
char *query_lex_quote_rune(int32_t r, char out[16]);
/* Go's "%#U": U+0063 'c'. */
char *query_lex_rune_u(int32_t r, char out[24]);

/* ------------------------------------------------------------ arena
 * Bump allocation in chunks; everything of one tree freed at once. */
typedef struct query_arena query_arena;
int query_arena_new(query_arena **out);
void query_arena_free(query_arena *a);
void *query_arena_alloc(query_arena *a, size_t n); /* zeroed; NULL when out of memory */

#endif /* STRATA_QUERY_PARSE_INT_H */
