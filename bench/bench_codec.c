/*
 * bench_codec.c: `strata-bench codec`: the codec figures on generated data
 * (gen.c) or on a line-protocol file (--input FILE, timestamps in seconds,
 * as `strata-bench gen` writes).
 *
 * Every series is cut into blocks of --block samples. For each value codec
 * (forced: blocks it cannot represent fall back to XOR, the share it took
 * is reported) and for "chosen" (codec_val_encode, the smallest per block):
 *   bytes_per_sample      timestamp + value encodings / samples
 *   file_bytes_per_sample chosen: a real table file (table_writer) of the
 *                         data, index and footer included / samples; other
 *                         codecs: their bytes plus the table file's measured
 *                         per-block overhead
 *   encode / decode samples/s on one core (timestamps and values), best
 *   of 3 passes each, by the wall clock and by the thread's CPU time (on a
 *   shared machine the CPU time leaves out the time other processes held
 *   the core), and decode speed over memcpy of the same 16 bytes/sample
 *   into the same block buffers, measured in the same run.
 * Every decode is checked bit for bit against the input.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "codec/codec.h"
#include "ingest/ingest.h"
#include "export/export.h"
#include "gen.h"
#include "util.h"
#include "table/table.h"

int bench_codec_main(int argc, char **argv);

typedef struct opts {
    const char *dataset, *input;
    int hosts, hours, json;
    uint64_t seed;
    int seed_set;
    size_t block;
} opts;

typedef struct blk {
    const int64_t *t;
    const double *v;
    size_t n;
    size_t ts_off, ts_len, v_off, v_len;
    uint8_t ts_id, v_id;
    uint8_t kind; /* index into kinds[] */
} blk;

static const char *kinds[] = {"ic", "dc", "dg", "ig", "k", "rw", "?"};
#define NKINDS (sizeof kinds / sizeof kinds[0])


static double cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t kind_index(const char *k)
{
    for (uint8_t i = 0; i < NKINDS - 1; i++)
        if (!strcmp(kinds[i], k))
            return i;
    return NKINDS - 1;
}

/* ------------------------------------------------------------ --input */

typedef struct smap {
    char **keys;
    size_t *idx;
    size_t cap, n;
} smap;

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

typedef struct acc {
    bench_series *s;
    size_t n, cap;
    size_t *len, *scap;
} acc;

static int acc_series(acc *a, smap *m, const char *key, size_t klen, const lp_line *ln, size_t f, size_t *out)
{
    if (m->n * 2 >= m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        char **nk = calloc(ncap, sizeof *nk);
        size_t *ni = calloc(ncap, sizeof *ni);
        if (!nk || !ni)
            return -1;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = hash_str(m->keys[i], strlen(m->keys[i])) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = m->keys[i];
            ni[j] = m->idx[i];
        }
        free(m->keys);
        free(m->idx);
        m->keys = nk;
        m->idx = ni;
        m->cap = ncap;
    }
    size_t j = hash_str(key, klen) & (m->cap - 1);
    while (m->keys[j]) {
        if (strlen(m->keys[j]) == klen && !memcmp(m->keys[j], key, klen)) {
            *out = m->idx[j];
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        bench_series *ns = realloc(a->s, nc * sizeof *ns);
        size_t *nl = realloc(a->len, nc * sizeof *nl);
        if (ns)
            a->s = ns;
        if (nl)
            a->len = nl;
        size_t *nsc = realloc(a->scap, nc * sizeof *nsc);
        if (nsc)
            a->scap = nsc;
        if (!ns || !nl || !nsc)
            return -1;
        a->cap = nc;
    }
    bench_series *s = &a->s[a->n];
    memset(s, 0, sizeof *s);
    char name[512];
    snprintf(name, sizeof name, "%.*s_%.*s", (int)ln->measurement_len, ln->measurement, (int)ln->fields[f].key_len,
             ln->fields[f].key);
    s->name = strdup(name);
    s->nlabels = ln->n_tags;
    s->labels = calloc(2 * ln->n_tags + 1, sizeof(char *));
    if (!s->name || !s->labels)
        return -1;
    for (size_t i = 0; i < ln->n_tags; i++) {
        s->labels[2 * i] = strndup(ln->tags[i].key, ln->tags[i].key_len);
        s->labels[2 * i + 1] = strndup(ln->tags[i].val, ln->tags[i].val_len);
        if (!s->labels[2 * i] || !s->labels[2 * i + 1])
            return -1;
    }
    memcpy(s->kind, "?", 2);
    a->len[a->n] = 0;
    a->scap[a->n] = 0;
    if (!(m->keys[j] = strndup(key, klen)))
        return -1;
    m->idx[j] = a->n;
    m->n++;
    *out = a->n++;
    return 0;
}

