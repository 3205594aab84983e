/*
 * xorchunk.c: Prometheus' XOR chunk encoder and CRC-32C. See xorchunk.h.
 * Arithmetic on times is done in uint64_t as Go does it (wrapping), so a
 * delta never overflows into undefined behaviour.
 */
#include "xorchunk.h"

#include <pthread.h>
#include <string.h>

#include "strata.h"

/* Prometheus' bstream, step for step (its byte count is part of the
 * format): c->len bytes, the last with c->count bits free. writeByte
 * always appends a byte, so after a byte-aligned write the stream ends
 * in a byte with all 8 bits free, which Prometheus sends too. */
static void put_bit(xc_chunk *c, unsigned bit)
{
    if (c->count == 0) {
        c->buf[c->len++] = 0;
        c->count = 8;
    }
    if (bit)
        c->buf[c->len - 1] |= (uint8_t)(1u << (c->count - 1));
    c->count--;
}

static void put_byte(xc_chunk *c, uint8_t byt)
{
    if (c->count == 0) {
        c->buf[c->len++] = 0;
        c->count = 8;
    }
    c->buf[c->len - 1] |= (uint8_t)(byt >> (8 - c->count));
    c->buf[c->len++] = (uint8_t)(byt << c->count);
}

/* Writes the low nbits (1..64) of u, most significant first. */
static void put_bits(xc_chunk *c, uint64_t u, unsigned nbits)
{
    u <<= 64 - nbits;
    for (; nbits >= 8; nbits -= 8, u <<= 8)
        put_byte(c, (uint8_t)(u >> 56));
    for (; nbits > 0; nbits--, u <<= 1)
        put_bit(c, (unsigned)(u >> 63));
}

static void put_uvarint(xc_chunk *c, uint64_t u)
{
    while (u >= 0x80) {
        put_bits(c, (u & 0x7f) | 0x80, 8);
        u >>= 7;
    }
    put_bits(c, u, 8);
}

static unsigned clz64(uint64_t x) { return x ? (unsigned)__builtin_clzll(x) : 64; }
static unsigned ctz64(uint64_t x) { return x ? (unsigned)__builtin_ctzll(x) : 64; }

static void put_value(xc_chunk *c, uint64_t v)
{
    uint64_t d = v ^ c->v;
    if (!d) {
        put_bits(c, 0, 1);
        return;
    }
    put_bits(c, 1, 1);
    unsigned lead = clz64(d), trail = ctz64(d);
    if (lead >= 32)
        lead = 31; /* 5 bits hold it */
    if (c->leading != 0xff && lead >= c->leading && trail >= c->trailing) {
        put_bits(c, 0, 1);
        put_bits(c, d >> c->trailing, 64 - c->leading - c->trailing);
        return;
    }
    c->leading = (uint8_t)lead;
    c->trailing = (uint8_t)trail;
    put_bits(c, 1, 1);
    put_bits(c, lead, 5);
    unsigned sig = 64 - lead - trail; /* 1..64; 64 goes out as 0 in 6 bits */
    put_bits(c, sig, 6);
    put_bits(c, d >> trail, sig);
}

/* x in [-(2^(n-1)-1), 2^(n-1)], as Prometheus' bitRange */
static int bit_range(int64_t x, unsigned n)
{
    int64_t h = (int64_t)1 << (n - 1);
    return -(h - 1) <= x && x <= h;
}

void xc_reset(xc_chunk *c)
{
    c->buf[0] = c->buf[1] = 0;
    c->len = 2;
    c->count = 0;
    c->n = 0;
    c->mint = c->maxt = c->t = 0;
    c->tdelta = 0;
    c->v = 0;
    c->leading = 0xff;
    c->trailing = 0;
}

int xc_append(xc_chunk *c, int64_t t, double v)
{
    if (c->n >= XC_MAX_SAMPLES)
        return STRATA_ERR_LIMIT;
    uint64_t vb;
    memcpy(&vb, &v, 8);
    uint64_t tdelta = 0;
    if (c->n == 0) {
        uint64_t zz = (uint64_t)t << 1;
        if (t < 0)
            zz = ~zz;
        put_uvarint(c, zz);
        put_bits(c, vb, 64);
        c->mint = t;
    } else if (c->n == 1) {
        tdelta = (uint64_t)t - (uint64_t)c->t;
        put_uvarint(c, tdelta);
        put_value(c, vb);
    } else {
        tdelta = (uint64_t)t - (uint64_t)c->t;
        uint64_t u = tdelta - c->tdelta;
        int64_t dod;
        memcpy(&dod, &u, 8); /* Go's int64(uint64): two's complement */
        if (dod == 0) {
            put_bits(c, 0, 1);
        } else if (bit_range(dod, 14)) {
            put_bits(c, 2, 2);
            put_bits(c, u, 14);
        } else if (bit_range(dod, 17)) {
            put_bits(c, 6, 3);
            put_bits(c, u, 17);
        } else if (bit_range(dod, 20)) {
            put_bits(c, 14, 4);
            put_bits(c, u, 20);
        } else {
            put_bits(c, 15, 4);
            put_bits(c, u, 64);
        }
        put_value(c, vb);
    }
    c->t = t;
    c->maxt = t;
    c->v = vb;
    c->tdelta = tdelta;
    c->n++;
    c->buf[0] = (uint8_t)(c->n >> 8);
    c->buf[1] = (uint8_t)c->n;
    return STRATA_OK;
}

const uint8_t *xc_bytes(const xc_chunk *c, size_t *len)
{
    *len = c->len;
    return c->buf;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i;
        for (int k = 0; k < 8; k++)
            r = (r >> 1) ^ (0x82F63B78u & (0u - (r & 1))); /* Castagnoli, reflected */
        crc_table[i] = r;
    }
}

uint32_t xc_crc32c(const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *b = p;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}
