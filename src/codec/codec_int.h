/*
 * codec_int.h: private helpers shared by the codec sources (not part of the
 * layer's interface; only the sources in src/codec include it).
 *
 * Bit order everywhere in the codec layer: LSB-first. Bit i of a stream is
 * bit (i % 8) of byte (i / 8); a w-bit field written at bit position p
 * occupies bits p..p+w-1 with its least significant bit first. This lets
 * readers fetch 64 bits with one unaligned little-endian load and a shift.
 */
#ifndef STRATA_CODEC_INT_H
#define STRATA_CODEC_INT_H

#include <math.h>
#include <string.h>

#include "codec.h"

/* Exact powers of ten: as integers up to 10^19, as doubles up to 10^22
 * (the largest power of ten a double holds exactly). */
extern const uint64_t codec_p10u[20];
extern const double codec_p10d[23];

/* RN(10^-e), e = 0..22 (constant-folded, correctly rounded). */
extern const double codec_p10r[23];

/* a / 10^e correctly rounded, the way every DEC decoder computes it: q =
 * RN(a * RN(10^-e)) is within an ulp of the quotient, and one Newton step
 * with an exact remainder, RN(q + fma(-q, 10^e, a) * RN(10^-e)), gives the
 * correctly rounded quotient (Markstein's theorem; checked against IEEE
 * division in tests/unit/codec_values.c). The encoder verifies every
 * value with this same computation, so round trips are exact by
 * construction. Vector decoders use the FMA instructions for it, and
 * everyone else fma() (C99: exact), so every machine gives the same bits.
 * Four multiply/FMA operations pipeline where a division would not. */
static inline double dec_div(double a, unsigned e)
{
    if (!e)
        return a;
    double y = codec_p10r[e], q = a * y;
    return fma(fma(-q, codec_p10d[e], a), y, q);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(CODEC_NO_AVX2_PATHS)
#define CODEC_X86_PATHS 1
/* Run-time dispatch to hand-written AVX2(+FMA) loops. */
static inline int codec_have_avx2(void) { return __builtin_cpu_supports("avx2"); }
static inline int codec_have_bmi2(void) { return __builtin_cpu_supports("bmi2"); }
static inline int codec_have_fma(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif

/* Bytes of slack the bit writer may touch past the last byte it fills. */
/* Functions compiled twice (AVX2 and generic), chosen when the program is
 * loaded. The choice runs as an ifunc resolver before ThreadSanitizer's
 * runtime is initialised, which crashes TSan builds, so under TSan only
 * the generic version is built. */
#if defined(__SANITIZE_THREAD__)
#define CODEC_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CODEC_CLONES
#endif
#endif
#ifndef CODEC_CLONES
#define CODEC_CLONES __attribute__((target_clones("avx2", "default")))
#endif

#define BW_SLACK 16

static inline unsigned bit_width(uint64_t x) { return x ? 64u - (unsigned)__builtin_clzll(x) : 0u; }
static inline uint64_t low_mask(unsigned w) { return w >= 64 ? ~0ull : (1ull << w) - 1; }

/* Writes the w low bits of v (v < 2^w, w <= 64) at bit position pos of
 * base, which must be zero from pos on with BW_SLACK bytes to spare: the
 * write ORs into place. */
static inline void bw_put(uint8_t *base, uint64_t pos, uint64_t v, unsigned w)
{
    if (!w)
        return;
    uint8_t *p = base + (pos >> 3);
    unsigned s = (unsigned)(pos & 7);
    uint64_t x;
    memcpy(&x, p, 8);
    x |= v << s;
    memcpy(p, &x, 8);
    if (s + w > 64)
        p[8] |= (uint8_t)(v >> (64 - s));
}

/* A bounds-checked bit reader over [p, p+len). */
typedef struct br {
    const uint8_t *p;
    size_t len;
    uint64_t pos, nbits;
} br;

static inline void br_init(br *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->nbits = (uint64_t)len * 8;
}

/* The 64 bits from pos on (zeros past the end); does not advance. */
static inline uint64_t br_peek64(const br *r)
{
    size_t byte = (size_t)(r->pos >> 3);
    unsigned s = (unsigned)(r->pos & 7);
    uint64_t x = 0;
    if (byte + 8 <= r->len) {
        memcpy(&x, r->p + byte, 8);
        x >>= s;
        if (s && byte + 8 < r->len)
            x |= (uint64_t)r->p[byte + 8] << (64 - s);
    } else if (byte < r->len) {
        memcpy(&x, r->p + byte, r->len - byte);
        x >>= s;
    }
    return x;
}

/* Reads w <= 64 bits; 0 on success, -1 when fewer than w bits remain. */
static inline int br_get(br *r, unsigned w, uint64_t *out)
{
    if (w > r->nbits - r->pos)
        return -1;
    *out = w ? br_peek64(r) & low_mask(w) : 0;
    r->pos += w;
    return 0;
}

/* Packing of n unsigned values at one width w (0..64), LSB-first from a
 * byte boundary: bitpack_bytes(n, w) bytes. */
static inline size_t bitpack_bytes(size_t n, unsigned w) { return (size_t)(((uint64_t)n * w + 7) / 8); }
/* dst must be zeroed with BW_SLACK bytes to spare. */
void codec_bitpack_pack(uint8_t *dst, const uint64_t *v, size_t n, unsigned w);
/* src holds at least bitpack_bytes(n, w) bytes (caller checked). out gets
 * n values; it may be written up to 8 entries past n. */
void codec_bitpack_unpack(const uint8_t *src, size_t avail, size_t n, unsigned w, uint64_t *out);

/* v[0..n) = d; may write up to 7 entries past n (within CODEC_PAD). */
void codec_fill_dbl(double *v, size_t n, double d);

/* Append helpers for bbufs: reserve n + BW_SLACK zeroed bytes at the end
 * and return a pointer to them (NULL on allocation failure). */
uint8_t *base_buf_zeroed_tail(bbuf *b, size_t n);

/* Integer sequence coder (intseq.c): the lossless core under the decimal
 * codec. Encodes m[0..n) (n >= 1) as its smallest form. */
int codec_intseq_encode(const int64_t *m, size_t n, bbuf *out);
/* Decodes n integers and stores each as the double m / 10^e (m when e == 0)
 * into out; *used receives the bytes consumed. */
int codec_intseq_decode_dbl(const uint8_t *src, size_t len, size_t n, unsigned e, double *out, size_t *used);

/* Per-codec entry points (val.c dispatches). */
int codec_xor_encode(const double *v, size_t n, bbuf *out);
int codec_xor_decode(const uint8_t *src, size_t len, size_t n, double *v);
int codec_const_encode(const double *v, size_t n, bbuf *out);
int codec_const_decode(const uint8_t *src, size_t len, size_t n, double *v);
int codec_dec_encode(const double *v, size_t n, bbuf *out);
int codec_dec_decode(const uint8_t *src, size_t len, size_t n, double *v);
int codec_flt_encode(const double *v, size_t n, bbuf *out);
/* Exact encoded sizes without encoding (for the per-block choice); once
 * the size is known to reach limit bytes they stop and return limit. */
size_t codec_xor_size(const double *v, size_t n, size_t limit);
size_t codec_flt_size(const double *v, size_t n, size_t limit);
int codec_flt_decode(const uint8_t *src, size_t len, size_t n, double *v);

static inline uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static inline double bits_dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

#endif /* STRATA_CODEC_INT_H */
