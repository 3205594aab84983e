// push.mjs: the OpenTelemetry JavaScript SDK (versions pinned by
// package-lock.json) records a fixed set of instruments and exports them
// once to strata's OTLP endpoint. Used by tests/scripts/server_otlp.py.
//   node push.mjs URL proto|json none|gzip INSTANCE_ID
// Prints the export result as JSON; exits 1 when the export failed.
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Resource } from '@opentelemetry/resources';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';

const [url, protocol, compression, instance] = process.argv.slice(2);

// A reader that exports only when asked (collect below), so the test
// decides when the one export happens.
class OnceReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const reader = new OnceReader();
const provider = new MeterProvider({
  resource: new Resource({
    'service.name': 'shop',
    'service.namespace': 'test',
    'service.instance.id': instance,
    'host.name': 'h1',
  }),
  readers: [reader],
});
const meter = provider.getMeter('strata-test', '1.0.0');

const requests = meter.createCounter('http.requests', { unit: '{request}', description: 'Requests served' });
requests.add(5, { 'http.method': 'GET' });
requests.add(3, { 'http.method': 'POST' });

const depth = meter.createUpDownCounter('queue.depth', { unit: '{item}', description: 'Items waiting' });
depth.add(10);
depth.add(-4);

const temp = meter.createGauge('cpu.temperature', { unit: 'Cel', description: 'Die temperature' });
temp.record(41.5, { core: '0' });

const load = meter.createObservableGauge('system.load', { unit: '1', description: 'Load ratio' });
load.addCallback((r) => r.observe(0.75));

const duration = meter.createHistogram('http.server.duration', {
  unit: 'ms',
  description: 'Request duration',
  advice: { explicitBucketBoundaries: [5, 10, 100] },
});
for (const v of [3, 7, 30, 300]) duration.record(v, { route: '/a' });

const opts = { url, compression: compression === 'gzip' ? 'gzip' : 'none', timeoutMillis: 10000 };
const exporter = protocol === 'json' ? new JsonExporter(opts) : new ProtoExporter(opts);

const { resourceMetrics, errors } = await reader.collect();
if (errors.length) {
  console.log(JSON.stringify({ collectErrors: errors.map(String) }));
  process.exit(1);
}
const result = await new Promise((resolve) => exporter.export(resourceMetrics, resolve));
console.log(JSON.stringify({ code: result.code, error: result.error ? String(result.error) : null }));
await exporter.shutdown();
process.exit(result.code === 0 ? 0 : 1);
