/*
 * promql_eval_files.c: runs every PromQL test script in tests/promql/
 * (*.test, the promqltest-like format of promql_testlib.h) against a fresh
 * database each. PROMQL_TEST=name runs only the scripts whose file name
 * contains name.
 */
#include <dirent.h>
#include <libgen.h>

#include "promql_testlib.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void promql_scripts_match_expected_answers(void **state)
{
    (void)state;
    char here[4096];
    snprintf(here, sizeof here, "%s", __FILE__);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/../promql", dirname(here));
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    const char *only = getenv("PROMQL_TEST");
    while ((e = readdir(d)) != NULL && n < 512) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".test") != 0)
            continue;
        if (only && !strstr(e->d_name, only))
            continue;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        failures += pt_run_file(path);
        free(names[i]);
    }
    if (failures)
        fail_msg("%d failures in the PromQL scripts (see above)", failures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(promql_scripts_match_expected_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
