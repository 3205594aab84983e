/* fuzz_selector.c: the PromQL selector parser on any text, and the
 * matchers it yields run against a small fixed index. A parse that
 * succeeds must give at least one matcher rejecting "", with non-NULL
 * strings; select must not fail on a parsed selector and must return
 * sorted sids of the index. */
#include <stdio.h>
#include <stdlib.h>

#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

static strata_index *fixed(void)
{
    static strata_index *idx;
    if (idx)
        return idx;
    if (index_open(NULL, NULL, &idx) != STRATA_OK)
        abort();
    static const char *vals[] = {"a", "b", "foo", "foo.bar", "x\ny", "\xc3\xa9", "1", "", "a|b", "\xff"};
    for (int i = 0; i < 200; i++) {
        strata_label l[] = {{"__name__", vals[i % 10]}, {"job", vals[(i / 10) % 10]}, {"le", vals[(i / 3) % 10]},
                            {"x", i % 7 ? "" : "seven"}};
        strata_sid sid;
        int rc = index_get_or_create(idx, l, 4, &sid, NULL);
        if (rc != STRATA_OK && rc != STRATA_ERR_INVALID)
            abort();
    }
    return idx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    strata_selector sel;
    char err[128];
    int rc = strata_selector_parse(text, &sel, err, sizeof err);
    if (rc == STRATA_OK) {
        if (sel.n_matchers == 0 || sel.range_ms < 0)
            abort();
        int nonempty = 0;
        for (size_t i = 0; i < sel.n_matchers; i++) {
            index_matcher *im;
            if (!sel.matchers[i].name || !sel.matchers[i].value ||
                index_matcher_compile(&sel.matchers[i], &im, NULL, 0) != STRATA_OK)
                abort();
            int r = index_matcher_matches(im, "", 0);
            if (r < 0) /* an error is never an answer */
                abort();
            nonempty |= !r;
            index_matcher_free(im);
        }
        if (!nonempty)
            abort();
        index_sids s = {0};
        strata_index *idx = fixed();
        if (index_select(idx, sel.matchers, sel.n_matchers, &s) != STRATA_OK)
            abort();
        for (size_t i = 0; i < s.n; i++)
            if (s.v[i] == 0 || s.v[i] > index_max_sid(idx) || (i && s.v[i] <= s.v[i - 1]))
                abort();
        index_sids_free(&s);
        strata_selector_free(&sel);
    } else if (rc != STRATA_ERR_INVALID || strncmp(err, "", 1) == 0 || !strstr(err, "parse error")) {
        abort(); /* every rejection explains itself with a position */
    }
    free(text);
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    static const char *seeds[] = {
        "up",
        "cpu_usage_user{hostname=\"host_1\",region=~\"eu-.*\",x!=\"y\",z!~\"a|b\"}[5m]",
        "{__name__=~\"foo|bar\", job!=\"\"}",
        "{job=~'a|b|', le=`1\\.5`, x=~\".+\"}[1h30m]",
        "m{a=\"\\u00e9\\x41\\101\\n\",}",
        "{\"foo.bar\", \"my.label\"!~\"(?i)X.*\"}",
        "foo[1y2w3d4h5m6s7ms]",
        "{le=~\"[0-9]+(\\\\.[0-9]*)?\"}",
    };
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        n = cap;
    memcpy(out, seeds[i], n);
    return n;
}
