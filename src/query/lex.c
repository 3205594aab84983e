/*
 * lex.c: the PromQL lexer, a port of Prometheus' promql/parser/lex.go.
 *
 * How it works
 * Like lex.go it is a state machine over the bytes of the query: one state
 * for expressions ("statements"), one inside the braces of a selector
 * (where keywords are plain label names), one at the start of a bracket
 * ([5m], [1h:1m], [5m+step()]) where only durations, numbers, duration
 * arithmetic and step(), range(), min_of(), max_of() may appear. The
 * parser pulls one token at a time; a token is a type and a byte range of
 * the text, nothing is copied. The first error ends the token stream and
 * carries Prometheus' message, so `foo{a=b` and Prometheus fail alike.
 *
 * Everything is one pass over the input with constant work per byte: no
 * token looks further ahead than fill's "(" check, which stops at the first
 * byte that is not a blank.
 */
#include <stdio.h>

#include "parse_int.h"

enum { ST_STATEMENTS = 0, ST_DURATION_EXPR };

static const struct {
    const char *word;
    tok_type type;
} keywords[] = {
    {"and", T_LAND},
    {"or", T_LOR},
    {"unless", T_LUNLESS},
    {"atan2", T_ATAN2},
    {"sum", T_SUM},
    {"avg", T_AVG},
    {"count", T_COUNT},
    {"min", T_MIN},
    {"max", T_MAX},
    {"group", T_GROUP},
    {"stddev", T_STDDEV},
    {"stdvar", T_STDVAR},
    {"topk", T_TOPK},
    {"bottomk", T_BOTTOMK},
    {"count_values", T_COUNT_VALUES},
    {"quantile", T_QUANTILE},
    {"limitk", T_LIMITK},
    {"limit_ratio", T_LIMIT_RATIO},
    {"offset", T_OFFSET},
    {"smoothed", T_SMOOTHED},
    {"anchored", T_ANCHORED},
    {"by", T_BY},
    {"without", T_WITHOUT},
    {"on", T_ON},
    {"ignoring", T_IGNORING},
    {"group_left", T_GROUP_LEFT},
    {"group_right", T_GROUP_RIGHT},
    {"fill", T_FILL},
    {"fill_left", T_FILL_LEFT},
    {"fill_right", T_FILL_RIGHT},
    {"bool", T_BOOL},
    {"start", T_START},
    {"end", T_END},
    {"step", T_STEP},
    {"range", T_RANGE},
    {"max_of", T_MAX_OF},
    {"min_of", T_MIN_OF},
    {"inf", T_NUMBER},
    {"nan", T_NUMBER},
};

/* Case-insensitive keyword lookup; T_EOF when the word is no keyword. */
static tok_type keyword(const char *w, int64_t n)
{
    if (n > 12)
        return T_EOF;
    for (size_t i = 0; i < ARRAY_LEN(keywords); i++) {
        const char *k = keywords[i].word;
        int64_t j = 0;
        for (; j < n && k[j]; j++) {
            char c = w[j];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != k[j])
                break;
        }
        if (j == n && !k[j])
            return keywords[i].type;
    }
    return T_EOF;
}

bool query_lex_is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_alpha(int c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }

int32_t query_lex_utf8(const char *str, int64_t n, int *w)
{
    const unsigned char *s = (const unsigned char *)str;
    *w = 1;
    if (n <= 0)
        return -1;
    unsigned c = s[0];
    if (c < 0x80)
        return (int32_t)c;
    int need;
    uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3, cp = c & 0x07, min = 0x10000;
    else
        return -1;
    if (n < need + 1)
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *w = need + 1;
    return (int32_t)cp;
}