static int acc_push(acc *a, size_t i, int64_t t, double v)
{
    bench_series *s = &a->s[i];
    if (a->len[i] == a->scap[i]) {
        size_t nc = a->scap[i] ? a->scap[i] * 2 : 1024;
        int64_t *nt = realloc(s->t, nc * sizeof *nt);
        if (nt)
            s->t = nt;
        double *nv = realloc(s->v, nc * sizeof *nv);
        if (nv)
            s->v = nv;
        if (!nt || !nv)
            return -1;
        a->scap[i] = nc;
    }
    s->t[a->len[i]] = t;
    s->v[a->len[i]] = v;
    s->n = ++a->len[i];
    return 0;
}

/* Reads an Influx line-protocol file (timestamps in seconds); one series
 * per (measurement, tags, field). */
static int read_lp(const char *path, bench_series **out, size_t *nout)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench codec: %s: %s\n", path, strerror(errno));
        return -1;
    }
    lp_parser *p = NULL;
    if (lp_parser_new(STRATA_PRECISION_S, &p)) {
        fclose(f);
        return -1;
    }
    acc a = {0};
    smap m = {0};
    size_t cap = 1 << 24, have = 0;
    char *buf = malloc(cap);
    char *key = malloc(1 << 16);
    int rc = buf && key ? 0 : -1;
    size_t lineno = 0;
    while (!rc) {
        size_t got = fread(buf + have, 1, cap - have, f);
        have += got;
        int eof = got == 0;
        size_t pos = 0;
        while (!rc && pos < have) {
            const char *nl = memchr(buf + pos, '\n', have - pos);
            if (!nl && !eof)
                break;
            size_t len = nl ? (size_t)(nl - (buf + pos)) : have - pos;
            lp_line ln;
            const char *why = NULL;
            lineno++;
            int r = lp_parse_line(p, buf + pos, len, &ln, &why);
            if (r < 0) {
                fprintf(stderr, "bench codec: %s:%zu: %s\n", path, lineno, why ? why : "bad line");
                rc = -1;
                break;
            }
            if (r == 1) {
                /* key: measurement \0 tags \0 ... then the field */
                size_t kl = 0;
                for (size_t fi = 0; fi < ln.n_fields && !rc; fi++) {
                    kl = 0;
#define KPUT(s, n)                                                                                           \
    do {                                                                                                     \
        if (kl + (n) + 1 > (1 << 16)) {                                                                      \
            rc = -1;                                                                                         \
            break;                                                                                           \
        }                                                                                                    \
        memcpy(key + kl, (s), (n));                                                                          \
        kl += (n);                                                                                           \
        key[kl++] = '\x01';                                                                                  \
    } while (0)
                    KPUT(ln.measurement, ln.measurement_len);
                    for (size_t ti = 0; ti < ln.n_tags && !rc; ti++) {
                        KPUT(ln.tags[ti].key, ln.tags[ti].key_len);
                        KPUT(ln.tags[ti].val, ln.tags[ti].val_len);
                    }
                    KPUT(ln.fields[fi].key, ln.fields[fi].key_len);
#undef KPUT
                    size_t si;
                    if (rc || acc_series(&a, &m, key, kl, &ln, fi, &si) || acc_push(&a, si, ln.ts_ms, ln.fields[fi].value))
                        rc = -1;
                }
            }
            pos += len + (nl ? 1 : 0);
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (eof)
            break;
        if (have == cap) {
            fprintf(stderr, "bench codec: %s:%zu: line too long\n", path, lineno);
            rc = -1;
        }
    }
    fclose(f);
    lp_parser_free(p);
    free(buf);
    free(key);
    for (size_t i = 0; i < m.cap; i++)
        free(m.keys[i]);
    free(m.keys);
    free(m.idx);
    free(a.len);
    free(a.scap);
    if (rc) {
        bench_series_free(a.s, a.n);
        return -1;
    }
    *out = a.s;
    *nout = a.n;
    return 0;
}

/* ------------------------------------------------------------ measuring */

