/*
 * builtins.c: the PromQL function table (Prometheus' promql/parser/
 * functions.go): name, argument types, how many arguments may repeat or be
 * left out, return type; and the names of operators, aggregations and
 * value types used in messages and by the printers.
 *
 * The table is in the order of query_func_id, so an id indexes it.
 * holt_winters, which Prometheus 3 renamed double_exponential_smoothing,
 * is kept under its old name too so that 2.x dashboards parse.
 */
#include "parse_int.h"

#define S QUERY_TYPE_SCALAR
#define V QUERY_TYPE_VECTOR
#define M QUERY_TYPE_MATRIX
#define STR QUERY_TYPE_STRING

/* Argument type lists, one per function, in table order. */
static const query_type args_abs[] = {V};
static const query_type args_absent[] = {V};
static const query_type args_absent_over_time[] = {M};
static const query_type args_acos[] = {V};
static const query_type args_acosh[] = {V};
static const query_type args_asin[] = {V};
static const query_type args_asinh[] = {V};
static const query_type args_atan[] = {V};
static const query_type args_atanh[] = {V};
static const query_type args_avg_over_time[] = {M};
static const query_type args_ceil[] = {V};
static const query_type args_changes[] = {M};
static const query_type args_clamp[] = {V, S, S};
static const query_type args_clamp_max[] = {V, S};
static const query_type args_clamp_min[] = {V, S};
static const query_type args_cos[] = {V};
static const query_type args_cosh[] = {V};
static const query_type args_count_over_time[] = {M};
static const query_type args_days_in_month[] = {V};
static const query_type args_day_of_month[] = {V};
static const query_type args_day_of_week[] = {V};
static const query_type args_day_of_year[] = {V};
static const query_type args_deg[] = {V};
static const query_type args_delta[] = {M};
static const query_type args_deriv[] = {M};
static const query_type args_double_exponential_smoothing[] = {M, S, S};
static const query_type args_exp[] = {V};
static const query_type args_first_over_time[] = {M};
static const query_type args_floor[] = {V};
static const query_type args_histogram_avg[] = {V};
static const query_type args_histogram_count[] = {V};
static const query_type args_histogram_fraction[] = {S, S, V};
static const query_type args_histogram_quantile[] = {S, V};
static const query_type args_histogram_stddev[] = {V};
static const query_type args_histogram_stdvar[] = {V};
static const query_type args_histogram_quantiles[] = {V, STR, S, S};
static const query_type args_histogram_sum[] = {V};
static const query_type args_holt_winters[] = {M, S, S};
static const query_type args_hour[] = {V};
static const query_type args_idelta[] = {M};
static const query_type args_increase[] = {M};
static const query_type args_info[] = {V, V};
static const query_type args_irate[] = {M};
static const query_type args_label_join[] = {V, STR, STR, STR};
static const query_type args_label_replace[] = {V, STR, STR, STR, STR};
static const query_type args_last_over_time[] = {M};
static const query_type args_min_of[] = {S, S};
static const query_type args_max_of[] = {S, S};
static const query_type args_ln[] = {V};
static const query_type args_log10[] = {V};
static const query_type args_log2[] = {V};
static const query_type args_mad_over_time[] = {M};
static const query_type args_max_over_time[] = {M};
static const query_type args_min_over_time[] = {M};
static const query_type args_minute[] = {V};
static const query_type args_month[] = {V};
static const query_type args_predict_linear[] = {M, S};
static const query_type args_present_over_time[] = {M};
static const query_type args_quantile_over_time[] = {S, M};
static const query_type args_rad[] = {V};
static const query_type args_rate[] = {M};
static const query_type args_resets[] = {M};
static const query_type args_round[] = {V, S};
static const query_type args_scalar[] = {V};
static const query_type args_sgn[] = {V};
static const query_type args_sin[] = {V};
static const query_type args_sinh[] = {V};
static const query_type args_sort[] = {V};
static const query_type args_sort_by_label[] = {V, STR};
static const query_type args_sort_by_label_desc[] = {V, STR};
static const query_type args_sort_desc[] = {V};
static const query_type args_sqrt[] = {V};
static const query_type args_start_timestamp[] = {V};
static const query_type args_stddev_over_time[] = {M};
static const query_type args_stdvar_over_time[] = {M};
static const query_type args_sum_over_time[] = {M};
static const query_type args_tan[] = {V};
static const query_type args_tanh[] = {V};
static const query_type args_timestamp[] = {V};
static const query_type args_ts_of_first_over_time[] = {M};
static const query_type args_ts_of_last_over_time[] = {M};
static const query_type args_ts_of_max_over_time[] = {M};
static const query_type args_ts_of_min_over_time[] = {M};
static const query_type args_vector[] = {S};
static const query_type args_year[] = {V};

