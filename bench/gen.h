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

/* The node-like data set generated in chunks, for spans too long to hold
 * in memory (a year): max_series series of inst instances, evenly spaced
 * over their 233 * inst series (so a fraction of an instance holds every
 * kind), a sample every step_ms from start_ms. Each series draws from a PRNG of its
 * own, so the values differ from bench_gen's for the same seed. *series
 * (n) is lent until bench_stream_close; each series' t and v hold up to
 * chunk samples. */
typedef struct bench_stream bench_stream;
int bench_stream_open(uint64_t seed, int inst, size_t max_series, int64_t start_ms, int64_t step_ms, size_t chunk,
                      bench_stream **out, bench_series **series, size_t *n);
/* Fills every series with its next samples up to end_ms (at most chunk;
 * series[i].n says how many) and returns that count, 0 at the end. */
size_t bench_stream_next(bench_stream *st, int64_t end_ms);
void bench_stream_close(bench_stream *st);

#endif
