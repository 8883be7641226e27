/**
 * ID token validation (OpenID Connect Core 1.0 §3.1.3.7) with jose: the
 * signature against the provider's JWKS, the exact issuer, our client id in
 * the audience (and as `azp` when there are several), `exp`/`iat` within a
 * small skew, and the nonce when the app sent one.
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from "jose";
import type { ProviderFailure, ProviderResult, ProviderTokens } from "../provider.js";
import { withinDeadline } from "../refreshing-value.js";
import type { ProviderHttp } from "../http.js";

/** Clock skew tolerated between us and the provider (exp, iat). */
const CLOCK_SKEW_S = 60;
/** An ID token is minted for the exchange that returns it; an older one is a replay. */
export const MAX_ID_TOKEN_AGE_S = 600;
/** Keys are re-read this often even when no unknown `kid` shows up (jose's default is the same). */
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
/** Algorithms accepted unless discovery names others; never `none` and never a symmetric one. */
export const DEFAULT_ID_TOKEN_ALGORITHMS: readonly string[] = ["RS256"];
const ASYMMETRIC_ALGORITHMS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]);

export type IdTokenClaims = NonNullable<ProviderTokens["idToken"]>;

export interface IdTokenVerifierOptions {
  /** The exact `iss`, e.g. `https://id.wgtwo.com/` with its trailing slash. */
  readonly issuer: string;
  readonly clientId: string;
  readonly jwksUri: string;
  /** Signing algorithms to accept; only asymmetric ones are kept. */
  readonly algorithms?: readonly string[];
  readonly timeoutMs: number;
  /** The provider's HTTP: its fetch and its telemetry. */
  readonly http: ProviderHttp;
  readonly now?: () => Date;
}

/** Validates the ID tokens of one provider; keys are cached and re-read once when a token names an unknown `kid`. */
export interface IdTokenVerifier {
  /** `signal` is the login's deadline: a JWKS read on its behalf ends with it. */
  verify(idToken: string, expectedNonce: string | undefined, endpoint: string, signal: AbortSignal): Promise<ProviderResult<IdTokenClaims>>;
}

/** The algorithms of `advertised` we accept for ID tokens: asymmetric ones only (no `none`, no HMAC with a shared secret). */
export function acceptableIdTokenAlgorithms(advertised: readonly string[]): string[] {
  return advertised.filter((algorithm) => ASYMMETRIC_ALGORITHMS.has(algorithm));
}

export function createIdTokenVerifier(options: IdTokenVerifierOptions): IdTokenVerifier {
  const algorithms = acceptableIdTokenAlgorithms(options.algorithms ?? DEFAULT_ID_TOKEN_ALGORITHMS);
  const now = options.now ?? (() => new Date());
  const keys = createRemoteJWKSet(new URL(options.jwksUri), {
    timeoutDuration: options.timeoutMs,
    cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
    // ID tokens come from the provider's own token answer, never from the client, so an unknown
    // `kid` cannot be used to make us hammer the JWKS endpoint: re-read it at once.
    cooldownDuration: 0,
    [customFetch]: (url, init) =>
      options.http.telemetry.providerCall({ provider: options.http.provider, endpoint: "jwks" }, () => options.http.fetch(url, init), (response: Response) => String(response.status)),
  });

  async function check(idToken: string, expectedNonce: string | undefined, endpoint: string): Promise<ProviderResult<IdTokenClaims>> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, keys, {
        issuer: options.issuer,
        audience: options.clientId,
        algorithms: [...algorithms],
        currentDate: now(),
        // jose allows the skew on top of the maximum age; the age bound is meant as written.
        clockTolerance: CLOCK_SKEW_S,
        maxTokenAge: MAX_ID_TOKEN_AGE_S - CLOCK_SKEW_S,
        requiredClaims: ["sub", "exp", "iat"],
      }));
    } catch (error) {
      return { ok: false, failure: verificationFailure(error, endpoint) };
    }
    const problem = claimProblem(payload, options.clientId, expectedNonce);
    if (problem !== undefined) return { ok: false, failure: { kind: "InvalidIdToken", detail: `${endpoint}: ID token ${problem}` } };
    return { ok: true, value: payload as IdTokenClaims };
  }

  return {
    // A JWKS read (shared by concurrent checks, bounded by its own timeout) must not hold the login past its deadline.
    verify: (idToken, expectedNonce, endpoint, signal) => withinDeadline(check(idToken, expectedNonce, endpoint), signal),
  };
}

/** What jose does not check: `sub` is a non-empty string, `azp` (§3.1.3.7 items 4-5) and the nonce (item 11). */
function claimProblem(payload: JWTPayload, clientId: string, expectedNonce: string | undefined): string | undefined {
  if (typeof payload.sub !== "string" || payload.sub.length === 0) return '"sub" is not a non-empty string';
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (payload.azp !== undefined ? payload.azp !== clientId : audiences.length > 1) return '"azp" is not our client id';
  if (expectedNonce !== undefined && payload.nonce !== expectedNonce) return '"nonce" does not match the one sent';
  return undefined;
}

/** jose's verdict as a failure: an unreachable JWKS is an outage, anything else a token we must not trust. */
function verificationFailure(error: unknown, endpoint: string): ProviderFailure {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return { kind: "Unavailable", detail: `${endpoint}: JWKS ${error.code}`, retryAfterSeconds: undefined };
  }
  // A JWKS answer other than 200 is a generic JOSEError; a network failure is fetch's TypeError.
  if (error instanceof TypeError || (error instanceof errors.JOSEError && error.code === "ERR_JOSE_GENERIC")) {
    return { kind: "Unavailable", detail: `${endpoint}: JWKS could not be read`, retryAfterSeconds: undefined };
  }
  if (error instanceof errors.JOSEError) {
    const claim = error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired ? ` (${error.claim})` : "";
    return { kind: "InvalidIdToken", detail: `${endpoint}: ID token rejected: ${error.code}${claim}` };
  }
  throw error;
}
