/* cmd_write.c: `strata write` (line protocol) and `strata import` (JSON lines). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* An input: a regular file is mapped whole; a pipe is read in chunks that
 * end at a line boundary. */
typedef struct input {
    int fd;
    const char *name;
    char *map;
    size_t map_len, map_pos;
    char *buf;
    size_t buf_len, buf_cap;
    bool eof;
    uint64_t total;
    char *out; /* the run handed out last, for pipes */
    size_t out_cap;
} input;

#define CHUNK (4u << 20)

static int input_open(input *in, const char *path)
{
    memset(in, 0, sizeof *in);
    in->name = path && strcmp(path, "-") ? path : "<stdin>";
    in->fd = path && strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (in->fd < 0) {
        fprintf(stderr, "strata: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        in->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, in->fd, 0);
        if (in->map == MAP_FAILED)
            in->map = NULL;
        else {
            in->map_len = (size_t)st.st_size;
            in->total = (uint64_t)st.st_size;
            madvise(in->map, in->map_len, MADV_SEQUENTIAL);
        }
    }
    return 0;
}

/* The next run of whole lines: *p, *len; returns 1, 0 at the end, -1 on error. */
static int input_next(input *in, const char **p, size_t *len)
{
    if (in->map) {
        if (in->map_pos >= in->map_len)
            return 0;
        size_t n = in->map_len - in->map_pos < CHUNK ? in->map_len - in->map_pos : CHUNK;
        const char *start = in->map + in->map_pos;
        if (in->map_pos + n < in->map_len) {
            const char *nl = memrchr(start, '\n', n);
            if (nl)
                n = (size_t)(nl - start) + 1;
            else { /* a line longer than the chunk: take it whole */
                const char *e = memchr(start + n, '\n', in->map_len - in->map_pos - n);
                n = e ? (size_t)(e - start) + 1 : in->map_len - in->map_pos;
            }
        }
        *p = start;
        *len = n;
        in->map_pos += n;
        return 1;
    }
    /* pipe: keep the tail after the last newline for the next call */
    for (;;) {
        const char *nl = in->buf_len ? memrchr(in->buf, '\n', in->buf_len) : NULL;
        if (in->eof || (nl && in->buf_len >= CHUNK)) {
            if (!in->buf_len)
                return 0;
            size_t n = nl && !in->eof ? (size_t)(nl - in->buf) + 1 : in->buf_len;
            if (in->out_cap < n) {
                free(in->out);
                in->out = malloc(n);
                in->out_cap = in->out ? n : 0;
                if (!in->out)
                    return -1;
            }
            memcpy(in->out, in->buf, n);
            memmove(in->buf, in->buf + n, in->buf_len - n);
            in->buf_len -= n;
            *p = in->out;
            *len = n;
            return 1;
        }
        if (in->buf_cap - in->buf_len < CHUNK) {
            size_t cap = in->buf_cap ? in->buf_cap * 2 : 2 * CHUNK;
            char *b = realloc(in->buf, cap);
            if (!b)
                return -1;
            in->buf = b;
            in->buf_cap = cap;
        }
        ssize_t r = read(in->fd, in->buf + in->buf_len, in->buf_cap - in->buf_len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "strata: %s: %s\n", in->name, strerror(errno));
            return -1;
        }
        if (r == 0)
            in->eof = true;
        in->buf_len += (size_t)r;
    }
}

static void input_close(input *in)
{
    if (in->map)
        munmap(in->map, in->map_len);
    if (in->fd > STDIN_FILENO)
        close(in->fd);
    free(in->buf);
    free(in->out);
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t k = 0;
    const char *e = p + n;
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        k++;
        p++;
    }
    return k;
}

typedef struct reject_ctx {
    uint64_t base;
    uint64_t shown;
} reject_ctx;

static void on_reject(void *ctx, uint64_t line_no, const char *reason)
{
    reject_ctx *r = ctx;
    if (r->shown++ < 1000)
        fprintf(stderr, "line %llu: %s\n", (unsigned long long)(r->base + line_no), reason);
    else if (r->shown == 1001)
        fprintf(stderr, "(further rejected lines not shown)\n");
}

/* Writes one chunk of whole lines; arg is what the format needs. */
typedef int (*chunk_fn)(strata_db *db, const char *p, size_t len, void *arg, reject_ctx *rj,
                        strata_write_result *res);

static int write_lp_chunk(strata_db *db, const char *p, size_t len, void *arg, reject_ctx *rj,
                          strata_write_result *res)
{
    return strata_write_lp(db, p, len, *(const strata_precision *)arg, cli_now_ms(), on_reject, rj, res);
}

static int write_jsonl_chunk(strata_db *db, const char *p, size_t len, void *arg, reject_ctx *rj,
                             strata_write_result *res)
{
    (void)arg;
    return strata_write_jsonl(db, p, len, on_reject, rj, res);
}

