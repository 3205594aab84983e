/* fuzz_index_load.c: series.log loading on any bytes. The first input
 * byte chooses the mode: odd, the rest is the file as is; even, the rest
 * is a list of records (1 byte length, then type and body) that this
 * harness frames with a valid header, lengths and CRCs, so mutations reach
 * the record rules behind the checksums. Whatever loads must be
 * consistent: every series' labels sorted and unique, looked up to its own
 * sid, selectable; the file reopens to the same series; creation works. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

static char dir[64], path[96];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0])
        return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_index_XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/series.log", dir);
    atexit(cleanup);
}

static void put(const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

static uint64_t check(strata_index *idx)
{
    uint64_t n = 0;
    for (strata_sid s = 1; s <= index_max_sid(idx); s++) {
        const strata_label *l;
        size_t k;
        if (index_labels(idx, s, &l, &k) != STRATA_OK)
            continue;
        n++;
        for (size_t i = 1; i < k; i++)
            if (strcmp(l[i - 1].name, l[i].name) >= 0)
                abort();
        strata_sid got;
        if (k == 0 || index_lookup(idx, l, k, &got) != STRATA_OK || got != s)
            abort();
        strata_matcher m = {STRATA_MATCH_EQ, l[0].name, l[0].value};
        index_sids sel = {0};
        if (index_select(idx, &m, 1, &sel) != STRATA_OK)
            abort();
        size_t j = 0;
        while (j < sel.n && sel.v[j] != s)
            j++;
        if (j == sel.n)
            abort();
        index_sids_free(&sel);
    }
    if (n != index_series_count(idx))
        abort();
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size == 0)
        return 0;
    bbuf f = {0};
    if (data[0] & 1) {
        base_buf_append(&f, data + 1, size - 1);
    } else {
        uint8_t h[16];
        memcpy(h, "STRSERLG", 8);
        store_u32le(h + 8, 1);
        store_u32le(h + 12, base_crc32c(0, h, 12));
        base_buf_append(&f, h, 16);
        for (size_t i = 1; i < size;) {
            size_t len = data[i++];
            if (len > size - i)
                len = size - i;
            if (len == 0)
                continue;
            base_buf_put_u32le(&f, (uint32_t)len);
            base_buf_put_u32le(&f, base_crc32c(0, data + i, len));
            base_buf_append(&f, data + i, len);
            i += len;
        }
    }
    put(f.data, f.len);
    base_buf_free(&f);
    strata_index *idx;
    int rc = index_open(dir, NULL, &idx);
    if (rc == STRATA_OK) {
        uint64_t n = check(idx);
        strata_label l[] = {{"__name__", "fuzz_new"}, {"k", "v"}};
        strata_sid sid;
        if (index_get_or_create(idx, l, 2, &sid, NULL) != STRATA_OK || index_close(idx) != STRATA_OK)
            abort();
        if (index_open(dir, NULL, &idx) != STRATA_OK)
            abort();
        index_stats st;
        index_get_stats(idx, &st);
        if (st.load_truncated_bytes != 0 || check(idx) < n)
            abort();
        index_close(idx);
    } else if (rc != STRATA_ERR_CORRUPT && rc != STRATA_ERR_VERSION) {
        abort();
    }
    return 0;
}

/* Seeds: a real series.log (mode byte 1), and its records unframed
 * (mode byte 0). */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 2)
        return 0;
    setup();
    unlink(path);
    strata_index *idx;
    if (index_open(dir, NULL, &idx) != STRATA_OK)
        abort();
    static const char *v[] = {"a", "b", "c"};
    for (int k = 0; k < 9; k++) {
        strata_label l[] = {{"__name__", v[k % 3]}, {"host", v[k / 3]}, {k & 1 ? "z" : "y", "1"}};
        strata_sid sid;
        if (index_get_or_create(idx, l, 3, &sid, NULL) != STRATA_OK)
            abort();
    }
    index_close(idx);
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    size_t o = 0;
    if (i == 0) {
        if (n + 1 > cap)
            return 0;
        out[o++] = 1;
        memcpy(out + o, buf, n);
        return n + 1;
    }
    out[o++] = 0;
    for (size_t p = 16; p + 8 <= n;) {
        uint32_t len = load_u32le(buf + p);
        if (len > 255 || p + 8 + len > n || o + 1 + len > cap)
            break;
        out[o++] = (uint8_t)len;
        memcpy(out + o, buf + p + 8, len);
        o += len;
        p += 8 + len;
    }
    return o;
}
