/*
 * xorchunk.h: Prometheus' XOR chunk (tsdb/chunkenc/xor.go), the encoding
 * of the chunks a STREAMED_XOR_CHUNKS remote read sends, bit for bit as
 * Prometheus writes it (its reader decodes what we send):
 *
 *   2 bytes   number of samples, big-endian
 *   sample 0  varint(t) (zigzag, as Go's PutVarint), then the 64 bits of v
 *   sample 1  uvarint(t1 - t0), then v as an XOR delta (below)
 *   sample n  the delta of delta of t: '0' when 0; '10' + 14 bits,
 *             '110' + 17 bits, '1110' + 20 bits when it fits the range
 *             [-(2^(k-1)-1), 2^(k-1)]; '1111' + 64 bits otherwise; then v
 *   v as XOR  d = bits(v) ^ bits(previous v): '0' when 0; '10' + the
 *             significant bits when they fit the previous window of
 *             leading/trailing zeros; else '11' + 5 bits of leading zeros
 *             (capped at 31) + 6 bits of significant bits (64 written as
 *             0) + the significant bits
 * Bits are written most significant first; the last byte is padded with
 * zeros (and a byte-aligned write leaves an empty byte after it, as
 * Prometheus' bstream does). Values are carried as bits: a staleness NaN stays what it is.
 *
 * A chunk holds at most XC_MAX_SAMPLES samples (Prometheus cuts its own
 * chunks at 120) in a fixed buffer: no allocation.
 */
#ifndef STRATA_SERVER_XORCHUNK_H
#define STRATA_SERVER_XORCHUNK_H

#include <stddef.h>
#include <stdint.h>

#define XC_MAX_SAMPLES 120
/* the worst case: 2 + 19 (sample 0) + 11 + 10 (sample 1) + 118 * 145 bits */
#define XC_MAX_BYTES 2304

typedef struct xc_chunk {
    uint8_t buf[XC_MAX_BYTES];
    size_t len;         /* bytes of buf in use, the 2 of the count included */
    unsigned count;     /* bits free in the last of them */
    uint16_t n;         /* samples */
    int64_t mint, maxt; /* of the samples appended */
    int64_t t;          /* the last sample's time */
    uint64_t tdelta;    /* and its delta, as Go's uint64 */
    uint64_t v;         /* the last value's bits */
    uint8_t leading, trailing; /* the XOR window; leading 0xff: none yet */
} xc_chunk;

/* Makes c an empty chunk. */
void xc_reset(xc_chunk *c);

/* Appends a sample (t after the last one's). STRATA_OK, or
 * STRATA_ERR_LIMIT when c already holds XC_MAX_SAMPLES. */
int xc_append(xc_chunk *c, int64_t t, double v);

/* The bytes of the chunk (valid until the next append or reset). */
const uint8_t *xc_bytes(const xc_chunk *c, size_t *len);

/* CRC-32C (Castagnoli) of p[0, n), as Go's crc32.Checksum with
 * crc32.MakeTable(crc32.Castagnoli): what a remote read frame carries. */
uint32_t xc_crc32c(const void *p, size_t n);

#endif
