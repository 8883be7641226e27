/**
 * One load run: autocannon's programmatic API with the scenario's requests, and a {@link Meter} that
 * judges each response (or pair of responses) and records the latency of the successful ones in
 * microseconds — autocannon's own histogram keeps whole milliseconds and knows nothing of pairs or
 * of GraphQL errors inside a 200.
 */
import autocannon from "autocannon";
import hdr from "hdr-histogram-js";

/** No answer within this is a timeout (autocannon's default). */
const REQUEST_TIMEOUT_S = 10;
const US_PER_MS = 1_000;
/** A minute, in microseconds: slower answers are clamped (they are counted, and the p99 says enough). */
const HIGHEST_TRACKABLE_US = 60_000_000;
/** Distinct failure reasons kept per run (a broken run could otherwise produce one per request). */
const MAX_REASONS = 20;

/** The per-connection state autocannon hands to `setupRequest` and `onResponse` (cleared after the last request of the list). */
export interface RequestContext {
  /** `performance.now()` when the measured unit (a request, or a pair's first request) was set up. */
  startedAt?: number;
  [key: string]: unknown;
}

function latencyHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_TRACKABLE_US, numberOfSignificantValueDigits: 3 });
}

/** What a meter counted since its last {@link Meter.takeWindow}. */
export interface MeterWindow {
  readonly ok: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Counts and latencies of one run (and of windows of it, for the soak's per-minute lines). */
export class Meter {
  readonly histogram = latencyHistogram();
  readonly #window = latencyHistogram();
  #windowOk = 0;
  #windowFailed = 0;
  ok = 0;
  failed = 0;
  readonly reasons = new Map<string, number>();

  /** Marks the start of a measured unit on this connection. */
  start(context: RequestContext): void {
    context.startedAt = performance.now();
  }

  /** The unit started on this connection succeeded: counts it and records its latency. */
  succeed(context: RequestContext): void {
    this.ok += 1;
    this.#windowOk += 1;
    if (context.startedAt !== undefined) {
      const us = Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round((performance.now() - context.startedAt) * US_PER_MS)));
      this.histogram.recordValue(us);
      this.#window.recordValue(us);
    }
  }

  /** The unit failed; `reason` is what the table's error breakdown shows (never a token). */
  fail(reason: string): void {
    this.failed += 1;
    this.#windowFailed += 1;
    if (this.reasons.has(reason) || this.reasons.size < MAX_REASONS) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  percentileMs(percentile: number): number {
    return percentileMs(this.histogram, percentile);
  }

  /** Counts and percentiles since the previous call (or the start), and starts a new window. */
  takeWindow(): MeterWindow {
    const window = { ok: this.#windowOk, failed: this.#windowFailed, p50Ms: percentileMs(this.#window, 50), p99Ms: percentileMs(this.#window, 99) };
    this.#window.reset();
    this.#windowOk = 0;
    this.#windowFailed = 0;
    return window;
  }

  destroy(): void {
    this.histogram.destroy();
    this.#window.destroy();
  }
}

function percentileMs(histogram: ReturnType<typeof latencyHistogram>, percentile: number): number {
  return histogram.totalCount === 0 ? Number.NaN : histogram.getValueAtPercentile(percentile) / US_PER_MS;
}

/** What a run measured. */
export interface LoadResult {
  /** Seconds autocannon ran. */
  readonly seconds: number;
  /** Successful units (requests, or pairs) per second. */
  readonly okPerSecond: number;
  readonly ok: number;
  /** Judged failures, connection errors and timeouts. */
  readonly errors: number;
  readonly timeouts: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failure reasons and their counts. */
  readonly reasons: Readonly<Record<string, number>>;
}

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly requests: autocannon.Request[];
}

/** A running load, so that Ctrl+C can stop it. */
let current: autocannon.Instance | undefined;

/** Stops the load under way, if any (its run then resolves with what it measured so far). */
export function stopCurrentLoad(): void {
  current?.stop();
}

/** Drives `spec` with autocannon and judges it with `meter`. */
export async function runLoad(spec: LoadSpec, meter: Meter): Promise<LoadResult> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    current = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationSeconds,
        pipelining: 1,
        timeout: REQUEST_TIMEOUT_S,
        requests: spec.requests,
      },
      (error: unknown, finished: autocannon.Result) => (error ? reject(error as Error) : resolve(finished)),
    );
  }).finally(() => {
    current = undefined;
  });
  // Timeouts and refused connections never reach onResponse; autocannon counts them as errors.
  const errors = meter.failed + result.errors;
  return {
    seconds: result.duration,
    okPerSecond: meter.ok / result.duration,
    ok: meter.ok,
    errors,
    timeouts: result.timeouts,
    p50Ms: meter.percentileMs(50),
    p99Ms: meter.percentileMs(99),
    reasons: Object.fromEntries([
      ...meter.reasons,
      ...(result.timeouts > 0 ? [["timeout", result.timeouts] as const] : []),
      ...(result.errors - result.timeouts > 0 ? [["connection error", result.errors - result.timeouts] as const] : []),
    ]),
  };
}

/**
 * What `setupRequest` returns to send nothing: autocannon then starts the connection's request list
 * over (its types say a request must be returned; its code, and docs, allow a falsy value).
 * Never from the first request of a list: autocannon throws there.
 */
export const SKIP_REQUEST = undefined as unknown as autocannon.Request;
