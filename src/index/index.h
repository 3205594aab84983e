/*
 * index.h: the interface of the series index layer: canonical label sets,
 * the series dictionary (labels <-> sid), postings, label matchers, and
 * the persisted series log.
 *
 * Model
 * - A label set is canonical when it is sorted by name (bytewise, as
 *   strcmp), has no empty value (empty values are dropped, as Prometheus
 *   does) and no name twice (STRATA_ERR_INVALID).
 * - Each distinct canonical label set is a series with a dense id (sid)
 *   assigned 1, 2, 3, ... in creation order and never reused; series are
 *   never removed, so whatever the index lends lives as long as the index.
 * - Postings: for each label name and each (name, value) pair, the sorted
 *   sids of the series that carry it.
 * - Matchers (=, !=, =~, !~) have Prometheus' semantics: a series without
 *   label L behaves as if L="" ; regular expressions are Go's (RE2 syntax,
 *   run by RE2 in time linear in the value), fully anchored, `.` matches
 *   newlines, and a value that is not valid UTF-8 is seen as Go sees it:
 *   each invalid byte is U+FFFD (details at the top of matcher.c).
 *
 * Concurrency
 * - Any number of threads may call every function at once. Creations are
 *   serialised by a mutex; lookups of existing series (index_lookup*,
 *   index_get_or_create on a hit, index_labels) take no lock at all;
 *   selections and label queries take a reader lock on the postings that
 *   a creation takes briefly as writer.
 *
 * Persistence (series.log in the directory given to index_open; the byte
 * layout is documented at the top of log.c)
 * - A creation appends its records with write(2) (or buffers them, see
 *   index_options.log_buffer_bytes); index_sync() makes every creation so
 *   far durable (fsync). The engine calls it before it drops WAL segments
 *   that contain the series records; WAL replay re-creates the series of
 *   a lost tail with index_insert_with_sid().
 * - A torn or corrupt tail is truncated at open and counted
 *   (index_stats.load_truncated_bytes / load_corrupt_records).
 */
#ifndef STRATA_INDEX_H
#define STRATA_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "index/re2_shim.h" /* regular expressions with Go's syntax, on RE2 */

/* ------------------------------------------------------------ limits */

/* Limits checked when a series is created (not when the log is loaded: a
 * file written under larger limits still opens). Exceeding one is
 * STRATA_ERR_LIMIT. Hard format limits apply on top (index_int.h). */
typedef struct index_limits {
    uint32_t max_labels;     /* labels per series after dropping empty values, default 256 */
    uint32_t max_name_len;   /* bytes, default 1024 */
    uint32_t max_value_len;  /* bytes, default 65536 */
} index_limits;

void index_limits_init(index_limits *lim);

/* ------------------------------------------------------------ canonical labels */

/* Order-independent 64-bit hash of a label set: labels with an empty value
 * are skipped, so every spelling of one canonical set hashes alike. Pass it
 * to index_lookup_hashed to skip hashing on a hot path. */
uint64_t index_labels_hash(const strata_label *labels, size_t n);

/* Appends the canonical encoding of labels (any order) to out:
 *   uvarint count, then per label in canonical order:
 *   uvarint name_len, name bytes, uvarint value_len, value bytes.
 * Errors: STRATA_ERR_INVALID (duplicate or empty name, NULL string),
 * STRATA_ERR_LIMIT, STRATA_ERR_NOMEM. On error out->len is unchanged. */
int index_labels_encode(const strata_label *labels, size_t n, const index_limits *lim, bbuf *out);

/* Decodes exactly len bytes of a canonical encoding. On success *labels is
 * one allocation holding the array and the strings (free with base_free)
 * and *n the count. Bytes that are not a canonical encoding (unsorted,
 * duplicate, empty name or value, NUL byte, trailing bytes, over the hard
 * limits) are STRATA_ERR_CORRUPT. */
int index_labels_decode(const uint8_t *p, size_t len, strata_label **labels, size_t *n);

/* ------------------------------------------------------------ the index */

typedef struct strata_index strata_index;

