// The OpenTelemetry SDK for Node, configured from the standard OTEL_* variables (through Config),
// exporting OTLP over HTTP. Off unless configured: then the tracer is the API's no-op tracer,
// spans are non-recording and cost a function call, and no attribute is built.
import { context, ProxyTracerProvider, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Config } from '../config/index.js';

export const TRACER_NAME = 'agentwire';

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Whether user text may go into attributes (TELEMETRY_RECORD_CONTENT). */
  readonly recordContent: boolean;
  /** Flushes and stops the exporter this runtime created (not an injected provider). */
  shutdown(): Promise<void>;
}

let contextManagerSet = false;

/** Active context follows async calls (logs pick trace ids from it). Process-wide, set once. */
function ensureContextManager(): void {
  if (contextManagerSet) return;
  contextManagerSet = true;
  // False when someone (an embedder's SDK) registered one already: theirs is kept.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/**
 * `provider` (tests, embedders) wins over configuration; without one and without OTEL settings,
 * tracing is off.
 */
export function createTracing(config: Config['telemetry'], provider?: TracerProvider): Tracing {
  if (provider) {
    ensureContextManager();
    return { enabled: true, tracer: provider.getTracer(TRACER_NAME), recordContent: config.recordContent, shutdown: async () => undefined };
  }
  if (!config.tracesExporter) {
    // A proxy with no delegate hands out the no-op tracer, whatever is registered globally.
    return { enabled: false, tracer: new ProxyTracerProvider().getTracer(TRACER_NAME), recordContent: false, shutdown: async () => undefined };
  }
  ensureContextManager();
  const exporter =
    config.tracesExporter === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter(config.tracesEndpoint ? { url: config.tracesEndpoint } : {});
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': config.serviceName }))
    // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, read by the SDK's own detector.
    .merge(detectResources({ detectors: [envDetector] }));
  const sdk = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  // Registered globally too, so libraries that trace through the global API join the same traces.
  trace.setGlobalTracerProvider(sdk);
  return {
    enabled: true,
    tracer: sdk.getTracer(TRACER_NAME),
    recordContent: config.recordContent,
    shutdown: () => sdk.shutdown(),
  };
}
