/*
 * gen.h: the benchmark data generator (`strata-bench gen`), two data sets
 * in the shapes of the TSBS devops benchmark and of node_exporter, from a
 * seeded PRNG:
 *   devops-cpu  hosts x 10 fields (cpu_usage_user ...), 10 s, each a random
 *               walk in [0,100] with N(0,1) steps at full double precision;
 *   node-like   instances x 233 node_exporter-style series, 15 s: integer
 *               and decimal counters, decimal and integer gauges, constants.
 * Timestamps are milliseconds from 2024-01-01T12:00:00Z on an exact grid.
 */
#ifndef STRATA_BENCH_GEN_H
#define STRATA_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_series {
    char *name;     /* metric name, e.g. "node_load1" or "cpu_usage_user" */
    char **labels;  /* nlabels (name, value) pairs: labels[2i], labels[2i+1] */
    size_t nlabels;
    char kind[4];   /* "ic" "dc" "dg" "ig" "k" (node-like), "rw" (devops-cpu) */
    int64_t *t;     /* n timestamps, ms */
    double *v;      /* n values */
    size_t n;
} bench_series;

#define BENCH_GEN_START_MS 1704110400000ll

/* Generates dataset ("devops-cpu" or "node-like") with hosts (devops-cpu
 * hosts / node-like instances; <= 0 means the default 200 / 16) over hours.
 * *out (n series) is freed with bench_series_free. */
int bench_gen(const char *dataset, uint64_t seed, int hosts, int hours, bench_series **out, size_t *n);
void bench_series_free(bench_series *s, size_t n);

#endif
