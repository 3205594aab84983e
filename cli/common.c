/* common.c: engine options, time arguments, logging and progress for the commands. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int cli_log_level = STRATA_LOG_WARN;

void cli_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > cli_log_level)
        return;
    fprintf(stderr, "strata: %s: %s\n", names[level >= 0 && level < 4 ? level : 0], msg);
}

void cli_db_args_init(cli_db_args *a)
{
    memset(a, 0, sizeof *a);
    strata_options_init(&a->opts);
    a->dir = "./strata-data";
    a->opts.log_fn = cli_log;
    const char *v = getenv("STRATA_LOG");
    if (v && !strcmp(v, "info"))
        cli_log_level = STRATA_LOG_INFO;
    else if (v && !strcmp(v, "debug"))
        cli_log_level = STRATA_LOG_DEBUG;
}

int cli_parse_time(const char *arg, const char *what, int64_t *out_ms)
{
    const char *reason = NULL;
    int64_t now = cli_now_ms();
    if (strata_parse_time(arg, strlen(arg), now, out_ms, &reason) != STRATA_OK) {
        fprintf(stderr, "strata: %s: bad time '%s': %s\n", what, arg, reason ? reason : "invalid");
        return -1;
    }
    return 0;
}

int cli_parse_duration(const char *arg, const char *what, int64_t *out_ms)
{
    const char *reason = NULL;
    if (strata_parse_duration(arg, strlen(arg), out_ms, &reason) != STRATA_OK) {
        fprintf(stderr, "strata: %s: bad duration '%s': %s\n", what, arg, reason ? reason : "invalid");
        return -1;
    }
    return 0;
}

int cli_parse_bytes(const char *arg, const char *what, uint64_t *out)
{
    char *end = NULL;
    double v = strtod(arg, &end);
    if (end == arg || v < 0) {
        fprintf(stderr, "strata: %s: bad size '%s'\n", what, arg);
        return -1;
    }
    double mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1024.0; break;
        case 'm': case 'M': mul = 1024.0 * 1024; break;
        case 'g': case 'G': mul = 1024.0 * 1024 * 1024; break;
        default:
            fprintf(stderr, "strata: %s: bad size '%s' (use K, M or G)\n", what, arg);
            return -1;
        }
        end++;
        if (*end == 'i')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end) {
            fprintf(stderr, "strata: %s: bad size '%s'\n", what, arg);
            return -1;
        }
    }
    *out = (uint64_t)(v * mul);
    return 0;
}

/* ------------------------------------------------------------ rules */

static cli_rules *rules_all; /* every cli_rules made, for cli_rules_free_all */

void cli_rules_free_all(void)
{
    while (rules_all) {
        cli_rules *r = rules_all;
        rules_all = r->next;
        for (size_t i = 0; i < r->n_sels; i++)
            strata_selector_free(&r->sels[i]);
        for (size_t i = 0; i < r->n_ret; i++)
            free(r->ret_sel[i]);
        for (size_t i = 0; i < r->n_ds; i++)
            free(r->ds_sel[i]);
        free(r->sels);
        free(r->ret);
        free(r->ret_sel);
        free(r->ds);
        free(r->ds_sel);
        free(r->ret_args);
        free(r->ds_args);
        free(r);
    }
}

void cli_format_duration(int64_t ms, char *buf, size_t len)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000 * 365LL, "y"}, {86400000, "d"}, {3600000, "h"},
                 {60000, "m"},           {1000, "s"},          {1, "ms"}};
    snprintf(buf, len, "%lldms", (long long)ms);
    for (size_t i = 0; ms > 0 && i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(buf, len, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            break;
        }
}

/* Grows *v (of *n elements of size sz) by one zeroed element; -1 when out
 * of memory. */
static int grow1(void *v, size_t n, size_t sz)
{
    void **p = v;
    void *nv = realloc(*p, (n + 1) * sz);
    if (!nv)
        return -1;
    memset((char *)nv + n * sz, 0, sz);
    *p = nv;
    return 0;
}

