/*
 * version.c: reference-counted snapshots of what a reader sees: the
 * manifest version, the opened tables it lists and the heads.
 *
 * A table file is opened once and shared by every version that lists it
 * (table_ref); a version that drops a table (after compaction) marks it
 * obsolete, so the file is unlinked when the last version holding it goes.
 */
#include <stdio.h>

#include "engine_int.h"

void db_head_unref(db_head *h)
{
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) {
        head_free(h->h);
        base_free(h);
    }
}

static void version_free(db_version *v)
{
    for (size_t i = 0; i < v->n_tables; i++)
        table_unref(v->tables[i].t);
    base_free(v->tables);
    db_head_unref(v->active);
    for (size_t i = 0; i < v->n_frozen; i++)
        db_head_unref(v->frozen[i]);
    manifest_version_unref(v->mv);
    base_free(v);
}

db_version *db_version_pin(strata_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    db_version *v = db->cur;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&db->state_mu);
    return v;
}

void db_version_unpin(db_version *v)
{
    if (v && atomic_fetch_sub(&v->refs, 1) == 1)
        version_free(v);
}

static const db_table *find_table(const db_version *v, uint64_t file_no)
{
    if (!v)
        return NULL;
    /* versions change rarely and hold hundreds of tables at most */
    for (size_t i = 0; i < v->n_tables; i++)
        if (v->tables[i].m.file_no == file_no)
            return &v->tables[i];
    return NULL;
}

int db_version_build(strata_db *db, manifest_version *mv, const db_version *prev, db_version **out)
{
    int rc = STRATA_ERR_NOMEM;
    db_version *v = base_calloc(1, sizeof *v);
    if (!v) {
        manifest_version_unref(mv);
        return rc;
    }
    atomic_init(&v->refs, 1);
    v->mv = mv;
    size_t n = 0;
    const manifest_table *mt = manifest_version_tables(mv, &n);
    v->tables = base_calloc(n ? n : 1, sizeof *v->tables);
    if (!v->tables)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        v->tables[i].m = mt[i];
        const db_table *old = find_table(prev, mt[i].file_no);
        if (old) {
            table_ref(old->t);
            v->tables[i].t = old->t;
        } else {
            char name[32], err[400];
            table_file_name(name, sizeof name, mt[i].file_no);
            char *path = base_path_join(db->table_dir, name);
            if (!path)
                goto fail;
            rc = table_open_vfs(db->vfs, path, &db->tstats, &v->tables[i].t, err, sizeof err);
            base_free(path);
            if (rc) {
                base_logf(&db->log, STRATA_LOG_ERROR, "%s", err);
                goto fail;
            }
        }
        v->n_tables++;
    }
    *out = v;
    return STRATA_OK;
fail:
    version_free(v);
    return rc;
}

int db_version_clone(strata_db *db, const db_version *src, db_version **out)
{
    (void)db;
    manifest_version_ref(src->mv);
    db_version *v;
    int rc = db_version_build(db, src->mv, src, &v);
    if (rc)
        return rc;
    v->active = src->active;
    if (v->active)
        atomic_fetch_add(&v->active->refs, 1);
    for (size_t i = 0; i < src->n_frozen; i++) {
        v->frozen[i] = src->frozen[i];
        atomic_fetch_add(&v->frozen[i]->refs, 1);
    }
    v->n_frozen = src->n_frozen;
    *out = v;
    return STRATA_OK;
}

void db_version_install(strata_db *db, db_version *v)
{
    pthread_mutex_lock(&db->state_mu);
    db_version *old = db->cur;
    db->cur = v;
    pthread_mutex_unlock(&db->state_mu);
    if (old) {
        /* tables the new version no longer lists are obsolete: their file
         * goes when the last reader lets go */
        for (size_t i = 0; i < old->n_tables; i++)
            if (!find_table(v, old->tables[i].m.file_no))
                table_mark_obsolete(old->tables[i].t);
        db_version_unpin(old);
    }
}

int db_version_reinstall(strata_db *db, const db_version *cur, size_t drop_frozen)
{
    db_version *nv;
    int rc = db_version_build(db, manifest_current(db->man), cur, &nv);
    if (rc)
        return rc;
    nv->active = cur->active;
    atomic_fetch_add(&nv->active->refs, 1);
    for (size_t i = drop_frozen; i < cur->n_frozen; i++) {
        nv->frozen[nv->n_frozen++] = cur->frozen[i];
        atomic_fetch_add(&cur->frozen[i]->refs, 1);
    }
    db_version_install(db, nv);
    return STRATA_OK;
}
