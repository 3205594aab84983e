/*
 * db_crash_long.c: the crash test of db_crash.c with hundreds of kills
 * (make test-long). STRATA_CRASH_KILLS and STRATA_SEED still apply.
 */
#define CRASH_DEFAULT_KILLS 400
#include "db_crash.c"