/* The read loop of `strata write` and `strata import`: the input in chunks
 * of whole lines, each written by fn, progress on a terminal, the summary
 * line on stdout. Closes the input and the database. */
static int write_input(strata_db *db, input *in, const char *what, chunk_fn fn, void *arg)
{
    int status = CLI_OK;
    strata_write_result total = {0};
    reject_ctx rj = {0, 0};
    cli_progress prog;
    cli_progress_init(&prog, what, in->total);
    uint64_t done = 0;
    const char *p;
    size_t len;
    int r;
    while ((r = input_next(in, &p, &len)) > 0) {
        strata_write_result res;
        int rc = fn(db, p, len, arg, &rj, &res);
        total.samples += res.samples;
        total.new_series += res.new_series;
        total.rejected_lines += res.rejected_lines;
        total.skipped_fields += res.skipped_fields;
        if (rc != STRATA_OK) {
            fprintf(stderr, "strata %s: storing failed after %llu samples: %s\n", what,
                    (unsigned long long)total.samples, strata_strerror(rc));
            status = CLI_REJECTED;
            break;
        }
        rj.base += count_lines(p, len);
        done += len;
        cli_progress_update(&prog, done, total.samples);
    }
    if (r < 0)
        status = CLI_REJECTED;
    cli_progress_end(&prog);
    input_close(in);
    if (cli_close(db))
        status = CLI_REJECTED;
    printf("%llu samples, %llu new series, %llu rejected lines\n", (unsigned long long)total.samples,
           (unsigned long long)total.new_series, (unsigned long long)total.rejected_lines);
    if (total.skipped_fields)
        fprintf(stderr, "strata %s: %llu string fields skipped\n", what, (unsigned long long)total.skipped_fields);
    if (total.rejected_lines && !status)
        status = CLI_REJECTED;
    return status;
}

static const char *write_help =
    "usage: strata write [-d DIR] [--precision ns|us|ms|s] [options] [FILE|-]\n"
    "Writes Influx line protocol into the database directly (no server).\n"
    "Series are named measurement_field; tags become labels. Prints\n"
    "\"N samples, M new series, E rejected lines\"; rejected lines go to stderr\n"
    "as \"line N: reason\" and the valid ones are kept.\n"
    "      --precision P           timestamp unit of the input (default ns)\n" CLI_ENGINE_HELP;

int cmd_write(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS, {"precision", required_argument, NULL, OPT_PRECISION},
                                              {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    strata_precision prec = STRATA_PRECISION_NS;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "write");
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        if (opt == 'h') {
            fputs(write_help, stdout);
            return CLI_OK;
        }
        if (opt == OPT_PRECISION) {
            if (!strcmp(optarg, "ns")) prec = STRATA_PRECISION_NS;
            else if (!strcmp(optarg, "us")) prec = STRATA_PRECISION_US;
            else if (!strcmp(optarg, "ms")) prec = STRATA_PRECISION_MS;
            else if (!strcmp(optarg, "s")) prec = STRATA_PRECISION_S;
            else {
                fprintf(stderr, "strata write: --precision takes ns, us, ms or s\n");
                return CLI_USAGE;
            }
            continue;
        }
        fputs(write_help, stderr);
        return CLI_USAGE;
    }
    if (argc - optind > 1) {
        fputs(write_help, stderr);
        return CLI_USAGE;
    }
    input in;
    if (input_open(&in, optind < argc ? argv[optind] : "-"))
        return CLI_USAGE;
    strata_db *db;
    int status = cli_open(&a, &db);
    if (status) {
        input_close(&in);
        return status;
    }
    return write_input(db, &in, "write", write_lp_chunk, &prec);
}

static const char *import_help =
    "usage: strata import [-d DIR] [options] [FILE|-]\n"
    "Writes JSON lines in the export format:\n"
    "  {\"metric\":{\"__name__\":\"m\",\"a\":\"b\"},\"values\":[1.5],\"timestamps\":[1700000000000]}\n"
    "Prints \"N samples, M new series, E rejected lines\".\n" CLI_ENGINE_HELP;

int cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_ENGINE_OPTIONS, {0, 0, 0, 0}};
    cli_db_args a;
    cli_db_args_init(&a);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        int r = cli_db_args_parse(&a, opt, optarg, "import");
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        (opt == 'h' ? fputs(import_help, stdout) : fputs(import_help, stderr));
        return opt == 'h' ? CLI_OK : CLI_USAGE;
    }
    if (argc - optind > 1) {
        fputs(import_help, stderr);
        return CLI_USAGE;
    }
    input in;
    if (input_open(&in, optind < argc ? argv[optind] : "-"))
        return CLI_USAGE;
    strata_db *db;
    int status = cli_open(&a, &db);
    if (status) {
        input_close(&in);
        return status;
    }
    return write_input(db, &in, "import", write_jsonl_chunk, NULL);
}
