/*
 * planner_int.h: helpers shared by the two planners (planner.c). Private to
 * src/compaction; compaction.h is the layer's interface.
 */
#ifndef STRATA_COMPACTION_PLANNER_INT_H
#define STRATA_COMPACTION_PLANNER_INT_H

#include "compaction.h"

/* Rectangles [min_sid,max_sid] x [min_t,max_t] intersect. */
static inline bool cpt_overlap(const cpt_file *a, const cpt_file *b)
{
    return a->min_sid <= b->max_sid && b->min_sid <= a->max_sid && a->min_t <= b->max_t &&
           b->min_t <= a->max_t;
}

/* Validates and fills defaults (zero fields take the default). */
int cpt_opts_check(const cpt_opts *in, cpt_opts *out);

/* Builds a job from the chosen files (pointers into the partition's array)
 * and appends it to *out: inputs sorted newest first (level ascending,
 * file_no descending), input_bytes summed, splits computed from `bottom` (the files
 * of the output level that are inputs; may be empty) and the inputs' sid
 * span. gps (may be NULL) are copied, sorted by max_sid. */
int cpt_job_add(cpt_jobs *out, const cpt_opts *o, cpt_job_kind kind, const cpt_file *const *in, size_t n_in,
                int in_level, int out_level, double score, const cpt_file *const *gps, size_t n_gps);

/* Sid-range splits for a job of input_bytes over [min_sid, max_sid] whose
 * output-level inputs are bottom (sorted by max_sid): at most
 * o->max_subcompactions pieces, about one per target_file_bytes of input,
 * cut at bottom files' boundaries when there are any (Badger's addSplits),
 * evenly over the sid span otherwise. *out is allocated (caller frees). */
int cpt_splits_make(const cpt_opts *o, uint64_t input_bytes, uint64_t min_sid, uint64_t max_sid,
                    const cpt_file *const *bottom, size_t n_bottom, cpt_split **out, size_t *n_out);

/* Frees the jobs past the first n (undoing a failed plan call). */
void cpt_jobs_truncate(cpt_jobs *j, size_t n);

/* The cold (or forced) full compaction shared by both planners: every file
 * that is not yet at the last level or has tombstones, plus the last-level
 * files overlapping them (transitively), merged into the last level. Files
 * already at the last level that overlap nothing to merge and carry no
 * tombstone stay as they are, so a partition fully compacted once is not
 * compacted again while nothing changes. Adds nothing when a file of the
 * partition is in a running job (the full merge waits for it) or when
 * nothing needs it. *added says whether a job was added. */
int cpt_full_job(cpt_jobs *out, const cpt_opts *o, const cpt_partition *part, bool *added);

#endif
