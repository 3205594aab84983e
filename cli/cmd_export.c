/* cmd_export.c: `strata export`: stored samples as JSON lines, CSV or line protocol. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format/format.h"


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
    bbuf out = {0};
    cli_sid_set seen = {0};
    fmt_label *fl = NULL;
    size_t fl_cap = 0;
    int64_t *ts = NULL;
    double *vs = NULL;
    size_t cap = 0;
    if (format == FORMAT_CSV && fmt_csv_header(&out) != STRATA_OK)
        status = CLI_REJECTED;
    for (size_t i = 0; i < n_sels && status == CLI_OK; i++) {
        strata_cursor *c;
        int rc = strata_select(db, sels[i].matchers, sels[i].n_matchers, start, end, &c);
        if (rc) {
            fprintf(stderr, "strata export: %s\n", strata_strerror(rc));
            status = CLI_REJECTED;
            break;
        }
        strata_sid sid;
        const strata_label *labels;
        size_t nl;
        while ((rc = strata_cursor_next_series(c, &sid, &labels, &nl)) == 1) {
            int fresh = cli_sid_set_add(&seen, sid);
            if (fresh < 0) { rc = STRATA_ERR_NOMEM; break; }
            if (!fresh)
                continue;
            size_t n = 0;
            const int64_t *t;
            const double *v;
            size_t k;
            while ((rc = strata_cursor_next_samples(c, &t, &v, &k)) == 1) {
                if (n + k > cap) {
                    size_t nc = cap ? cap : 1024;
                    while (nc < n + k) nc *= 2;
                    int64_t *nt = realloc(ts, nc * sizeof *nt);
                    if (nt) ts = nt;
                    double *nv = realloc(vs, nc * sizeof *nv);
                    if (nv) vs = nv;
                    if (!nt || !nv) { rc = STRATA_ERR_NOMEM; break; }
                    cap = nc;
                }
                memcpy(ts + n, t, k * sizeof *t);
                memcpy(vs + n, v, k * sizeof *v);
                n += k;
            }
            if (rc < 0)
                break;
            if (nl > fl_cap) {
                fmt_label *nf = realloc(fl, nl * sizeof *nf);
                if (!nf) { rc = STRATA_ERR_NOMEM; break; }
                fl = nf;
                fl_cap = nl;
            }
            for (size_t j = 0; j < nl; j++)
                fl[j] = (fmt_label){labels[j].name, strlen(labels[j].name), labels[j].value, strlen(labels[j].value)};
            if (format == FORMAT_JSONL)
                rc = jsonl_encode(&out, fl, nl, ts, vs, n);
            else if (format == FORMAT_CSV)
                rc = fmt_csv_series(&out, fl, nl, ts, vs, n);
            else
                rc = fmt_lp_series(&out, fl, nl, ts, vs, n, NULL);
            if (rc)
                break;
            if (out.len > (1u << 20)) {
                if (fwrite(out.data, 1, out.len, stdout) != out.len) { rc = STRATA_ERR_IO; break; }
                out.len = 0;
            }
        }
        strata_cursor_close(c);
        if (rc < 0) {
            fprintf(stderr, "strata export: %s\n", strata_strerror(rc));
            status = CLI_REJECTED;
        }
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len)
        status = CLI_REJECTED;
    if (fflush(stdout) != 0)
        status = CLI_REJECTED;
    buf_free(&out);
    cli_sid_set_free(&seen);
    free(fl);
    free(ts);
    free(vs);
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
