/*
 * bitpack.c: fixed-width bit packing (n values at one width, LSB-first,
 * see codec_int.h for the bit order) and the small tables the codecs share.
 *
 * Unpacking is the hot loop of every block decoder: for widths up to 56 a
 * value never spans more than 8 bytes from the byte holding its first bit,
 * so one unaligned 64-bit load and a shift extract it. The loop runs while
 * such a load stays inside the buffer; the last few values take the
 * bounds-checked path.
 */
#include "codec_int.h"

/* The hot loops here are written to be vectorised; -O2 alone (GCC 12) does
 * not vectorise loops with a run-time trip count. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

const uint64_t codec_p10u[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

const double codec_p10d[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

const double codec_p10r[23] = {
    1 / 1e0, 1 / 1e1, 1 / 1e2, 1 / 1e3, 1 / 1e4, 1 / 1e5, 1 / 1e6, 1 / 1e7, 1 / 1e8, 1 / 1e9, 1 / 1e10, 1 / 1e11,
    1 / 1e12, 1 / 1e13, 1 / 1e14, 1 / 1e15, 1 / 1e16, 1 / 1e17, 1 / 1e18, 1 / 1e19, 1 / 1e20, 1 / 1e21, 1 / 1e22,
};

uint8_t *base_buf_zeroed_tail(bbuf *b, size_t n)
{
    if (n > SIZE_MAX - BW_SLACK || base_buf_reserve(b, n + BW_SLACK))
        return NULL;
    memset(b->data + b->len, 0, n + BW_SLACK);
    return b->data + b->len;
}

/* (clones of external functions do not link under clang 14: a static
 * clone behind a plain function) */
CODEC_CLONES
static void fill_dbl(double *v, size_t n, double d)
{
    /* whole groups of 8: the tail is rounded up into the caller's padding */
    for (size_t i = 0; i < n; i += 8)
        for (unsigned j = 0; j < 8; j++)
            v[i + j] = d;
}

void codec_fill_dbl(double *v, size_t n, double d) { fill_dbl(v, n, d); }

void codec_bitpack_pack(uint8_t *dst, const uint64_t *v, size_t n, unsigned w)
{
    if (!w)
        return;
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++, pos += w)
        bw_put(dst, pos, v[i], w);
}

/* Width known at compile time: the compiler turns the shift and mask into
 * constants and unrolls. */
#define UNPACK_CONST(W)                                                        \
    static size_t unpack_##W(const uint8_t *src, size_t avail, size_t n, uint64_t *out) \
    {                                                                          \
        const uint64_t mask = low_mask(W);                                     \
        size_t i = 0;                                                          \
        /* value i starts at byte (i*W)/8; the load needs 8 bytes there */     \
        size_t safe = avail >= 8 ? ((avail - 8) * 8) / (W) : 0;                \
        if (safe > n)                                                          \
            safe = n;                                                          \
        for (; i + 8 <= safe; i += 8) {                                        \
            for (unsigned j = 0; j < 8; j++) {                                 \
                uint64_t bit = (uint64_t)(i + j) * (W), x;                     \
                memcpy(&x, src + (bit >> 3), 8);                               \
                out[i + j] = (x >> (bit & 7)) & mask;                          \
            }                                                                  \
        }                                                                      \
        return i;                                                              \
    }

UNPACK_CONST(1) UNPACK_CONST(2) UNPACK_CONST(3) UNPACK_CONST(4) UNPACK_CONST(5)
UNPACK_CONST(6) UNPACK_CONST(7) UNPACK_CONST(8) UNPACK_CONST(9) UNPACK_CONST(10)
UNPACK_CONST(11) UNPACK_CONST(12) UNPACK_CONST(13) UNPACK_CONST(14) UNPACK_CONST(15)
UNPACK_CONST(16) UNPACK_CONST(17) UNPACK_CONST(18) UNPACK_CONST(19) UNPACK_CONST(20)
UNPACK_CONST(21) UNPACK_CONST(22) UNPACK_CONST(23) UNPACK_CONST(24) UNPACK_CONST(25)
UNPACK_CONST(26) UNPACK_CONST(27) UNPACK_CONST(28) UNPACK_CONST(29) UNPACK_CONST(30)
UNPACK_CONST(31) UNPACK_CONST(32)

typedef size_t (*unpack_fn)(const uint8_t *, size_t, size_t, uint64_t *);
static const unpack_fn unpackers[33] = {
    NULL, unpack_1, unpack_2, unpack_3, unpack_4, unpack_5, unpack_6, unpack_7, unpack_8,
    unpack_9, unpack_10, unpack_11, unpack_12, unpack_13, unpack_14, unpack_15, unpack_16,
    unpack_17, unpack_18, unpack_19, unpack_20, unpack_21, unpack_22, unpack_23, unpack_24,
    unpack_25, unpack_26, unpack_27, unpack_28, unpack_29, unpack_30, unpack_31, unpack_32,
};

void codec_bitpack_unpack(const uint8_t *src, size_t avail, size_t n, unsigned w, uint64_t *out)
{
    size_t i = 0;
    if (!w) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    if (w <= 32) {
        i = unpackers[w](src, avail, n, out);
    } else if (w <= 56) {
        const uint64_t mask = low_mask(w);
        size_t safe = avail >= 8 ? ((avail - 8) * 8) / w : 0;
        if (safe > n)
            safe = n;
        for (; i < safe; i++) {
            uint64_t bit = (uint64_t)i * w, x;
            memcpy(&x, src + (bit >> 3), 8);
            out[i] = (x >> (bit & 7)) & mask;
        }
    }
    br r;
    br_init(&r, src, avail);
    r.pos = (uint64_t)i * w;
    for (; i < n; i++)
        (void)br_get(&r, w, &out[i]); /* cannot fail: caller checked avail */
}