static const query_func funcs[QUERY_FN_COUNT_] = {
    {QUERY_FN_ABS, "abs", args_abs, 1, 0, V, false, false},
    {QUERY_FN_ABSENT, "absent", args_absent, 1, 0, V, false, false},
    {QUERY_FN_ABSENT_OVER_TIME, "absent_over_time", args_absent_over_time, 1, 0, V, false, false},
    {QUERY_FN_ACOS, "acos", args_acos, 1, 0, V, false, false},
    {QUERY_FN_ACOSH, "acosh", args_acosh, 1, 0, V, false, false},
    {QUERY_FN_ASIN, "asin", args_asin, 1, 0, V, false, false},
    {QUERY_FN_ASINH, "asinh", args_asinh, 1, 0, V, false, false},
    {QUERY_FN_ATAN, "atan", args_atan, 1, 0, V, false, false},
    {QUERY_FN_ATANH, "atanh", args_atanh, 1, 0, V, false, false},
    {QUERY_FN_AVG_OVER_TIME, "avg_over_time", args_avg_over_time, 1, 0, V, false, false},
    {QUERY_FN_CEIL, "ceil", args_ceil, 1, 0, V, false, false},
    {QUERY_FN_CHANGES, "changes", args_changes, 1, 0, V, false, false},
    {QUERY_FN_CLAMP, "clamp", args_clamp, 3, 0, V, false, false},
    {QUERY_FN_CLAMP_MAX, "clamp_max", args_clamp_max, 2, 0, V, false, false},
    {QUERY_FN_CLAMP_MIN, "clamp_min", args_clamp_min, 2, 0, V, false, false},
    {QUERY_FN_COS, "cos", args_cos, 1, 0, V, false, false},
    {QUERY_FN_COSH, "cosh", args_cosh, 1, 0, V, false, false},
    {QUERY_FN_COUNT_OVER_TIME, "count_over_time", args_count_over_time, 1, 0, V, false, false},
    {QUERY_FN_DAYS_IN_MONTH, "days_in_month", args_days_in_month, 1, 1, V, false, false},
    {QUERY_FN_DAY_OF_MONTH, "day_of_month", args_day_of_month, 1, 1, V, false, false},
    {QUERY_FN_DAY_OF_WEEK, "day_of_week", args_day_of_week, 1, 1, V, false, false},
    {QUERY_FN_DAY_OF_YEAR, "day_of_year", args_day_of_year, 1, 1, V, false, false},
    {QUERY_FN_DEG, "deg", args_deg, 1, 0, V, false, false},
    {QUERY_FN_END, "end", NULL, 0, 0, S, true, false},
    {QUERY_FN_DELTA, "delta", args_delta, 1, 0, V, false, false},
    {QUERY_FN_DERIV, "deriv", args_deriv, 1, 0, V, false, false},
    {QUERY_FN_DOUBLE_EXPONENTIAL_SMOOTHING, "double_exponential_smoothing", args_double_exponential_smoothing, 3, 0, V,
     true, false},
    {QUERY_FN_EXP, "exp", args_exp, 1, 0, V, false, false},
    {QUERY_FN_FIRST_OVER_TIME, "first_over_time", args_first_over_time, 1, 0, V, false, false},
    {QUERY_FN_FLOOR, "floor", args_floor, 1, 0, V, false, false},
    {QUERY_FN_HISTOGRAM_AVG, "histogram_avg", args_histogram_avg, 1, 0, V, false, true},
    {QUERY_FN_HISTOGRAM_COUNT, "histogram_count", args_histogram_count, 1, 0, V, false, true},
    {QUERY_FN_HISTOGRAM_FRACTION, "histogram_fraction", args_histogram_fraction, 3, 0, V, false, true},
    {QUERY_FN_HISTOGRAM_QUANTILE, "histogram_quantile", args_histogram_quantile, 2, 0, V, false, true},
    {QUERY_FN_HISTOGRAM_STDDEV, "histogram_stddev", args_histogram_stddev, 1, 0, V, false, true},
    {QUERY_FN_HISTOGRAM_STDVAR, "histogram_stdvar", args_histogram_stdvar, 1, 0, V, false, true},
    {QUERY_FN_HISTOGRAM_QUANTILES, "histogram_quantiles", args_histogram_quantiles, 4, 9, V, true, true},
    {QUERY_FN_HISTOGRAM_SUM, "histogram_sum", args_histogram_sum, 1, 0, V, false, true},
    {QUERY_FN_HOLT_WINTERS, "holt_winters", args_holt_winters, 3, 0, V, false, false},
    {QUERY_FN_HOUR, "hour", args_hour, 1, 1, V, false, false},
    {QUERY_FN_IDELTA, "idelta", args_idelta, 1, 0, V, false, false},
    {QUERY_FN_INCREASE, "increase", args_increase, 1, 0, V, false, false},
    {QUERY_FN_INFO, "info", args_info, 2, 1, V, true, false},
    {QUERY_FN_IRATE, "irate", args_irate, 1, 0, V, false, false},
    {QUERY_FN_LABEL_JOIN, "label_join", args_label_join, 4, -1, V, false, false},
    {QUERY_FN_LABEL_REPLACE, "label_replace", args_label_replace, 5, 0, V, false, false},
    {QUERY_FN_LAST_OVER_TIME, "last_over_time", args_last_over_time, 1, 0, V, false, false},
    {QUERY_FN_MIN_OF, "min_of", args_min_of, 2, 0, S, true, false},
    {QUERY_FN_MAX_OF, "max_of", args_max_of, 2, 0, S, true, false},
    {QUERY_FN_LN, "ln", args_ln, 1, 0, V, false, false},
    {QUERY_FN_LOG10, "log10", args_log10, 1, 0, V, false, false},
    {QUERY_FN_LOG2, "log2", args_log2, 1, 0, V, false, false},
    {QUERY_FN_MAD_OVER_TIME, "mad_over_time", args_mad_over_time, 1, 0, V, true, false},
    {QUERY_FN_MAX_OVER_TIME, "max_over_time", args_max_over_time, 1, 0, V, false, false},
    {QUERY_FN_MIN_OVER_TIME, "min_over_time", args_min_over_time, 1, 0, V, false, false},
    {QUERY_FN_MINUTE, "minute", args_minute, 1, 1, V, false, false},
    {QUERY_FN_MONTH, "month", args_month, 1, 1, V, false, false},
    {QUERY_FN_PI, "pi", NULL, 0, 0, S, false, false},
    {QUERY_FN_PREDICT_LINEAR, "predict_linear", args_predict_linear, 2, 0, V, false, false},
    {QUERY_FN_PRESENT_OVER_TIME, "present_over_time", args_present_over_time, 1, 0, V, false, false},
    {QUERY_FN_QUANTILE_OVER_TIME, "quantile_over_time", args_quantile_over_time, 2, 0, V, false, false},
    {QUERY_FN_RAD, "rad", args_rad, 1, 0, V, false, false},
    {QUERY_FN_RANGE, "range", NULL, 0, 0, S, true, false},
    {QUERY_FN_RATE, "rate", args_rate, 1, 0, V, false, false},
    {QUERY_FN_RESETS, "resets", args_resets, 1, 0, V, false, false},
    {QUERY_FN_ROUND, "round", args_round, 2, 1, V, false, false},
    {QUERY_FN_SCALAR, "scalar", args_scalar, 1, 0, S, false, false},
    {QUERY_FN_SGN, "sgn", args_sgn, 1, 0, V, false, false},
    {QUERY_FN_SIN, "sin", args_sin, 1, 0, V, false, false},
    {QUERY_FN_SINH, "sinh", args_sinh, 1, 0, V, false, false},
    {QUERY_FN_SORT, "sort", args_sort, 1, 0, V, false, false},
    {QUERY_FN_SORT_BY_LABEL, "sort_by_label", args_sort_by_label, 2, -1, V, true, false},
    {QUERY_FN_SORT_BY_LABEL_DESC, "sort_by_label_desc", args_sort_by_label_desc, 2, -1, V, true, false},
    {QUERY_FN_SORT_DESC, "sort_desc", args_sort_desc, 1, 0, V, false, false},
    {QUERY_FN_SQRT, "sqrt", args_sqrt, 1, 0, V, false, false},
    {QUERY_FN_START, "start", NULL, 0, 0, S, true, false},
    {QUERY_FN_START_TIMESTAMP, "start_timestamp", args_start_timestamp, 1, 0, V, true, false},
    {QUERY_FN_STEP, "step", NULL, 0, 0, S, true, false},
    {QUERY_FN_STDDEV_OVER_TIME, "stddev_over_time", args_stddev_over_time, 1, 0, V, false, false},
    {QUERY_FN_STDVAR_OVER_TIME, "stdvar_over_time", args_stdvar_over_time, 1, 0, V, false, false},
    {QUERY_FN_SUM_OVER_TIME, "sum_over_time", args_sum_over_time, 1, 0, V, false, false},
    {QUERY_FN_TAN, "tan", args_tan, 1, 0, V, false, false},
    {QUERY_FN_TANH, "tanh", args_tanh, 1, 0, V, false, false},
    {QUERY_FN_TIME, "time", NULL, 0, 0, S, false, false},
    {QUERY_FN_TIMESTAMP, "timestamp", args_timestamp, 1, 0, V, false, false},
    {QUERY_FN_TS_OF_FIRST_OVER_TIME, "ts_of_first_over_time", args_ts_of_first_over_time, 1, 0, V, true, false},
    {QUERY_FN_TS_OF_LAST_OVER_TIME, "ts_of_last_over_time", args_ts_of_last_over_time, 1, 0, V, true, false},
    {QUERY_FN_TS_OF_MAX_OVER_TIME, "ts_of_max_over_time", args_ts_of_max_over_time, 1, 0, V, true, false},
    {QUERY_FN_TS_OF_MIN_OVER_TIME, "ts_of_min_over_time", args_ts_of_min_over_time, 1, 0, V, true, false},
    {QUERY_FN_VECTOR, "vector", args_vector, 1, 0, V, false, false},
    {QUERY_FN_YEAR, "year", args_year, 1, 1, V, false, false},
};

