/*
 * extlabels.h: external labels (`strata serve --external-label NAME=VALUE`),
 * attached to the series remote read and the query API return, as
 * Prometheus attaches its external_labels to what its remote read serves:
 * a series' own label of the same name wins.
 */
#ifndef STRATA_SERVER_EXTLABELS_H
#define STRATA_SERVER_EXTLABELS_H

#include <stddef.h>

#include "strata.h"

/* Parses NAME=VALUE into *out (name and value newly allocated: free()
 * both). NAME as a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not
 * starting with "__"), VALUE not empty. STRATA_OK, STRATA_ERR_INVALID
 * (why says why), STRATA_ERR_NOMEM. */
int el_parse(const char *arg, strata_label *out, const char **why);

/* Sorts ext by name; STRATA_ERR_INVALID when a name comes twice. */
int el_sort(strata_label *ext, size_t n);

/* Writes into out (room for n + n_ext labels) own's labels and those of
 * ext whose name own lacks, sorted by name when own and ext are; returns
 * how many. The strings are lent, not copied. */
size_t el_merge(const strata_label *own, size_t n, const strata_label *ext, size_t n_ext, strata_label *out);

#endif