char *query_lex_quote_rune(int32_t r, char out[16])
{
    if (r < 0)
        r = 0xfffd;
    switch (r) {
    case '\a': return strcpy(out, "'\\a'");
    case '\b': return strcpy(out, "'\\b'");
    case '\f': return strcpy(out, "'\\f'");
    case '\n': return strcpy(out, "'\\n'");
    case '\r': return strcpy(out, "'\\r'");
    case '\t': return strcpy(out, "'\\t'");
    case '\v': return strcpy(out, "'\\v'");
    case '\'': return strcpy(out, "'\\''");
    case '\\': return strcpy(out, "'\\\\'");
    default: break;
    }
    if (r < 0x20 || r == 0x7f)
        snprintf(out, 16, "'\\x%02x'", (unsigned)r);
    else if (r < 0x80)
        snprintf(out, 16, "'%c'", (char)r);
    else if (r >= 0x80 && r < 0xa0)
        snprintf(out, 16, "'\\u%04x'", (unsigned)r);
    else {
        char u[5];
        int n = 0;
        uint32_t cp = (uint32_t)r;
        if (cp < 0x800) {
            u[n++] = (char)(0xc0 | (cp >> 6));
        } else if (cp < 0x10000) {
            u[n++] = (char)(0xe0 | (cp >> 12));
            u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        } else {
            u[n++] = (char)(0xf0 | (cp >> 18));
            u[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        }
        u[n++] = (char)(0x80 | (cp & 0x3f));
        u[n] = 0;
        snprintf(out, 16, "'%s'", u);
    }
    return out;
}

char *query_lex_rune_u(int32_t r, char out[24])
{
    char q[16];
    if (r < 0)
        r = 0xfffd;
    if (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0))
        snprintf(out, 24, "U+%04X %s", (unsigned)r, query_lex_quote_rune(r, q));
    else
        snprintf(out, 24, "U+%04X", (unsigned)r);
    return out;
}

/* Go's %q of s[0..n), cut to fit out (cap bytes). */
static void quote_str(const char *s, int64_t n, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '"';
    for (int64_t i = 0; i < n && o + 8 < cap;) {
        int w;
        int32_t r = query_lex_utf8(s + i, n - i, &w);
        unsigned char c = (unsigned char)s[i];
        if (r < 0) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else if (r == '"' || r == '\\') {
            out[o++] = '\\';
            out[o++] = (char)r;
        } else if (r == '\n') {
            out[o++] = '\\', out[o++] = 'n';
        } else if (r == '\t') {
            out[o++] = '\\', out[o++] = 't';
        } else if (r == '\r') {
            out[o++] = '\\', out[o++] = 'r';
        } else if (r < 0x20 || r == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            memcpy(out + o, s + i, (size_t)w);
            o += (size_t)w;
        }
        i += w;
    }
    out[o++] = '"';
    out[o] = 0;
}

void query_lex_init(lexer *l, const char *s, int64_t len)
{
    memset(l, 0, sizeof *l);
    l->s = s;
    l->len = len;
    l->state = ST_STATEMENTS;
}

/* ------------------------------------------------------------ scanning primitives
 * next() returns the next byte (ASCII is all the grammar looks at; UTF-8 is
 * decoded only inside strings and for messages), -1 at the end. */

static int next(lexer *l)
{
    if (l->pos >= l->len) {
        l->pos = l->len + 1; /* so that backup() after EOF is a no-op */
        return -1;
    }
    return (unsigned char)l->s[l->pos++];
}

static void backup(lexer *l) { l->pos--; }

static int peek(lexer *l) { return l->pos < l->len ? (unsigned char)l->s[l->pos] : -1; }

static bool accept(lexer *l, const char *valid)
{
    int c = peek(l);
    if (c > 0 && strchr(valid, c)) {
        l->pos++;
        return true;
    }
    return false;
}

static void emit(lexer *l, token *t, tok_type type)
{
    if (l->pos > l->len)
        l->pos = l->len;
    t->type = type;
    t->pos = l->start;
    t->len = l->pos - l->start;
    l->start = l->pos;
}

static bool errorf(lexer *l, token *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool errorf(lexer *l, token *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, sizeof l->err, fmt, ap);
    va_end(ap);
    if (l->pos > l->len)
        l->pos = l->len;
    t->type = T_ERROR;
    t->pos = l->start;
    t->len = 0;
    l->done = true;
    return true;
}

/* The rune at byte offset at, for messages. */
static int32_t rune_at(lexer *l, int64_t at)
{
    int w;
    if (at >= l->len)
        return -1;
    return query_lex_utf8(l->s + at, l->len - at, &w);
}

/* Go's %q of the character just read by next() (which may start a
 * multi-byte rune; then the whole rune is consumed). */
