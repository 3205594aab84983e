/*
 * serve.c: `strata serve`: parses the options, opens the database, runs
 * the HTTP server until SIGTERM or SIGINT, then stops gracefully: no new
 * connections, requests in flight finish, strata_close syncs the WAL so
 * every write that was acknowledged is on disk.
 *
 * The signals are blocked in every thread (the mask is inherited by the
 * server's threads) and taken synchronously by sigwait in the main thread,
 * so no work happens in a signal handler.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "extlabels.h"
#include "otlp.h"
#include "server.h"

static const char *serve_help =
    "usage: strata serve [-d DIR] [--listen ADDR] [engine options] [server options]\n"
    "Runs the HTTP server (Influx line protocol, Prometheus remote write/read and\n"
    "HTTP API, OTLP/HTTP metrics, export/import, admin endpoints, /metrics, /health) until SIGTERM or\n"
    "SIGINT, then finishes the requests in flight and closes the database. The web\n"
    "UI is at / (http://127.0.0.1:9410/ by default): query, explore, storage, status.\n"
    "      --listen ADDR         HOST:PORT, [V6]:PORT or :PORT for every interface\n"
    "                            (default 127.0.0.1:9410)\n"
    "      --auth-token T        require 'Authorization: Bearer T' (not on /health; the\n"
    "                            web UI's page loads without it and asks for the token)\n"
    "      --basic-auth USER:PASS   require HTTP basic auth (not on /health; the browser\n"
    "                            asks for it when the web UI opens)\n"
    "      --max-body BYTES      request body limit, compressed and decompressed (default 64M)\n"
    "      --max-decoded-bytes BYTES  decompressed size of a remote write/read body (snappy);\n"
    "                            the objects decoded from one may take 4x that (default 32M; over: 413)\n"
    "      --max-labels N        labels per series (default 256)\n"
    "      --max-label-len N     bytes of a label name or value (default 16384)\n"
    "      --max-read-samples N  samples one SAMPLES remote read may return (default 50000000;\n"
    "                            a streamed one is sent series by series, unlimited)\n"
    "      --max-series N        series the database may hold (default unlimited)\n"
    "      --external-label NAME=VALUE  a label added to every series remote read and the\n"
    "                            query API return (a series' own label of the name wins);\n"
    "                            repeatable; remote read matchers NAME=\"VALUE\" match series\n"
    "                            without NAME, as in Prometheus\n"
    "      --threads N           HTTP I/O threads; they also answer /health and /metrics\n"
    "                            (default: number of CPUs)\n"
    "      --write-threads N     threads running writes: /write, /api/v2/write,\n"
    "                            /api/v1/write, /api/v1/import, /api/v1/import/prometheus,\n"
    "                            OTLP (default: number of CPUs, at least 2)\n"
    "      --queue-len N         requests of one class (write, read, admin) waiting for a\n"
    "                            thread; more are answered 503 with Retry-After (default 256)\n"
    "      --max-connections N   open connections; past it the one idle the longest is\n"
    "                            closed, or the new one when none is idle (default 512)\n"
    "      --connection-timeout D  a connection silent this long while sending its request\n"
    "                            or between requests is closed (default 60s)\n"
    "      --query-max-samples N  points a query may hold at once (default 50000000; over: 422)\n"
    "      --query-timeout D     a query running longer is stopped (default 2m; 503)\n"
    "      --query-max-concurrency N  threads running reads (queries, series, labels, export,\n"
    "                            remote read), at a lower CPU priority; more wait their turn\n"
    "                            within their timeout (default 20)\n"
    "      --query-lookback-delta D  how far back an instant selector looks (default 5m)\n"
    "      --otlp-translation-strategy S  OTLP metric and label names (/opentelemetry/v1/metrics):\n"
    "                            UnderscoreEscapingWithSuffixes (default), UnderscoreEscapingWithoutSuffixes,\n"
    "                            NoUTF8EscapingWithSuffixes or NoTranslation (UTF-8 names kept)\n" CLI_ENGINE_HELP;

enum {
    OPT_AUTH_TOKEN = OPT_FIRST_COMMAND_OPTION,
    OPT_BASIC_AUTH,
    OPT_MAX_BODY,
    OPT_MAX_DECODED,
    OPT_MAX_LABELS,
    OPT_MAX_LABEL_LEN,
    OPT_MAX_READ,
    OPT_EXTERNAL_LABEL,
    OPT_MAX_SERIES,
    OPT_THREADS,
    OPT_QUERY_MAX_SAMPLES,
    OPT_QUERY_TIMEOUT,
    OPT_QUERY_CONCURRENCY,
    OPT_QUERY_LOOKBACK,
    OPT_WRITE_THREADS,
    OPT_QUEUE_LEN,
    OPT_MAX_CONNECTIONS,
    OPT_CONN_TIMEOUT,
    OPT_OTLP_STRATEGY
};

static char *base64(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

static int parse_count(const char *arg, const char *what, unsigned long long lo, unsigned long long hi,
                       unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || *end || v < lo || v > hi) {
        fprintf(stderr, "strata serve: %s takes %llu..%llu\n", what, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* The arguments of a repeated list flag joined by ',' (as one flag would
 * take them all): a new string, "" when none; NULL when out of memory. */
