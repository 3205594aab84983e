/*
 * server_testlib.h: what the server's unit tests share: a server (srv)
 * over a database in a temporary directory, with the limits serve.c
 * would set, and the body of a reply as a string. Tests build their
 * requests in memory and call srv_handle; nothing listens on a socket.
 */
#ifndef STRATA_TEST_SERVER_TESTLIB_H
#define STRATA_TEST_SERVER_TESTLIB_H

#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    srv s;
} fixture;

/* A fresh database under a temporary directory named for tag, no
 * compaction threads, and the server's limits (1 MiB bodies, 4 MiB
 * decoded, 256 labels of 16 KiB, a million samples a remote read). */
static inline fixture *srvt_open(const char *tag)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_tmpdir(tag);
    strata_options o;
    strata_options_init(&o);
    o.dir = f->dir;
    o.compaction_threads = 0;
    assert_int_equal(strata_open(&o, &f->s.db), STRATA_OK);
    f->s.data_dir = f->dir;
    f->s.cfg.max_body = 1 << 20;
    f->s.cfg.max_decoded = 4 << 20;
    f->s.cfg.max_labels = 256;
    f->s.cfg.max_label_len = 16384;
    f->s.cfg.max_read_samples = 1000000;
    f->s.start_ms = cli_now_ms();
    return f;
}

/* Closes the database (which must succeed) and removes the directory. */
static inline void srvt_close(fixture *f)
{
    assert_int_equal(strata_close(f->s.db), STRATA_OK);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
}

/* The reply's body as a string (the caller frees w). */
static inline const char *srvt_body(srv_resp *w)
{
    assert_int_equal(sbuf_append(&w->body, "", 1), STRATA_OK);
    w->body.len--;
    return (const char *)w->body.data;
}

#endif