static char *last_rune(lexer *l, int c, char buf[16])
{
    if (c < 0x80)
        return query_lex_quote_rune(c, buf);
    int64_t at = l->pos - 1;
    int w;
    int32_t r = query_lex_utf8(l->s + at, l->len - at, &w);
    l->pos = at + w;
    return query_lex_quote_rune(r, buf);
}

/* ------------------------------------------------------------ numbers and durations */

/* scanNumber of lex.go: decimal, hex, with '_' separators; the text need
 * not be a valid number (the parser finds out). */
static bool scan_number(lexer *l)
{
    int64_t initial = l->pos;
    const char *digits = "0123456789";
    if (accept(l, "0") && accept(l, "xX")) {
        accept(l, "_");
        digits = "0123456789abcdefABCDEF";
    }
    bool hex = digits[10] != 0;
    accept(l, ".");
    accept(l, digits);
    bool dot = false, exp = false;
    for (;;) {
        int c = peek(l);
        if (!(c > 0 && (strchr(digits, c) || c == '.' || c == '_' || c == 'e' || c == 'E')))
            break;
        if (c == '.' && dot) {
            l->pos++;
            return false;
        }
        if ((c == 'e' || c == 'E') && exp) {
            l->pos++;
            return false;
        }
        if (accept(l, ".")) {
            dot = true;
            if (accept(l, "_."))
                return false;
            if (hex)
                return false;
            continue;
        }
        if (accept(l, "eE")) {
            exp = true;
            accept(l, "+-");
            if (accept(l, "._eE") || peek(l) < 0)
                return false;
            continue;
        }
        if (accept(l, "_")) {
            if (accept(l, "._eE") || peek(l) < 0)
                return false;
            continue;
        }
        while (accept(l, digits)) {
        }
    }
    if (l->pos == initial)
        return false;
    int c = peek(l);
    return !(c >= 0 && is_alnum(c));
}

static bool accept_remaining_duration(lexer *l)
{
    if (!accept(l, "smhdwy"))
        return false;
    accept(l, "s");
    while (accept(l, "0123456789")) {
        while (accept(l, "0123456789")) {
        }
        if (!accept(l, "smhdw"))
            return false;
        accept(l, "s");
    }
    int c = next(l);
    return !(c >= 0 && is_alnum(c));
}

static bool lex_number_or_duration(lexer *l, token *t)
{
    if (scan_number(l)) {
        emit(l, t, T_NUMBER);
        return true;
    }
    if (accept_remaining_duration(l)) {
        backup(l);
        emit(l, t, T_DURATION);
        return true;
    }
    char q[200];
    if (l->pos > l->len)
        l->pos = l->len;
    quote_str(l->s + l->start, l->pos - l->start, q, sizeof q);
    return errorf(l, t, "bad number or duration syntax: %s", q);
}

/* step, range, max_of, min_of inside brackets. */
static bool scan_duration_keyword(lexer *l, token *t)
{
    for (;;) {
        int c = next(l);
        if (c < 0 || !is_alpha(c)) {
            backup(l);
            tok_type k = keyword(l->s + l->start, l->pos - l->start);
            if (k == T_STEP || k == T_RANGE || k == T_MAX_OF || k == T_MIN_OF) {
                emit(l, t, k);
                return true;
            }
            return false;
        }
    }
}

static bool is_duration_keyword_start(int c)
{
    c |= 0x20;
    return c == 's' || c == 'r' || c == 'm';
}

/* ------------------------------------------------------------ strings */

static int digit_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 16;
}

