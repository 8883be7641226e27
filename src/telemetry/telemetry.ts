import { SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What the gateway measures on its hot paths: Prometheus metrics always, and
 * spans when tracing is on.
 * Every layer reports through this one interface, as it logs through the
 * logger; none of them imports prom-client or the tracing SDK.
 */
export interface Telemetry {
  /** One provider HTTP call (retries included) in a span, and its duration by provider, endpoint and outcome. */
  providerCall<T>(labels: { provider: string; endpoint: string }, send: () => Promise<T>, outcomeOf: (result: T) => string): Promise<T>;
  /** One database round trip (a statement, BEGIN or COMMIT) in a span, and its duration by operation. */
  databaseQuery<T>(statement: string, run: () => Promise<T>): Promise<T>;
  /** One Redis command in a span, and its duration by command. */
  redisCommand<T>(command: string, run: () => Promise<T>): Promise<T>;
  /** A verification attempt's outcome (LOGIN_SUCCEEDED or the client's error code). */
  login(provider: string, outcome: string): void;
  /** A lookup in one of the gateway's caches. */
  cacheLookup(cache: "provider_token" | "login_replay", hit: boolean): void;
  /** A request refused by an abuse limit. */
  rateLimited(limit: "client" | "client_failures" | "number" | "challenge"): void;
}

/** Seconds: provider calls and database/Redis round trips, from sub-millisecond to the timeouts. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The active-sessions count is a table scan: at most one per this many milliseconds, whatever the scrape rate. */
const ACTIVE_SESSIONS_MAX_AGE_MS = 30_000;
/** How long a scrape waits for a running count before answering with the last one. */
const ACTIVE_SESSIONS_SCRAPE_WAIT_MS = 1_000;

/** Telemetry that records into its own registry (`/metrics` serves it), and the tracer's spans. */
export class GatewayTelemetry implements Telemetry {
  readonly registry = new Registry();
  private readonly tracer: Tracer | undefined;
  private readonly logins: Counter<"provider" | "outcome">;
  private readonly providerCalls: Histogram<"provider" | "endpoint" | "outcome">;
  private readonly databaseQueries: Histogram<"operation" | "outcome">;
  private readonly redisCommands: Histogram<"command" | "outcome">;
  private readonly cacheLookups: Counter<"cache" | "result">;
  private readonly rateLimitRejections: Counter<"limit">;

  /** `tracer` gets the spans; without one (tracing off) no span is even started: these calls are on the hot path. */
  constructor(tracer?: Tracer) {
    this.tracer = tracer;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.logins = new Counter({
      name: "phonegate_logins_total",
      help: "Verification attempts by provider and outcome (LOGIN_SUCCEEDED or the error code the client got).",
      labelNames: ["provider", "outcome"],
      registers,
    });
    this.providerCalls = new Histogram({
      name: "phonegate_provider_request_duration_seconds",
      help: "Provider HTTP calls (retries included) by provider, endpoint and outcome (HTTP status, timeout or network).",
      labelNames: ["provider", "endpoint", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.databaseQueries = new Histogram({
      name: "phonegate_database_query_duration_seconds",
      help: "PostgreSQL round trips by operation (the statement's first keyword) and outcome (ok or error).",
      labelNames: ["operation", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.redisCommands = new Histogram({
      name: "phonegate_redis_command_duration_seconds",
      help: "Redis commands by command and outcome (ok or error).",
      labelNames: ["command", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.cacheLookups = new Counter({
      name: "phonegate_cache_lookups_total",
      help: "Lookups in the gateway's caches (provider tokens, login replays) by result.",
      labelNames: ["cache", "result"],
      registers,
    });
    this.rateLimitRejections = new Counter({
      name: "phonegate_rate_limit_rejections_total",
      help: "Requests refused by an abuse limit, by limit.",
      labelNames: ["limit"],
      registers,
    });
  }

  /**
   * Adds the active-sessions gauge, counted by `count` (a table scan) at most
   * every 30 s, one count at a time, whatever the scrape rate. A scrape waits
   * at most a second for it and never fails because of it: with the database
   * slow or away the last count stands (its age in the `_counted_at` gauge),
   * and every other metric still answers — that is when they are needed.
   */
  countActiveSessionsWith(count: () => Promise<number>): void {
    let last: { value: number; countedAt: number } | undefined;
    let triedAt = 0;
    let counting: Promise<void> | undefined;
    const refresh = () => {
      if (counting || Date.now() - triedAt < ACTIVE_SESSIONS_MAX_AGE_MS) return counting;
      triedAt = Date.now();
      counting = count()
        .then((value) => {
          last = { value, countedAt: Date.now() };
        })
        .catch(() => {})
        .finally(() => {
          counting = undefined;
        });
      return counting;
    };
    const registers = [this.registry];
    new Gauge({
      name: "phonegate_active_sessions",
      help: "Sessions neither revoked nor expired (counted at most every 30 s; see _counted_at).",
      registers,
      async collect() {
        await waitAtMost(ACTIVE_SESSIONS_SCRAPE_WAIT_MS, refresh());
        if (last) this.set(last.value);
      },
    });
    new Gauge({
      name: "phonegate_active_sessions_counted_at_seconds",
      help: "When phonegate_active_sessions was last counted (Unix time).",
      registers,
      collect() {
        if (last) this.set(last.countedAt / 1000);
      },
    });
  }

  providerCall<T>(labels: { provider: string; endpoint: string }, send: () => Promise<T>, outcomeOf: (result: T) => string): Promise<T> {
    const span = () => ({ name: `${labels.provider} ${labels.endpoint}`, attributes: { "phonegate.provider": labels.provider, "phonegate.provider.endpoint": labels.endpoint } });
    return this.timed(span, send, outcomeOf, (seconds, outcome, span) => {
      this.providerCalls.observe({ ...labels, outcome }, seconds);
      if (!span) return;
      // The outcome is an HTTP status, or why there was none (timeout, network): both a failure of the call when not 2xx-4xx.
      const status = Number(outcome);
      if (Number.isInteger(status)) span.setAttribute("http.response.status_code", status);
      if (!Number.isInteger(status) || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    });
  }

  databaseQuery<T>(statement: string, run: () => Promise<T>): Promise<T> {
    const operation = operationOf(statement);
    const span = () => ({ name: `db ${operation}`, attributes: { "db.system.name": "postgresql", "db.operation.name": operation, "db.query.text": statement } });
    return this.timed(span, run, undefined, (seconds, outcome) => this.databaseQueries.observe({ operation, outcome }, seconds));
  }

  redisCommand<T>(command: string, run: () => Promise<T>): Promise<T> {
    const span = () => ({ name: `redis ${command}`, attributes: { "db.system.name": "redis", "db.operation.name": command } });
    return this.timed(span, run, undefined, (seconds, outcome) => this.redisCommands.observe({ command, outcome }, seconds));
  }

  login(provider: string, outcome: string): void {
    this.logins.inc({ provider, outcome });
  }

  cacheLookup(cache: string, hit: boolean): void {
    this.cacheLookups.inc({ cache, result: hit ? "hit" : "miss" });
  }

  rateLimited(limit: string): void {
    this.rateLimitRejections.inc({ limit });
  }

  /**
   * Runs `work` — in a client span under the active one when tracing is on —
   * and records its duration with its outcome: `outcomeOf` the result, or
   * "error" when it threw (a span records the error's name only: messages may carry values).
   */
  private timed<T>(
    describe: () => { name: string; attributes: Attributes },
    work: () => Promise<T>,
    outcomeOf: ((result: T) => string) | undefined,
    record: (seconds: number, outcome: string, span: Span | undefined) => void,
  ): Promise<T> {
    const measured = async (span?: Span): Promise<T> => {
      const started = performance.now();
      const elapsed = () => (performance.now() - started) / 1000;
      try {
        const result = await work();
        const outcome = outcomeOf?.(result) ?? "ok";
        span?.setAttribute("phonegate.outcome", outcome);
        record(elapsed(), outcome, span);
        return result;
      } catch (error) {
        record(elapsed(), "error", undefined);
        span?.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
        throw error;
      } finally {
        span?.end();
      }
    };
    if (!this.tracer) return measured();
    const { name, attributes } = describe();
    return this.tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, measured);
  }
}

/** Telemetry that records nothing: for modules used alone (tests, tools). */
export const UNOBSERVED: Telemetry = {
  providerCall: (_labels, send) => send(),
  databaseQuery: (_statement, run) => run(),
  redisCommand: (_command, run) => run(),
  login: () => {},
  cacheLookup: () => {},
  rateLimited: () => {},
};

/** The statement's first keyword, upper-cased: SELECT, INSERT, BEGIN, COMMIT, ... (a bounded label set). */
function operationOf(statement: string): string {
  const keyword = /^\s*([A-Za-z]+)/.exec(statement)?.[1]?.toUpperCase();
  return keyword ?? "OTHER";
}

/** Resolves when `work` settles or after `ms`, whichever comes first (never rejects). */
async function waitAtMost(ms: number, work: Promise<unknown> | undefined): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
