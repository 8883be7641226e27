import { retryAfterSeconds, type HttpOutcome, type ProviderResponse } from "./http.js";
import type { ProviderFailure, ProviderResult, ProviderToken } from "./provider.js";

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
  return { kind: "Unavailable", detail: `${endpoint}: ${MALFORMED_RESPONSE}: ${problem}`, retryAfterSeconds: undefined };
}

/** Marks the detail of an answer that breaks the contract (as opposed to no answer). */
export const MALFORMED_RESPONSE = "malformed response";

/** Whether a failure is a malformed answer: the provider answered, so it is no sign of an outage. */
export function isMalformedAnswer(failure: ProviderFailure): boolean {
  return failure.kind === "Unavailable" && failure.detail.includes(`: ${MALFORMED_RESPONSE}: `);
}

/** A string property, or `undefined` when absent, empty, unstorable (see {@link storableString}) or of another type. */
export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  return storableString(body[key]);
}

/**
 * A non-empty string PostgreSQL can store: text columns refuse U+0000, so a
 * provider string holding one is treated as absent rather than failing the
 * whole login at the database (a subject holding one is then missing, which
 * makes the answer malformed).
 */
function storableString(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 && !value.includes("\u0000") ? value : undefined;
}

/** The parts of an RFC 6749 §5.1 token answer the gateway uses; the ID token is still unverified. */
export interface TokenAnswer {
  readonly access: ProviderToken;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
}

/**
 * Judges a 200 token answer: `access_token` and a Bearer `token_type` are
 * required; `expires_in` too unless `defaultExpiresInSeconds` is given (RFC 6749
 * only recommends it). `sentAt` is when the request left, so the computed
 * expiry is never late.
 */
export function parseTokenAnswer(
  response: ProviderResponse,
  endpoint: string,
  sentAt: Date,
  defaultExpiresInSeconds?: number,
): ProviderResult<TokenAnswer> {
  const body = parseJsonObject(response.body);
  if (!body) return { ok: false, failure: malformed(endpoint, "body is not a JSON object") };
  const accessToken = body.access_token;
  if (typeof accessToken !== "string" || accessToken.length === 0) {
    return { ok: false, failure: malformed(endpoint, '"access_token" must be a non-empty string') };
  }
  const expiresIn = body.expires_in ?? defaultExpiresInSeconds;
  if (typeof expiresIn !== "number" || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    return { ok: false, failure: malformed(endpoint, '"expires_in" must be a positive number') };
  }
  const tokenType = body.token_type;
  // RFC 6749 §5.1: the type is case-insensitive (wgtwo answers "bearer").
  if (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer") {
    return { ok: false, failure: malformed(endpoint, '"token_type" must be "Bearer"') };
  }
  for (const optional of ["refresh_token", "id_token"] as const) {
    if (body[optional] !== undefined && typeof body[optional] !== "string") {
      return { ok: false, failure: malformed(endpoint, `"${optional}" must be a string when present`) };
    }
  }
  return {
    ok: true,
    value: {
      access: { accessToken, tokenType: "Bearer", expiresAt: new Date(sentAt.getTime() + expiresIn * 1000) },
      refreshToken: optionalString(body, "refresh_token"),
      idToken: optionalString(body, "id_token"),
    },
  };
}

/**
 * The failure of a non-200 answer from a standards-following token endpoint
 * (RFC 6749 §5.2; Auth0 answers 403 where the RFC says 400). For the code
 * grant `invalid_grant` is a bad code, or a bad verifier when the description
 * says so; for the refresh grant it means the refresh token is dead. A 401 is
 * client authentication failing, whatever the error name (Auth0 calls it
 * `access_denied`).
 */
export function tokenErrorFailure(response: ProviderResponse, endpoint: string, grant: "authorization_code" | "refresh_token"): ProviderFailure {
  const transient = transientFailure(response, endpoint);
  if (transient) return transient;
  const { error, description } = parseOAuthError(response);
  const detail = `${endpoint}: HTTP ${response.status} ${error ?? "(no error code)"}${description ? ` "${description}"` : ""}`;
  if (response.status === 401) return { kind: "Misconfigured", detail };
  switch (error) {
    case "invalid_grant":
      if (grant === "refresh_token") return { kind: "RefreshTokenRejected", detail };
      return description !== undefined && /verifier|pkce|code challenge/i.test(description) ? { kind: "InvalidVerifier" } : { kind: "InvalidCode" };
    case "access_denied":
      return { kind: "AccessDenied" };
    case "invalid_client":
    case "unauthorized_client":
    case "unsupported_grant_type":
    case "invalid_request":
    case "invalid_scope":
      return { kind: "Misconfigured", detail };
    default:
      return malformed(endpoint, `unexpected HTTP ${response.status} ${error ?? "without error code"}`);
  }
}

/** Identifiers and numbers sometimes arrive as JSON numbers; keep their digits (only while exact). */
export function digitsOrString(value: unknown): string | undefined {
  if (typeof value === "string") return storableString(value);
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  return undefined;
}