static cli_rules *rules_of(cli_db_args *a)
{
    if (!a->rules && (a->rules = calloc(1, sizeof *a->rules)) != NULL) {
        a->rules->next = rules_all;
        rules_all = a->rules;
    }
    return a->rules;
}

/* Splits a flag's argument into items at the commas outside braces,
 * brackets, parentheses and quotes (VictoriaMetrics' list flags): calls
 * fn on each item, with surrounding blanks trimmed, as a new string. */
static int split_items(const char *arg, int (*fn)(cli_db_args *, char *, const char *, const char *),
                       cli_db_args *a, const char *flag, const char *cmd)
{
    const char *p = arg;
    for (;;) {
        int depth = 0;
        char quote = 0;
        const char *q = p;
        for (; *q && (quote || depth > 0 || *q != ','); q++) {
            if (quote) {
                if (*q == '\\' && q[1] && quote != '`')
                    q++;
                else if (*q == quote)
                    quote = 0;
            } else if (*q == '"' || *q == '\'' || *q == '`') {
                quote = *q;
            } else if (*q == '{' || *q == '[' || *q == '(') {
                depth++;
            } else if ((*q == '}' || *q == ']' || *q == ')') && depth > 0) {
                depth--;
            }
        }
        const char *b = p, *e = q;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *item = strndup(b, (size_t)(e - b));
        if (!item) {
            fprintf(stderr, "strata %s: out of memory\n", cmd);
            return -1;
        }
        int rc = fn(a, item, flag, cmd);
        free(item);
        if (rc)
            return rc;
        if (!*q)
            return 0;
        p = q + 1;
    }
}

/* Parses the selector text (NULL or "": none) into *n matchers kept in the
 * rules' selectors; -1 after printing why. */
static int rule_selector(cli_rules *r, const char *text, const char *item, const char *flag, const char *cmd,
                         const strata_matcher **m, size_t *n)
{
    *m = NULL;
    *n = 0;
    if (!text || !*text)
        return 0;
    if (grow1(&r->sels, r->n_sels, sizeof *r->sels)) {
        fprintf(stderr, "strata %s: out of memory\n", cmd);
        return -1;
    }
    char err[256] = "";
    strata_selector *sel = &r->sels[r->n_sels];
    int rc = strata_selector_parse(text, sel, err, sizeof err);
    if (rc) {
        fprintf(stderr, "strata %s: %s '%s': bad selector '%s': %s\n", cmd, flag, item, text,
                rc == STRATA_ERR_INVALID && *err ? err : strata_strerror(rc));
        return -1;
    }
    r->n_sels++;
    if (sel->range_ms) {
        fprintf(stderr, "strata %s: %s '%s': the selector takes no range\n", cmd, flag, item);
        return -1;
    }
    *m = sel->matchers;
    *n = sel->n_matchers;
    return 0;
}

/* The duration after the last ':' of s[0..*len), which is cut there;
 * -1 after printing why. */
static int last_duration(const char *s, size_t *len, const char *item, const char *what, const char *flag,
                         const char *cmd, int64_t *out)
{
    size_t i = *len;
    while (i > 0 && s[i - 1] != ':')
        i--;
    const char *d = s + i;
    size_t dlen = *len - i;
    const char *reason = NULL;
    if (!dlen || strata_parse_duration(d, dlen, out, &reason) != STRATA_OK) {
        fprintf(stderr, "strata %s: %s '%s': bad %s '%.*s'%s%s\n", cmd, flag, item, what, (int)dlen, d,
                reason ? ": " : "", reason ? reason : "");
        return -1;
    }
    *len = i ? i - 1 : 0;
    return 0;
}

/* One --retention-filter item: SELECTOR:DURATION, split at the last ':'
 * (a selector may hold ':' in quoted values and in metric names). */
