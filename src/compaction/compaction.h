/*
 * compaction.h: the compaction layer's interface. Two parts, as in TSM:
 *
 *  - planners (policy, pure, no I/O): look at one time partition's files and
 *    return jobs, i.e. which files to merge into which level, or to move;
 *  - the compactor (mechanism): runs one job's merge as a k-way merge of
 *    per-series block streams (cpt_run, further below).
 *
 * LEVELS. Both planners use the same convention so the engine never has to
 * ask which planner wrote a file, and switching planners on an existing
 * directory stays well defined:
 *   - a flush writes level 0;
 *   - tiered: a merge of level-L files writes level L+1, so a file's level
 *     counts how often its data was merged. (InfluxDB's TSM numbers the same
 *     tiers from 1: its "level 1, groups of 8" is our level 0.) The last
 *     level (max_levels-1) is reserved for the cold full compaction;
 *   - leveled: level 0 is flush output (files overlap each other), levels
 *     1..max_levels-1 are sorted runs with dynamic size targets.
 *
 * AGE ORDER (the contract readers and the compactor rely on). When two
 * files hold a sample with the same (sid, t), the newer one is the file at
 * the LOWER level, and at the same level the one with the LARGER file_no
 * (flushes number their files in flush order). Both planners keep this true:
 *   - tiered merges the oldest files of a level (smallest file_nos) and
 *     starts no job from a level that has a file in a running job, so the
 *     outputs of one level are written one job at a time, in age order; the
 *     last level only takes full compactions, planned when nothing runs;
 *   - leveled merges a level-L file with every file of level L it overlaps
 *     (transitively) and every file of the output level they overlap, so
 *     files of one level >= 1 never share a (sid, t) key and their order
 *     does not matter; level 0 goes to the highest non-empty level.
 *   - a trivial move keeps the file (and its number) and lands where nothing
 *     overlaps it.
 *
 * OVERLAP. Two files overlap when their rectangles [min_sid, max_sid] x
 * [min_t, max_t] intersect: if they do not, no (sid, t) key can be in both.
 * The compactor cuts output files only between series, so one series'
 * samples of a job go to one output.
 */
#ifndef STRATA_COMPACTION_H
#define STRATA_COMPACTION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "manifest/manifest.h"
#include "table/table.h"

/* ------------------------------------------------------------ planner input */

/* What a planner knows about one table file of a partition. */
typedef struct cpt_file {
    uint64_t file_no;
    int level;            /* 0 .. max_levels-1 */
    uint64_t bytes;       /* file size */
    uint64_t samples;
    uint64_t blocks;
    uint64_t min_sid, max_sid;
    int64_t min_t, max_t; /* ms, inclusive */
    int64_t created_ms;   /* wall clock when written */
    bool compacting;      /* an input of a running job: never offered again */
    uint32_t tombstones;  /* live tombstones whose range overlaps this file */
    int64_t rules_ms;     /* table_meta.rules_ms: when the rules were last applied to it (0: never) */
} cpt_file;

/* One time partition as the planner sees it. The files array is borrowed
 * for the duration of the plan call and may be in any order. */
typedef struct cpt_partition {
    const cpt_file *files;
    size_t n_files;
    int64_t last_write_ms; /* wall clock of the newest write into the partition */
    int64_t now_ms;
    bool force_full;       /* strata compact --full: treat as cold now */
    /* Retention and downsampling rules (cpt_rules_job): the partition's
     * end (exclusive) and the ages at which a rule starts to apply to data
     * that old. */
    int64_t end_ms;
    const int64_t *rule_ages;
    size_t n_rule_ages;
} cpt_partition;

typedef struct cpt_opts {
    int64_t cold_ms;             /* no writes this long: one full compaction (default 4 h) */
    uint64_t target_file_bytes;  /* output files rotate here (default 256 MiB) */
    int l0_trigger;              /* leveled: level-0 files that give score 1 (default 4) */
    int level_multiplier;        /* leveled: size ratio of adjacent levels (default 10) */
    uint64_t base_level_bytes;   /* leveled: smallest target of a level (default 256 MiB) */
    int max_levels;              /* levels 0..max_levels-1 (default and cap STRATA_MAX_LEVELS) */
    int max_subcompactions;      /* leveled: sid-range splits of one job (default 4) */
    uint64_t max_gp_overlap_bytes; /* leveled: cut an output when its grandparent overlap passes this (0 = 10 x target) */
    int max_jobs;                /* jobs returned per plan call (default 4) */
    int tier_group;              /* tiered: files merged together at levels >= 1 (default 4) */
    int tier_group_l0;           /* tiered: files merged together at level 0 (default 8) */
} cpt_opts;

