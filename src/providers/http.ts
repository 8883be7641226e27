import ky, { isHTTPError, isNetworkError, isTimeoutError, type KyInstance, type Options } from "ky";
import { UNOBSERVED, type Telemetry } from "../telemetry/telemetry.js";
import { createKeepAliveFetch } from "./keep-alive-fetch.js";

/** A provider's answer, read whole: status, headers and the body as text. */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** Outcome of one provider HTTP exchange (retries included): an answer, or why none came. */
export type HttpOutcome =
  | { kind: "response"; response: ProviderResponse }
  | { kind: "timeout" }
  | { kind: "failed"; detail: string };

/**
 * When a failed attempt may be sent again. Token endpoints consume the code on
 * first sight, so they are retried only where the provider cannot have seen it.
 */
export interface RetryRule {
  /** Statuses answered before the request was processed (e.g. 503). */
  readonly statuses: readonly number[];
  /** Whether a network failure with this system error code may be retried. */
  readonly retryNetworkError: (errorCode: string | undefined) => boolean;
}

/** Retries of a code exchange: only when the code cannot have been consumed. */
export const CODE_EXCHANGE_RETRY: RetryRule = {
  statuses: [503],
  retryNetworkError: (errorCode) => errorCode === "ECONNREFUSED",
};

/** Retries of an idempotent read (GET): any gateway error or lost connection. */
export const IDEMPOTENT_READ_RETRY: RetryRule = {
  statuses: [502, 503, 504],
  retryNetworkError: () => true,
};

const MAX_RETRIES = 2;
const BACKOFF_LIMIT_MS = 1_000;
/** A provider asking us to wait longer than this gets its answer passed to the client instead. */
export const MAX_RETRY_AFTER_MS = 2_000;
/** Who calls, for the provider's logs and firewalls (many refuse requests without a User-Agent). */
const USER_AGENT = "phonegate";
/** Provider answers are small JSON documents; anything larger is not one. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Longest wait passed on to clients; a later HTTP-date is a provider's mistake, not a plan. */
const MAX_REPORTED_RETRY_AFTER_SECONDS = 86_400;

/** HTTP to one provider: the client, and what its calls are reported as. */
export interface ProviderHttp {
  readonly client: KyInstance;
  /** The plain fetch under the client, for libraries that fetch for themselves (jose's JWKS reads). */
  readonly fetch: typeof fetch;
  /** The provider's id in metrics and spans. */
  readonly provider: string;
  readonly telemetry: Telemetry;
}

export interface ProviderHttpOptions {
  readonly provider: string;
  readonly baseUrl?: string;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  readonly telemetry?: Telemetry;
}

/**
 * HTTP to one provider: ky over keep-alive sockets ({@link createKeepAliveFetch}, unless `fetch` replaces it). Each attempt
 * gets one timer covering headers and body alike: ky's own timeout stops at the
 * headers, so it is off and the attempt's fetch carries the timer instead (its
 * body stream aborts with it).
 */
export function createProviderHttp(options: ProviderHttpOptions): ProviderHttp {
  const send = options.fetch ?? createKeepAliveFetch({ maxBodyBytes: MAX_RESPONSE_BYTES, userAgent: USER_AGENT });
  const client = ky.create({
    // Without a base URL every request names its absolute URL (endpoints found by discovery).
    ...(options.baseUrl === undefined ? {} : { prefix: options.baseUrl }),
    timeout: false,
    fetch: (input, init) => {
      const signals = [AbortSignal.timeout(options.timeoutMs), init?.signal ?? (input instanceof Request ? input.signal : undefined)];
      return send(input, { ...init, signal: AbortSignal.any(signals.filter((signal) => signal != null)) });
    },
    headers: { accept: "application/json" },
  });
  return { client, fetch: options.fetch ?? fetch, provider: options.provider, telemetry: options.telemetry ?? UNOBSERVED };
}

/**
 * Sends one provider request under a {@link RetryRule} — exponential backoff with
 * jitter, or the provider's `Retry-After` when it asks for at most
 * {@link MAX_RETRY_AFTER_MS} — bounded by `signal` (the login's deadline), and
 * reads the answer whole within the per-attempt timeout. Never throws for
 * provider behaviour; only programming errors escape.
 */
export function sendWithRetry(
  http: ProviderHttp,
  endpoint: string,
  path: string,
  options: Options & { method: "get" | "post"; signal: AbortSignal },
  rule: RetryRule,
): Promise<HttpOutcome> {
  return http.telemetry.providerCall({ provider: http.provider, endpoint }, () => send(http.client, path, options, rule), outcomeLabel);
}

