/*
 * cmd_query.c: `strata query`: a PromQL expression evaluated by the
 * library (strata_query_instant / strata_query_range), printed as
 * Prometheus' console prints it (text) or as the HTTP API's "data" (json).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *query_help =
    "usage: strata query [-d DIR] QUERY [--start T] [--end T] [--step D] [--format text|json]\n"
    "                    [--max-source-resolution auto|raw|D]\n"
    "Evaluates a PromQL expression (all of PromQL for float samples, as /api/v1/query\n"
    "and /api/v1/query_range) and prints the result.\n"
    "Without --start: an instant query at --end (default now), 5-minute lookback.\n"
    "With --start: a range query from --start to --end every --step (default 1m).\n"
    "      --format text|json    text (default): one line per series or point;\n"
    "                            json: the \"data\" object of Prometheus' HTTP API\n"
    "      --max-source-resolution auto|raw|D\n"
    "                            downsampled data read: every resolution (auto, the\n"
    "                            default), raw data only, or resolutions up to D\n" CLI_ENGINE_HELP;

enum { OPT_FMT = OPT_FIRST_COMMAND_OPTION, OPT_MAXRES };

static void print_string(const char *s, int json)
{
    if (json) {
        /* the library's escaper: always valid JSON, whatever bytes s holds */
        size_t n = strlen(s);
        char *q = n < (SIZE_MAX - 2) / 6 ? malloc(6 * n + 2) : NULL;
        if (q) {
            fwrite(q, 1, strata_json_quote(s, n, q), stdout);
            free(q);
            return;
        }
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20)
            printf(json ? "\\u%04x" : "\\x%02x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_labels_text(const strata_query_series *s)
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
        printf("%s%s=", first ? "" : ", ", s->labels[i].name);
        print_string(s->labels[i].value, 0);
        first = 0;
    }
    putchar('}');
}

static void print_value(double v)
{
    char b[STRATA_DOUBLE_MAX + 1];
    b[strata_format_double(v, b)] = 0;
    fputs(b, stdout);
}

/* Text: @[1704110400.000] as Prometheus' console; JSON: float seconds in
 * their shortest form (1704110400, 1704110400.5) as the HTTP API. */
static void print_time(int64_t t, int json)
{
    long long sec = (long long)(llabs(t) / 1000), ms = (long long)(llabs(t) % 1000);
    const char *sign = t < 0 ? "-" : "";
    if (!json) {
        printf("@[%s%lld.%03lld]", sign, sec, ms);
        return;
    }
    if (!ms) {
        printf("%s%lld", sign, sec);
        return;
    }
    char frac[4];
    snprintf(frac, sizeof frac, "%03lld", ms);
    for (int i = 2; i > 0 && frac[i] == '0'; i--)
        frac[i] = 0;
    printf("%s%lld.%s", sign, sec, frac);
}

static void print_text(const strata_result *r)
{
    strata_value_type type = strata_result_type(r);
    int64_t t = 0;
    if (type == STRATA_VALUE_SCALAR) {
        print_value(strata_result_scalar(r, &t));
        putchar(' ');
        print_time(t, 0);
        putchar('\n');
        return;
    }
    if (type == STRATA_VALUE_STRING) {
        const char *s = strata_result_string(r, &t);
        print_string(s ? s : "", 0);
        putchar(' ');
        print_time(t, 0);
        putchar('\n');
        return;
    }
    size_t n = strata_result_series_count(r);
    for (size_t i = 0; i < n; i++) {
        strata_query_series s;
        strata_result_series(r, i, &s);
        print_labels_text(&s);
        if (type == STRATA_VALUE_VECTOR && s.n_points == 1) {
            fputs(" => ", stdout);
            print_value(s.points[0].value);
            putchar(' ');
            print_time(s.points[0].t_ms, 0);
            putchar('\n');
            continue;
        }
        fputs(" =>\n", stdout);
        for (size_t j = 0; j < s.n_points; j++) {
            print_value(s.points[j].value);
            putchar(' ');
            print_time(s.points[j].t_ms, 0);
            putchar('\n');
        }
    }
}

static void print_point_json(int64_t t, double v)
{
    putchar('[');
    print_time(t, 1);
    fputs(",\"", stdout);
    print_value(v);
    fputs("\"]", stdout);
}

