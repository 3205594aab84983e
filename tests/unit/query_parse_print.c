/* PromQL printing: String() and Pretty() give Prometheus' text for the
 * inputs of its printer and prettier tests (promql/parser/printer_test.go,
 * prettier_test.go; their expectations, our table), and every valid input
 * of its parser tests survives parse -> print -> parse -> print unchanged. */
#include <stdio.h>
#include <stdlib.h>

#include "query/query.h"
#include "testutil.h"

typedef struct print_case {
    const char *in, *out;
} print_case;

/* String(): in parses, prints as out. */
static const print_case string_cases[] = {
    {"sum by() (task:errors:rate10s{job=\"s\"})",
     "sum(task:errors:rate10s{job=\"s\"})"},
    {"sum by(code) (task:errors:rate10s{job=\"s\"})",
     "sum by (code) (task:errors:rate10s{job=\"s\"})"},
    {"sum without() (task:errors:rate10s{job=\"s\"})",
     "sum without () (task:errors:rate10s{job=\"s\"})"},
    {"sum without(instance) (task:errors:rate10s{job=\"s\"})",
     "sum without (instance) (task:errors:rate10s{job=\"s\"})"},
    {"sum by(\"foo.bar\") (task:errors:rate10s{job=\"s\"})",
     "sum by (\"foo.bar\") (task:errors:rate10s{job=\"s\"})"},
    {"sum without(\"foo.bar\") (task:errors:rate10s{job=\"s\"})",
     "sum without (\"foo.bar\") (task:errors:rate10s{job=\"s\"})"},
    {"topk(5, task:errors:rate10s{job=\"s\"})",
     "topk(5, task:errors:rate10s{job=\"s\"})"},
    {"count_values(\"value\", task:errors:rate10s{job=\"s\"})",
     "count_values(\"value\", task:errors:rate10s{job=\"s\"})"},
    {"a - on() c",
     "a - on () c"},
    {"a - on(b) c",
     "a - on (b) c"},
    {"a - on(b) group_left(x) c",
     "a - on (b) group_left (x) c"},
    {"a - on(b) group_left(x, y) c",
     "a - on (b) group_left (x, y) c"},
    {"a - on(b) group_left c",
     "a - on (b) group_left () c"},
    {"a - on(b) group_left() (c)",
     "a - on (b) group_left () (c)"},
    {"a - ignoring(b) c",
     "a - ignoring (b) c"},
    {"a - ignoring() c",
     "a - c"},
    {"a - ignoring() group_left c",
     "a - ignoring () group_left () c"},
    {"a + fill(-23) b",
     "a + fill (-23) b"},
    {"a + fill_left(-23) b",
     "a + fill_left (-23) b"},
    {"a + fill_right(42) b",
     "a + fill_right (42) b"},
    {"a + fill_left(-23) fill_right(42) b",
     "a + fill_left (-23) fill_right (42) b"},
    {"a + fill_left(5) fill_right(5) b",
     "a + fill (5) b"},
    {"a + on(b) group_left fill(-23) c",
     "a + on (b) group_left () fill (-23) c"},
    {"up > bool 0",
     "up > bool 0"},
    {"a offset 1m",
     "a offset 1m"},
    {"a offset -7m",
     "a offset -7m"},
    {"a{c=\"d\"}[5m] offset 1m",
     "a{c=\"d\"}[5m] offset 1m"},
    {"a[5m] offset 1m",
     "a[5m] offset 1m"},
    {"a[12m] offset -3m",
     "a[12m] offset -3m"},
    {"a[1h:5m] offset 1m",
     "a[1h:5m] offset 1m"},
    {"a anchored",
     "a anchored"},
    {"a[5m] anchored",
     "a[5m] anchored"},
    {"a{b=\"c\"}[5m] anchored",
     "a{b=\"c\"}[5m] anchored"},
    {"a{b=\"c\"}[5m] anchored offset 1m",
     "a{b=\"c\"}[5m] anchored offset 1m"},
    {"a{b=\"c\"}[5m] anchored @ start() offset 1m",
     "a{b=\"c\"}[5m] anchored @ start() offset 1m"},
    {"a smoothed",
     "a smoothed"},
    {"a[5m] smoothed",
     "a[5m] smoothed"},
    {"a{b=\"c\"}[5m] smoothed",
     "a{b=\"c\"}[5m] smoothed"},
    {"a{b=\"c\"}[5m] smoothed offset 1m",
     "a{b=\"c\"}[5m] smoothed offset 1m"},
    {"a{b=\"c\"}[5m] smoothed @ start() offset 1m",
     "a{b=\"c\"}[5m] smoothed @ start() offset 1m"},
    {"{__name__=\"a\"}",
     "{__name__=\"a\"}"},
    {"a{b!=\"c\"}[1m]",
     "a{b!=\"c\"}[1m]"},
    {"a{b=~\"c\"}[1m]",
     "a{b=~\"c\"}[1m]"},
    {"a{b!~\"c\"}[1m]",
     "a{b!~\"c\"}[1m]"},
    {"a @ 10",
     "a @ 10.000"},
    {"a[1m] @ 10",
     "a[1m] @ 10.000"},
    {"a @ start()",
     "a @ start()"},
    {"a @ end()",
     "a @ end()"},
    {"a[1m] @ start()",
     "a[1m] @ start()"},
    {"a[1m] @ end()",
     "a[1m] @ end()"},
    {"{__name__=\"\",a=\"x\"}",
     "{__name__=\"\",a=\"x\"}"},
    {"{\"a.b\"=\"c\"}",
     "{\"a.b\"=\"c\"}"},
    {"{\"0\"=\"1\"}",
     "{\"0\"=\"1\"}"},
    {"{\"_0\"=\"1\"}",
     "{_0=\"1\"}"},
    {"{\"\"=\"0\"}",
     "{\"\"=\"0\"}"},
    {"{``=\"0\"}",
     "{\"\"=\"0\"}"},
    {"1048576",
     "1048576"},
    {"foo[step()]",
     "foo[step()]"},
    {"foo[-step()]",
     "foo[-step()]"},
    {"foo[(step())]",
     "foo[(step())]"},
    {"foo[-(step())]",
     "foo[-(step())]"},
    {"foo offset step()",
     "foo offset step()"},
    {"foo offset -step()",
     "foo offset -step()"},
    {"foo offset (step())",
     "foo offset (step())"},
    {"foo offset -(step())",
     "foo offset -(step())"},
    {"foo offset +(5)",
     "foo offset (5)"},
    {"foo offset -(5)",
     "foo offset -(5)"},
    {"foo offset (5)",
     "foo offset (5)"},
    {"foo offset (5m)",
     "foo offset (5m)"},
    {"foo[(5s)]",
     "foo[(5s)]"},
    {"foo[(5m):(1m)]",
     "foo[(5m):(1m)]"},
    {"foo offset +min_of(10s, 20s)",
     "foo offset min_of(10s, 20s)"},
    {"foo offset -min_of(10s, 20s)",
     "foo offset -min_of(10s, 20s)"},
    {"foo offset -min_of(10s, +max_of(step() ^ 2, 2))",
     "foo offset -min_of(10s, max_of(step() ^ 2, 2))"},
    {"foo[200-min_of(-step()^+step(),1)]",
     "foo[200 - min_of(-step() ^ step(), 1)]"},
    {"foo[200 - min_of(step() + 10s, -max_of(step() ^ 2, 3))]",
     "foo[200 - min_of(step() + 10s, -max_of(step() ^ 2, 3))]"},
    {"foo[range()]",
     "foo[range()]"},
    {"foo[-range()]",
     "foo[-range()]"},
    {"foo offset range()",
     "foo offset range()"},
    {"foo offset -range()",
     "foo offset -range()"},
    {"foo[max_of(range(), 5s)]",
     "foo[max_of(range(), 5s)]"},
    {"predict_linear(foo[1h], 3000)",
     "predict_linear(foo[1h], 3000)"},
    {"sum by(\"\303\274\303\274\303\274\") (foo)",
     "sum by (\"\303\274\303\274\303\274\") (foo)"},
    {"sum without(\"\303\244\303\244\303\244\") (foo)",
     "sum without (\"\303\244\303\244\303\244\") (foo)"},
    {"count by(\"\303\266\303\266\303\266\", job) (foo)",
     "count by (\"\303\266\303\266\303\266\", job) (foo)"},
};

