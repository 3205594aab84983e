/*
 * fuzz_wal_replay.c: the input is a WAL segment file (page size 128, so
 * small inputs span many pages). Replay must not crash, must deliver only
 * records whose framing checks out, and must leave a log that replays again
 * to the same records with no damage, and takes an append that then replays.
 * Seeds: logs written by the writer itself.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal/wal.h"

#define PAGE 128

static char dir[256];
static char seg[300];

static void clear(void);

static void cleanup(void)
{
    clear();
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0])
        return;
    const char *tmp = getenv("TMPDIR"); /* a tmpfs here makes it ~50x faster */
    snprintf(dir, sizeof dir, "%s/fuzz_wal_replay.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (mkdir(dir, 0755) != 0 && access(dir, F_OK) != 0)
        abort();
    snprintf(seg, sizeof seg, "%s/00000001", dir);
    atexit(cleanup);
}

static void clear(void)
{
    char p[300];
    for (int i = 1; i <= 3; i++) {
        snprintf(p, sizeof p, "%s/%08d", dir, i);
        unlink(p);
    }
}

typedef struct tally {
    uint64_t n;
    uint32_t crc; /* of every record seen, in order */
} tally;

static int cb(void *ctx, uint8_t type, const uint8_t *p, size_t len, wal_pos end)
{
    (void)end;
    tally *t = ctx;
    t->n++;
    t->crc = base_crc32c(t->crc, &type, 1);
    t->crc = base_crc32c(t->crc, p, len);
    /* Exercise the record decoders on whatever came through. */
    if (type == WAL_REC_SAMPLES) {
        strata_sample *s = NULL;
        size_t cap = 0, n = 0;
        (void)wal_samples_decode(p, len, &s, &cap, &n);
        base_free(s);
    }
    return STRATA_OK;
}

static wal_opts opts(void)
{
    wal_opts o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.sync = STRATA_SYNC_NONE;
    o.page_bytes = PAGE;
    o.segment_bytes = 1 << 20;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    clear();
    int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
        abort();
    close(fd);

    wal_opts o = opts();
    wal *w = NULL;
    tally a = {0, 0}, b = {0, 0};
    wal_replay_stats st;
    if (wal_open(&o, &w) != STRATA_OK || wal_replay(w, (wal_pos){0, 0}, cb, &a, &st) != STRATA_OK)
        abort();
    if (st.records != a.n || st.end.offset > size)
        abort();
    if (wal_append(w, 9, "after", 5, NULL) != STRATA_OK)
        abort();
    if (wal_close(w) != STRATA_OK)
        abort();
    /* The repaired log replays to the same records plus the append, clean. */
    if (wal_open(&o, &w) != STRATA_OK || wal_replay(w, (wal_pos){0, 0}, cb, &b, &st) != STRATA_OK)
        abort();
    if (st.corruptions || b.n != a.n + 1)
        abort();
    wal_close(w);
    return 0;
}

/* Seeds: small logs from the writer. */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 4)
        return 0;
    setup();
    clear();
    wal_opts o = opts();
    wal *w = NULL;
    if (wal_open(&o, &w) != STRATA_OK || wal_replay(w, (wal_pos){0, 0}, NULL, NULL, NULL) != STRATA_OK)
        abort();
    uint8_t buf[1200];
    for (size_t k = 0; k < sizeof buf; k++)
        buf[k] = (uint8_t)(k * 7 + i);
    for (unsigned r = 0; r < 6 + i * 3; r++) {
        size_t len = (r * 97 + i * 31) % (i == 3 ? 1200 : 300);
        if (r % 3 == 0) {
            strata_sample s[8];
            for (int k = 0; k < 8; k++)
                s[k] = (strata_sample){(strata_sid)(r + k), 1000 * k, k * 1.5};
            bbuf e = {0};
            if (wal_samples_encode(&e, s, 8) != STRATA_OK || wal_append(w, WAL_REC_SAMPLES, e.data, e.len, NULL))
                abort();
            base_buf_free(&e);
        } else if (wal_append(w, (uint8_t)r, buf, len, NULL) != STRATA_OK) {
            abort();
        }
    }
    wal_close(w);
    int fd = open(seg, O_RDONLY);
    if (fd < 0)
        abort();
    ssize_t n = read(fd, out, cap);
    close(fd);
    return n > 0 ? (size_t)n : 0;
}
