import { context, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler } from "@opentelemetry/sdk-trace-base";

/** How long stopping waits for the last spans to reach the collector. */
const SHUTDOWN_FLUSH_MS = 2_000;

export interface TracingSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's OTLP/HTTP base URL; spans go to `{endpoint}/v1/traces`. */
  readonly endpoint: string;
  readonly serviceName: string;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** Sends the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Spans exported over OTLP/HTTP (JSON) in batches. The tracer is the
 * gateway's own rather than a process-wide one, so several gateways in one
 * process (the tests) export separately; the context manager, which carries
 * the active span through async code, is process-wide by nature and set once.
 */
export function startTracing(settings: TracingSettings): Tracing {
  ensureContextManager();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": settings.serviceName }),
    // Every request is recorded: a client's traceparent may join our spans to its trace, but its "not sampled"
    // flag must not take its requests out of our traces (any client can send one).
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOnSampler() }),
    // Headers (OTEL_EXPORTER_OTLP_HEADERS) and the like are read by the exporter from the environment, as documented by OpenTelemetry.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${settings.endpoint.replace(/\/+$/, "")}/v1/traces` }))],
  });
  return {
    tracer: provider.getTracer("phonegate"),
    // A collector that is away would hold the stop for the exporter's 10 s timeout; the spans still buffered then are lost.
    shutdown: async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([provider.shutdown().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS)))]);
      clearTimeout(timer);
    },
  };
}

/** Registers the AsyncLocalStorage context manager unless one is registered already. */
function ensureContextManager(): void {
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
}