static int retention_item(cli_db_args *a, char *item, const char *flag, const char *cmd)
{
    cli_rules *r = rules_of(a);
    if (!r)
        return -1;
    size_t len = strlen(item);
    if (!strchr(item, ':')) {
        fprintf(stderr, "strata %s: %s '%s': takes SELECTOR:DURATION, e.g. '{env=\"dev\"}:7d'\n", cmd, flag, item);
        return -1;
    }
    int64_t ms;
    if (last_duration(item, &len, item, "duration", flag, cmd, &ms))
        return -1;
    char *text = strndup(item, len);
    if (!text || grow1(&r->ret, r->n_ret, sizeof *r->ret) || grow1(&r->ret_sel, r->n_ret, sizeof *r->ret_sel)) {
        free(text);
        fprintf(stderr, "strata %s: out of memory\n", cmd);
        return -1;
    }
    if (!*text) {
        fprintf(stderr, "strata %s: %s '%s': a selector is needed before the ':'\n", cmd, flag, item);
        free(text);
        return -1;
    }
    strata_retention_rule *rule = &r->ret[r->n_ret];
    if (rule_selector(r, text, item, flag, cmd, &rule->matchers, &rule->n_matchers)) {
        free(text);
        return -1;
    }
    rule->retention_ms = ms;
    r->ret_sel[r->n_ret++] = text;
    return 0;
}

/* One --downsampling item: [SELECTOR:]AGE:RESOLUTION. */
static int downsampling_item(cli_db_args *a, char *item, const char *flag, const char *cmd)
{
    cli_rules *r = rules_of(a);
    if (!r)
        return -1;
    size_t len = strlen(item);
    if (!strchr(item, ':')) {
        fprintf(stderr, "strata %s: %s '%s': takes [SELECTOR:]AGE:RESOLUTION, e.g. '30d:5m'\n", cmd, flag, item);
        return -1;
    }
    int64_t age, res;
    if (last_duration(item, &len, item, "resolution", flag, cmd, &res) ||
        last_duration(item, &len, item, "age", flag, cmd, &age))
        return -1;
    char *text = strndup(item, len);
    if (!text || grow1(&r->ds, r->n_ds, sizeof *r->ds) || grow1(&r->ds_sel, r->n_ds, sizeof *r->ds_sel)) {
        free(text);
        fprintf(stderr, "strata %s: out of memory\n", cmd);
        return -1;
    }
    if (!*text && memchr(item, ':', strlen(item)) != strrchr(item, ':')) {
        fprintf(stderr, "strata %s: %s '%s': an empty selector before the age\n", cmd, flag, item);
        free(text);
        return -1;
    }
    strata_downsampling_rule *rule = &r->ds[r->n_ds];
    if (rule_selector(r, text, item, flag, cmd, &rule->matchers, &rule->n_matchers)) {
        free(text);
        return -1;
    }
    rule->age_ms = age;
    rule->resolution_ms = res;
    r->ds_sel[r->n_ds++] = text;
    return 0;
}

static int rule_flag(cli_db_args *a, const char *arg, const char *flag, const char *cmd)
{
    cli_rules *r = rules_of(a);
    bool ret = !strcmp(flag, "--retention-filter");
    if (!r || grow1(ret ? &r->ret_args : &r->ds_args, ret ? r->n_ret_args : r->n_ds_args, sizeof(char *))) {
        fprintf(stderr, "strata %s: out of memory\n", cmd);
        return -1;
    }
    if (ret)
        r->ret_args[r->n_ret_args++] = arg;
    else
        r->ds_args[r->n_ds_args++] = arg;
    if (!*arg) {
        fprintf(stderr, "strata %s: %s must not be empty\n", cmd, flag);
        return -1;
    }
    return split_items(arg, ret ? retention_item : downsampling_item, a, flag, cmd);
}

