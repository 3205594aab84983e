/* cmd_query.c: `strata query`: PromQL selectors, instant or over a range. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../server/promql.h"
#include "cli.h"

static const char *query_help =
    "usage: strata query [-d DIR] QUERY [--start T] [--end T] [--step D]\n"
    "Evaluates a PromQL selector (m{a=\"b\"} or m{a=\"b\"}[1h]) and prints the result.\n"
    "Without --start: an instant query at --end (default now), 5-minute lookback.\n"
    "With --start: a range query from --start to --end every --step (default 1m).\n" CLI_ENGINE_HELP;

static void print_labels(const pq_series *s)
{
    const char *name = NULL;
    for (size_t i = 0; i < s->n_labels; i++)
        if (!strcmp(s->labels[i].name, "__name__"))
            name = s->labels[i].value;
    fputs(name ? name : "", stdout);
    putchar('{');
    int first = 1;
    for (size_t i = 0; i < s->n_labels; i++) {
        if (!strcmp(s->labels[i].name, "__name__"))
            continue;
        printf("%s%s=\"", first ? "" : ", ", s->labels[i].name);
        for (const char *p = s->labels[i].value; *p; p++) {
            if (*p == '"' || *p == '\\')
                putchar('\\');
            if (*p == '\n') {
                fputs("\\n", stdout);
                continue;
            }
            putchar(*p);
        }
        putchar('"');
        first = 0;
    }
    putchar('}');
}

int cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS, {"start", required_argument, NULL, OPT_START},
                                              {"end", required_argument, NULL, OPT_END},
                                              {"step", required_argument, NULL, OPT_STEP}, {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    a.opts.compaction_threads = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, start = 0, step = 60000;
    bool has_start = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "query");
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        switch (opt) {
        case OPT_START: if (cli_parse_time(optarg, "--start", &start)) return CLI_USAGE; has_start = true; break;
        case OPT_END: if (cli_parse_time(optarg, "--end", &end)) return CLI_USAGE; break;
        case OPT_STEP: if (cli_parse_duration(optarg, "--step", &step) || step <= 0) return CLI_USAGE; break;
        case 'h': fputs(query_help, stdout); return CLI_OK;
        default: fputs(query_help, stderr); return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(query_help, stderr);
        return CLI_USAGE;
    }
    strata_db *db;
    int status = cli_open(&a, &db);
    if (status)
        return status;
    pq_result r;
    int rc = has_start ? pq_eval_range(db, argv[optind], start, end, step, &r)
                       : pq_eval_instant(db, argv[optind], end, &r);
    if (rc) {
        fprintf(stderr, "strata query: %s\n", rc == STRATA_ERR_INVALID ? r.error : strata_strerror(rc));
        cli_close(db);
        return CLI_REJECTED;
    }
    for (size_t i = 0; i < r.n_series; i++) {
        pq_series *s = &r.series[i];
        print_labels(s);
        if (r.kind == PQ_VECTOR && s->n == 1) {
            char v[STRATA_DOUBLE_MAX + 1];
            v[strata_format_double(s->v[0], v)] = 0;
            printf(" => %s @[%lld.%03lld]\n", v, (long long)(s->t[0] / 1000), (long long)(s->t[0] % 1000));
            continue;
        }
        printf(" =>\n");
        for (size_t j = 0; j < s->n; j++) {
            char v[STRATA_DOUBLE_MAX + 1];
            v[strata_format_double(s->v[j], v)] = 0;
            printf("%s @[%lld.%03lld]\n", v, (long long)(s->t[j] / 1000), (long long)(s->t[j] % 1000));
        }
    }
    pq_result_free(&r);
    return cli_close(db) ? CLI_REJECTED : CLI_OK;
}
