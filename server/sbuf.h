/*
 * sbuf.h: the growable byte buffer the server builds its answers in (JSON,
 * the text exposition of /metrics, protobuf). The library's own buffers
 * are internal to it; the server, as any program on top of strata.h, keeps
 * this small one of its own.
 *
 * A zeroed sbuf is empty. data is NULL until the first reservation; after
 * an error the buffer keeps what it held.
 */
#ifndef STRATA_SERVER_SBUF_H
#define STRATA_SERVER_SBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} sbuf;

/* Ensures cap >= len + extra. STRATA_OK or STRATA_ERR_NOMEM. */
int sbuf_reserve(sbuf *b, size_t extra);
int sbuf_append(sbuf *b, const void *p, size_t n);
static inline void sbuf_reset(sbuf *b)
{
    b->len = 0;
}
void sbuf_free(sbuf *b);

/* Protobuf's base-128 varint of v into out (at most 10 bytes); its length. */
size_t sbuf_uvarint(uint8_t out[10], uint64_t v);
/* Appends v as a protobuf varint. STRATA_OK or STRATA_ERR_NOMEM. */
int sbuf_append_uvarint(sbuf *b, uint64_t v);

#endif
