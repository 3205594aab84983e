/*
 * ui_assets.h: the web UI's files as compiled into the binary. The table
 * is generated at build time by ui/embed.py from the committed bundle in
 * ui/dist (see CMakeLists.txt) into ui_assets.c in the build tree; h_ui.c
 * serves it.
 */
#ifndef STRATA_SERVER_UI_ASSETS_H
#define STRATA_SERVER_UI_ASSETS_H

#include <stddef.h>

/* One file of the bundle. path is the URL path ("/" for index.html,
 * "/assets/app-HASH.js" for the rest); gz is the same bytes gzipped at
 * build time (NULL when gzip does not make it smaller); etag is a quoted
 * hash of data; immutable says the name carries the content's hash, so
 * it may be cached for ever. */
typedef struct ui_asset {
    const char *path;
    const char *ctype;
    const unsigned char *data;
    size_t len;
    const unsigned char *gz;
    size_t gz_len;
    const char *etag;
    int immutable;
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_n_assets;

#endif