typedef struct result {
    const char *codec;
    double bytes, file_bytes, enc_s, dec_s, enc_cpu, dec_cpu, applied;
    int exact;
    size_t kind_bytes[NKINDS], kind_samples[NKINDS];
    size_t id_blocks[8];
} result;

/* Encodes every block with codec id (0 = chosen) into enc; times it. */
static int encode_all(blk *b, size_t nb, uint8_t id, bbuf *enc, result *r)
{
    enc->len = 0;
    size_t applied = 0;
    double t0 = bench_now_s(), c0 = cpu_s();
    for (size_t i = 0; i < nb; i++) {
        b[i].ts_off = enc->len;
        if (codec_ts_encode(b[i].t, b[i].n, enc, &b[i].ts_id))
            return -1;
        b[i].ts_len = enc->len - b[i].ts_off;
        b[i].v_off = enc->len;
        if (id == 0) {
            if (codec_val_encode(b[i].v, b[i].n, enc, &b[i].v_id))
                return -1;
            applied++;
        } else {
            int rc = codec_val_encode_as(id, b[i].v, b[i].n, enc);
            if (rc == STRATA_ERR_INVALID) {
                rc = codec_val_encode_as(CODEC_VAL_XOR, b[i].v, b[i].n, enc);
                b[i].v_id = CODEC_VAL_XOR;
            } else {
                b[i].v_id = id;
                applied++;
            }
            if (rc)
                return -1;
        }
        b[i].v_len = enc->len - b[i].v_off;
    }
    r->enc_s = bench_now_s() - t0;
    r->enc_cpu = cpu_s() - c0;
    r->applied = nb ? (double)applied / (double)nb : 0;
    return 0;
}

static int decode_all(const blk *b, size_t nb, const bbuf *enc, int64_t *tb, double *vb, int check, double *secs,
                      double *cpu)
{
    double t0 = bench_now_s(), c0 = cpu_s();
    for (size_t i = 0; i < nb; i++) {
        if (codec_ts_decode(b[i].ts_id, enc->data + b[i].ts_off, b[i].ts_len, b[i].n, tb) ||
            codec_val_decode(b[i].v_id, enc->data + b[i].v_off, b[i].v_len, b[i].n, vb))
            return -1;
        if (check && (memcmp(tb, b[i].t, b[i].n * 8) || memcmp(vb, b[i].v, b[i].n * 8)))
            return -2;
    }
    *secs = bench_now_s() - t0;
    *cpu = cpu_s() - c0;
    return 0;
}

static double memcpy_all(const blk *b, size_t nb, int64_t *tb, double *vb)
{
    double t0 = bench_now_s();
    for (size_t i = 0; i < nb; i++) {
        memcpy(tb, b[i].t, b[i].n * 8);
        memcpy(vb, b[i].v, b[i].n * 8);
        __asm__ volatile("" : : "r"(tb), "r"(vb) : "memory");
    }
    return bench_now_s() - t0;
}

/* Writes the series into a table file with the chosen codecs; returns its
 * size and block count, or -1. */
static int table_size(bench_series *s, size_t ns, size_t block, uint64_t *bytes, uint64_t *blocks)
{
    char dir[] = "/tmp/strata-bench-codec-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    table_writer *w = NULL;
    table_writer_opts o = {.block_samples = (uint32_t)block};
    table_meta meta;
    int rc = table_writer_open(dir, 1, &o, &w);
    for (size_t i = 0; !rc && i < ns; i++)
        rc = s[i].n ? table_writer_add(w, i + 1, s[i].t, s[i].v, s[i].n) : 0;
    if (!rc) {
        rc = table_writer_finish(w, &meta);
        w = NULL;
    }
    table_writer_abort(w);
    char name[64], path[128];
    table_file_name(name, sizeof name, 1);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    rmdir(dir);
    if (rc)
        return -1;
    *bytes = meta.file_bytes;
    *blocks = meta.blocks;
    return 0;
}

