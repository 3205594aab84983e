/*
 * gunzip.h: gzip and deflate request bodies inflated under a size limit,
 * without HTTP (request.c answers with it; fuzz/fuzz_gunzip.c runs it on
 * arbitrary bytes).
 */
#ifndef STRATA_SERVER_GUNZIP_H
#define STRATA_SERVER_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/*
 * Inflates in[0, len) into out (empty on entry; the caller frees it, on
 * error too). gzip: every member of a multi-member stream (what
 * `cat a.gz b.gz` makes, RFC 1952 2.2), in order; deflate: one zlib (or
 * gzip) stream. Anything after the last stream that is not a further gzip
 * member is an error, so is a truncated member.
 * Returns STRATA_OK; STRATA_ERR_LIMIT as soon as the output would exceed
 * max bytes (no more than max + 1 bytes are ever held, however much the
 * input would make); STRATA_ERR_INVALID with *why (a static string) for a
 * corrupt, truncated or trailing-garbage body; STRATA_ERR_NOMEM.
 */
int srv_gunzip(const uint8_t *in, size_t len, int gzip, size_t max, sbuf *out, const char **why);

#endif
