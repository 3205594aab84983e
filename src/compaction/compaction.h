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
} cpt_file;

/* One time partition as the planner sees it. The files array is borrowed
 * for the duration of the plan call and may be in any order. */
typedef struct cpt_partition {
    const cpt_file *files;
    size_t n_files;
    int64_t last_write_ms; /* wall clock of the newest write into the partition */
    int64_t now_ms;
    bool force_full;       /* strata compact --full: treat as cold now */
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

#endif /* STRATA_COMPACTION_H */
