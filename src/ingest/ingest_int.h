/*
 * ingest_int.h: what the files of the ingest layer share with their tests
 * and nobody else needs: the line-protocol parser's test hook.
 */
#ifndef STRATA_INGEST_INT_H
#define STRATA_INGEST_INT_H

#include <stdint.h>
#include <stddef.h>

/* Test hook of lp.c: which path lp_parse_line takes. LP_IMPL_REF: the
 * reference parser alone; the others: the fast path (declining to the
 * reference) with the structural scan of that kind: portable SWAR, SSE2,
 * AVX2, or the best the CPU has (the default). Returns STRATA_ERR_INVALID
 * when this build or CPU lacks it. */
enum { LP_IMPL_BEST = 0, LP_IMPL_REF = 1, LP_IMPL_SWAR = 2, LP_IMPL_SSE2 = 3, LP_IMPL_AVX2 = 4 };
struct lp_parser;
int lp_parser_set_impl(struct lp_parser *p, int impl);

#endif /* STRATA_INGEST_INT_H */
