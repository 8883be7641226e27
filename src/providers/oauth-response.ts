import { retryAfterSeconds, type HttpOutcome } from "./http.js";
import type { ProviderFailure } from "./provider.js";

/** An RFC 6749 §5.2 error body: `{"error": "...", "error_description": "..."}`. */
export interface OAuthErrorBody {
  readonly error: string | undefined;
  readonly description: string | undefined;
}

/** Reads a response body as a JSON object; `undefined` when it is not one. */
export async function readJsonObject(response: Response): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The `error` / `error_description` pair of an OAuth error response, tolerating any body. */
export async function readOAuthError(response: Response): Promise<OAuthErrorBody> {
  const body = await readJsonObject(response);
  return {
    error: typeof body?.error === "string" ? body.error : undefined,
    description: typeof body?.error_description === "string" ? body.error_description : undefined,
  };
}

/** Failures every provider endpoint shares: no response, rate limiting, server errors. */
export function failureWithoutResponse(outcome: Exclude<HttpOutcome, { kind: "response" }>, endpoint: string): ProviderFailure {
  return outcome.kind === "timeout"
    ? { kind: "Unavailable", detail: `${endpoint}: timed out`, retryAfterSeconds: undefined }
    : { kind: "Unavailable", detail: `${endpoint}: ${outcome.detail}`, retryAfterSeconds: undefined };
}

/** 429 and 5xx mean the same on every provider endpoint; `undefined` for other statuses. */
export function transientFailure(response: Response, endpoint: string): ProviderFailure | undefined {
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
