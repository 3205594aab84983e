/*
 * cli.h: what the sub-commands of the strata binary share: the engine
 * options every command that opens a database takes, time arguments,
 * logging to stderr and progress on a terminal.
 *
 * The commands use the public API (strata.h) and the text codecs of the
 * format layer (format/format.h); nothing else of the engine.
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "strata.h"

/* Exit statuses of every command (README, strata(1)). */
enum { CLI_OK = 0, CLI_REJECTED = 1, CLI_USAGE = 2 };

/* getopt_long ids of the shared options (above the ASCII range). */
enum {
    OPT_SYNC = 1000,
    OPT_PARTITION,
    OPT_RETENTION,
    OPT_PLANNER,
    OPT_HEAD_BUDGET,
    OPT_COMPACTION_THREADS,
    OPT_MANIFEST_REWRITE,
    OPT_START,
    OPT_END,
    OPT_STEP,
    OPT_MATCH,
    OPT_FORMAT,
    OPT_PRECISION,
    OPT_JSON,
    OPT_FULL,
    OPT_LISTEN,
    OPT_HELP,
    OPT_QUIET,
    OPT_RETENTION_FILTER,
    OPT_DOWNSAMPLING,
    OPT_FIRST_COMMAND_OPTION /* commands number their own from here */
};

/* The option table entries of the engine options, -d and --help; a
 * command appends its own and ends with a zero entry. */
#define CLI_ENGINE_OPTIONS                                                       \
    {"data", required_argument, NULL, 'd'}, {"sync", required_argument, NULL, OPT_SYNC}, \
    {"partition", required_argument, NULL, OPT_PARTITION},                      \
    {"retention", required_argument, NULL, OPT_RETENTION},                      \
    {"retention-filter", required_argument, NULL, OPT_RETENTION_FILTER},        \
    {"downsampling", required_argument, NULL, OPT_DOWNSAMPLING},                \
    {"planner", required_argument, NULL, OPT_PLANNER},                          \
    {"head-budget", required_argument, NULL, OPT_HEAD_BUDGET},                  \
    {"compaction-threads", required_argument, NULL, OPT_COMPACTION_THREADS},    \
    {"manifest-rewrite-bytes", required_argument, NULL, OPT_MANIFEST_REWRITE},  \
    {"help", no_argument, NULL, 'h'}

#define CLI_ENGINE_HELP                                                                  \
    "  -d, --data DIR              data directory (default ./strata-data)\n"                \
    "      --sync always|interval|none   WAL sync policy (default interval)\n"            \
    "      --partition DURATION    time partition width, fixed at creation (default 1d)\n" \
    "      --retention DURATION    drop partitions older than this (default: keep all)\n" \
    "      --retention-filter 'SELECTOR:DURATION'  the series SELECTOR matches keep\n"      \
    "                              DURATION (repeatable, first match wins; --retention\n"  \
    "                              for the rest), e.g. '{env=\"dev\"}:7d'\n"                \
    "      --downsampling '[SELECTOR:]AGE:RESOLUTION[,...]'  keep data older than AGE\n"   \
    "                              as aggregates per RESOLUTION (repeatable),\n"          \
    "                              e.g. '30d:5m,180d:1h'\n"                               \
    "      --planner tiered|leveled   compaction planner (default tiered)\n"             \
    "      --head-budget BYTES     head memory that triggers a flush (K, M, G suffixes)\n" \
    "      --compaction-threads N  background compaction threads (default 2)\n"          \
    "      --manifest-rewrite-bytes BYTES  tuning: snapshot the manifest past this size\n"

/* The rules of --retention-filter and --downsampling: parsed, and as
 * given for display (inspect, the server's flags). Owned by the program:
 * cli_rules_free_all releases every one when the command is done (the
 * server and inspect use them until then). */
typedef struct cli_rules {
    strata_retention_rule *ret; /* matchers owned by sels */
    char **ret_sel;             /* each rule's selector text */
    size_t n_ret;
    strata_downsampling_rule *ds;
    char **ds_sel;              /* each rule's selector text, "" when it has none */
    size_t n_ds;
    const char **ret_args, **ds_args; /* the flags' arguments, in order, lent from argv */
    size_t n_ret_args, n_ds_args;
    strata_selector *sels;
    size_t n_sels;
    struct cli_rules *next;
} cli_rules;

typedef struct cli_db_args {
    strata_options opts;
    const char *dir;
    bool partition_given;
    cli_rules *rules; /* NULL until a rule is given */
} cli_db_args;

/* Releases the rules of every cli_db_args (main, after the command). */
void cli_rules_free_all(void);
/* A duration as its shortest exact form ("7d", "90m", "1500ms"). */
void cli_format_duration(int64_t ms, char *buf, size_t len);

/* Sets defaults (dir ./strata-data, log to stderr at WARN). */
void cli_db_args_init(cli_db_args *a);
/* Handles one shared option; returns 1 when it was one, 0 when not,
 * -1 after printing a usage error. */
int cli_db_args_parse(cli_db_args *a, int opt, const char *arg, const char *cmd);
/* Opens the database, printing why on failure. Returns 0 or CLI_USAGE. */
int cli_open(cli_db_args *a, strata_db **out);
/* Closes, printing an error; returns 0 or 1. */
int cli_close(strata_db *db);

/* Time and duration arguments; print a usage error and return -1 when bad. */
int cli_parse_time(const char *arg, const char *what, int64_t *out_ms);
int cli_parse_duration(const char *arg, const char *what, int64_t *out_ms);
int cli_parse_bytes(const char *arg, const char *what, uint64_t *out);

/* Progress on stderr when it is a terminal (rate, done, remaining);
 * silent otherwise. total may be 0 when unknown. */
typedef struct cli_progress {
    bool tty;
    const char *what;
    uint64_t total, done, items;
    uint64_t start_ns, last_ns;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *what, uint64_t total);
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t items);
void cli_progress_end(cli_progress *p);

/* The log sink used by cli_open: stderr, "strata: level: message". */
void cli_log(void *ctx, int level, const char *msg);



/* Sub-commands: argv[0] is the command name. */
int cmd_write(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
