import { retryAfterSeconds, type HttpOutcome, type ProviderResponse } from "./http.js";
import type { ProviderFailure } from "./provider.js";

/** An RFC 6749 §5.2 error body: `{"error": "...", "error_description": "..."}`. */
interface OAuthErrorBody {
  readonly error: string | undefined;
  readonly description: string | undefined;
}

/** A body as a JSON object; `undefined` when it is not one. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The `error` / `error_description` pair of an OAuth error response, tolerating any body. */
export function parseOAuthError(response: ProviderResponse): OAuthErrorBody {
  const body = parseJsonObject(response.body);
  return {
    error: typeof body?.error === "string" ? body.error : undefined,
    description: typeof body?.error_description === "string" ? body.error_description : undefined,
  };
}

/** The failure of an exchange that brought no answer. */
export function failureWithoutResponse(outcome: Exclude<HttpOutcome, { kind: "response" }>, endpoint: string): ProviderFailure {
  const detail = outcome.kind === "timeout" ? "timed out" : outcome.detail;
  return { kind: "Unavailable", detail: `${endpoint}: ${detail}`, retryAfterSeconds: undefined };
}

/** 429 and 5xx mean the same on every provider endpoint; `undefined` for other statuses. */
export function transientFailure(response: ProviderResponse, endpoint: string): ProviderFailure | undefined {
  if (response.status === 429) return { kind: "RateLimited", retryAfterSeconds: retryAfterSeconds(response.headers) };
  if (response.status >= 500) {
    return { kind: "Unavailable", detail: `${endpoint}: HTTP ${response.status}`, retryAfterSeconds: retryAfterSeconds(response.headers) };
  }
  return undefined;
}

/** A response whose shape breaks the contract; names the field, as oauth4webapi does. */
export function malformed(endpoint: string, problem: string): ProviderFailure {
  return { kind: "Unavailable", detail: `${endpoint}: malformed response: ${problem}`, retryAfterSeconds: undefined };
}

/** A string property, or `undefined` when absent, empty or of another type. */
export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}
