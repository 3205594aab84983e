/*
 * db_series_scale_long.c: db_series_scale.c with a million series
 * (make test-long); STRATA_SCALE_SERIES still applies.
 */
#define SCALE_DEFAULT_SERIES 1000000
#include "db_series_scale.c"
