/**
 * The authorization-code flow of a standards-following OpenID provider, shared
 * by wgtwo (Ory Hydra, confidential client) and the generic OIDC provider
 * (Auth0's native-app PKCE flow). A provider module only says where the
 * endpoints are, how the client authenticates, how the token request is
 * encoded and whether an ID token is required; sending and judging stay here.
 */
import { CODE_EXCHANGE_RETRY, IDEMPOTENT_READ_RETRY, sendWithRetry, type HttpOutcome, type ProviderHttp } from "../http.js";
import { failureWithoutResponse, malformed, optionalString, parseJsonObject, parseTokenAnswer, tokenErrorFailure, transientFailure } from "../oauth-response.js";
import { normalizePhoneNumber } from "../phone-number.js";
import type {
  AuthorizationCodeGrant,
  GrantRules,
  PhoneLoginProvider,
  ProviderId,
  ProviderProfile,
  ProviderResult,
  ProviderTokens,
} from "../provider.js";
import type { IdTokenClaims, IdTokenVerifier } from "./id-token.js";

/** RFC 6749 recommends `expires_in`; a server that omits it gets its token cached this long at most. */
const DEFAULT_EXPIRES_IN_S = 300;

/** Where one provider's endpoints are, and the verifier of its ID tokens. */
export interface OpenIdEndpoints {
  readonly tokenEndpoint: string;
  readonly userinfoEndpoint: string;
  readonly idTokens: IdTokenVerifier;
}

/** RFC 6749 §2.3.1 `client_secret_basic`, or a public client that names itself in the body. */
export type ClientAuthentication = { kind: "basic"; secret: string } | { kind: "none" };

export interface OpenIdClientOptions {
  readonly id: ProviderId;
  readonly clientId: string;
  readonly authentication: ClientAuthentication;
  /** Auth0 documents a JSON token request; RFC 6749 (and Hydra) a form. */
  readonly encoding: "json" | "form";
  /** OIDC logins need one; wgtwo sends one only with the `openid` scope. */
  readonly idToken: "required" | "when-present";
  /** Used when the app sends none; `undefined` makes the app's redirect URI required. */
  readonly defaultRedirectUri: string | undefined;
  /** Endpoints may come from discovery, which can fail like any provider call. */
  endpoints(signal: AbortSignal): Promise<ProviderResult<OpenIdEndpoints>>;
  readonly http: ProviderHttp;
  readonly now: () => Date;
}

/** The token request parameters (RFC 6749 §4.1.3, RFC 7636 §4.5, §6 for refresh). */
type TokenParameters = Record<string, string>;

/** Sends a token request, encoded and authenticated as the provider expects. Not retried once it may have been processed. */
export function sendTokenRequest(
  http: ProviderHttp,
  tokenEndpoint: string,
  parameters: TokenParameters,
  client: Pick<OpenIdClientOptions, "clientId" | "authentication" | "encoding">,
  signal: AbortSignal,
): Promise<HttpOutcome> {
  const body = client.authentication.kind === "none" ? { ...parameters, client_id: client.clientId } : parameters;
  const headers: Record<string, string> =
    client.authentication.kind === "basic" ? { authorization: basicCredentials(client.clientId, client.authentication.secret) } : {};
  const payload = client.encoding === "json" ? { json: body } : { body: new URLSearchParams(body) };
  return sendWithRetry(http, "token", tokenEndpoint, { method: "post", headers, ...payload, signal }, CODE_EXCHANGE_RETRY);
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded. */
export function basicCredentials(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString("base64")}`;
}

/** Reads user info with the access token (OIDC Core §5.3.1); a GET, so lost connections are retried. */
export function sendUserInfoRequest(http: ProviderHttp, userinfoEndpoint: string, accessToken: string, signal: AbortSignal): Promise<HttpOutcome> {
  return sendWithRetry(http, "userinfo", userinfoEndpoint, { method: "get", headers: { authorization: `Bearer ${accessToken}` }, signal }, IDEMPOTENT_READ_RETRY);
}

/**
 * Judges a user-info answer (OIDC Core §5.3.2, standard claims §5.1). 401/403
 * mean the token is not accepted; `sub` is required; `phone_number` is E.164
 * and counts only with `phone_number_verified: true`. Claims missing here are
 * taken from the ID token, which the same provider signed for the same subject.
 */
export function parseUserInfoResponse(outcome: HttpOutcome, endpoint: string, idToken: IdTokenClaims | undefined): ProviderResult<ProviderProfile> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, endpoint) };
  const { response } = outcome;
  const transient = transientFailure(response, endpoint);
  if (transient) return { ok: false, failure: transient };
  if (response.status === 401 || response.status === 403) {
    return { ok: false, failure: { kind: "ProfileUnavailable", detail: `${endpoint}: HTTP ${response.status}` } };
  }
  if (response.status !== 200) return { ok: false, failure: malformed(endpoint, `unexpected HTTP ${response.status}`) };
  const body = parseJsonObject(response.body);
  if (!body) return { ok: false, failure: malformed(endpoint, "body is not a JSON object") };
  const subject = optionalString(body, "sub");
  if (subject === undefined) return { ok: false, failure: malformed(endpoint, '"sub" must be a non-empty string') };
  // §5.3.2: the user-info response must not be used unless its `sub` is the ID token's.
  if (idToken !== undefined && idToken.sub !== subject) {
    return { ok: false, failure: { kind: "InvalidIdToken", detail: `${endpoint}: "sub" differs from the ID token's` } };
  }
  return profileFromClaims(subject, idToken === undefined ? [body] : [body, idToken], endpoint);
}

