/* cmd_admin.c: `strata delete`, `inspect`, `verify` and `compact`. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *delete_help =
    "usage: strata delete [-d DIR] --match SELECTOR... [--start T] [--end T]\n"
    "Deletes the samples of the matching series in the time range (default all time).\n" CLI_ENGINE_HELP;

int cmd_delete(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS, {"match", required_argument, NULL, OPT_MATCH},
                                              {"start", required_argument, NULL, OPT_START},
                                              {"end", required_argument, NULL, OPT_END}, {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    a.opts.compaction_threads = 0;
    int64_t start = INT64_MIN, end = INT64_MAX;
    const char **matches = calloc((size_t)argc + 1, sizeof *matches);
    size_t n = 0;
    int opt, status = CLI_OK;
    if (!matches)
        return CLI_REJECTED;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "delete");
        if (r < 0)
            goto usage;
        if (r)
            continue;
        switch (opt) {
        case OPT_MATCH: matches[n++] = optarg; break;
        case OPT_START: if (cli_parse_time(optarg, "--start", &start)) goto usage; break;
        case OPT_END: if (cli_parse_time(optarg, "--end", &end)) goto usage; break;
        case 'h': fputs(delete_help, stdout); free(matches); return CLI_OK;
        default: goto usage;
        }
    }
    if (optind != argc || n == 0)
        goto usage;
    strata_selector *sels = calloc(n, sizeof *sels);
    if (!sels) { free(matches); return CLI_REJECTED; }
    size_t parsed = 0;
    for (; parsed < n; parsed++) {
        char err[256];
        if (strata_selector_parse(matches[parsed], &sels[parsed], err, sizeof err) != STRATA_OK) {
            fprintf(stderr, "strata delete: bad selector '%s': %s\n", matches[parsed], err);
            status = CLI_USAGE;
            goto out;
        }
    }
    strata_db *db;
    if ((status = cli_open(&a, &db)) != CLI_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int rc = strata_delete(db, sels[i].matchers, sels[i].n_matchers, start, end);
        if (rc) {
            fprintf(stderr, "strata delete: %s: %s\n", matches[i], strata_strerror(rc));
            status = CLI_REJECTED;
            break;
        }
    }
    if (cli_close(db))
        status = CLI_REJECTED;
out:
    for (size_t i = 0; i < parsed; i++)
        strata_selector_free(&sels[i]);
    free(sels);
    free(matches);
    return status;
usage:
    fputs(delete_help, stderr);
    free(matches);
    return CLI_USAGE;
}

static const char *inspect_help =
    "usage: strata inspect [-d DIR] [--json]\n"
    "Prints partitions, levels, files, sizes, samples, bytes per sample, series\n"
    "count and write amplification.\n" CLI_ENGINE_HELP;

static void print_time(int64_t ms)
{
    char b[STRATA_TIME_MAX + 1];
    size_t n = strata_format_time(ms, b);
    b[n] = 0;
    fputs(b, stdout);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* The rules the database was opened with (--retention, --retention-filter,
 * --downsampling): the order is the order of matching. */
