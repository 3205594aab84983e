/* sidset.c: a set of sids, for commands and handlers that merge several
 * selectors and must print each series once. */
#include <stdlib.h>

#include "cli.h"

int cli_sid_set_add(cli_sid_set *s, strata_sid sid)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        strata_sid *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            size_t h = (size_t)(s->slot[i] * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (slot[h])
                h = (h + 1) & (cap - 1);
            slot[h] = s->slot[i];
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t h = (size_t)(sid * 0x9e3779b97f4a7c15ull) & (s->cap - 1);
    while (s->slot[h]) {
        if (s->slot[h] == sid)
            return 0;
        h = (h + 1) & (s->cap - 1);
    }
    s->slot[h] = sid;
    s->n++;
    return 1;
}

void cli_sid_set_free(cli_sid_set *s)
{
    free(s->slot);
    s->slot = NULL;
    s->cap = s->n = 0;
}
