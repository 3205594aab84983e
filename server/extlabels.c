/*
 * extlabels.c: external labels. See extlabels.h.
 */
#include "extlabels.h"

#include <stdlib.h>
#include <string.h>

static int name_ok(const char *s, size_t n)
{
    if (!n || (s[0] >= '0' && s[0] <= '9') || (n >= 2 && s[0] == '_' && s[1] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return 0;
    return 1;
}

int el_parse(const char *arg, strata_label *out, const char **why)
{
    const char *eq = strchr(arg, '=');
    if (!eq || !name_ok(arg, (size_t)(eq - arg))) {
        *why = "want NAME=VALUE, NAME a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)";
        return STRATA_ERR_INVALID;
    }
    if (!eq[1]) {
        *why = "the value is empty";
        return STRATA_ERR_INVALID;
    }
    char *name = strndup(arg, (size_t)(eq - arg)), *value = strdup(eq + 1);
    if (!name || !value) {
        free(name);
        free(value);
        return STRATA_ERR_NOMEM;
    }
    out->name = name;
    out->value = value;
    return STRATA_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const strata_label *)a)->name, ((const strata_label *)b)->name);
}

int el_sort(strata_label *ext, size_t n)
{
    if (n > 1)
        qsort(ext, n, sizeof *ext, by_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(ext[i - 1].name, ext[i].name))
            return STRATA_ERR_INVALID;
    return STRATA_OK;
}

size_t el_merge(const strata_label *own, size_t n, const strata_label *ext, size_t n_ext, strata_label *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < n || j < n_ext) {
        int c = i == n ? 1 : j == n_ext ? -1 : strcmp(own[i].name, ext[j].name);
        if (c <= 0) {
            if (c == 0)
                j++; /* the series' own label wins */
            out[k++] = own[i++];
        } else {
            /* own may not be sorted: an ext label it holds further on is skipped */
            int dup = 0;
            for (size_t x = 0; x < n && !dup; x++)
                dup = !strcmp(own[x].name, ext[j].name);
            if (!dup)
                out[k++] = ext[j];
            j++;
        }
    }
    return k;
}