void cpt_opts_init(cpt_opts *o);

/* ------------------------------------------------------------ planner output */

/* A grandparent file for cutting outputs (leveled only). */
typedef struct cpt_gp {
    uint64_t file_no;
    uint64_t min_sid, max_sid;
    uint64_t bytes;
} cpt_gp;

/* A sub-compaction: the series [sid_lo, sid_hi] of every input. The splits
 * of a job are disjoint, sorted, and together cover 0..UINT64_MAX. */
typedef struct cpt_split {
    uint64_t sid_lo, sid_hi;
} cpt_split;

typedef enum cpt_job_kind {
    CPT_JOB_MERGE = 0, /* merge inputs into new files at out_level */
    CPT_JOB_MOVE = 1,  /* trivial move: the single input changes level in the manifest */
    CPT_JOB_FULL = 2   /* cold (or forced) full compaction: a merge into the last level */
} cpt_job_kind;

typedef struct cpt_job {
    cpt_job_kind kind;
    uint64_t *inputs;        /* file_nos, NEWEST FIRST (AGE ORDER: the compactor's input order) */
    size_t n_inputs;
    int in_level;            /* the level the job was planned for (lowest input level) */
    int out_level;
    uint64_t target_file_bytes; /* output rotation size */
    uint64_t input_bytes;    /* sum of the inputs' sizes */
    double score;            /* priority across partitions: larger first */
    cpt_gp *gps;             /* sorted by min_sid, disjoint; may be empty */
    size_t n_gps;
    uint64_t max_gp_overlap_bytes; /* 0: no grandparent cut */
    cpt_split *splits;       /* at least one */
    size_t n_splits;
    bool rules;              /* a rules job (cpt_rules_job): every file of the partition */
} cpt_job;

/* A plan: jobs whose inputs are pairwise disjoint. */
typedef struct cpt_jobs {
    cpt_job *jobs;
    size_t n;
} cpt_jobs;

/* Frees what a plan call put in *j and zeroes it; safe on a zeroed struct. */
void cpt_jobs_free(cpt_jobs *j);

/* ------------------------------------------------------------ planners */

typedef struct cpt_planner cpt_planner;
struct cpt_planner {
    const char *name; /* "tiered" or "leveled" */
    /* Appends the jobs for one partition to *out (which may already hold jobs
     * of other partitions). Never offers a file marked compacting. On error
     * *out holds what it held before. */
    int (*plan)(cpt_planner *p, const cpt_partition *part, cpt_jobs *out);
    void (*destroy)(cpt_planner *p);
    cpt_opts opts;
};

/* Constructors: *out is freed with cpt_planner_free. opts NULL = defaults;
 * out-of-range options are STRATA_ERR_INVALID. */
int cpt_planner_tiered_new(const cpt_opts *opts, cpt_planner **out);
int cpt_planner_leveled_new(const cpt_opts *opts, cpt_planner **out);

static inline int cpt_plan(cpt_planner *p, const cpt_partition *part, cpt_jobs *out)
{
    return p->plan(p, part, out);
}

static inline void cpt_planner_free(cpt_planner *p)
{
    if (p)
        p->destroy(p);
}

/* A rules job: when a rule's age has passed for the partition (end_ms +
 * age <= now_ms) since the rules were last applied to one of its files
 * (its rules_ms is before end_ms + age; a flush's 0 always is), every file
 * of the partition is merged into the last level with the job's rules
 * flag set, so the compactor applies retention and downsampling to each
 * series whole. Adds nothing while a file of the partition is in a job or
 * when no rule's age has passed. *added says whether a job was added. */
int cpt_rules_job(cpt_jobs *out, const cpt_opts *o, const cpt_partition *part, bool *added);

/* ------------------------------------------------------------ leveled pieces
 * Exposed so tests (and `strata inspect`) can see the leveled arithmetic. */

typedef struct cpt_targets {
    uint64_t target[STRATA_MAX_LEVELS]; /* size target per level; [0] unused */
    int base_level;                     /* where level 0 merges into */
} cpt_targets;

/* Badger's levelTargets: the last level's actual size is its target, each
 * level above it a multiplier smaller, never below base_level_bytes; the
 * base level (where level 0 goes) is the first level, counting up from the
 * last, whose target is down to base_level_bytes, then moved down past
 * empty levels (see leveled.c for the exact rule). level_bytes has
 * max_levels entries. */
void cpt_level_targets(const cpt_opts *o, const uint64_t *level_bytes, cpt_targets *out);

typedef struct cpt_score {
    int level;
    double score;    /* L0: files / l0_trigger; others: bytes not in jobs / target */
    double adjusted; /* score divided by the next level's (Pebble/Badger) */
} cpt_score;