/* Pretty() with Prometheus' test width of 10 columns. */
static const print_case pretty_cases[] = {
    {"sum(foo)",
     "sum(foo)"},
    {"sum by() (task:errors:rate10s{job=\"s\"})",
     "sum(\n  task:errors:rate10s{job=\"s\"}\n)"},
    {"sum without(job,foo) (task:errors:rate10s{job=\"s\"})",
     "sum without (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)"},
    {"sum(task:errors:rate10s{job=\"s\"}) without(job,foo)",
     "sum without (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)"},
    {"sum by(job,foo) (task:errors:rate10s{job=\"s\"})",
     "sum by (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)"},
    {"sum (task:errors:rate10s{job=\"s\"}) by(job,foo)",
     "sum by (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)"},
    {"topk(10, ask:errors:rate10s{job=\"s\"})",
     "topk(\n  10,\n  ask:errors:rate10s{job=\"s\"}\n)"},
    {"sum by(job,foo) (sum by(job,foo) (task:errors:rate10s{job=\"s\"}))",
     "sum by (job, foo) (\n  sum by (job, foo) (\n    task:errors:rate10s{job=\"s\"}\n  )\n)"},
    {"sum by(job,foo) (sum by(job,foo) (sum by(job,foo) (task:errors:rate10s{job=\"s\"})))",
     "sum by (job, foo) (\n  sum by (job, foo) (\n    sum by (job, foo) (\n      task:errors:rate10s{job=\"s\"}\n    )\n  )\n)"},
    {"sum by(job,foo)\n(sum by(job,foo) (task:errors:rate10s{job=\"s\"}))",
     "sum by (job, foo) (\n  sum by (job, foo) (\n    task:errors:rate10s{job=\"s\"}\n  )\n)"},
    {"sum by(job,foo)\n(sum(task:errors:rate10s{job=\"s\"}) without(job,foo))",
     "sum by (job, foo) (\n  sum without (job, foo) (\n    task:errors:rate10s{job=\"s\"}\n  )\n)"},
    {"sum by(job,foo) # Comment 1.\n(sum by(job,foo) ( # Comment 2.\ntask:errors:rate10s{job=\"s\"}))",
     "sum by (job, foo) (\n  sum by (job, foo) (\n    task:errors:rate10s{job=\"s\"}\n  )\n)"},
    {"a+b",
     "a + b"},
    {"a == bool 1",
     "  a\n== bool\n  1"},
    {"a + ignoring(job) b",
     "  a\n+ ignoring (job)\n  b"},
    {"foo_1 + foo_2",
     "  foo_1\n+\n  foo_2"},
    {"foo_1 + foo_2 + foo_3",
     "    foo_1\n  +\n    foo_2\n+\n  foo_3"},
    {"foo + baar + foo_3",
     "  foo + baar\n+\n  foo_3"},
    {"foo_1 + foo_2 + foo_3 + foo_4",
     "      foo_1\n    +\n      foo_2\n  +\n    foo_3\n+\n  foo_4"},
    {"foo_1 + ignoring(foo) foo_2 + ignoring(job) group_left foo_3 + on(instance) group_right foo_4",
     "      foo_1\n    + ignoring (foo)\n      foo_2\n  + ignoring (job) group_left ()\n    foo_3\n+ on (instance) group_right ()\n  foo_4"},
    {"rate(foo[1m])",
     "rate(\n  foo[1m]\n)"},
    {"sum_over_time(foo[1m])",
     "sum_over_time(\n  foo[1m]\n)"},
    {"rate(long_vector_selector[10m:1m] @ start() offset 1m)",
     "rate(\n  long_vector_selector[10m:1m] @ start() offset 1m\n)"},
    {"histogram_quantile(0.9, rate(foo[1m]))",
     "histogram_quantile(\n  0.9,\n  rate(\n    foo[1m]\n  )\n)"},
    {"max_over_time(rate(demo_api_request_duration_seconds_count[1m])[1m:] @ start() offset 1m)",
     "max_over_time(\n  rate(\n    demo_api_request_duration_seconds_count[1m]\n  )[1m:] @ start() offset 1m\n)"},
    {"label_replace(up{job=\"api-server\",service=\"a:c\"}, \"foo\", \"$1\", \"service\", \"(.*):.*\")",
     "label_replace(\n  up{job=\"api-server\",service=\"a:c\"},\n  \"foo\",\n  \"$1\",\n  \"service\",\n  \"(.*):.*\"\n)"},
    {"label_replace(label_replace(up{job=\"api-server\",service=\"a:c\"}, \"foo\", \"$1\", \"service\", \"(.*):.*\"), \"foo\", \"$1\", \"service\", \"(.*):.*\")",
     "label_replace(\n  label_replace(\n    up{job=\"api-server\",service=\"a:c\"},\n    \"foo\",\n    \"$1\",\n    \"service\",\n    \"(.*):.*\"\n  ),\n  \"foo\",\n  \"$1\",\n  \"service\",\n  \"(.*):.*\"\n)"},
    {"(foo)",
     "(foo)"},
    {"(_foo_long_)",
     "(\n  _foo_long_\n)"},
    {"((foo_long))",
     "(\n  (foo_long)\n)"},
    {"((_foo_long_))",
     "(\n  (\n    _foo_long_\n  )\n)"},
    {"(((foo_long)))",
     "(\n  (\n    (foo_long)\n  )\n)"},
    {"a @ 1",
     "a @ 1.000"},
    {"a @ start()",
     "a @ start()"},
    {"vector_selector @ start()",
     "vector_selector @ start()"},
    {"(1 + 2)",
     "(1 + 2)"},
    {"(foo + bar)",
     "(\n  foo + bar\n)"},
    {"(foo_long + bar_long)",
     "(\n    foo_long\n  +\n    bar_long\n)"},
    {"(foo_long + bar_long + bar_2_long)",
     "(\n      foo_long\n    +\n      bar_long\n  +\n    bar_2_long\n)"},
    {"((foo_long + bar_long) + bar_2_long)",
     "(\n    (\n        foo_long\n      +\n        bar_long\n    )\n  +\n    bar_2_long\n)"},
    {"(1111 + 2222)",
     "(\n    1111\n  +\n    2222\n)"},
    {"(sum_over_time(foo[1m]))",
     "(\n  sum_over_time(\n    foo[1m]\n  )\n)"},
    {"histogram_quantile(0.9, rate(foo[1m] @ start()))",
     "histogram_quantile(\n  0.9,\n  rate(\n    foo[1m] @ start()\n  )\n)"},
    {"(label_replace(up{job=\"api-server\",service=\"a:c\"}, \"foo\", \"$1\", \"service\", \"(.*):.*\"))",
     "(\n  label_replace(\n    up{job=\"api-server\",service=\"a:c\"},\n    \"foo\",\n    \"$1\",\n    \"service\",\n    \"(.*):.*\"\n  )\n)"},
    {"(label_replace(label_replace(up{job=\"api-server\",service=\"a:c\"}, \"foo\", \"$1\", \"service\", \"(.*):.*\"), \"foo\", \"$1\", \"service\", \"(.*):.*\"))",
     "(\n  label_replace(\n    label_replace(\n      up{job=\"api-server\",service=\"a:c\"},\n      \"foo\",\n      \"$1\",\n      \"service\",\n      \"(.*):.*\"\n    ),\n    \"foo\",\n    \"$1\",\n    \"service\",\n    \"(.*):.*\"\n  )\n)"},
    {"(label_replace(label_replace((up{job=\"api-server\",service=\"a:c\"}), \"foo\", \"$1\", \"service\", \"(.*):.*\"), \"foo\", \"$1\", \"service\", \"(.*):.*\"))",
     "(\n  label_replace(\n    label_replace(\n      (\n        up{job=\"api-server\",service=\"a:c\"}\n      ),\n      \"foo\",\n      \"$1\",\n      \"service\",\n      \"(.*):.*\"\n    ),\n    \"foo\",\n    \"$1\",\n    \"service\",\n    \"(.*):.*\"\n  )\n)"},
    {"(node_filesystem_avail_bytes{job=\"node\",fstype!=\"\"} / node_filesystem_size_bytes{job=\"node\",fstype!=\"\"} * 100 < 40 and predict_linear(node_filesystem_avail_bytes{job=\"node\",fstype!=\"\"}[6h], 24*60*60) < 0 and node_filesystem_readonly{job=\"node\",fstype!=\"\"} == 0)",
     "(\n            node_filesystem_avail_bytes{fstype!=\"\",job=\"node\"}\n          /\n            node_filesystem_size_bytes{fstype!=\"\",job=\"node\"}\n        *\n          100\n      <\n        40\n    and\n        predict_linear(\n          node_filesystem_avail_bytes{fstype!=\"\",job=\"node\"}[6h],\n            24 * 60\n          *\n            60\n        )\n      <\n        0\n  and\n      node_filesystem_readonly{fstype!=\"\",job=\"node\"}\n    ==\n      0\n)"},
    {"(node_filesystem_avail_bytes{job=\"node\",fstype!=\"\"} / node_filesystem_size_bytes{job=\"node\",fstype!=\"\"} * 100 < 20 and predict_linear(node_filesystem_avail_bytes{job=\"node\",fstype!=\"\"}[6h], 4*60*60) < 0 and node_filesystem_readonly{job=\"node\",fstype!=\"\"} == 0)",
     "(\n            node_filesystem_avail_bytes{fstype!=\"\",job=\"node\"}\n          /\n            node_filesystem_size_bytes{fstype!=\"\",job=\"node\"}\n        *\n          100\n      <\n        20\n    and\n        predict_linear(\n          node_filesystem_avail_bytes{fstype!=\"\",job=\"node\"}[6h],\n            4 * 60\n          *\n            60\n        )\n      <\n        0\n  and\n      node_filesystem_readonly{fstype!=\"\",job=\"node\"}\n    ==\n      0\n)"},
    {"(node_timex_offset_seconds > 0.05 and deriv(node_timex_offset_seconds[5m]) >= 0) or (node_timex_offset_seconds < -0.05 and deriv(node_timex_offset_seconds[5m]) <= 0)",
     "  (\n        node_timex_offset_seconds\n      >\n        0.05\n    and\n        deriv(\n          node_timex_offset_seconds[5m]\n        )\n      >=\n        0\n  )\nor\n  (\n        node_timex_offset_seconds\n      <\n        -0.05\n    and\n        deriv(\n          node_timex_offset_seconds[5m]\n        )\n      <=\n        0\n  )"},
    {"1 - ((node_memory_MemAvailable_bytes{job=\"node\"} or (node_memory_Buffers_bytes{job=\"node\"} + node_memory_Cached_bytes{job=\"node\"} + node_memory_MemFree_bytes{job=\"node\"} + node_memory_Slab_bytes{job=\"node\"}) ) / node_memory_MemTotal_bytes{job=\"node\"})",
     "  1\n-\n  (\n      (\n          node_memory_MemAvailable_bytes{job=\"node\"}\n        or\n          (\n                  node_memory_Buffers_bytes{job=\"node\"}\n                +\n                  node_memory_Cached_bytes{job=\"node\"}\n              +\n                node_memory_MemFree_bytes{job=\"node\"}\n            +\n              node_memory_Slab_bytes{job=\"node\"}\n          )\n      )\n    /\n      node_memory_MemTotal_bytes{job=\"node\"}\n  )"},
    {"min by (job, integration) (rate(alertmanager_notifications_failed_total{job=\"alertmanager\", integration=~\".*\"}[5m]) / rate(alertmanager_notifications_total{job=\"alertmanager\", integration=\"~.*\"}[5m])) > 0.01",
     "  min by (job, integration) (\n      rate(\n        alertmanager_notifications_failed_total{integration=~\".*\",job=\"alertmanager\"}[5m]\n      )\n    /\n      rate(\n        alertmanager_notifications_total{integration=\"~.*\",job=\"alertmanager\"}[5m]\n      )\n  )\n>\n  0.01"},
    {"(count by (job) (changes(process_start_time_seconds{job=\"alertmanager\"}[10m]) > 4) / count by (job) (up{job=\"alertmanager\"})) >= 0.5",
     "  (\n      count by (job) (\n          changes(\n            process_start_time_seconds{job=\"alertmanager\"}[10m]\n          )\n        >\n          4\n      )\n    /\n      count by (job) (\n        up{job=\"alertmanager\"}\n      )\n  )\n>=\n  0.5"},
    {"-1",
     "-1"},
    {"-vector_selector",
     "-vector_selector"},
    {"(-vector_selector)",
     "(\n  -vector_selector\n)"},
    {"-histogram_quantile(0.9,rate(foo[1m]))",
     "-histogram_quantile(\n  0.9,\n  rate(\n    foo[1m]\n  )\n)"},
    {"-histogram_quantile(0.99, sum by (le) (rate(foo[1m])))",
     "-histogram_quantile(\n  0.99,\n  sum by (le) (\n    rate(\n      foo[1m]\n    )\n  )\n)"},
    {"-histogram_quantile(0.9, -rate(foo[1m] @ start()))",
     "-histogram_quantile(\n  0.9,\n  -rate(\n    foo[1m] @ start()\n  )\n)"},
    {"(-histogram_quantile(0.9, -rate(foo[1m] @ start())))",
     "(\n  -histogram_quantile(\n    0.9,\n    -rate(\n      foo[1m] @ start()\n    )\n  )\n)"},
    {"rate(foo[2*1h])",
     "rate(\n  foo[2 * 1h]\n)"},
    {"rate(foo[2*1h])",
     "rate(\n  foo[2 * 1h]\n)"},
    {"rate(foo[-5m+35m])",
     "rate(\n  foo[-5m + 35m]\n)"},
};

