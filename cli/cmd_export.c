/* cmd_export.c: `strata export`: stored samples as JSON lines, CSV or line protocol. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *export_help =
    "usage: strata export [-d DIR] [--match SELECTOR]... [--start T] [--end T] [--format jsonl|csv|lp]\n"
    "Writes stored samples to stdout: default every series, all time, JSON lines\n"
    "(one series a line, the VictoriaMetrics export format).\n"
    "Times: RFC 3339, Unix seconds, or relative (now, -1h).\n" CLI_ENGINE_HELP;

enum { FORMAT_JSONL, FORMAT_CSV, FORMAT_LP };

int cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENGINE_OPTIONS, {"match", required_argument, NULL, OPT_MATCH}, {"start", required_argument, NULL, OPT_START},
        {"end", required_argument, NULL, OPT_END},      {"format", required_argument, NULL, OPT_FORMAT},
        {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    a.opts.compaction_threads = 0;
    int64_t start = INT64_MIN, end = INT64_MAX;
    int format = FORMAT_JSONL;
    const char **matches = calloc((size_t)argc + 1, sizeof *matches);
    size_t n_matches = 0;
    int opt, status = CLI_OK;
    if (!matches)
        return CLI_REJECTED;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "export");
        if (r < 0)
            goto usage;
        if (r)
            continue;
        switch (opt) {
        case OPT_MATCH: matches[n_matches++] = optarg; break;
        case OPT_START: if (cli_parse_time(optarg, "--start", &start)) goto usage; break;
        case OPT_END: if (cli_parse_time(optarg, "--end", &end)) goto usage; break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "jsonl")) format = FORMAT_JSONL;
            else if (!strcmp(optarg, "csv")) format = FORMAT_CSV;
            else if (!strcmp(optarg, "lp")) format = FORMAT_LP;
            else { fprintf(stderr, "strata export: --format takes jsonl, csv or lp\n"); goto usage; }
            break;
        case 'h': fputs(export_help, stdout); free(matches); return CLI_OK;
        default: goto usage;
        }
    }
    if (optind != argc)
        goto usage;
    if (n_matches == 0)
        matches[n_matches++] = "{__name__=~\".*\"}";
    strata_selector *sels = calloc(n_matches, sizeof *sels);
    if (!sels) { free(matches); return CLI_REJECTED; }
    size_t n_sels = 0;
    for (size_t i = 0; i < n_matches; i++, n_sels++) {
        char err[256];
        /* export of everything must also list series without a name */
        if (!strcmp(matches[i], "{__name__=~\".*\"}")) {
            sels[i].matchers = NULL;
            sels[i].n_matchers = 0;
            continue;
        }
        if (strata_selector_parse(matches[i], &sels[i], err, sizeof err) != STRATA_OK) {
            fprintf(stderr, "strata export: bad selector '%s': %s\n", matches[i], err);
            status = CLI_USAGE;
            goto out_sels;
        }
    }
    strata_db *db;
    a.opts.read_only = 0;
    if ((status = cli_open(&a, &db)) != CLI_OK)
        goto out_sels;
    strata_export *e = NULL;
    static const strata_export_format formats[] = {STRATA_EXPORT_JSONL, STRATA_EXPORT_CSV, STRATA_EXPORT_LP};
    int rc = strata_export_open(db, sels, n_sels, start, end, formats[format], &e);
    char *buf = rc ? NULL : malloc(1u << 20);
    if (!rc && !buf)
        rc = STRATA_ERR_NOMEM;
    size_t n;
    while (!rc && (rc = strata_export_read(e, buf, 1u << 20, &n)) == 1) {
        rc = fwrite(buf, 1, n, stdout) == n ? STRATA_OK : STRATA_ERR_IO;
    }
    if (rc < 0) {
        fprintf(stderr, "strata export: %s\n", strata_strerror(rc));
        status = CLI_REJECTED;
    }
    if (fflush(stdout) != 0)
        status = CLI_REJECTED;
    free(buf);
    strata_export_close(e);
    if (cli_close(db))
        status = CLI_REJECTED;
out_sels:
    for (size_t i = 0; i < n_sels; i++)
        strata_selector_free(&sels[i]);
    free(sels);
    free(matches);
    return status;
usage:
    fputs(export_help, stderr);
    free(matches);
    return CLI_USAGE;
}
