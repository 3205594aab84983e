/* The index at a million series: index_scale.c with SCALE_SERIES 1M (make test-long). */
#define SCALE_SERIES 1000000
#include "index_scale.c"