static void print_json(const strata_result *r)
{
    static const char *const names[] = {"", "scalar", "vector", "matrix", "string"};
    strata_value_type type = strata_result_type(r);
    printf("{\"resultType\":\"%s\",\"result\":", names[type >= 1 && type <= 4 ? type : 0]);
    int64_t t = 0;
    if (type == STRATA_VALUE_SCALAR) {
        double v = strata_result_scalar(r, &t);
        print_point_json(t, v);
    } else if (type == STRATA_VALUE_STRING) {
        const char *s = strata_result_string(r, &t);
        putchar('[');
        print_time(t, 1);
        putchar(',');
        print_string(s ? s : "", 1);
        putchar(']');
    } else {
        putchar('[');
        size_t n = strata_result_series_count(r);
        for (size_t i = 0; i < n; i++) {
            strata_query_series s;
            strata_result_series(r, i, &s);
            fputs(i ? ",{\"metric\":{" : "{\"metric\":{", stdout);
            for (size_t k = 0; k < s.n_labels; k++) {
                if (k)
                    putchar(',');
                print_string(s.labels[k].name, 1);
                putchar(':');
                print_string(s.labels[k].value, 1);
            }
            fputs(type == STRATA_VALUE_MATRIX ? "},\"values\":[" : "},\"value\":", stdout);
            for (size_t j = 0; j < s.n_points; j++) {
                if (j)
                    putchar(',');
                print_point_json(s.points[j].t_ms, s.points[j].value);
                if (type != STRATA_VALUE_MATRIX)
                    break;
            }
            fputs(type == STRATA_VALUE_MATRIX ? "]}" : "}", stdout);
        }
        putchar(']');
    }
    fputs("}\n", stdout);
}

int cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS,
                                              {"start", required_argument, NULL, OPT_START},
                                              {"end", required_argument, NULL, OPT_END},
                                              {"step", required_argument, NULL, OPT_STEP},
                                              {"format", required_argument, NULL, OPT_FMT},
                                              {"max-source-resolution", required_argument, NULL, OPT_MAXRES},
                                              {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    a.opts.compaction_threads = 0;
    int64_t end = cli_now_ms(), start = 0, step = 60000, max_res = -1;
    bool has_start = false;
    int json = 0, opt;
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
        case OPT_MAXRES:
            if (!strcmp(optarg, "raw"))
                max_res = 0;
            else if (!strcmp(optarg, "auto"))
                max_res = -1;
            else if (cli_parse_duration(optarg, "--max-source-resolution", &max_res))
                return CLI_USAGE;
            break;
        case OPT_FMT:
            if (!strcmp(optarg, "json"))
                json = 1;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "strata query: --format takes text or json\n");
                return CLI_USAGE;
            }
            break;
        case 'h': fputs(query_help, stdout); return CLI_OK;
        default: fputs(query_help, stderr); return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(query_help, stderr);
        return CLI_USAGE;
    }
    if (has_start && end < start) {
        fprintf(stderr, "strata query: --end is before --start\n");
        return CLI_USAGE;
    }
    strata_db *db;
    int status = cli_open(&a, &db);
    if (status)
        return status;
    const char *q = argv[optind];
    strata_query_options o;
    strata_query_options_init(&o);
    o.max_source_resolution_ms = max_res;
    strata_result *r = NULL;
    strata_query_error e;
    memset(&e, 0, sizeof e);
    int rc = has_start ? strata_query_range(db, q, strlen(q), start, end, step, &o, &r, &e)
                       : strata_query_instant(db, q, strlen(q), end, &o, &r, &e);
    if (rc) {
        fprintf(stderr, "strata query: %s\n", e.msg[0] ? e.msg : strata_strerror(rc));
        cli_close(db);
        return CLI_REJECTED;
    }
    if (json)
        print_json(r);
    else
        print_text(r);
    for (size_t i = 0; i < strata_result_warning_count(r); i++)
        fprintf(stderr, "warning: %s\n", strata_result_warning(r, i));
    strata_result_free(r);
    if (fflush(stdout) != 0)
        status = CLI_REJECTED;
    return cli_close(db) ? CLI_REJECTED : status;
}