const query_func *query_func_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(funcs); i++)
        if (strncmp(funcs[i].name, name, len) == 0 && funcs[i].name[len] == 0)
            return &funcs[i];
    return NULL;
}

const query_func *query_func_by_id(query_func_id id) { return (unsigned)id < ARRAY_LEN(funcs) ? &funcs[id] : NULL; }

const char *query_agg_name(query_agg_op op)
{
    static const char *names[] = {"",        "sum",    "min",      "max",    "avg",
                                  "group",   "stddev", "stdvar",   "count",  "count_values",
                                  "bottomk", "topk",   "quantile", "limitk", "limit_ratio"};
    return (unsigned)op < ARRAY_LEN(names) ? names[op] : "?";
}

const char *query_op_name(query_op op)
{
    static const char *names[] = {"",    "+",  "-",      "*",    "/",     "%",      "^",     "atan2",
                                  "==",  "!=", "<",      "<=",   ">",     ">=",     "</",    ">/",
                                  "and", "or", "unless", "step", "range", "min_of", "max_of"};
    return (unsigned)op < ARRAY_LEN(names) ? names[op] : "?";
}

const char *query_type_name(query_type t)
{
    switch (t) {
    case QUERY_TYPE_SCALAR: return "scalar";
    case QUERY_TYPE_VECTOR: return "instant vector";
    case QUERY_TYPE_MATRIX: return "range vector";
    case QUERY_TYPE_STRING: return "string";
    default: return "none";
    }
}