typedef struct index_options {
    index_limits limits;
    /* Records of new series are kept in memory until this many bytes are
     * pending, then written; 0 (default) writes at every creation. The
     * WAL must hold every series created since the last index_sync. */
    size_t log_buffer_bytes;
    int read_only;           /* open without creating or repairing anything */
    base_log log;            /* where repairs are reported; fn may be NULL */
    /* Every file operation on series.log goes through it; NULL: POSIX.
     * Must outlive the index. */
    const base_vfs *vfs;
    /* Test hook: every hash is replaced by one constant, so every series
     * collides; correctness must not change (only speed). 0 by default. */
    int test_constant_hash;
} index_options;

void index_options_init(index_options *opts);

/* Opens the index persisted in dir (created if missing unless read_only;
 * dir itself must exist), loading series.log. dir NULL: a memory-only
 * index (no persistence; tests and tools). Errors: STRATA_ERR_CORRUPT the
 * file header is damaged or is not a series log; STRATA_ERR_VERSION
 * another format version; STRATA_ERR_IO / NOSPACE / NOMEM. A damaged tail
 * is not an error: it is truncated (unless read_only) and counted. */
int index_open(const char *dir, const index_options *opts, strata_index **out);

/* Writes pending records (no fsync) and frees everything; returns the
 * first error met. index_close(NULL) is a no-op. */
int index_close(strata_index *idx);

/* Writes pending records and fsyncs the log: every series created before
 * the call is durable when it returns STRATA_OK. */
int index_sync(strata_index *idx);

/* Looks up a series by labels (any order, empty values ignored) without a
 * lock and without allocating (unless given more than 128 labels in an
 * order other than canonical). STRATA_OK with *sid, STRATA_ERR_NOTFOUND
 * when absent (also when the labels are not a valid set). */
int index_lookup(strata_index *idx, const strata_label *labels, size_t n, strata_sid *sid);
/* The same with hash = index_labels_hash(labels, n) computed by the caller. */
int index_lookup_hashed(strata_index *idx, const strata_label *labels, size_t n, uint64_t hash,
                        strata_sid *sid);

/* Looks up or creates the series; *created (may be NULL) is 1 when it is
 * new. Errors: STRATA_ERR_INVALID (no label left, duplicate or empty
 * name, NULL string), STRATA_ERR_LIMIT (limits, or 2^32-2 series),
 * STRATA_ERR_READONLY, STRATA_ERR_NOMEM. A failed append to the log is not
 * an error here: the records stay pending, are retried by the next
 * append, and index_sync reports the failure until they are written. */
int index_get_or_create(strata_index *idx, const strata_label *labels, size_t n, strata_sid *sid,
                        int *created);

/* index_get_or_create (which takes any bytes but NUL, as series written by
 * earlier versions may hold) that also refuses to create a series when the index
 * holds max_series already (0: no limit; checked under the creation lock,
 * so concurrent creators never pass it) and refuses a new series whose
 * names or values are not valid UTF-8 (STRATA_ERR_INVALID; an existing
 * series is found whatever its bytes). On an error *reason (may be NULL)
 * gets a static string saying why; it is index_max_series_reason itself
 * when the limit refused the series. */
int index_get_or_create_max(strata_index *idx, const strata_label *labels, size_t n, uint64_t max_series,
                            strata_sid *sid, int *created, const char **reason);
extern const char index_max_series_reason[];

/* WAL replay: makes sure series sid has these labels. STRATA_OK when it is
 * created or already exactly so (*created says which; may be NULL);
 * STRATA_ERR_CORRUPT when sid belongs to other labels, the labels to
 * another sid, or sid is implausible (0, or more than INDEX_MAX_SID_GAP
 * above the next free sid). The next sid assigned is above every sid
 * inserted. Other errors as index_get_or_create. */
int index_insert_with_sid(strata_index *idx, const strata_label *labels, size_t n, strata_sid sid,
                          int *created);

/* Lends the canonical labels of sid, valid for the index's lifetime.
 * STRATA_ERR_NOTFOUND when sid names no series. Lock-free. */
int index_labels(strata_index *idx, strata_sid sid, const strata_label **labels, size_t *n);

/* Number of series; the largest sid assigned (0 when none). */
uint64_t index_series_count(strata_index *idx);
strata_sid index_max_sid(strata_index *idx);