/* After a backslash: checks one Go escape. Returns false with *t an error. */
static bool lex_escape(lexer *l, token *t)
{
    char b[24];
    int c = next(l);
    int n;
    uint32_t base, max;
    if (c == 'a' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't' || c == 'v' || c == '\\' ||
        c == l->string_open)
        return true;
    if (c >= '0' && c <= '7')
        n = 3, base = 8, max = 255;
    else if (c == 'x')
        c = next(l), n = 2, base = 16, max = 255;
    else if (c == 'u')
        c = next(l), n = 4, base = 16, max = 0x10ffff;
    else if (c == 'U')
        c = next(l), n = 8, base = 16, max = 0x10ffff;
    else if (c < 0) {
        errorf(l, t, "escape sequence not terminated");
        return false;
    } else {
        int32_t r = c < 0x80 ? c : rune_at(l, l->pos - 1);
        errorf(l, t, "unknown escape sequence %s", query_lex_rune_u(r, b));
        return false;
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = c < 0 ? 16 : (uint32_t)digit_val(c);
        if (d >= base) {
            if (c < 0) {
                errorf(l, t, "escape sequence not terminated");
                return false;
            }
            int32_t r = c < 0x80 ? c : rune_at(l, l->pos - 1);
            errorf(l, t, "illegal character %s in escape sequence", query_lex_rune_u(r, b));
            return false;
        }
        x = x * base + d;
        n--;
        if (n > 0)
            c = next(l);
    }
    if (x > max || (x >= 0xd800 && x < 0xe000)) {
        errorf(l, t, "escape sequence is an invalid Unicode code point");
        return false;
    }
    return true;
}

static bool lex_string(lexer *l, token *t)
{
    for (;;) {
        if (l->pos >= l->len)
            return errorf(l, t, "unterminated quoted string");
        unsigned char c = (unsigned char)l->s[l->pos];
        if (c == '\\') {
            l->pos++;
            if (!lex_escape(l, t))
                return true;
            continue;
        }
        if (c == '\n')
            return errorf(l, t, "unterminated quoted string");
        if (c >= 0x80) {
            int w;
            /* Go reads U+FFFD itself as an error too (utf8.RuneError). */
            int32_t r = query_lex_utf8(l->s + l->pos, l->len - l->pos, &w);
            if (r < 0 || r == 0xfffd)
                return errorf(l, t, "invalid UTF-8 rune");
            l->pos += w;
            continue;
        }
        l->pos++;
        if (c == (unsigned char)l->string_open)
            break;
    }
    emit(l, t, T_STRING);
    return true;
}

static bool lex_raw_string(lexer *l, token *t)
{
    for (;;) {
        if (l->pos >= l->len)
            return errorf(l, t, "unterminated raw string");
        unsigned char c = (unsigned char)l->s[l->pos];
        if (c >= 0x80) {
            int w;
            int32_t r = query_lex_utf8(l->s + l->pos, l->len - l->pos, &w);
            if (r < 0 || r == 0xfffd)
                return errorf(l, t, "invalid UTF-8 rune");
            l->pos += w;
            continue;
        }
        l->pos++;
        if (c == '`')
            break;
    }
    emit(l, t, T_STRING);
    return true;
}

/* ------------------------------------------------------------ states
 * Each returns true when it produced a token in *t, false to run again
 * (after skipping blanks or a comment). */

static void skip_comment(lexer *l)
{
    while (l->pos < l->len && l->s[l->pos] != '\n' && l->s[l->pos] != '\r')
        l->pos++;
    l->start = l->pos;
}

static bool lex_inside_braces(lexer *l, token *t)
{
    char q[16];
    if (peek(l) == '#') {
        skip_comment(l);
        return false;
    }
    int c = next(l);
    if (c < 0)
        return errorf(l, t, "unexpected end of input inside braces");
    if (query_lex_is_space(c)) {
        while (peek(l) >= 0 && query_lex_is_space(peek(l)))
            l->pos++;
        l->start = l->pos;
        return false;
    }
    if (is_alpha(c)) {
        while (l->pos < l->len && is_alnum((unsigned char)l->s[l->pos]))
            l->pos++;
        emit(l, t, T_IDENT);
        return true;
    }
    switch (c) {
    case ',': emit(l, t, T_COMMA); return true;
    case '"':
    case '\'': l->string_open = (char)c; return lex_string(l, t);
    case '`': l->string_open = '`'; return lex_raw_string(l, t);
    case '=':
        if (accept(l, "~"))
            emit(l, t, T_EQL_REGEX);
        else
            emit(l, t, T_ASSIGN);
        return true;
    case '!': {
        int n = next(l);
        if (n == '~')
            emit(l, t, T_NEQ_REGEX);
        else if (n == '=')
            emit(l, t, T_NEQ);
        else
            return errorf(l, t, "unexpected character after '!' inside braces: %s", last_rune(l, n, q));
        return true;
    }
    case '{': return errorf(l, t, "unexpected left brace %s", last_rune(l, c, q));
    case '}':
        emit(l, t, T_RBRACE);
        l->brace_open = false;
        return true;
    default: return errorf(l, t, "unexpected character inside braces: %s", last_rune(l, c, q));
    }
}

