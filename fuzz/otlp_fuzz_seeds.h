/*
 * otlp_fuzz_seeds.h: OTLP/JSON requests seeding both OTLP fuzz targets
 * (the protobuf one packs them): every kind of metric, resource
 * attributes, nested attribute values, staleness flags.
 */
#ifndef STRATA_FUZZ_OTLP_SEEDS_H
#define STRATA_FUZZ_OTLP_SEEDS_H

static const char *const otlp_seeds[] = {
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
    "\"shop\"}},{\"key\":\"service.namespace\",\"value\":{\"stringValue\":\"prod\"}},{\"key\":"
    "\"service.instance.id\",\"value\":{\"stringValue\":\"i-1\"}},{\"key\":\"host.name\",\"value\":{"
    "\"stringValue\":\"h\"}}]},\"scopeMetrics\":[{\"scope\":{\"name\":\"s\",\"version\":\"1\"},\"metrics\":["
    "{\"name\":\"http.server.duration\",\"unit\":\"ms\",\"description\":\"d\",\"histogram\":{"
    "\"aggregationTemporality\":2,\"dataPoints\":[{\"attributes\":[{\"key\":\"http.method\",\"value\":{"
    "\"stringValue\":\"GET\"}}],\"startTimeUnixNano\":\"1700000000000000000\",\"timeUnixNano\":"
    "\"1700000001000000000\",\"count\":\"3\",\"sum\":12.5,\"bucketCounts\":[\"1\",\"1\",\"1\"],"
    "\"explicitBounds\":[5,10],\"min\":1,\"max\":11}]}}]}]}]}",
    "{\"resourceMetrics\":[{\"resource\":{},\"scopeMetrics\":[{\"metrics\":[{\"name\":\"requests\",\"unit\":\"1\","
    "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[{\"asInt\":\"7\","
    "\"timeUnixNano\":\"1700000001000000000\",\"flags\":1}]}},{\"name\":\"q.size\",\"sum\":{"
    "\"aggregationTemporality\":1,\"dataPoints\":[{\"asDouble\":-2.5,\"timeUnixNano\":1700000001000000000}]}},"
    "{\"name\":\"cpu\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":\"NaN\",\"attributes\":[{\"key\":"
    "\"l\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},{\"kvlistValue\":{\"values\":[{\"key\":"
    "\"a\",\"value\":{\"boolValue\":true}}]}}]}}}]}]}}]}]}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"rpc.latency\",\"unit\":\"s\",\"summary\":"
    "{\"dataPoints\":[{\"count\":4,\"sum\":2,\"quantileValues\":[{\"quantile\":0.5,\"value\":0.4},{\"quantile\":"
    "1,\"value\":\"Infinity\"}]}]}},{\"name\":\"e\",\"exponentialHistogram\":{\"aggregationTemporality\":2,"
    "\"dataPoints\":[{\"scale\":3,\"zeroCount\":1,\"positive\":{\"offset\":-1,\"bucketCounts\":[1,2]}}]}}]}]}]}",
};

#endif
