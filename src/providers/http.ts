import ky, { isHTTPError, isNetworkError, isTimeoutError, type KyInstance, type Options } from "ky";

/** Outcome of one provider HTTP exchange (retries included): a response, or why none came. */
export type HttpOutcome =
  | { kind: "response"; response: Response }
  | { kind: "timeout" }
  | { kind: "network"; detail: string };

/**
 * When a failed attempt may be sent again. Token endpoints consume the code on
 * first sight, so they are retried only where the provider cannot have seen it.
 */
export interface RetryRule {
  /** Statuses answered before the request was processed (e.g. 503). */
  readonly statuses: readonly number[];
  /** Whether a network failure of this kind may be retried. */
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
const MAX_RETRY_AFTER_MS = 2_000;

/** A ky instance for one provider: per-attempt timeout, injectable fetch, keep-alive from undici. */
export function createProviderHttp(options: { baseUrl: string; timeoutMs: number; fetch?: typeof fetch }): KyInstance {
  return ky.create({
    prefix: options.baseUrl,
    timeout: options.timeoutMs,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: { accept: "application/json" },
  });
}

/**
 * Sends one provider request under a {@link RetryRule} with exponential backoff
 * and jitter, bounded by `signal` (the login's deadline). Never throws for
 * provider behaviour; only programming errors escape.
 */
export async function sendWithRetry(
  http: KyInstance,
  path: string,
  options: Options & { method: "get" | "post"; signal: AbortSignal },
  rule: RetryRule,
): Promise<HttpOutcome> {
  try {
    const response = await http(path, {
      ...options,
      // Only retryable statuses become errors; every other response goes to the parser as is.
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
            const waitSeconds = retryAfterSeconds(error.response.headers);
            return waitSeconds === undefined || waitSeconds * 1000 <= MAX_RETRY_AFTER_MS;
          }
          if (isNetworkError(error)) return rule.retryNetworkError(networkErrorCode(error));
          return false;
        },
      },
    });
    return { kind: "response", response };
  } catch (error) {
    if (isHTTPError(error)) return { kind: "response", response: rebuildResponse(error.response, error.data) };
    if (isTimeoutError(error) || options.signal.aborted) return { kind: "timeout" };
    if (isNetworkError(error)) return { kind: "network", detail: networkErrorCode(error) ?? "network error" };
    throw error;
  }
}

/** ky has read the body of a final retryable error into `data`; give the parser a whole response again. */
function rebuildResponse(response: Response, data: unknown): Response {
  const body = data === undefined ? null : typeof data === "string" ? data : JSON.stringify(data);
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The system error code (ECONNREFUSED, ECONNRESET, ...) under undici's "fetch failed". */
function networkErrorCode(error: Error): string | undefined {
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
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}
