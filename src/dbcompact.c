/* dbcompact.c: background compaction (filled in with the compactor). */
#include "db_int.h"

int db_compact_start(strata_db *db) { (void)db; return STRATA_OK; }
void db_compact_stop(strata_db *db) { (void)db; }
void db_compact_wake(strata_db *db) { (void)db; }
int strata_compact(strata_db *db, int full) { (void)full; return db ? db_flush_all(db) : STRATA_ERR_INVALID; }
