/**
 * A generic OpenID Connect provider with PKCE, as Auth0 documents its native-app
 * flow ("Request Tokens"): endpoints from discovery
 * (`{issuer}/.well-known/openid-configuration`, OpenID Connect Discovery 1.0
 * §4), a JSON token request from a public client (`grant_type, client_id,
 * code_verifier, code, redirect_uri`), a fully validated ID token, and the phone
 * number from the `phone_number` / `phone_number_verified` claims.
 */
import type { Logger } from "../../logger.js";
import { createProviderHttp, IDEMPOTENT_READ_RETRY, sendWithRetry, type HttpOutcome, type ProviderHttp } from "../http.js";
import { failureWithoutResponse, malformed, optionalString, parseJsonObject, transientFailure } from "../oauth-response.js";
import type { PhoneLoginProvider, ProviderResult } from "../provider.js";
import { acceptableIdTokenAlgorithms, createIdTokenVerifier, DEFAULT_ID_TOKEN_ALGORITHMS } from "../openid/id-token.js";
import { createOpenIdProvider, type OpenIdEndpoints } from "../openid/openid-client.js";
import { createRefreshingValue } from "../refreshing-value.js";
import type { Telemetry } from "../../telemetry/telemetry.js";

const DISCOVERY_ENDPOINT = "oidc discovery";
/** Discovery is re-read this often; a failed re-read keeps the last good document. */
const DISCOVERY_MAX_AGE_MS = 60 * 60_000;
/** After a failed re-read, the last good document serves this long before the next try. */
const DISCOVERY_RETRY_AFTER_FAILURE_MS = 30_000;

export interface OidcOptions {
  /** The exact issuer, e.g. `https://tenant.auth0.com/` (trailing slash as the provider writes it). */
  readonly issuer: string;
  readonly clientId: string;
  readonly redirectUri: string | undefined;
  readonly timeoutMs: number;
  /** Deadline of one discovery read, retries included (the login's budget). */
  readonly discoveryTimeoutMs: number;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  readonly telemetry?: Telemetry;
  readonly now?: () => Date;
}

/** The discovery document's fields this gateway uses. */
export interface DiscoveredEndpoints {
  readonly tokenEndpoint: string;
  readonly userinfoEndpoint: string;
  readonly jwksUri: string;
  readonly algorithms: readonly string[];
}

/** The discovery URL of an issuer (Discovery §4: the issuer without its trailing slash, then the well-known path). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

export function sendDiscoveryRequest(http: ProviderHttp, issuer: string, signal: AbortSignal): Promise<HttpOutcome> {
  return sendWithRetry(http, "discovery", discoveryUrl(issuer), { method: "get", signal }, IDEMPOTENT_READ_RETRY);
}

/**
 * Judges a discovery document (Discovery §4.3): its `issuer` must be exactly
 * the configured one, and the endpoints the flow needs must be https URLs
 * (http only where the issuer itself is http, as in local emulation).
 */
export function parseDiscoveryResponse(outcome: HttpOutcome, issuer: string): ProviderResult<DiscoveredEndpoints> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, DISCOVERY_ENDPOINT) };
  const { response } = outcome;
  const transient = transientFailure(response, DISCOVERY_ENDPOINT);
  if (transient) return { ok: false, failure: transient };
  if (response.status !== 200) {
    return { ok: false, failure: { kind: "Misconfigured", detail: `${DISCOVERY_ENDPOINT}: HTTP ${response.status} (is OIDC_ISSUER right?)` } };
  }
  const body = parseJsonObject(response.body);
  if (!body) return { ok: false, failure: malformed(DISCOVERY_ENDPOINT, "body is not a JSON object") };
  if (body.issuer !== issuer) {
    return { ok: false, failure: { kind: "Misconfigured", detail: `${DISCOVERY_ENDPOINT}: "issuer" differs from OIDC_ISSUER` } };
  }
  const allowedProtocol = new URL(issuer).protocol;
  const endpoint = (name: string): string | undefined => {
    const value = optionalString(body, name);
    if (value === undefined || !URL.canParse(value)) return undefined;
    const { protocol } = new URL(value);
    return protocol === "https:" || protocol === allowedProtocol ? value : undefined;
  };
  const tokenEndpoint = endpoint("token_endpoint");
  const userinfoEndpoint = endpoint("userinfo_endpoint");
  const jwksUri = endpoint("jwks_uri");
  if (tokenEndpoint === undefined || userinfoEndpoint === undefined || jwksUri === undefined) {
    return { ok: false, failure: malformed(DISCOVERY_ENDPOINT, '"token_endpoint", "userinfo_endpoint" and "jwks_uri" must be URLs') };
  }
  const advertised = body.id_token_signing_alg_values_supported;
  const named = Array.isArray(advertised) ? advertised.filter((value): value is string => typeof value === "string") : [];
  const algorithms = named.length > 0 ? acceptableIdTokenAlgorithms(named) : DEFAULT_ID_TOKEN_ALGORITHMS;
  if (algorithms.length === 0) {
    return { ok: false, failure: { kind: "Misconfigured", detail: `${DISCOVERY_ENDPOINT}: ID tokens are signed only with algorithms we refuse (none or HMAC)` } };
  }
  return { ok: true, value: { tokenEndpoint, userinfoEndpoint, jwksUri, algorithms } };
}

export function createOidcProvider(options: OidcOptions): PhoneLoginProvider {
  const http = createProviderHttp({ ...options, provider: "oidc" });
  const now = options.now ?? (() => new Date());
  let verifier: { jwksUri: string; endpoints: OpenIdEndpoints } | undefined;

  const discovery = createRefreshingValue<OpenIdEndpoints>({
    async load(signal) {
      const parsed = parseDiscoveryResponse(await sendDiscoveryRequest(http, options.issuer, signal), options.issuer);
      if (!parsed.ok) return parsed;
      const { tokenEndpoint, userinfoEndpoint, jwksUri, algorithms } = parsed.value;
      // The ID-token verifier holds the cached keys: keep it while the JWKS URL stays the same.
      const idTokens =
        verifier?.jwksUri === jwksUri
          ? verifier.endpoints.idTokens
          : createIdTokenVerifier({
              issuer: options.issuer,
              clientId: options.clientId,
              jwksUri,
              algorithms,
              timeoutMs: options.timeoutMs,
              now,
              http,
            });
      verifier = { jwksUri, endpoints: { tokenEndpoint, userinfoEndpoint, idTokens } };
      return { ok: true, value: verifier.endpoints };
    },
    maxAgeMs: DISCOVERY_MAX_AGE_MS,
    retryAfterFailureMs: DISCOVERY_RETRY_AFTER_FAILURE_MS,
    loadTimeoutMs: options.discoveryTimeoutMs,
    now: () => now().getTime(),
    onStaleKept: (failure) => options.logger.warn({ provider: "oidc", failure }, "OIDC discovery could not be re-read; using the last good document"),
  });

  return createOpenIdProvider({
    id: "oidc",
    clientId: options.clientId,
    authentication: { kind: "none" },
    encoding: "json",
    idToken: "required",
    defaultRedirectUri: options.redirectUri,
    endpoints: (signal) => discovery.get(signal),
    http,
    now,
  });
}