static void print_rules(const cli_db_args *a, bool json)
{
    const cli_rules *r = a->rules;
    size_t n_ret = r ? r->n_ret : 0, n_ds = r ? r->n_ds : 0;
    char d1[32], d2[32];
    cli_format_duration(a->opts.retention_ms, d1, sizeof d1);
    if (json) {
        printf("\"rules\":{\"retention\":");
        json_string(a->opts.retention_ms > 0 ? d1 : "");
        printf(",\"retention_ms\":%lld,\"retention_filters\":[", (long long)a->opts.retention_ms);
        for (size_t i = 0; i < n_ret; i++) {
            cli_format_duration(r->ret[i].retention_ms, d2, sizeof d2);
            printf("%s{\"selector\":", i ? "," : "");
            json_string(r->ret_sel[i]);
            printf(",\"retention\":");
            json_string(d2);
            printf(",\"retention_ms\":%lld}", (long long)r->ret[i].retention_ms);
        }
        printf("],\"downsampling\":[");
        for (size_t i = 0; i < n_ds; i++) {
            printf("%s{\"selector\":", i ? "," : "");
            json_string(r->ds_sel[i]);
            cli_format_duration(r->ds[i].age_ms, d1, sizeof d1);
            cli_format_duration(r->ds[i].resolution_ms, d2, sizeof d2);
            printf(",\"age\":");
            json_string(d1);
            printf(",\"age_ms\":%lld,\"resolution\":", (long long)r->ds[i].age_ms);
            json_string(d2);
            printf(",\"resolution_ms\":%lld}", (long long)r->ds[i].resolution_ms);
        }
        printf("]}");
        return;
    }
    printf("\nretention         %s\n", a->opts.retention_ms > 0 ? d1 : "keep all");
    for (size_t i = 0; i < n_ret; i++) {
        cli_format_duration(r->ret[i].retention_ms, d2, sizeof d2);
        printf("  filter          %s: %s\n", r->ret_sel[i], d2);
    }
    if (n_ret)
        printf("  others          %s\n", a->opts.retention_ms > 0 ? d1 : "keep all");
    if (n_ds) {
        printf("downsampling\n");
        for (size_t i = 0; i < n_ds; i++) {
            cli_format_duration(r->ds[i].age_ms, d1, sizeof d1);
            cli_format_duration(r->ds[i].resolution_ms, d2, sizeof d2);
            printf("  %-15s older than %s: every %s\n", *r->ds_sel[i] ? r->ds_sel[i] : "every series", d1, d2);
        }
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS, {"json", no_argument, NULL, OPT_JSON}, {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    a.opts.compaction_threads = 0;
    bool json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "inspect");
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        if (opt == OPT_JSON) { json = true; continue; }
        (opt == 'h' ? fputs(inspect_help, stdout) : fputs(inspect_help, stderr));
        return opt == 'h' ? CLI_OK : CLI_USAGE;
    }
    strata_db *db;
    int status = cli_open(&a, &db);
    if (status)
        return status;
    strata_stats st;
    strata_file_info *files = NULL;
    size_t n = 0;
    int rc = strata_get_stats(db, &st, sizeof st);
    if (!rc)
        rc = strata_list_files(db, &files, &n);
    if (rc) {
        fprintf(stderr, "strata inspect: %s\n", strata_strerror(rc));
        cli_close(db);
        return CLI_REJECTED;
    }
    uint64_t disk = st.table_bytes + st.wal_bytes;
    if (json) {
        printf("{\"series\":%llu,\"partitions\":%llu,\"table_files\":%llu,\"table_bytes\":%llu,\"table_samples\":%llu,"
               "\"head_samples\":%llu,\"head_bytes\":%llu,\"wal_bytes\":%llu,\"wal_segments\":%llu,"
               "\"bytes_per_sample\":%.4f,\"write_amplification\":%.3f,\"compactions\":%llu,"
               "\"compaction_bytes_read\":%llu,\"compaction_bytes_written\":%llu,\"compaction_pending_bytes\":%llu,"
               "\"compactions_running\":%llu,\"tombstones\":%llu,\"quarantined_files\":%llu,\"levels\":[",
               (unsigned long long)st.series, (unsigned long long)st.partitions, (unsigned long long)st.table_files,
               (unsigned long long)st.table_bytes, (unsigned long long)st.table_samples,
               (unsigned long long)st.head_samples, (unsigned long long)st.head_bytes,
               (unsigned long long)st.wal_bytes, (unsigned long long)st.wal_segments,
               st.table_samples ? (double)st.table_bytes / (double)st.table_samples : 0.0, st.write_amplification,
               (unsigned long long)st.compactions, (unsigned long long)st.compaction_bytes_read,
               (unsigned long long)st.compaction_bytes_written, (unsigned long long)st.compaction_pending_bytes,
               (unsigned long long)st.compactions_running, (unsigned long long)st.tombstones, (unsigned long long)st.quarantined_files);
        for (int l = 0; l < STRATA_MAX_LEVELS; l++)
            printf("%s{\"level\":%d,\"files\":%llu,\"bytes\":%llu,\"samples\":%llu,\"bytes_read\":%llu,\"bytes_written\":%llu}",
                   l ? "," : "", l, (unsigned long long)st.levels[l].files, (unsigned long long)st.levels[l].bytes,
                   (unsigned long long)st.levels[l].samples, (unsigned long long)st.levels[l].bytes_read,
                   (unsigned long long)st.levels[l].bytes_written);
        printf("],\"files\":[");
        for (size_t i = 0; i < n; i++)
            printf("%s{\"file\":%llu,\"partition_start_ms\":%lld,\"level\":%d,\"bytes\":%llu,\"samples\":%llu,"
                   "\"series\":%llu,\"blocks\":%llu,\"min_t_ms\":%lld,\"max_t_ms\":%lld}",
                   i ? "," : "", (unsigned long long)files[i].file_no, (long long)files[i].partition_start_ms,
                   files[i].level, (unsigned long long)files[i].bytes, (unsigned long long)files[i].samples,
                   (unsigned long long)files[i].series, (unsigned long long)files[i].blocks,
                   (long long)files[i].min_t_ms, (long long)files[i].max_t_ms);
        printf("],");
        print_rules(&a, true);
        printf("}\n");
    } else {
        printf("series            %llu\n", (unsigned long long)st.series);
        printf("head              %llu samples, %llu series, %.1f MiB\n", (unsigned long long)st.head_samples,
               (unsigned long long)st.head_series, (double)st.head_bytes / 1048576.0);
        printf("wal               %llu segments, %.1f MiB\n", (unsigned long long)st.wal_segments,
               (double)st.wal_bytes / 1048576.0);
        printf("tables            %llu files, %.1f MiB, %llu samples, %.3f bytes/sample\n",
               (unsigned long long)st.table_files, (double)st.table_bytes / 1048576.0,
               (unsigned long long)st.table_samples,
               st.table_samples ? (double)st.table_bytes / (double)st.table_samples : 0.0);
        printf("disk              %.1f MiB (tables + wal)\n", (double)disk / 1048576.0);
        printf("partitions        %llu\n", (unsigned long long)st.partitions);
        printf("compactions       %llu, read %.1f MiB, written %.1f MiB, pending %.1f MiB\n",
               (unsigned long long)st.compactions, (double)st.compaction_bytes_read / 1048576.0,
               (double)st.compaction_bytes_written / 1048576.0, (double)st.compaction_pending_bytes / 1048576.0);
        printf("write amplification %.2f\n", st.write_amplification);
        printf("tombstones        %llu\n", (unsigned long long)st.tombstones);
        if (st.quarantined_files)
            printf("quarantined files %llu\n", (unsigned long long)st.quarantined_files);
        print_rules(&a, false);
        printf("\nlevel  files       bytes      samples   bytes read  bytes written\n");
        for (int l = 0; l < STRATA_MAX_LEVELS; l++) {
            if (!st.levels[l].files && !st.levels[l].bytes_written)
                continue;
            printf("%5d %6llu %11llu %12llu %12llu %14llu\n", l, (unsigned long long)st.levels[l].files,
                   (unsigned long long)st.levels[l].bytes, (unsigned long long)st.levels[l].samples,
                   (unsigned long long)st.levels[l].bytes_read, (unsigned long long)st.levels[l].bytes_written);
        }
        int64_t part = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            if (files[i].partition_start_ms != part || i == 0) {
                part = files[i].partition_start_ms;
                printf("\npartition ");
                print_time(part);
                printf("\n  file          level      bytes     samples  series  blocks  bytes/sample  time range\n");
            }
            printf("  %012llu %5d %10llu %11llu %7llu %7llu %13.3f  ", (unsigned long long)files[i].file_no,
                   files[i].level, (unsigned long long)files[i].bytes, (unsigned long long)files[i].samples,
                   (unsigned long long)files[i].series, (unsigned long long)files[i].blocks,
                   files[i].samples ? (double)files[i].bytes / (double)files[i].samples : 0.0);
            print_time(files[i].min_t_ms);
            fputs(" .. ", stdout);
            print_time(files[i].max_t_ms);
            putchar('\n');
        }
    }
    strata_free(files);
    return cli_close(db) ? CLI_REJECTED : CLI_OK;
}