int cli_db_args_parse(cli_db_args *a, int opt, const char *arg, const char *cmd)
{
    switch (opt) {
    case 'd':
        a->dir = arg;
        return 1;
    case OPT_SYNC:
        if (!strcmp(arg, "always"))
            a->opts.sync = STRATA_SYNC_ALWAYS;
        else if (!strcmp(arg, "interval"))
            a->opts.sync = STRATA_SYNC_INTERVAL;
        else if (!strcmp(arg, "none"))
            a->opts.sync = STRATA_SYNC_NONE;
        else {
            fprintf(stderr, "strata %s: --sync takes always, interval or none\n", cmd);
            return -1;
        }
        return 1;
    case OPT_PARTITION:
        if (cli_parse_duration(arg, "--partition", &a->opts.partition_ms) || a->opts.partition_ms <= 0) {
            fprintf(stderr, "strata %s: --partition must be a positive duration\n", cmd);
            return -1;
        }
        a->partition_given = true;
        return 1;
    case OPT_RETENTION:
        return cli_parse_duration(arg, "--retention", &a->opts.retention_ms) ? -1 : 1;
    case OPT_RETENTION_FILTER:
        return rule_flag(a, arg, "--retention-filter", cmd) ? -1 : 1;
    case OPT_DOWNSAMPLING:
        return rule_flag(a, arg, "--downsampling", cmd) ? -1 : 1;
    case OPT_PLANNER:
        if (!strcmp(arg, "tiered"))
            a->opts.planner = STRATA_PLANNER_TIERED;
        else if (!strcmp(arg, "leveled"))
            a->opts.planner = STRATA_PLANNER_LEVELED;
        else {
            fprintf(stderr, "strata %s: --planner takes tiered or leveled\n", cmd);
            return -1;
        }
        return 1;
    case OPT_HEAD_BUDGET:
        return cli_parse_bytes(arg, "--head-budget", &a->opts.head_budget_bytes) ? -1 : 1;
    case OPT_MANIFEST_REWRITE:
        return cli_parse_bytes(arg, "--manifest-rewrite-bytes", &a->opts.manifest_rewrite_bytes) ? -1 : 1;
    case OPT_COMPACTION_THREADS: {
        char *end;
        long n = strtol(arg, &end, 10);
        if (*end || n < 0 || n > 64) {
            fprintf(stderr, "strata %s: --compaction-threads takes 0..64\n", cmd);
            return -1;
        }
        a->opts.compaction_threads = (int)n;
        return 1;
    }
    default:
        return 0;
    }
}

int cli_open(cli_db_args *a, strata_db **out)
{
    a->opts.dir = a->dir;
    if (!a->partition_given)
        a->opts.partition_ms = 0; /* the directory's own width, or the default */
    if (a->rules) {
        /* the engine copies them at open; they stay for display */
        a->opts.retention_rules = a->rules->ret;
        a->opts.n_retention_rules = a->rules->n_ret;
        a->opts.downsampling_rules = a->rules->ds;
        a->opts.n_downsampling_rules = a->rules->n_ds;
    }
    int rc = strata_open(&a->opts, out);
    if (rc != STRATA_OK) {
        const char *why = strata_errmsg();
        fprintf(stderr, "strata: cannot open %s: %s%s%s\n", a->dir, strata_strerror(rc), *why ? ": " : "", why);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_close(strata_db *db)
{
    int rc = strata_close(db);
    if (rc != STRATA_OK) {
        fprintf(stderr, "strata: close: %s\n", strata_strerror(rc));
        return CLI_REJECTED;
    }
    return CLI_OK;
}

void cli_progress_init(cli_progress *p, const char *what, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO) && !getenv("STRATA_NO_PROGRESS");
    p->what = what;
    p->total = total;
    p->start_ns = p->last_ns = cli_now_ns();
}

static void progress_print(cli_progress *p, uint64_t now, bool final)
{
    double secs = (double)(now - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)p->items / secs : 0;
    if (p->total) {
        double frac = (double)p->done / (double)p->total;
        double left = frac > 0 ? secs / frac - secs : 0;
        fprintf(stderr, "\r%s: %5.1f%%  %.2f M/s  %llu done  %.0f s left   %s", p->what, 100 * frac, rate / 1e6,
                (unsigned long long)p->items, final ? 0.0 : left, final ? "\n" : "");
    } else {
        fprintf(stderr, "\r%s: %.2f M/s  %llu done   %s", p->what, rate / 1e6, (unsigned long long)p->items,
                final ? "\n" : "");
    }
    fflush(stderr);
}

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t items)
{
    p->done = done;
    p->items = items;
    if (!p->tty)
        return;
    uint64_t now = cli_now_ns();
    if (now - p->last_ns < 250000000u)
        return;
    p->last_ns = now;
    progress_print(p, now, false);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty)
        progress_print(p, cli_now_ns(), true);
}