/* Valid expressions of Prometheus' parser tests. */
static const char *valid_inputs[] = {
    "1",
    "+Inf",
    "-Inf",
    ".5",
    "5.",
    "123.4567",
    "5e-3",
    "5e3",
    "0xc",
    "0755",
    "+5.5e-3",
    "-0755",
    "1 + 1",
    "1 - 1",
    "1 * 1",
    "1 % 1",
    "1 / 1",
    "1 == bool 1",
    "1 != bool 1",
    "1 > bool 1",
    "1 >= bool 1",
    "1 < bool 1",
    "1 <= bool 1",
    "-1^2",
    "-1*2",
    "-1+2",
    "-1^-2",
    "+1 + -2 * 1",
    "1 + 2/(3*1)",
    "1 < bool 2 - 1 * 2",
    "-some_metric",
    "+some_metric",
    " +some_metric",
    " +{\"some_metric\"}",
    "offset{step=\"1s\"}[5m]",
    "step{offset=\"1s\"}[5m]",
    "anchored{job=\"test\"}",
    "smoothed{job=\"test\"}",
    "foo * bar",
    "foo * sum",
    "foo == 1",
    "foo == bool 1",
    "2.5 / bar",
    "foo and bar",
    "foo or bar",
    "foo unless bar",
    "foo * on(test,blub) bar",
    "foo * on(test,blub) group_left bar",
    "foo and on(test,blub) bar",
    "foo and on() bar",
    "foo and ignoring(test,blub) bar",
    "foo and ignoring() bar",
    "foo unless on(bar) baz",
    "foo / on(test,blub) group_left(bar) bar",
    "foo / ignoring(test,blub) group_left(blub) bar",
    "foo / ignoring(test,blub) group_left(bar) bar",
    "foo - on(test,blub) group_right(bar,foo) bar",
    "foo - ignoring(test,blub) group_right(bar,foo) bar",
    "foo",
    "min",
    "foo offset 5m",
    "foo offset -7m",
    "foo offset +(5)",
    "foo offset -(5)",
    "foo offset (5)",
    "foo[(5s)]",
    "foo OFFSET 1h30m",
    "foo OFFSET 1m30ms",
    "foo @ 1603774568",
    "foo @ -100",
    "foo @ .3",
    "foo @ 3.",
    "foo @ 3.33",
    "foo @ 3e2",
    "foo @ 3e-1",
    "foo @ 0xA",
    "foo @ -3.3e1",
    "foo:bar{a=\"bc\"}",
    "{\"foo\"}",
    "{'foo\\'bar', 'a\\\\dos\\\\path'='boo\\\\urns'}",
    "{\"foo\", a=\"bc\"}",
    "foo{NaN='bc'}",
    "foo{bar='}'}",
    "foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\"}",
    "foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\",}",
    "test[1000ms]",
    "test[1001ms]",
    "test[1002ms]",
    "test[5s]",
    "test[5m]",
    "foo[5m30s]",
    "test[5h] OFFSET 5m",
    "test[5d] OFFSET 10s",
    "test[5w] offset 2w",
    "test{a=\"b\"}[5y] OFFSET 3d",
    "test{a=\"b\"}[5m] OFFSET 3600",
    "foo[3ms] @ 2.345",
    "foo[4s180ms] @ 2.345",
    "foo[4.18] @ 2.345",
    "foo[4s18ms] @ 2.345",
    "foo[4.018] @ 2.345",
    "test{a=\"b\"}[5y] @ 1603774699",
    "test[5]",
    "some_metric[5m] @ 1m",
    "sum by (foo)(some_metric)",
    "sum by (anchored)(some_metric)",
    "sum by (smoothed)(some_metric)",
    "sum by (\"foo bar\")({\"some.metric\"})",
    "sum by (\"foo\", bar, 'baz')({\"some.metric\"})",
    "avg by (foo)(some_metric)",
    "max by (foo)(some_metric)",
    "sum without (foo) (some_metric)",
    "sum (some_metric) without (foo)",
    "stddev(some_metric)",
    "stdvar by (foo)(some_metric)",
    "sum by ()(some_metric)",
    "sum by (foo,bar,)(some_metric)",
    "sum by (foo,)(some_metric)",
    "topk(5, some_metric)",
    "count_values(\"value\", some_metric)",
    "time()",
    "floor(some_metric{foo!=\"bar\"})",
    "rate(some_metric[5m])",
    "round(some_metric)",
    "round(some_metric, 5)",
    "sum(sum)",
    "a + sum",
    "\"double-quoted string \\\" with escaped quote\"",
    "'single-quoted string \\' with escaped quote'",
    "`backtick-quoted string`",
    "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - \\xFF\\377\\u1234\\U00010111\\U0001011111\342\230\272\"",
    "'\\a\\b\\f\\n\\r\\t\\v\\\\\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111\342\230\272'",
    "foo{bar=\"baz\"}[10m:6s]",
    "foo{bar=\"baz\"}[10m5s:1h6ms]",
    "foo[10m:]",
    "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:5s])",
    "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:])[4m:3s]",
    "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]",
    "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ 1603775091)[4m:3s]",
    "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509)[4m:3s]",
    "sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]",
    "some_metric OFFSET 1m [10m:5s]",
    "some_metric @ 123 [10m:5s]",
    "some_metric @ 123 offset 1m [10m:5s]",
    "some_metric offset 1m @ 123 [10m:5s]",
    "some_metric[10m:5s] offset 1m @ 123",
    "(foo + bar{nm=\"val\"})[5m:]",
    "(foo + bar{nm=\"val\"})[5m:] offset 10m",
    "(foo + bar{nm=\"val\"} @ 1234)[5m:] @ 1603775019",
    "foo @ start()",
    "foo @ end()",
    "test[5y] @ start()",
    "test[5y] @ end()",
    "foo[10m:6s] @ start()",
    "foo[10m:6s] @ end()",
    "start()",
    "end()",
    "start",
    "end",
    "start{end=\"foo\"}",
    "end{start=\"foo\"}",
    "foo unless on(start) bar",
    "foo unless on(end) bar",
    "info(rate(http_request_counter_total{}[5m]))",
    "info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\", bar=\"baz\"})",
    "foo[11s+10s-5*2^2]",
    "foo[-(10s-5s)+20s]",
    "foo[-10s+15s]",
    "foo[step()]",
    "foo[  -  step  (  )  ]",
    "foo[   step  (  )  ]",
    "foo[-step()]",
    "foo offset step()",
    "foo offset -step()",
    "foo[max_of(step(),5s)]",
    "foo offset max_of(step(),5s)",
    "foo offset -min_of(5s,step()+8s)",
    "foo[range()]",
    "foo[2m/range()]",
    "foo[-range()]",
    "foo offset range()",
    "foo offset -range()",
    "foo[max_of(range(),5s)]",
    "foo[4s+4s:1s*2] offset (5s-8)",
    "foo offset 5s-8",
    "rate(foo[2m+2m])",
    "foo offset -1^1",
    "foo offset -(1^2)",
    "foo offset (-1^2)",
    "foo[-2^2]",
    "foo[0+-2^2]",
    "(sum(foo))",
    "(sum(foo) )",
    "(sum(foo) by (bar))",
    "(sum by (bar) (foo))",
    "sum by (job)(rate(http_requests_total[30m]))",
};