static const char *verify_help =
    "usage: strata verify [-d DIR | FILE...]\n"
    "Checks every checksum of every file of the database (or of the table files\n"
    "named). Exit 1 naming the file and offset of any damage.\n";

typedef struct verify_ctx {
    uint64_t problems;
} verify_ctx;

static void verify_report(void *ctx, const char *file, int64_t offset, const char *message)
{
    verify_ctx *v = ctx;
    v->problems++;
    if (offset >= 0)
        fprintf(stderr, "%s: offset %lld: %s\n", file, (long long)offset, message);
    else
        fprintf(stderr, "%s: %s\n", file, message);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
                                              {0, 0, 0, 0}};
    const char *dir = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        if (opt == 'd')
            dir = optarg;
        else {
            (opt == 'h' ? fputs(verify_help, stdout) : fputs(verify_help, stderr));
            return opt == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (dir && optind != argc) {
        fputs(verify_help, stderr);
        return CLI_USAGE;
    }
    if (!dir && optind == argc)
        dir = "./strata-data";
    verify_ctx v = {0};
    int rc = STRATA_OK;
    if (dir) {
        char cur[4200];
        snprintf(cur, sizeof cur, "%s/CURRENT", dir);
        if (access(cur, F_OK) != 0) {
            fprintf(stderr, "strata verify: %s: not a strata database (no CURRENT)\n", dir);
            return CLI_USAGE;
        }
        rc = strata_verify_dir(dir, verify_report, &v);
        if (rc != STRATA_OK && rc != STRATA_ERR_CORRUPT && !v.problems)
            fprintf(stderr, "%s: %s\n", dir, strata_strerror(rc));
    } else {
        for (int i = optind; i < argc; i++) {
            int r = strata_verify_table(argv[i], verify_report, &v);
            if (r != STRATA_OK && !v.problems)
                fprintf(stderr, "%s: %s\n", argv[i], strata_strerror(r));
            if (r)
                rc = r;
        }
    }
    if (rc == STRATA_OK && !v.problems) {
        printf("ok\n");
        return CLI_OK;
    }
    printf("%llu problem(s) found\n", (unsigned long long)(v.problems ? v.problems : 1));
    return CLI_REJECTED;
}

static const char *compact_help =
    "usage: strata compact [-d DIR] [--full] [options]\n"
    "Flushes the head, runs compactions until none is planned (--full: every\n"
    "partition fully) and exits.\n" CLI_ENGINE_HELP;

int cmd_compact(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS, {"full", no_argument, NULL, OPT_FULL}, {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    int full = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "compact");
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        if (opt == OPT_FULL) { full = 1; continue; }
        (opt == 'h' ? fputs(compact_help, stdout) : fputs(compact_help, stderr));
        return opt == 'h' ? CLI_OK : CLI_USAGE;
    }
    strata_db *db;
    int status = cli_open(&a, &db);
    if (status)
        return status;
    int rc = strata_flush(db);
    if (!rc)
        rc = strata_compact(db, full);
    if (rc) {
        fprintf(stderr, "strata compact: %s\n", strata_strerror(rc));
        status = CLI_REJECTED;
    }
    if (cli_close(db))
        status = CLI_REJECTED;
    return status;
}
