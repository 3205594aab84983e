/*
 * codec.h: the interface of the codec layer: pure functions that turn runs
 * of timestamps and values into bytes and back. No I/O, no allocation
 * beyond the output buffer given.
 *
 * Block codecs (whole run at once, chosen per block by size) serve table
 * files; the appender (one sample at a time, Gorilla/XOR) serves the head.
 *
 * Decoders take bytes from outside (files) and must never crash, loop
 * forever or read outside [src, src+len), whatever the bytes: bad input
 * returns STRATA_ERR_CORRUPT. Every float64 bit pattern and every int64
 * timestamp round-trips exactly.
 */
#ifndef STRATA_CODEC_H
#define STRATA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Decoders may write (and read back) up to CODEC_PAD elements past n in
 * their output arrays (for speed), so callers size them n + CODEC_PAD. */
#define CODEC_PAD 64

/* Timestamp codec ids (stored in block headers; never renumber). */
enum codec_ts_id {
    CODEC_TS_DOD = 1, /* delta-of-delta, zig-zag, bit-packed, after dividing by 10^k */
};

/* Value codec ids (stored in block headers; never renumber). Which ids
 * exist and what their bytes are is documented in the codec sources. */
enum codec_val_id {
    CODEC_VAL_XOR = 1,   /* Gorilla XOR: the baseline (xor.c) */
    CODEC_VAL_CONST = 2, /* every value the same bit pattern (val.c) */
    CODEC_VAL_DEC = 3,   /* decimal mantissas m/10^e, integer coded (dec.c, intseq.c) */
    CODEC_VAL_FLT = 4,   /* ordered-integer deltas, adaptive Rice (flt.c) */
    /* further ids are defined by the codec sources and listed in
     * codec_val_name(); 0 is never a valid id. */
};

/* Appends the encoding of ts[0..n) to out; *id receives the codec used. */
int codec_ts_encode(const int64_t *ts, size_t n, bbuf *out, uint8_t *id);
/* Decodes exactly n timestamps from src[0..len) into ts (n + CODEC_PAD). */
int codec_ts_decode(uint8_t id, const uint8_t *src, size_t len, size_t n, int64_t *ts);

/* Appends the smallest encoding of v[0..n) among the value codecs to out;
 * *id receives the codec used. */
int codec_val_encode(const double *v, size_t n, bbuf *out, uint8_t *id);
/* Appends the encoding with one given codec; STRATA_ERR_INVALID when that
 * codec cannot represent these values exactly (out is then unchanged). */
int codec_val_encode_as(uint8_t id, const double *v, size_t n, bbuf *out);
/* Decodes exactly n values from src[0..len) into v (n + CODEC_PAD). */
int codec_val_decode(uint8_t id, const uint8_t *src, size_t len, size_t n, double *v);

/* Decimals (the numbers CODEC_VAL_DEC stores exactly): the smallest e <=
 * max_e with v == m / 10^e as the DEC decoder computes it; 1 with *e and
 * *m, 0 when there is none (NaN, infinities, -0.0, more digits). */
int codec_dec_parse(double v, unsigned max_e, unsigned *e, int64_t *m);
/* v == m / 10^e for this e exactly (1 with *m), else 0. */
int codec_dec_mant(double v, unsigned e, int64_t *m);
/* m / 10^e as the DEC decoder computes it (correctly rounded). */
double codec_dec_value(int64_t m, unsigned e);
/* The exact decimal sum of a and b rounded once, when both are decimals
 * of at most 9 fractional digits and the sum's mantissa stays below 2^53
 * (1 with *out), else 0. Aggregates summed this way stay decimals, which
 * CODEC_VAL_DEC stores in a few bits where a sum rounded at every step
 * needs XOR's dozens. */
int codec_dec_add(double a, double b, double *out);

/* Name of a value codec id ("xor", ...), or NULL for an unknown id. */
const char *codec_val_name(uint8_t id);
/* Every value codec id, for benchmarks and tests; returns the count. */
size_t codec_val_ids(uint8_t *ids, size_t cap);

/* ------------------------------------------------------------ appender
 * A Gorilla (Prometheus XOR chunk) stream of (t, v) pairs appended one at a
 * time, for the head. Timestamps must be non-decreasing... strictly
 * increasing in practice: the head keeps out-of-order samples apart. */
typedef struct codec_xor_appender {
    bbuf bytes;        /* the stream; owned, freed by codec_xor_appender_free */
    uint64_t bit_len;  /* bits used in bytes */
    uint32_t n;        /* samples appended */
    int64_t t_prev;
    int64_t delta_prev;
    uint64_t v_prev;   /* bit pattern */
    uint8_t leading;   /* of the previous XOR window, 0xff before the first */
    uint8_t trailing;
} codec_xor_appender;

void codec_xor_appender_init(codec_xor_appender *a);
int codec_xor_append(codec_xor_appender *a, int64_t t, double v);
void codec_xor_appender_free(codec_xor_appender *a);

/* Reads a stream produced by the appender: n samples in data[0..len). */
typedef struct codec_xor_iter {
    const uint8_t *data;
    size_t len;
    uint64_t bit_pos;
    uint32_t n, i;
    int64_t t;
    int64_t delta;
    uint64_t v;
    uint8_t leading, trailing;
} codec_xor_iter;

void codec_xor_iter_init(codec_xor_iter *it, const uint8_t *data, size_t len, uint32_t n);
/* Returns 1 with the next sample, 0 at the end, STRATA_ERR_CORRUPT. */
int codec_xor_iter_next(codec_xor_iter *it, int64_t *t, double *v);

#endif /* STRATA_CODEC_H */