typedef struct index_stats {
    uint64_t series;
    uint64_t names;                 /* distinct label names */
    uint64_t pairs;                 /* distinct (name, value) pairs */
    uint64_t memory_bytes;          /* approximate heap held by the index */
    uint64_t log_bytes;             /* size of series.log written so far */
    uint64_t log_pending_bytes;     /* records not yet written */
    uint64_t log_write_errors;      /* failed appends (retried) */
    uint64_t load_records;          /* good records read at open */
    uint64_t load_corrupt_records;  /* a damaged record ended loading (0 or 1) */
    uint64_t load_truncated_bytes;  /* bytes cut (or ignored when read-only) at open */
    uint64_t load_ms;               /* time to load at open */
} index_stats;

void index_get_stats(strata_index *idx, index_stats *out);

/* ------------------------------------------------------------ selection */

/* A sorted list of distinct sids handed to the caller: free with
 * index_sids_free (which also resets it; a zeroed one is empty). */
typedef struct index_sids {
    strata_sid *v;
    size_t n;
} index_sids;

void index_sids_free(index_sids *s);

/* The series matched by every matcher (n == 0: every series), sorted.
 * Errors: STRATA_ERR_INVALID (bad regular expression, NULL name/value),
 * STRATA_ERR_NOMEM (also when matching a value runs out of memory: a
 * matcher's failure is never read as "no match"). The regular
 * expressions are compiled once per call. */
int index_select(strata_index *idx, const strata_matcher *m, size_t n, index_sids *out);
/* The same restricted to the sorted sids in within (NULL: no restriction),
 * e.g. the series a time partition holds. */
int index_select_within(strata_index *idx, const strata_matcher *m, size_t n, const index_sids *within,
                        index_sids *out);

/* A sorted list of distinct strings lent by the index (valid for its
 * lifetime); the array itself is the caller's: free with index_strs_free. */
typedef struct index_strs {
    const char **v;
    size_t n;
} index_strs;

void index_strs_free(index_strs *s);

/* Label names of the series matched (n == 0 and within NULL: all names). */
int index_label_names(strata_index *idx, const strata_matcher *m, size_t n, const index_sids *within,
                      index_strs *out);
/* Values of label `name` over the series matched. */
int index_label_values(strata_index *idx, const char *name, const strata_matcher *m, size_t n,
                       const index_sids *within, index_strs *out);

/* One label pair and how many series of a selection hold it. */
typedef struct index_pair_count {
    const char *name, *value; /* lent by the index, valid for its lifetime */
    uint32_t name_len, value_len;
    uint64_t series;
} index_pair_count;

/* For every label pair of the index, how many of the sorted sids in within
 * hold it, pairs held by none left out, all the pairs of a name together.
 * One pass over the postings lists against a bitmap of within: memory is
 * read in order, which on a million series is what makes it fast. *out
 * (free with base_free) may be NULL when *n is 0. STRATA_ERR_NOMEM. */
int index_pair_counts(strata_index *idx, const index_sids *within, index_pair_count **out, size_t *n);

/* 1 when s[0..n) is valid UTF-8 as Go's utf8.Valid defines it (the rule
 * for new series), 0 when not. */
int index_utf8_valid(const char *s, size_t n);

/* ------------------------------------------------------------ one matcher */

/* A compiled matcher for callers that test values directly (the engine's
 * tombstones, the reference tests). */
typedef struct index_matcher index_matcher;

/* Errors: STRATA_ERR_INVALID (bad regex, syntax Go refuses such as
 * backreferences or lookaround, or NULL strings), STRATA_ERR_NOMEM. When
 * errbuf is not NULL it receives a message naming the problem. */
int index_matcher_compile(const strata_matcher *m, index_matcher **out, char *errbuf, size_t errlen);
/* 1 when value ("" for an absent label; any bytes) matches, 0 when not, a
 * negative status (STRATA_ERR_NOMEM) when it could not tell: the caller
 * must fail, never read it as either answer. One thread at a time per
 * compiled matcher. */
int index_matcher_matches(index_matcher *im, const char *value, size_t len);
void index_matcher_free(index_matcher *im);

#endif /* STRATA_INDEX_H */