static bool lex_keyword_or_identifier(lexer *l, token *t)
{
    bool colon = false;
    while (l->pos < l->len) {
        unsigned char c = (unsigned char)l->s[l->pos];
        if (c == ':')
            colon = true;
        else if (!is_alnum(c))
            break;
        l->pos++;
    }
    tok_type k = keyword(l->s + l->start, l->pos - l->start);
    if (k != T_EOF) {
        if (k == T_FILL || k == T_FILL_LEFT || k == T_FILL_RIGHT) {
            /* Keywords only before "(", so `fill + fill` stays a query
             * over metrics named fill. */
            int64_t p = l->pos;
            while (p < l->len && query_lex_is_space((unsigned char)l->s[p]))
                p++;
            if (p >= l->len || l->s[p] != '(')
                k = T_IDENT;
        }
        emit(l, t, k);
    } else {
        emit(l, t, colon ? T_METRIC_IDENT : T_IDENT);
    }
    return true;
}

static bool lex_duration_expr(lexer *l, token *t)
{
    char q[16];
    int c = next(l);
    if (c < 0)
        return errorf(l, t, "unexpected end of input in duration expression");
    switch (c) {
    case ']':
        emit(l, t, T_RBRACKET);
        l->bracket_open = false;
        l->got_colon = false;
        l->state = ST_STATEMENTS;
        return true;
    case ':':
        emit(l, t, T_COLON);
        if (!l->got_duration)
            return errorf(l, t, "unexpected colon before duration in duration expression");
        if (l->got_colon)
            return errorf(l, t, "unexpected repeated colon in duration expression");
        l->got_colon = true;
        return true;
    case '(':
        emit(l, t, T_LPAREN);
        l->paren_depth++;
        return true;
    case ')':
        emit(l, t, T_RPAREN);
        if (--l->paren_depth < 0)
            return errorf(l, t, "unexpected right parenthesis %s", query_lex_quote_rune(c, q));
        return true;
    case '+': emit(l, t, T_ADD); return true;
    case '-': emit(l, t, T_SUB); return true;
    case '*': emit(l, t, T_MUL); return true;
    case '/': emit(l, t, T_DIV); return true;
    case '%': emit(l, t, T_MOD); return true;
    case '^': emit(l, t, T_POW); return true;
    case ',': emit(l, t, T_COMMA); return true;
    default: break;
    }
    if (query_lex_is_space(c)) {
        while (peek(l) >= 0 && query_lex_is_space(peek(l)))
            l->pos++;
        l->start = l->pos;
        return false;
    }
    if (is_duration_keyword_start(c)) {
        if (scan_duration_keyword(l, t))
            return true;
        l->pos = l->start + 1;
        return errorf(l, t, "unexpected character in duration expression: %s", query_lex_quote_rune(c, q));
    }
    if (is_digit(c) || (c == '.' && peek(l) >= 0 && is_digit(peek(l)))) {
        backup(l);
        l->got_duration = true;
        l->state = ST_STATEMENTS;
        return lex_number_or_duration(l, t);
    }
    return errorf(l, t, "unexpected character in duration expression: %s", last_rune(l, c, q));
}