static void emit(const opts *o, const char *dataset, const result *r, size_t samples, double mem_s)
{
    double bps = r->bytes / (double)samples, fbps = r->file_bytes / (double)samples;
    double enc = (double)samples / r->enc_s, dec = (double)samples / r->dec_s;
    double vsm = mem_s / r->dec_s;
    double enc_c = (double)samples / r->enc_cpu, dec_c = (double)samples / r->dec_cpu;
    if (o->json) {
        printf("{\"bench\":\"codec\",\"dataset\":\"%s\",\"codec\":\"%s\",\"block\":%zu,\"samples\":%zu,"
               "\"seed\":%llu,\"hosts\":%d,\"hours\":%d,\"bytes_per_sample\":%.4f,\"file_bytes_per_sample\":%.4f,"
               "\"encode_samples_per_s\":%.0f,\"decode_samples_per_s\":%.0f,\"encode_cpu_samples_per_s\":%.0f,"
               "\"decode_cpu_samples_per_s\":%.0f,\"decode_vs_memcpy\":%.3f,"
               "\"memcpy_samples_per_s\":%.0f,\"applied_blocks_fraction\":%.4f,\"exact\":%s}\n",
               dataset, r->codec, o->block, samples, (unsigned long long)o->seed, o->hosts, o->hours, bps, fbps, enc,
               dec, enc_c, dec_c, vsm, (double)samples / mem_s, r->applied, r->exact ? "true" : "false");
    } else {
        printf("%-11s %-7s %7.1f%% %9.4f %9.4f %10.1f %10.1f %8.3f %9.1f %9.1f %s\n", dataset, r->codec,
               100 * r->applied, bps, fbps, enc / 1e6, dec / 1e6, vsm, enc_c / 1e6, dec_c / 1e6,
               r->exact ? "exact" : "MISMATCH");
    }
}

static int run_dataset(const opts *o, const char *dataset, bench_series *s, size_t ns)
{
    size_t samples = 0, nb = 0;
    for (size_t i = 0; i < ns; i++) {
        samples += s[i].n;
        nb += (s[i].n + o->block - 1) / o->block;
    }
    if (!samples) {
        fprintf(stderr, "bench codec: %s: no samples\n", dataset);
        return -1;
    }
    blk *b = calloc(nb, sizeof *b);
    int64_t *tb = malloc((o->block + CODEC_PAD) * sizeof *tb);
    double *vb = malloc((o->block + CODEC_PAD) * sizeof *vb);
    bbuf enc = {0};
    int rc = b && tb && vb ? 0 : -1;
    size_t k = 0;
    for (size_t i = 0; !rc && i < ns; i++)
        for (size_t off = 0; off < s[i].n; off += o->block) {
            b[k].t = s[i].t + off;
            b[k].v = s[i].v + off;
            b[k].n = MIN(o->block, s[i].n - off);
            b[k].kind = kind_index(s[i].kind);
            k++;
        }
    uint64_t tbytes = 0, tblocks = 0;
    if (!rc && table_size(s, ns, o->block, &tbytes, &tblocks)) {
        fprintf(stderr, "bench codec: writing the table file failed\n");
        rc = -1;
    }
    double mem_s = 1e30;
    for (int rep = 0; !rc && rep < 3; rep++) {
        double t = memcpy_all(b, nb, tb, vb);
        mem_s = t < mem_s ? t : mem_s;
    }
    uint8_t ids[16];
    size_t nids = codec_val_ids(ids, 16);
    result chosen;
    memset(&chosen, 0, sizeof chosen);
    result res[17];
    size_t nres = 0;
    /* chosen first: its table file gives the per-block overhead */
    for (size_t c = 0; !rc && c <= nids; c++) {
        uint8_t id = c == 0 ? 0 : ids[c - 1];
        result *r = &res[nres++];
        memset(r, 0, sizeof *r);
        r->codec = id ? codec_val_name(id) : "chosen";
        double enc_best = 1e30, enc_cpu = 1e30;
        for (int rep = 0; rep < 3 && !rc; rep++) {
            if (encode_all(b, nb, id, &enc, r))
                rc = -1;
            enc_best = r->enc_s < enc_best ? r->enc_s : enc_best;
            enc_cpu = r->enc_cpu < enc_cpu ? r->enc_cpu : enc_cpu;
        }
        if (rc)
            break;
        r->enc_s = enc_best;
        r->enc_cpu = enc_cpu;
        r->bytes = (double)enc.len;
        for (size_t i = 0; i < nb; i++) {
            r->kind_bytes[b[i].kind] += b[i].ts_len + b[i].v_len;
            r->kind_samples[b[i].kind] += b[i].n;
            r->id_blocks[b[i].v_id & 7]++;
        }
        r->dec_s = r->dec_cpu = 1e30;
        r->exact = 1;
        for (int rep = 0; rep < 4; rep++) {
            double t, tc;
            int d = decode_all(b, nb, &enc, tb, vb, rep == 0, &t, &tc);
            if (d == -2)
                r->exact = 0;
            else if (d) {
                fprintf(stderr, "bench codec: %s: decode failed\n", r->codec);
                rc = -1;
                break;
            } else if (rep > 0) {
                r->dec_s = t < r->dec_s ? t : r->dec_s;
                r->dec_cpu = tc < r->dec_cpu ? tc : r->dec_cpu;
            }
        }
        if (id == 0) {
            r->file_bytes = (double)tbytes;
            chosen = *r;
        } else {
            r->file_bytes = (double)tbytes - chosen.bytes + r->bytes;
        }
        emit(o, dataset, r, samples, mem_s);
    }
    size_t xi = 0;
    for (size_t c = 0; c < nres; c++)
        if (!strcmp(res[c].codec, "xor"))
            xi = c;
    if (!rc && !o->json) {
        printf("  chosen blocks by codec:");
        for (size_t c = 0; c < nids; c++)
            printf(" %s %zu", codec_val_name(ids[c]), chosen.id_blocks[ids[c] & 7]);
        printf("; table file %llu bytes, %llu blocks, overhead %.1f bytes/block\n", (unsigned long long)tbytes,
               (unsigned long long)tblocks, tblocks ? ((double)tbytes - chosen.bytes) / (double)tblocks : 0.0);
        for (size_t kk = 0; kk < NKINDS; kk++)
            if (chosen.kind_samples[kk])
                printf("  kind %-3s %10zu samples: chosen %.4f bytes/sample, xor %.4f\n", kinds[kk],
                       chosen.kind_samples[kk], (double)chosen.kind_bytes[kk] / (double)chosen.kind_samples[kk],
                       (double)res[xi].kind_bytes[kk] / (double)chosen.kind_samples[kk]);
    }
    base_buf_free(&enc);
    free(b);
    free(tb);
    free(vb);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: strata bench codec [--dataset devops-cpu|node-like|all] [--hosts N] [--hours N]\n"
                    "                          [--seed N] [--block N] [--input FILE.lp] [--json]\n");
}

