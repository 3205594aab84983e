/*
 * cmd_gen.c: `strata-bench gen`: prints a generated data set (gen.c) as
 * Influx line protocol with second timestamps (write it with
 * `strata write --precision s`), time-major as scrapes arrive:
 *   node-like   one line per series and tick: `node_load1,instance=...,job=node value=0.52 1704110400`
 *   devops-cpu  one line per host and tick with its ten fields:
 *               `cpu,hostname=host_0,... usage_user=9.58,usage_system=2.69,... 1704110400`
 * Both read back as the series the benchmarks use (a field named value
 * gives the measurement's own name; other fields measurement_field).
 * Values are printed in their shortest exact form, so every sample reads
 * back bit for bit.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "strata.h"

static void put_tag_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == ',' || *v == '=' || *v == ' ' || *v == '\\')
            fputc('\\', f);
        fputc(*v, f);
    }
}

static void put_series_key(FILE *f, const char *measurement, const bench_series *s)
{
    fputs(measurement, f);
    for (size_t l = 0; l < s->nlabels; l++) {
        fprintf(f, ",%s=", s->labels[2 * l]);
        put_tag_value(f, s->labels[2 * l + 1]);
    }
}

static void put_value(FILE *f, double v)
{
    char b[STRATA_DOUBLE_MAX + 1];
    size_t n = strata_format_double(v, b);
    fwrite(b, 1, n, f);
}

int bench_gen_main(int argc, char **argv)
{
    static const struct option lo[] = {{"hosts", required_argument, 0, 'H'},
                                       {"hours", required_argument, 0, 'h'},
                                       {"seed", required_argument, 0, 's'},
                                       {"help", no_argument, 0, 'x'},
                                       {0, 0, 0, 0}};
    int hosts = 0, hours = 1, c, help = 0;
    uint64_t seed = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'H':
            hosts = atoi(optarg);
            break;
        case 'h':
            hours = atoi(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'x':
            help = 1;
            goto usage;
        default:
            goto usage;
        }
    }
    if (optind != argc - 1 || hours <= 0 || hosts < 0)
        goto usage;
    const char *ds = argv[optind];
    bench_series *s;
    size_t n;
    if (bench_gen(ds, seed, hosts, hours, &s, &n)) {
        fprintf(stderr, "strata-bench gen: unknown data set '%s'\n", ds);
        return 2;
    }
    size_t ticks = 0;
    for (size_t i = 0; i < n; i++)
        ticks = s[i].n > ticks ? s[i].n : ticks;
    int devops = !strcmp(ds, "devops-cpu");
    for (size_t k = 0; k < ticks; k++) {
        for (size_t i = 0; i < n; i++) {
            if (k >= s[i].n)
                continue;
            if (devops) {
                /* ten consecutive series per host share the labels: one line */
                if (i % 10)
                    continue;
                put_series_key(stdout, "cpu", &s[i]);
                for (size_t f = 0; f < 10 && i + f < n; f++) {
                    fprintf(stdout, "%c%s=", f ? ',' : ' ', s[i + f].name + 4 /* "cpu_" */);
                    put_value(stdout, s[i + f].v[k]);
                }
            } else {
                put_series_key(stdout, s[i].name, &s[i]);
                fputs(" value=", stdout);
                put_value(stdout, s[i].v[k]);
            }
            fprintf(stdout, " %lld\n", (long long)(s[i].t[k] / 1000));
        }
    }
    bench_series_free(s, n);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("strata-bench gen: stdout");
        return 1;
    }
    return 0;

usage:
    fprintf(help ? stdout : stderr, "usage: strata-bench gen devops-cpu|node-like [--hosts N] [--hours N] [--seed N]\n"
                    "  prints the data set as Influx line protocol, timestamps in seconds\n"
                    "  (defaults: 200 hosts for devops-cpu, 16 instances for node-like, 1 hour, seed 1)\n");
    return help ? 0 : 2;
}
