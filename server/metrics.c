/*
 * metrics.c: the server's own counters (atomics, no locks) and the
 * Prometheus text exposition of them and of strata_get_stats.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

/* The handler label of each route, from SRV_ROUTES (server.h). */
#define SRV_X_NAME(methods, path, fn, name, metric) [name] = metric,
const char *const srv_handler_names[H_COUNT] = {SRV_ROUTES(SRV_X_NAME, SRV_X_NONE)[H_OTHER] = "other"};
#undef SRV_X_NAME

static const char *const reason_names[R_COUNT] = {
    "bad_data", "bad_encoding", "bad_protobuf", "bad_content_type", "too_large", "too_many_labels", "bad_matcher",
    "bad_time", "partial_write", "unauthorized", "not_found", "method_not_allowed", "unavailable", "internal",
    "query_limit"};

/* Upper bounds of the latency buckets, seconds. */
static const double lat_bounds[SRV_LAT_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.1,    0.5,   2.5,    10};

void metrics_error(srv *s, srv_reason reason)
{
    if ((unsigned)reason < R_COUNT)
        METRIC_ADD(s->m.errors[reason], 1);
}

void metrics_request_done(srv *s, srv_handler handler, unsigned status, uint64_t t0_ns)
{
    unsigned h = (unsigned)handler < H_COUNT ? (unsigned)handler : H_OTHER;
    unsigned cls = status >= 100 && status < 600 ? status / 100 : 0;
    METRIC_ADD(s->m.requests[h][cls], 1);
    uint64_t ns = cli_now_ns() - t0_ns;
    double sec = (double)ns / 1e9;
    for (int i = 0; i < SRV_LAT_BUCKETS; i++)
        if (sec <= lat_bounds[i]) {
            METRIC_ADD(s->m.lat_bucket[h][i], 1);
            break;
        }
    METRIC_ADD(s->m.lat_count[h], 1);
    METRIC_ADD(s->m.lat_sum_ns[h], ns);
}

static uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int line(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return STRATA_ERR_INVALID;
    return sbuf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

#define HELP(b, name, type, help) line(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")

int metrics_render(srv *s, sbuf *b)
{
    strata_stats st;
    memset(&st, 0, sizeof st);
    int rc = strata_get_stats(s->db, &st, sizeof st);
    if (rc)
        return rc;
    double up = (double)(cli_now_ms() - s->start_ms) / 1000.0;
    uint64_t in_lp = ld(&s->m.samples_in[0]), in_rw = ld(&s->m.samples_in[1]), in_im = ld(&s->m.samples_in[2]);
    uint64_t in_otlp = ld(&s->m.samples_in[3]);
    rc |= HELP(b, "strata_ingested_samples_total", "counter", "Samples stored through the HTTP API, by protocol.");
    rc |= line(b, "strata_ingested_samples_total{protocol=\"influx\"} %llu\n", (unsigned long long)in_lp);
    rc |= line(b, "strata_ingested_samples_total{protocol=\"promremotewrite\"} %llu\n", (unsigned long long)in_rw);
    rc |= line(b, "strata_ingested_samples_total{protocol=\"import\"} %llu\n", (unsigned long long)in_im);
    rc |= line(b, "strata_ingested_samples_total{protocol=\"otlp\"} %llu\n", (unsigned long long)in_otlp);
    rc |= HELP(b, "strata_ingest_samples_per_second_avg", "gauge", "Mean ingest rate since the server started.");
    rc |= line(b, "strata_ingest_samples_per_second_avg %.1f\n", up > 0 ? (double)(in_lp + in_rw + in_im + in_otlp) / up : 0.0);
    static const char *const otlp_why[4] = {"exponential_histogram", "temporality", "name", "series"};
    rc |= HELP(b, "strata_otlp_rejected_points_total", "counter", "OTLP data points refused, by reason.");
    for (int i = 0; i < 4; i++)
        rc |= line(b, "strata_otlp_rejected_points_total{reason=\"%s\"} %llu\n", otlp_why[i],
                   (unsigned long long)ld(&s->m.otlp_rejected[i]));
    rc |= HELP(b, "strata_rejected_lines_total", "counter", "Lines of line protocol or JSON refused.");
    rc |= line(b, "strata_rejected_lines_total %llu\n", (unsigned long long)ld(&s->m.lines_rejected));
    rc |= HELP(b, "strata_http_request_bytes_total", "counter", "Request body bytes received.");
    rc |= line(b, "strata_http_request_bytes_total %llu\n", (unsigned long long)ld(&s->m.bytes_in));
    rc |= HELP(b, "strata_read_samples_total", "counter", "Samples returned by remote read and export.");
    rc |= line(b, "strata_read_samples_total %llu\n", (unsigned long long)ld(&s->m.samples_out));
    rc |= HELP(b, "strata_query_samples_total", "counter", "Samples loaded by PromQL queries.");
    rc |= line(b, "strata_query_samples_total %llu\n", (unsigned long long)ld(&s->m.query_samples));
    rc |= HELP(b, "strata_http_requests_in_flight", "gauge", "Requests being handled.");
    rc |= line(b, "strata_http_requests_in_flight %llu\n", (unsigned long long)ld(&s->m.in_flight));
    unsigned n_conns, waiting, running;
    uint64_t evicted;
    srv_conn_counts(s, &n_conns, &evicted);
    rc |= HELP(b, "strata_http_connections", "gauge", "Connections open.");
    rc |= line(b, "strata_http_connections %u\n", n_conns);
    rc |= HELP(b, "strata_http_connections_evicted_total", "counter",
               "Idle connections closed to admit new ones past --max-connections.");
    rc |= line(b, "strata_http_connections_evicted_total %llu\n", (unsigned long long)evicted);
    rc |= HELP(b, "strata_http_queue_waiting", "gauge", "Requests waiting for a worker of their class.");
    for (int k = SRV_INLINE + 1; k < SRV_CLASS_COUNT; k++) {
        srv_pool_counts(s->pools[k], &waiting, &running);
        rc |= line(b, "strata_http_queue_waiting{class=\"%s\"} %u\n", srv_class_names[k], waiting);
    }
    rc |= HELP(b, "strata_http_workers_busy", "gauge", "Workers of each class running a request.");
    for (int k = SRV_INLINE + 1; k < SRV_CLASS_COUNT; k++) {
        srv_pool_counts(s->pools[k], &waiting, &running);
        rc |= line(b, "strata_http_workers_busy{class=\"%s\"} %u\n", srv_class_names[k], running);
    }
    rc |= HELP(b, "strata_http_errors_total", "counter", "Requests refused or failed, by reason.");
    for (int i = 0; i < R_COUNT; i++)
        rc |= line(b, "strata_http_errors_total{reason=\"%s\"} %llu\n", reason_names[i],
                   (unsigned long long)ld(&s->m.errors[i]));
    rc |= HELP(b, "strata_http_requests_total", "counter", "Requests by handler and status class.");
    static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int h = 0; h < H_COUNT; h++)
        for (int k = 0; k < 6; k++) {
            uint64_t v = ld(&s->m.requests[h][k]);
            if (v || k == 2)
                rc |= line(b, "strata_http_requests_total{handler=\"%s\",code=\"%s\"} %llu\n", srv_handler_names[h],
                           classes[k], (unsigned long long)v);
        }
    rc |= HELP(b, "strata_http_request_duration_seconds", "histogram", "Request latency by handler.");
    for (int h = 0; h < H_COUNT; h++) {
        uint64_t cum = 0;
        for (int i = 0; i < SRV_LAT_BUCKETS; i++) {
            cum += ld(&s->m.lat_bucket[h][i]);
            rc |= line(b, "strata_http_request_duration_seconds_bucket{handler=\"%s\",le=\"%g\"} %llu\n",
                       srv_handler_names[h], lat_bounds[i], (unsigned long long)cum);
        }
        uint64_t cnt = ld(&s->m.lat_count[h]);
        rc |= line(b, "strata_http_request_duration_seconds_bucket{handler=\"%s\",le=\"+Inf\"} %llu\n",
                   srv_handler_names[h], (unsigned long long)cnt);
        rc |= line(b, "strata_http_request_duration_seconds_sum{handler=\"%s\"} %.9f\n", srv_handler_names[h],
                   (double)ld(&s->m.lat_sum_ns[h]) / 1e9);
        rc |= line(b, "strata_http_request_duration_seconds_count{handler=\"%s\"} %llu\n", srv_handler_names[h],
                   (unsigned long long)cnt);
    }
#define G(name, type, help, val)                                                                   \
    do {                                                                                           \
        rc |= HELP(b, name, type, help);                                                           \
        rc |= line(b, name " %llu\n", (unsigned long long)(val));                                  \
    } while (0)
    G("strata_series", "gauge", "Series in the index.", st.series);
    G("strata_series_created_total", "counter", "Series created through the HTTP API.", ld(&s->m.series_created));
    G("strata_head_samples", "gauge", "Samples in the in-memory head.", st.head_samples);
    G("strata_head_bytes", "gauge", "Memory of the head.", st.head_bytes);
    G("strata_head_series", "gauge", "Series with samples in the head.", st.head_series);
    G("strata_wal_bytes", "gauge", "Bytes of WAL on disk.", st.wal_bytes);
    G("strata_wal_segments", "gauge", "WAL segment files.", st.wal_segments);
    G("strata_wal_corrupt_records", "gauge", "WAL records dropped by repair at open.", st.wal_corrupt_records);
    G("strata_wal_sync_errors_total", "counter", "WAL fsyncs that failed since open.", st.wal_sync_errors);
    G("strata_wal_sync_lost", "gauge",
      "1 while a failed WAL fsync's records are only in memory (a flush to tables is under way).",
      st.wal_sync_lost);
    G("strata_samples_written_total", "counter", "Samples written to the engine since open.", st.samples_written);
    G("strata_samples_out_of_order_total", "counter", "Out-of-order samples since open.", st.samples_out_of_order);
    G("strata_flushes_total", "counter", "Head flushes to tables.", st.flushes);
    G("strata_flush_bytes_total", "counter", "Bytes written by flushes.", st.flush_bytes);
    G("strata_compactions_total", "counter", "Compactions run.", st.compactions);
    G("strata_compaction_read_bytes_total", "counter", "Bytes read by compactions.", st.compaction_bytes_read);
    G("strata_compaction_written_bytes_total", "counter", "Bytes written by compactions.", st.compaction_bytes_written);
    G("strata_compaction_pending_bytes", "gauge", "Bytes planned for compaction.", st.compaction_pending_bytes);
    G("strata_compactions_running", "gauge", "Compaction jobs running now.", st.compactions_running);
    G("strata_partitions", "gauge", "Time partitions.", st.partitions);
    G("strata_table_files", "gauge", "Table files.", st.table_files);
    G("strata_table_bytes", "gauge", "Bytes of table files.", st.table_bytes);
    G("strata_table_samples", "gauge", "Samples in table files.", st.table_samples);
    G("strata_table_read_bytes_total", "counter", "Bytes read from tables.", st.table_bytes_read);
    G("strata_tombstones", "gauge", "Delete tombstones.", st.tombstones);
    G("strata_quarantined_files", "gauge", "Files set aside as damaged.", st.quarantined_files);
    G("strata_write_errors_total", "counter", "Engine write errors.", st.write_errors);
    rc |= HELP(b, "strata_series_refused_total", "counter",
               "New series refused (their samples not stored), by reason; each attempt counts.");
    rc |= line(b, "strata_series_refused_total{reason=\"max_series\"} %llu\n", (unsigned long long)st.series_refused);
    rc |= HELP(b, "strata_samples_refused_total", "counter", "Samples not stored because their series was refused, by reason.");
    rc |= line(b, "strata_samples_refused_total{reason=\"max_series\"} %llu\n", (unsigned long long)st.samples_refused);
    rc |= HELP(b, "strata_write_amplification", "gauge", "Bytes written by flush and compaction per byte flushed.");
    rc |= line(b, "strata_write_amplification %g\n", st.write_amplification);
    rc |= HELP(b, "strata_level_files", "gauge", "Table files by level.");
    for (int i = 0; i < STRATA_MAX_LEVELS; i++)
        rc |= line(b, "strata_level_files{level=\"%d\"} %llu\n", i, (unsigned long long)st.levels[i].files);
    rc |= HELP(b, "strata_level_bytes", "gauge", "Table bytes by level.");
    for (int i = 0; i < STRATA_MAX_LEVELS; i++)
        rc |= line(b, "strata_level_bytes{level=\"%d\"} %llu\n", i, (unsigned long long)st.levels[i].bytes);
    rc |= HELP(b, "strata_uptime_seconds", "gauge", "Seconds since the server started.");
    rc |= line(b, "strata_uptime_seconds %.3f\n", up);
    return rc ? STRATA_ERR_NOMEM : STRATA_OK;
}