typedef int (*printer_fn)(const query_node *, bbuf *);

static int pretty10(const query_node *n, bbuf *b) { return query_pretty_width(n, 10, b); }

/* Parses text and prints it with fn into a new string (NULL, with the
 * parse error printed, when it does not parse). */
static char *reprint(const char *text, printer_fn fn)
{
    query_ast *ast;
    query_error err;
    if (query_parse(text, strlen(text), QUERY_START_EXPR, &ast, &err) != STRATA_OK) {
        printf("  %s: %s\n", text, err.msg);
        return NULL;
    }
    bbuf b = {0};
    if (fn(ast->root, &b) != STRATA_OK || base_buf_put_u8(&b, 0) != STRATA_OK)
        fail_msg("out of memory printing %s", text);
    query_ast_free(ast);
    return (char *)b.data;
}

static int run_cases(const print_case *cases, size_t n, printer_fn fn)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *got = reprint(cases[i].in, fn);
        if (!got || strcmp(got, cases[i].out) != 0) {
            printf("  %s\n    got  %s\n    want %s\n", cases[i].in, got ? got : "(error)", cases[i].out);
            bad++;
        }
        base_free(got);
    }
    return bad;
}

static void print_writes_prometheus_string_form(void **state)
{
    (void)state;
    int bad = run_cases(string_cases, sizeof string_cases / sizeof string_cases[0], query_print);
    if (bad)
        fail_msg("%d String() cases differ", bad);
}