static char *join_args(const char *const *v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p = 0;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", v[i]);
    return out;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENGINE_OPTIONS,
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"auth-token", required_argument, NULL, OPT_AUTH_TOKEN},
        {"basic-auth", required_argument, NULL, OPT_BASIC_AUTH},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-decoded-bytes", required_argument, NULL, OPT_MAX_DECODED},
        {"max-labels", required_argument, NULL, OPT_MAX_LABELS},
        {"max-label-len", required_argument, NULL, OPT_MAX_LABEL_LEN},
        {"max-read-samples", required_argument, NULL, OPT_MAX_READ},
        {"external-label", required_argument, NULL, OPT_EXTERNAL_LABEL},
        {"max-series", required_argument, NULL, OPT_MAX_SERIES},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"query-max-samples", required_argument, NULL, OPT_QUERY_MAX_SAMPLES},
        {"query-timeout", required_argument, NULL, OPT_QUERY_TIMEOUT},
        {"query-max-concurrency", required_argument, NULL, OPT_QUERY_CONCURRENCY},
        {"query-lookback-delta", required_argument, NULL, OPT_QUERY_LOOKBACK},
        {"write-threads", required_argument, NULL, OPT_WRITE_THREADS},
        {"queue-len", required_argument, NULL, OPT_QUEUE_LEN},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"connection-timeout", required_argument, NULL, OPT_CONN_TIMEOUT},
        {"otlp-translation-strategy", required_argument, NULL, OPT_OTLP_STRATEGY},
        {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    srv *s = calloc(1, sizeof *s);
    if (!s)
        return CLI_USAGE;
    s->cfg.listen = "127.0.0.1:9410";
    s->cfg.max_body = 64u << 20;
    s->cfg.max_decoded = 32u << 20;        /* VictoriaMetrics' -maxInsertRequestSize */
    s->cfg.max_labels = 256;
    s->cfg.max_label_len = 16384;
    s->cfg.max_read_samples = 50000000;
    s->cfg.query_max_samples = 50000000;   /* Prometheus' --query.max-samples */
    s->cfg.query_timeout_ms = 120000;      /* --query.timeout */
    s->cfg.query_max_concurrency = 20;     /* --query.max-concurrency */
    s->cfg.query_lookback_ms = 300000;     /* --query.lookback-delta */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->cfg.threads = ncpu > 0 ? (unsigned)ncpu : 2;
    s->cfg.write_threads = ncpu > 2 ? (unsigned)ncpu : 2;
    s->cfg.admin_threads = 2;              /* delete, snapshot, flush, merge: rare, may be long */
    s->cfg.queue_len = 256;
    s->cfg.max_connections = 512;          /* Prometheus' --web.max-connections */
    s->cfg.conn_timeout_s = 60;
    int64_t ms;
    int opt, status = CLI_USAGE;
    unsigned long long v;
    uint64_t bytes;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "serve");
        if (r < 0)
            goto out;
        if (r)
            continue;
        switch (opt) {
        case OPT_LISTEN: s->cfg.listen = optarg; break;
        case OPT_AUTH_TOKEN:
            if (!*optarg) {
                fprintf(stderr, "strata serve: --auth-token must not be empty\n");
                goto out;
            }
            s->cfg.auth_token = optarg;
            break;
        case OPT_BASIC_AUTH:
            if (!strchr(optarg, ':')) {
                fprintf(stderr, "strata serve: --basic-auth takes USER:PASS\n");
                goto out;
            }
            s->cfg.basic_auth = optarg;
            break;
        case OPT_MAX_BODY:
            if (cli_parse_bytes(optarg, "--max-body", &bytes) || bytes < 1024 || bytes > (1ull << 32)) {
                fprintf(stderr, "strata serve: --max-body takes 1K..4G\n");
                goto out;
            }
            s->cfg.max_body = (size_t)bytes;
            break;
        case OPT_MAX_DECODED:
            if (cli_parse_bytes(optarg, "--max-decoded-bytes", &bytes) || bytes < 1024 || bytes > (1ull << 32)) {
                fprintf(stderr, "strata serve: --max-decoded-bytes takes 1K..4G\n");
                goto out;
            }
            s->cfg.max_decoded = (size_t)bytes;
            break;
        case OPT_MAX_LABELS:
            if (parse_count(optarg, "--max-labels", 1, 100000, &v))
                goto out;
            s->cfg.max_labels = (size_t)v;
            break;
        case OPT_MAX_LABEL_LEN:
            if (parse_count(optarg, "--max-label-len", 1, 1u << 24, &v))
                goto out;
            s->cfg.max_label_len = (size_t)v;
            break;
        case OPT_MAX_READ:
            if (parse_count(optarg, "--max-read-samples", 1, 1ull << 40, &v))
                goto out;
            s->cfg.max_read_samples = (size_t)v;
            break;
        case OPT_EXTERNAL_LABEL: {
            strata_label *nb = realloc(s->cfg.ext_labels, (s->cfg.n_ext_labels + 1) * sizeof *nb);
            if (!nb) {
                fprintf(stderr, "strata serve: out of memory\n");
                goto out;
            }
            s->cfg.ext_labels = nb;
            const char *why = NULL;
            int prc = el_parse(optarg, &nb[s->cfg.n_ext_labels], &why);
            if (prc) {
                fprintf(stderr, "strata serve: --external-label %s: %s\n", optarg,
                        prc == STRATA_ERR_INVALID ? why : strata_strerror(prc));
                goto out;
            }
            s->cfg.n_ext_labels++;
            if (el_sort(s->cfg.ext_labels, s->cfg.n_ext_labels)) {
                fprintf(stderr, "strata serve: --external-label %s: that name is given twice\n", optarg);
                goto out;
            }
            break;
        }
        case OPT_MAX_SERIES:
            if (parse_count(optarg, "--max-series", 1, 1ull << 40, &v))
                goto out;
            a.opts.max_series = (uint64_t)v;
            break;
        case OPT_THREADS:
            if (parse_count(optarg, "--threads", 1, 1024, &v))
                goto out;
            s->cfg.threads = (unsigned)v;
            break;
        case OPT_QUERY_MAX_SAMPLES:
            if (parse_count(optarg, "--query-max-samples", 1, 1ull << 40, &v))
                goto out;
            s->cfg.query_max_samples = (uint64_t)v;
            break;
        case OPT_QUERY_TIMEOUT:
            if (cli_parse_duration(optarg, "--query-timeout", &s->cfg.query_timeout_ms) ||
                s->cfg.query_timeout_ms <= 0)
                goto out;
            break;
        case OPT_QUERY_CONCURRENCY:
            if (parse_count(optarg, "--query-max-concurrency", 1, 4096, &v))
                goto out;
            s->cfg.query_max_concurrency = (unsigned)v;
            break;
        case OPT_QUERY_LOOKBACK:
            if (cli_parse_duration(optarg, "--query-lookback-delta", &s->cfg.query_lookback_ms) ||
                s->cfg.query_lookback_ms <= 0)
                goto out;
            break;
        case OPT_WRITE_THREADS:
            if (parse_count(optarg, "--write-threads", 1, 1024, &v))
                goto out;
            s->cfg.write_threads = (unsigned)v;
            break;
        case OPT_QUEUE_LEN:
            if (parse_count(optarg, "--queue-len", 1, 1u << 20, &v))
                goto out;
            s->cfg.queue_len = (unsigned)v;
            break;
        case OPT_MAX_CONNECTIONS:
            if (parse_count(optarg, "--max-connections", 1, 1u << 20, &v))
                goto out;
            s->cfg.max_connections = (unsigned)v;
            break;
        case OPT_OTLP_STRATEGY: {
            otlp_strategy st;
            if (otlp_strategy_parse(optarg, &st)) {
                fprintf(stderr, "strata serve: --otlp-translation-strategy takes UnderscoreEscapingWithSuffixes, "
                                "UnderscoreEscapingWithoutSuffixes, NoUTF8EscapingWithSuffixes or NoTranslation\n");
                goto out;
            }
            s->cfg.otlp_strategy = (unsigned)st;
            break;
        }
        case OPT_CONN_TIMEOUT:
            if (cli_parse_duration(optarg, "--connection-timeout", &ms))
                goto out;
            if (ms < 1000 || ms > 86400000) {
                fprintf(stderr, "strata serve: --connection-timeout takes 1s..1d\n");
                goto out;
            }
            s->cfg.conn_timeout_s = (unsigned)(ms / 1000);
            break;
        case 'h':
            fputs(serve_help, stdout);
            status = CLI_OK;
            goto out;
        default:
            fputs(serve_help, stderr);
            goto out;
        }
    }
    if (optind != argc) {
        fputs(serve_help, stderr);
        goto out;
    }
    if (s->cfg.basic_auth && !(s->basic_expect = base64(s->cfg.basic_auth)))
        goto out;
    /* block the stop signals before any thread exists; sigwait takes them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the engine enforces the label limits on every path, line protocol included */
    a.opts.max_labels = (uint32_t)s->cfg.max_labels;
    a.opts.max_label_name_len = (uint32_t)(s->cfg.max_label_len < 65536 ? s->cfg.max_label_len : 65536);
    a.opts.max_label_value_len = (uint32_t)s->cfg.max_label_len;
    if (cli_open(&a, &s->db))
        goto out;
    if (a.rules && (!(s->cfg.retention_filter = join_args(a.rules->ret_args, a.rules->n_ret_args)) ||
                    !(s->cfg.downsampling = join_args(a.rules->ds_args, a.rules->n_ds_args)))) {
        fprintf(stderr, "strata serve: out of memory\n");
        cli_close(s->db);
        goto out;
    }
    s->data_dir = a.dir;
    s->opts = a.opts;
    s->start_ms = cli_now_ms();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_init(&s->query_mu, NULL);
    pthread_cond_init(&s->query_cond, NULL);
    if (srv_start(s)) {
        cli_close(s->db);
        goto out_sync;
    }
    fprintf(stderr,
            "strata serve: listening on http://%s, data in %s, %u I/O threads, %u write, %u read, %u admin threads\n",
            s->cfg.listen, a.dir, s->cfg.threads, s->cfg.write_threads, s->cfg.query_max_concurrency,
            s->cfg.admin_threads);
    if (strncmp(s->cfg.listen, "127.", 4) && strncmp(s->cfg.listen, "localhost:", 10) &&
        strncmp(s->cfg.listen, "[::1]:", 6) && !s->cfg.auth_token && !s->cfg.basic_auth)
        fprintf(stderr, "strata serve: warning: listening beyond loopback without --auth-token or --basic-auth: "
                        "anyone who can reach %s can write, read and delete\n", s->cfg.listen);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "strata serve: %s: finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    srv_stop(s);
    status = cli_close(s->db) ? CLI_REJECTED : CLI_OK;
    fprintf(stderr, "strata serve: stopped\n");
out_sync:
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->query_cond);
    pthread_mutex_destroy(&s->query_mu);
out:
    for (size_t i = 0; i < s->cfg.n_ext_labels; i++) {
        free((char *)s->cfg.ext_labels[i].name);
        free((char *)s->cfg.ext_labels[i].value);
    }
    free(s->cfg.ext_labels);
    free(s->cfg.retention_filter);
    free(s->cfg.downsampling);
    free(s->basic_expect);
    free(s);
    return status;
}
