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
    int rc = strata_open(&a->opts, out);
    if (rc != STRATA_OK) {
        fprintf(stderr, "strata: cannot open %s: %s\n", a->dir, strata_strerror(rc));
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