int bench_codec_main(int argc, char **argv)
{
    opts o = {"all", NULL, 0, 24, 0, 0, 0, 1000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o.json = 1;
            continue;
        }
        if (!val) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--dataset"))
            o.dataset = val;
        else if (!strcmp(a, "--hosts"))
            o.hosts = atoi(val);
        else if (!strcmp(a, "--hours"))
            o.hours = atoi(val);
        else if (!strcmp(a, "--seed")) {
            o.seed = strtoull(val, NULL, 10);
            o.seed_set = 1;
        } else if (!strcmp(a, "--block"))
            o.block = (size_t)atol(val);
        else if (!strcmp(a, "--input"))
            o.input = val;
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (o.block < 1 || o.block > 65536 || o.hours < 1) {
        usage();
        return 2;
    }
    if (!o.json)
        printf("%-11s %-7s %8s %9s %9s %10s %10s %8s %9s %9s\n", "dataset", "codec", "applied", "B/sample", "file B/s",
               "enc Ms/s", "dec Ms/s", "dec/mcpy", "enc cpu", "dec cpu");
    int rc = 0;
    if (o.input) {
        bench_series *s = NULL;
        size_t ns = 0;
        if (read_lp(o.input, &s, &ns))
            return 1;
        const char *base = strrchr(o.input, '/');
        rc = run_dataset(&o, base ? base + 1 : o.input, s, ns);
        bench_series_free(s, ns);
        return rc ? 1 : 0;
    }
    static const char *sets[] = {"devops-cpu", "node-like"};
    for (int d = 0; d < 2 && !rc; d++) {
        if (strcmp(o.dataset, "all") && strcmp(o.dataset, sets[d]))
            continue;
        opts od = o;
        if (!o.seed_set)
            od.seed = d == 0 ? 1 : 2;
        bench_series *s = NULL;
        size_t ns = 0;
        if (bench_gen(sets[d], od.seed, o.hosts, o.hours, &s, &ns)) {
            usage();
            return 2;
        }
        od.hosts = o.hosts > 0 ? o.hosts : d == 0 ? 200 : 16;
        rc = run_dataset(&od, sets[d], s, ns);
        bench_series_free(s, ns);
    }
    return rc ? 1 : 0;
}
