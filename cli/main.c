/* main.c: the strata command: dispatches sub-commands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *what;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "run the HTTP server"},
    {"write", cmd_write, "write Influx line protocol into the database"},
    {"import", cmd_import, "write JSON lines (the export format)"},
    {"export", cmd_export, "print stored samples (jsonl, csv, lp)"},
    {"query", cmd_query, "evaluate a PromQL expression"},
    {"delete", cmd_delete, "delete samples by selector and time range"},
    {"inspect", cmd_inspect, "partitions, levels, files, sizes, write amplification"},
    {"verify", cmd_verify, "check every checksum of a database or of table files"},
    {"compact", cmd_compact, "run compactions until none is planned"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: strata COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nstrata COMMAND --help shows the options of one; strata --version the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("strata %s\n", strata_version());
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int status = commands[i].fn(argc - 1, argv + 1);
            cli_rules_free_all();
            return status;
        }
    fprintf(stderr, "strata: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