static bool lex_statements(lexer *l, token *t)
{
    char q[16], q2[16];
    if (l->brace_open)
        return lex_inside_braces(l, t);
    if (peek(l) == '#') {
        skip_comment(l);
        return false;
    }
    int c = next(l);
    if (c < 0) {
        if (l->paren_depth != 0)
            return errorf(l, t, "unclosed left parenthesis");
        if (l->bracket_open)
            return errorf(l, t, "unclosed left bracket");
        emit(l, t, T_EOF);
        l->done = true;
        return true;
    }
    if (query_lex_is_space(c)) {
        while (peek(l) >= 0 && query_lex_is_space(peek(l)))
            l->pos++;
        l->start = l->pos;
        return false;
    }
    switch (c) {
    case ',': emit(l, t, T_COMMA); return true;
    case '*': emit(l, t, T_MUL); return true;
    case '/': emit(l, t, T_DIV); return true;
    case '%': emit(l, t, T_MOD); return true;
    case '+': emit(l, t, T_ADD); return true;
    case '-': emit(l, t, T_SUB); return true;
    case '^': emit(l, t, T_POW); return true;
    case '@': emit(l, t, T_AT); return true;
    case '=': {
        int n = peek(l);
        if (n == '=') {
            l->pos++;
            emit(l, t, T_EQLC);
        } else if (n == '~') {
            return errorf(l, t, "unexpected character after '=': %s", query_lex_quote_rune('~', q));
        } else {
            emit(l, t, T_ASSIGN);
        }
        return true;
    }
    case '!': {
        int n = next(l);
        if (n != '=')
            return errorf(l, t, "unexpected character after '!': %s",
                          n < 0 ? query_lex_quote_rune(-1, q) /* Go quotes eof (-1) as U+FFFD */ : last_rune(l, n, q));
        emit(l, t, T_NEQ);
        return true;
    }
    case '<':
        if (accept(l, "="))
            emit(l, t, T_LTE);
        else if (accept(l, "/"))
            emit(l, t, T_TRIM_UPPER);
        else
            emit(l, t, T_LSS);
        return true;
    case '>':
        if (accept(l, "="))
            emit(l, t, T_GTE);
        else if (accept(l, "/"))
            emit(l, t, T_TRIM_LOWER);
        else
            emit(l, t, T_GTR);
        return true;
    case '"':
    case '\'': l->string_open = (char)c; return lex_string(l, t);
    case '`': l->string_open = '`'; return lex_raw_string(l, t);
    case '(':
        emit(l, t, T_LPAREN);
        l->paren_depth++;
        return true;
    case ')':
        emit(l, t, T_RPAREN);
        if (--l->paren_depth < 0)
            return errorf(l, t, "unexpected right parenthesis %s", query_lex_quote_rune(c, q));
        return true;
    case '{':
        emit(l, t, T_LBRACE);
        l->brace_open = true;
        return true;
    case '[':
        if (l->bracket_open)
            return errorf(l, t, "unexpected left bracket %s", query_lex_quote_rune(c, q));
        l->got_colon = false;
        emit(l, t, T_LBRACKET);
        while (peek(l) >= 0 && query_lex_is_space(peek(l)))
            l->pos++;
        l->start = l->pos;
        l->bracket_open = true;
        l->state = ST_DURATION_EXPR;
        return true;
    case ']':
        if (!l->bracket_open)
            return errorf(l, t, "unexpected right bracket %s", query_lex_quote_rune(c, q));
        emit(l, t, T_RBRACKET);
        l->bracket_open = false;
        return true;
    default: break;
    }
    if (is_digit(c) || (c == '.' && peek(l) >= 0 && is_digit(peek(l)))) {
        backup(l);
        return lex_number_or_duration(l, t);
    }
    if (is_alpha(c) || c == ':') {
        if (!l->bracket_open) {
            backup(l);
            return lex_keyword_or_identifier(l, t);
        }
        if (c == ':') {
            if (l->got_colon)
                return errorf(l, t, "unexpected colon %s", query_lex_quote_rune(c, q));
            emit(l, t, T_COLON);
            l->got_colon = true;
            return true;
        }
        if (is_duration_keyword_start(c) && scan_duration_keyword(l, t))
            return true;
        return errorf(l, t, "unexpected character: %s, expected %s", query_lex_quote_rune(c, q),
                      query_lex_quote_rune(':', q2));
    }
    return errorf(l, t, "unexpected character: %s", last_rune(l, c, q));
}

void query_lex_next(lexer *l, token *t)
{
    if (l->done) {
        t->type = T_EOF;
        t->pos = l->len;
        t->len = 0;
        return;
    }
    l->start = l->pos;
    for (;;) {
        bool got = l->state == ST_DURATION_EXPR ? lex_duration_expr(l, t) : lex_statements(l, t);
        if (got)
            return;
    }
}
