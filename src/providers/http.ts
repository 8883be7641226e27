import ky, { isHTTPError, isNetworkError, isTimeoutError, type KyInstance, type Options } from "ky";

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

export const MAX_RETRIES = 2;
const BACKOFF_LIMIT_MS = 1_000;
/** A provider asking us to wait longer than this gets its answer passed to the client instead. */
export const MAX_RETRY_AFTER_MS = 2_000;
/** Provider answers are small JSON documents; anything larger is not one. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface ProviderHttp {
  readonly ky: KyInstance;
  /** Per-attempt timeout, which also bounds reading the body. */
  readonly timeoutMs: number;
}

/** HTTP to one provider: per-attempt timeout, injectable fetch, keep-alive from undici's global agent. */
export function createProviderHttp(options: { baseUrl: string; timeoutMs: number; fetch?: typeof fetch }): ProviderHttp {
  return {
    timeoutMs: options.timeoutMs,
    ky: ky.create({
      prefix: options.baseUrl,
      timeout: options.timeoutMs,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      headers: { accept: "application/json" },
    }),
  };
}

/**
 * Sends one provider request under a {@link RetryRule} — exponential backoff with
 * jitter, or the provider's `Retry-After` when it asks for at most
 * {@link MAX_RETRY_AFTER_MS} — bounded by `signal` (the login's deadline), and
 * reads the answer whole within the per-attempt timeout. Never throws for
 * provider behaviour; only programming errors escape.
 */
export async function sendWithRetry(
  http: ProviderHttp,
  path: string,
  options: Options & { method: "get" | "post"; signal: AbortSignal },
  rule: RetryRule,
): Promise<HttpOutcome> {
  let response: Response;
  try {
    response = await http.ky(path, {
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
    if (isTimeoutError(error) || options.signal.aborted) return { kind: "timeout" };
    if (isNetworkError(error)) return { kind: "failed", detail: networkErrorCode(error) ?? "network error" };
    throw error;
  }
  return readResponse(response, http.timeoutMs, options.signal);
}

/**
 * Reads a body of at most {@link MAX_RESPONSE_BYTES} within `timeoutMs`: ky's
 * timeout ends when the headers arrive, and a provider that stalls mid-body
 * must not hold the login until its deadline.
 */
async function readResponse(response: Response, timeoutMs: number, deadline: AbortSignal): Promise<HttpOutcome> {
  const { status, headers } = response;
  if (!response.body) return { kind: "response", response: { status, headers, body: "" } };
  const reader = response.body.getReader();
  const stop = AbortSignal.any([deadline, AbortSignal.timeout(timeoutMs)]);
  // Cancelling makes a pending read() resolve as done.
  const cancel = () => void reader.cancel().catch(() => {});
  stop.addEventListener("abort", cancel, { once: true });
  if (stop.aborted) cancel();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength;
      if (size > MAX_RESPONSE_BYTES) {
        cancel();
        return { kind: "failed", detail: `response body larger than ${MAX_RESPONSE_BYTES} bytes` };
      }
      chunks.push(chunk.value);
    }
  } catch {
    return stop.aborted ? { kind: "timeout" } : { kind: "failed", detail: "connection lost while reading the response" };
  } finally {
    stop.removeEventListener("abort", cancel);
  }
  if (stop.aborted) return { kind: "timeout" };
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
 * rounded up; `undefined` when absent or unreadable.
 */
export function retryAfterSeconds(headers: Headers, now: Date = new Date()): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  // All three HTTP-date formats start with the day name; Date.parse alone accepts far more.
  if (!/^[A-Za-z]{3}/.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}