/** A call's outcome as metrics count it: the HTTP status, or why there was none. */
function outcomeLabel(outcome: HttpOutcome): string {
  return outcome.kind === "response" ? String(outcome.response.status) : outcome.kind === "timeout" ? "timeout" : "network";
}

async function send(client: KyInstance, path: string, options: Options & { method: "get" | "post"; signal: AbortSignal }, rule: RetryRule): Promise<HttpOutcome> {
  let response: Response;
  try {
    response = await client(path, {
      ...options,
      // Only retryable statuses become errors; every other answer goes to the parser as is.
      throwHttpErrors: (status) => rule.statuses.includes(status),
      retry: {
        limit: MAX_RETRIES,
        methods: [options.method],
        statusCodes: [...rule.statuses],
        afterStatusCodes: [...rule.statuses],
        maxRetryAfter: MAX_RETRY_AFTER_MS,
        backoffLimit: BACKOFF_LIMIT_MS,
        jitter: true,
        shouldRetry: ({ error }) => {
          if (isHTTPError(error)) {
            // `undefined` leaves the delay to ky, which honours Retry-After; `true` would replace it with backoff.
            const waitSeconds = retryAfterSeconds(error.response.headers);
            return waitSeconds !== undefined && waitSeconds * 1000 > MAX_RETRY_AFTER_MS ? false : undefined;
          }
          if (isNetworkError(error)) return rule.retryNetworkError(networkErrorCode(error));
          return false;
        },
      },
    });
  } catch (error) {
    if (isHTTPError(error)) {
      // ky has read the body of a final retryable error into `data`.
      const { data } = error;
      const body = data === undefined ? "" : typeof data === "string" ? data : JSON.stringify(data);
      return { kind: "response", response: { status: error.response.status, headers: error.response.headers, body } };
    }
    if (isAttemptTimeout(error) || options.signal.aborted) return { kind: "timeout" };
    if (isNetworkError(error)) return { kind: "failed", detail: networkErrorCode(error) ?? "network error" };
    throw error;
  }
  return readResponse(response, options.signal);
}

/** The attempt's timer fired (a DOMException named TimeoutError, from AbortSignal.timeout). */
function isAttemptTimeout(error: unknown): boolean {
  return isTimeoutError(error) || (error instanceof Error && error.name === "TimeoutError");
}

/**
 * Reads a body of at most {@link MAX_RESPONSE_BYTES}. The attempt's timer still
 * runs (the stream aborts with it), so a provider that stalls mid-body times
 * out like one that never answers.
 */
async function readResponse(response: Response, deadline: AbortSignal): Promise<HttpOutcome> {
  const { status, headers } = response;
  if (!response.body) return { kind: "response", response: { status, headers, body: "" } };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength;
      if (size > MAX_RESPONSE_BYTES) {
        void reader.cancel().catch(() => {});
        return { kind: "failed", detail: `response body larger than ${MAX_RESPONSE_BYTES} bytes` };
      }
      chunks.push(chunk.value);
    }
  } catch (error) {
    return isAttemptTimeout(error) || deadline.aborted ? { kind: "timeout" } : { kind: "failed", detail: "connection lost while reading the response" };
  }
  return { kind: "response", response: { status, headers, body: Buffer.concat(chunks).toString("utf8") } };
}

/** The system error code (ECONNREFUSED, ECONNRESET, ...) under undici's "fetch failed". */
export function networkErrorCode(error: Error): string | undefined {
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string") return code;
    // Happy-eyeballs connects to several addresses and aggregates their failures.
    if (cause instanceof AggregateError) {
      const inner = cause.errors.find((e: unknown) => typeof (e as { code?: unknown })?.code === "string");
      if (inner) return (inner as { code: string }).code;
    }
    cause = cause.cause;
  }
  return undefined;
}

/**
 * `Retry-After` in whole seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
 * rounded up and capped at {@link MAX_REPORTED_RETRY_AFTER_SECONDS}; `undefined`
 * when absent or unreadable.
 */
export function retryAfterSeconds(headers: Headers, now: Date = new Date()): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  let seconds: number;
  if (/^\d+$/.test(value)) {
    seconds = Number(value);
  } else {
    // All three HTTP-date formats start with the day name; Date.parse alone accepts far more.
    const date = /^[A-Za-z]{3}/.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(date)) return undefined;
    seconds = Math.max(0, Math.ceil((date - now.getTime()) / 1000));
  }
  return Math.min(seconds, MAX_REPORTED_RETRY_AFTER_SECONDS);
}