/* Scores of levels 0..max_levels-1 in level order (out has max_levels
 * entries; the last level's is reported but it is never a compaction
 * source). l0_files counts level-0 files; level_bytes and busy_bytes (bytes
 * in running jobs, not counted against the target, as Badger's delSize) have
 * max_levels entries. */
void cpt_level_scores(const cpt_opts *o, size_t l0_files, const uint64_t *level_bytes,
                      const uint64_t *busy_bytes, const cpt_targets *t, cpt_score *out);

/* Grandparent cut, LevelDB's ShouldStopBefore at series granularity. The
 * compactor feeds each new output series' sid in increasing order; it
 * returns true when the current output should be closed before that series
 * because the output already overlaps more than max_bytes of grandparents. */
typedef struct cpt_gp_cutter {
    const cpt_gp *gps;
    size_t n_gps;
    uint64_t max_bytes;
    size_t idx;            /* first grandparent not wholly before the current sid */
    uint64_t overlapped;   /* grandparent bytes passed over by the current output */
    bool seen_key;         /* some series was fed already */
} cpt_gp_cutter;

void cpt_gp_cutter_init(cpt_gp_cutter *c, const cpt_gp *gps, size_t n, uint64_t max_bytes);
/* As LevelDB, the overlap count restarts only when this returns true; an
 * output closed for reaching its size keeps counting (a slightly earlier cut
 * of the next output, never a later one). */
bool cpt_gp_cutter_should_cut(cpt_gp_cutter *c, uint64_t sid);

/* ------------------------------------------------------------ from the manifest */

/* Describes the tables of partition p of version v as planner input, in a
 * new array (*out, caller base_frees; NULL when the partition is empty).
 * busy(ctx, file_no) says whether a file is in a running job (busy may be
 * NULL: none is). tombstones counts, per file, the tombstones of v that can
 * hide some of its samples: numbered after the file (manifest.h: a table
 * numbered below a tombstone's id predates it), a sid in the file's range,
 * times overlapping. */
int cpt_files_from_version(const manifest_version *v, const manifest_partition *p,
                           bool (*busy)(void *ctx, uint64_t file_no), void *ctx, cpt_file **out, size_t *n);

/* Adds to e what installs a finished job, as one edit: every input
 * removed; for a move, the input again at out_level; for a merge, the
 * outputs (outs, from cpt_run of every split) at out_level in the inputs'
 * partition, created at now_ms; and the level statistics (bytes read from
 * each input's level, bytes written into out_level). An input v does not
 * know is STRATA_ERR_INVALID. The engine applies e, then marks the input
 * tables obsolete. */
int cpt_edit_for_job(manifest_edit *e, const manifest_version *v, const cpt_job *job, const table_meta *outs,
                     size_t n_outs, int64_t now_ms);

/* ------------------------------------------------------------ downsampling (rollup.c)
 * Aggregate rows (strata_agg) of intervals (end - res, end], end a
 * multiple of res: see rollup.c for how rows combine. */

/* The end of the interval of resolution res_ms (> 0) that holds t. */
int64_t cpt_interval_end(int64_t t, int64_t res_ms);
/* Adds row b (of the same interval, starting after a's start) to a. */
void cpt_agg_combine(strata_agg *a, const strata_agg *b);
/* Rolls the samples (t, v; n, time order, unique) and rows (n_rows, by
 * t_last, each of a resolution dividing res_ms) up into rows of res_ms,
 * into *out (grown with base_realloc; *cap_out its capacity), *n_out rows
 * by time. STRATA_ERR_NOMEM. */
int cpt_rollup(int64_t res_ms, const int64_t *t, const double *v, size_t n, const strata_agg *rows, size_t n_rows,
               strata_agg **out, size_t *n_out, size_t *cap_out);

/* ------------------------------------------------------------ rate limiter
 * A token bucket shared by the compaction threads: bytes per second with a
 * burst of one second. Thread-safe. */
typedef struct cpt_limiter cpt_limiter;

/* bytes_per_s 0 = unlimited. Free with cpt_limiter_free (NULL is a no-op). */
int cpt_limiter_new(uint64_t bytes_per_s, cpt_limiter **out);
void cpt_limiter_free(cpt_limiter *l);
/* Waits until n bytes may pass. Sleeps in short slices and returns
 * STRATA_ERR_CANCELLED as soon as *cancel (may be NULL) is non-zero. */
int cpt_limiter_take(cpt_limiter *l, uint64_t n, const atomic_int *cancel);