static void pretty_writes_prometheus_format_query_form(void **state)
{
    (void)state;
    int bad = run_cases(pretty_cases, sizeof pretty_cases / sizeof pretty_cases[0], pretty10);
    if (bad)
        fail_msg("%d Pretty() cases differ", bad);
}

static void pretty_keeps_short_queries_on_one_line_at_width_100(void **state)
{
    (void)state;
    char *s = reprint("sum  by(job)(rate(x[5m]))", query_pretty);
    assert_string_equal(s, "sum by (job) (rate(x[5m]))");
    base_free(s);
    const char *longq = "sum by (instance) (rate(node_cpu_seconds_total{mode=\"idle\",instance=~\"host-.*\"}[5m])) / "
                        "count by (instance) (node_cpu_seconds_total{mode=\"idle\"})";
    s = reprint(longq, query_pretty);
    /* split at the operator only: each side fits in 100 columns */
    assert_string_equal(s, "  sum by (instance) (rate(node_cpu_seconds_total{instance=~\"host-.*\",mode=\"idle\"}[5m]))\n"
                           "/\n"
                           "  count by (instance) (node_cpu_seconds_total{mode=\"idle\"})");
    base_free(s);
}

static void infinity_and_long_durations_round_trip(void **state)
{
    (void)state;
    /* Prometheus prints +Inf as "+Inf", which as the base of ^ would read
     * back as +(Inf ^ 2) and grow a "+" on every round (found by fuzzing). */
    const char *in[] = {"Inf ^ 2",         "--1^-Inf^-2",         "x > +Inf",  "-Inf ^ 2",
                        "2343331667250ms", "-1y2w3d500ms",        "x @ -0.5",  "x @ 9007199254740.993",
                        "x @ 1.5e3"};
    const char *want[] = {"Inf ^ 2",
                          "--1 ^ -Inf ^ -2",
                          "x > +Inf",
                          "-Inf ^ 2",
                          "27121d21h27m47s250ms",
                          "-382d500ms",
                          "x @ -0.500",
                          "x @ 9007199254740.993",
                          "x @ 1500.000"};
    /* ... and a duration whose seconds times 1e9 falls a hair short in
     * float64 is still its milliseconds (Prometheus would drift by 1 ms) */
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *once = reprint(in[i], query_print);
        char *twice = reprint(once, query_print);
        assert_string_equal(once, want[i]);
        assert_string_equal(twice, want[i]);
        base_free(once);
        base_free(twice);
    }
}

static void valid_inputs_round_trip_through_print(void **state)
{
    (void)state;
    int bad = 0;
    printer_fn fns[] = {query_print, query_pretty, pretty10};
    for (size_t f = 0; f < 3; f++)
        for (size_t i = 0; i < sizeof valid_inputs / sizeof valid_inputs[0]; i++) {
            char *once = reprint(valid_inputs[i], fns[f]);
            char *twice = once ? reprint(once, fns[f]) : NULL;
            if (!once || !twice || strcmp(once, twice) != 0) {
                printf("  [%zu] %s\n    once  %s\n    twice %s\n", f, valid_inputs[i], once ? once : "(error)",
                       twice ? twice : "(error)");
                bad++;
            }
            base_free(once);
            base_free(twice);
        }
    if (bad)
        fail_msg("%d inputs do not round-trip", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(print_writes_prometheus_string_form),
        cmocka_unit_test(pretty_writes_prometheus_format_query_form),
        cmocka_unit_test(pretty_keeps_short_queries_on_one_line_at_width_100),
        cmocka_unit_test(infinity_and_long_durations_round_trip),
        cmocka_unit_test(valid_inputs_round_trip_through_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