/** The profile from standard claims, each taken from the first source that has it; the number and its verification travel together. */
function profileFromClaims(subject: string, sources: readonly Readonly<Record<string, unknown>>[], endpoint: string): ProviderResult<ProviderProfile> {
  const claim = (name: string) => sources.map((source) => optionalString(source, name)).find((value) => value !== undefined);
  const phoneSource = sources.find((source) => optionalString(source, "phone_number") !== undefined);
  const rawPhone = phoneSource === undefined ? undefined : optionalString(phoneSource, "phone_number");
  const phoneNumber = rawPhone === undefined ? undefined : normalizePhoneNumber(rawPhone);
  if (rawPhone !== undefined && phoneNumber === undefined) return { ok: false, failure: malformed(endpoint, '"phone_number" is not a phone number') };
  return {
    ok: true,
    value: {
      subject,
      phoneNumber,
      phoneNumberVerified: phoneSource?.phone_number_verified === true,
      givenName: claim("given_name"),
      familyName: claim("family_name"),
      email: claim("email"),
      picture: claim("picture"),
      gender: claim("gender"),
      address: undefined,
    },
  };
}

/**
 * Judges a token answer and validates its ID token: required for OIDC logins,
 * checked whenever present. A nonce the app sent needs an ID token to be
 * checked against, so it makes the ID token required too.
 */
async function tokensFromAnswer(
  outcome: HttpOutcome,
  sentAt: Date,
  endpoint: string,
  grant: "authorization_code" | "refresh_token",
  idTokens: IdTokenVerifier,
  idTokenRule: OpenIdClientOptions["idToken"],
  nonce: string | undefined,
  signal: AbortSignal,
): Promise<ProviderResult<ProviderTokens>> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, endpoint) };
  const { response } = outcome;
  if (response.status !== 200) return { ok: false, failure: tokenErrorFailure(response, endpoint, grant) };
  const answer = parseTokenAnswer(response, endpoint, sentAt, DEFAULT_EXPIRES_IN_S);
  if (!answer.ok) return answer;
  const { access, refreshToken, idToken } = answer.value;
  if (idToken === undefined) {
    // A refresh may omit the ID token (OIDC Core §12.2) even where a login needs one.
    const needed = grant === "authorization_code" && (idTokenRule === "required" || nonce !== undefined);
    return needed
      ? { ok: false, failure: { kind: "InvalidIdToken", detail: `${endpoint}: no id_token in the answer` } }
      : { ok: true, value: { access, refreshToken, idToken: undefined } };
  }
  const claims = await idTokens.verify(idToken, nonce, endpoint, signal);
  return claims.ok ? { ok: true, value: { access, refreshToken, idToken: claims.value } } : claims;
}

/** A {@link PhoneLoginProvider} for a standards-following OpenID provider. */
export function createOpenIdProvider(options: OpenIdClientOptions): PhoneLoginProvider {
  const { http, now } = options;
  const tokenEndpointName = `${options.id} token`;
  const userinfoEndpointName = `${options.id} userinfo`;
  const grantRules: GrantRules = {
    verifier: options.authentication.kind === "none" ? "required" : "optional",
    redirectUri: options.defaultRedirectUri === undefined ? "required" : "optional",
    nonce: "supported",
  };
  return {
    id: options.id,
    grantRules,
    async exchangeCode(grant: AuthorizationCodeGrant, signal) {
      const endpoints = await options.endpoints(signal);
      if (!endpoints.ok) return endpoints;
      const parameters: TokenParameters = {
        grant_type: "authorization_code",
        code: grant.code,
        redirect_uri: grant.redirectUri ?? options.defaultRedirectUri ?? "",
        ...(grant.codeVerifier === undefined ? {} : { code_verifier: grant.codeVerifier }),
      };
      const sentAt = now();
      const outcome = await sendTokenRequest(http, endpoints.value.tokenEndpoint, parameters, options, signal);
      return tokensFromAnswer(outcome, sentAt, tokenEndpointName, "authorization_code", endpoints.value.idTokens, options.idToken, grant.nonce, signal);
    },
    async fetchProfile(tokens, signal) {
      const endpoints = await options.endpoints(signal);
      if (!endpoints.ok) return endpoints;
      const outcome = await sendUserInfoRequest(http, endpoints.value.userinfoEndpoint, tokens.access.accessToken, signal);
      return parseUserInfoResponse(outcome, userinfoEndpointName, tokens.idToken);
    },
    async refreshTokens(refreshToken, signal) {
      const endpoints = await options.endpoints(signal);
      if (!endpoints.ok) return endpoints;
      const sentAt = now();
      const outcome = await sendTokenRequest(http, endpoints.value.tokenEndpoint, { grant_type: "refresh_token", refresh_token: refreshToken }, options, signal);
      return tokensFromAnswer(outcome, sentAt, tokenEndpointName, "refresh_token", endpoints.value.idTokens, options.idToken, undefined, signal);
    },
  };
}