/* ------------------------------------------------------------ the compactor
 *
 * cpt_run merges the series [sid_lo, sid_hi] of the inputs into new table
 * files: a k-way merge of per-series block streams. Per series, its blocks
 * from all inputs are taken in time order and grouped into clusters of
 * blocks whose time ranges overlap. A cluster of one block that nothing
 * cuts (no tombstone, no retention) is copied verbatim with
 * table_writer_add_raw (blocks_copied) when it is full (block_samples or
 * more) or the series' last, and no partial block is pending before it;
 * every other block is decoded, merged with the others of its cluster (the
 * input listed first wins on equal timestamps), cut by tombstones and
 * retention, and re-encoded by the writer into full blocks
 * (blocks_merged). So each output series has at most one partial block
 * beyond those copied whole.
 *
 * A series whose rules give it a resolution (cpt_run_args.rules), or that
 * has aggregate blocks in the run, is kept as aggregates (rollup.c): its
 * aggregate blocks of that resolution are copied when nothing cuts or
 * overlaps them, otherwise all its blocks are decoded and rolled up into
 * rows of the resolution (the coarsest of the rule's and its blocks'),
 * raw samples merged newest-first as above and staleness markers left
 * out; a cut keeps or drops an interval's row by its last sample's time.
 *
 * Outputs rotate between series, when the current one has reached
 * target_file_bytes or the grandparent cutter says so, so a series' samples
 * of one job stay in one file. On any error or cancellation every output
 * (finished or not) is removed and nothing is returned.
 */
typedef int (*cpt_alloc_fn)(void *ctx, uint64_t *file_no);

/* Per-series rules of a run: *cut_ms the oldest timestamp sid keeps
 * (INT64_MIN: every one; it replaces retention_before_ms for the series),
 * *res_ms the resolution its data is to be kept at (0: as it is). A
 * negative return fails the run. */
typedef int (*cpt_rules_fn)(void *ctx, uint64_t sid, int64_t *cut_ms, int64_t *res_ms);

typedef struct cpt_run_args {
    table *const *inputs;       /* NEWEST FIRST (cpt_job.inputs order); the caller holds references */
    size_t n_inputs;
    const manifest_tombstone *const *tombstones; /* each applies to inputs numbered below its id */
    size_t n_tombstones;
    int64_t retention_before_ms; /* samples older than this are dropped; INT64_MIN keeps all */
    cpt_rules_fn rules;          /* NULL: retention_before_ms for every series, nothing downsampled */
    void *rules_ctx;
    int64_t rules_ms;            /* table_meta.rules_ms of the outputs */
    const char *dir;             /* where outputs are written */
    const base_vfs *vfs;         /* through which they are written and removed; NULL: POSIX */
    cpt_alloc_fn alloc;          /* output file numbers */
    void *alloc_ctx;
    uint64_t target_file_bytes;  /* 0: one output */
    uint32_t block_samples;      /* 0: 1000 */
    uint64_t sid_lo, sid_hi;     /* a split of the job; 0, UINT64_MAX for all */
    const cpt_gp *gps;           /* grandparent cut (cpt_job), may be empty */
    size_t n_gps;
    uint64_t max_gp_overlap_bytes;
    cpt_limiter *limiter;        /* NULL: unlimited */
    const atomic_int *cancel;    /* NULL: never; checked between blocks */
} cpt_run_args;

/* Fills a with the job's settings (target, gps, split i) and neutral
 * values for the rest (no tombstones, no retention, no limiter). */
void cpt_run_args_from_job(cpt_run_args *a, const cpt_job *job, size_t split);

typedef struct cpt_run_stats {
    uint64_t bytes_read;      /* input block bytes consumed */
    uint64_t bytes_written;   /* output file bytes */
    uint64_t blocks_copied;   /* moved without decoding */
    uint64_t blocks_merged;   /* input blocks decoded */
    uint64_t samples_read;    /* in decoded blocks */
    uint64_t samples_written; /* all output samples, copied ones included */
    uint64_t samples_deleted; /* cut by tombstones or retention */
    uint64_t samples_shadowed; /* equal timestamps lost to a newer input */
} cpt_run_stats;

/* Runs the merge. On success *outs (caller base_frees; NULL with *n_outs 0
 * when everything was deleted) describes the new files in sid order. stats
 * (may be NULL) is added to, also on failure (what was done before it).
 * Errors: STRATA_ERR_CANCELLED, STRATA_ERR_CORRUPT (an input block; the
 * message goes nowhere: verify names it), STRATA_ERR_IO / NOSPACE / NOMEM,
 * the allocator's status. */
int cpt_run(const cpt_run_args *a, table_meta **outs, size_t *n_outs, cpt_run_stats *stats);

#endif /* STRATA_COMPACTION_H */
