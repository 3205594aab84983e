/*
 * downsampling_crash_long.c: the crash test of downsampling_crash.c at
 * length (make test-long): eight templates (seeds), each with a power cut
 * before every file operation of its rules jobs, and 300 SIGKILLs.
 * STRATA_SEED, STRATA_DSC_ROUNDS, STRATA_DSC_CUTS and STRATA_DSC_KILLS
 * still apply.
 */
#define DSC_DEFAULT_ROUNDS 8
#define DSC_DEFAULT_KILLS 300
#include "downsampling_crash.c"
