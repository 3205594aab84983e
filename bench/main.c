/*
 * main.c: strata-bench, the benchmarks and data generator of strata, a
 * program of its own beside the strata binary (as redis-benchmark beside
 * redis-server):
 *   strata-bench codec|ingest|query|promql|compact|downsample [options] [--json]
 *   strata-bench gen devops-cpu|node-like [--hosts N] [--hours N] [--seed N]
 * The benchmarks print a table for people and, with --json, one object per
 * result line for scripts. The codec benchmark measures the codecs and the
 * table format directly, below the public API, and so links the library's
 * internal layers; the others use only strata.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "strata.h"

int bench_codec_main(int argc, char **argv);
int bench_ingest_main(int argc, char **argv);
int bench_query_main(int argc, char **argv);
int bench_compact_main(int argc, char **argv);
int bench_promql_main(int argc, char **argv);
int bench_gen_main(int argc, char **argv);
int bench_downsample_main(int argc, char **argv);

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *what;
} command;

static const command commands[] = {
    {"codec", bench_codec_main, "bytes/sample and encode/decode speed of every codec on the generated data sets"},
    {"ingest", bench_ingest_main, "samples/s through the C API (1 and 2 threads), head memory, reopen time"},
    {"query", bench_query_main, "read throughput: one series, and a matcher selecting about 10% of the series"},
    {"promql", bench_promql_main, "range queries at a 60 s step over every series: samples/s through the evaluator, memory"},
    {"compact", bench_compact_main, "write amplification, bytes/sample after full compaction, compaction speed"},
    {"downsample", bench_downsample_main, "a year of node-like data raw and downsampled: bytes on disk, year-long query latency, answers' difference"},
    {"gen", bench_gen_main, "print a generated data set as Influx line protocol (precision s)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-bench COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nstrata-bench COMMAND --help shows the options of one.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("strata-bench %s\n", strata_version());
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "strata-bench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
