/**
 * Truecaller OAuth SDK 3.x backend calls: "Fetching User Token" (`POST /v1/token`)
 * and "Fetching User Profile" (`GET /v1/userinfo`) from Truecaller's developer docs
 * (Android → OAuth SDK 3.0 → Integrating with your Backend). Sending and judging
 * a response are separate: `send*` only talks HTTP, `parse*` is pure.
 */
import { CODE_EXCHANGE_RETRY, IDEMPOTENT_READ_RETRY, createProviderHttp, sendWithRetry, type HttpOutcome, type ProviderHttp } from "../http.js";
import {
  digitsOrString,
  failureWithoutResponse,
  malformed,
  optionalString,
  parseJsonObject,
  parseOAuthError,
  parseTokenAnswer,
  transientFailure,
} from "../oauth-response.js";
import { normalizePhoneNumber } from "../phone-number.js";
import type {
  AuthorizationCodeGrant,
  PhoneLoginProvider,
  ProviderProfile,
  ProviderResult,
  ProviderToken,
  ProviderTokens,
} from "../provider.js";
import type { Telemetry } from "../../telemetry/telemetry.js";

const TOKEN_PATH = "v1/token";
const USERINFO_PATH = "v1/userinfo";
const TOKEN_ENDPOINT = "truecaller token";
const USERINFO_ENDPOINT = "truecaller userinfo";

/** Sends the authorization-code exchange exactly as Truecaller's sample cURL does (form-encoded). */
export function sendTokenRequest(
  http: ProviderHttp,
  clientId: string,
  grant: AuthorizationCodeGrant,
  signal: AbortSignal,
): Promise<HttpOutcome> {
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    client_id: clientId,
    code: grant.code,
    // The grant rules make the verifier required for Truecaller; validation has checked it.
    code_verifier: grant.codeVerifier ?? "",
  });
  return sendWithRetry(http, "token", TOKEN_PATH, { method: "post", body, signal }, CODE_EXCHANGE_RETRY);
}

/**
 * Judges a token response. 200 must carry `access_token`, a positive `expires_in`
 * and a Bearer `token_type`; 403 `invalid_grant` is split by its description into
 * a bad code, a bad verifier, or (without description) a client not allowed the grant.
 * `sentAt` is when the request left, so the computed expiry is never late.
 */
export function parseTokenResponse(outcome: HttpOutcome, sentAt: Date): ProviderResult<ProviderTokens> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, TOKEN_ENDPOINT) };
  const { response } = outcome;
  const transient = transientFailure(response, TOKEN_ENDPOINT);
  if (transient) return { ok: false, failure: transient };

  if (response.status !== 200) {
    const { error, description } = parseOAuthError(response);
    const detail = `${TOKEN_ENDPOINT}: HTTP ${response.status} ${error ?? "(no error code)"}${description ? ` "${description}"` : ""}`;
    switch (error) {
      case "invalid_grant":
        if (description === undefined) return { ok: false, failure: { kind: "Misconfigured", detail } };
        return { ok: false, failure: /verifier/i.test(description) ? { kind: "InvalidVerifier" } : { kind: "InvalidCode" } };
      case "access_denied":
        return { ok: false, failure: { kind: "AccessDenied" } };
      case "invalid_client":
      case "unsupported_grant_type":
      case "invalid_request":
      case "unauthorized_client":
        return { ok: false, failure: { kind: "Misconfigured", detail } };
      default:
        return { ok: false, failure: malformed(TOKEN_ENDPOINT, `unexpected HTTP ${response.status} ${error ?? "without error code"}`) };
    }
  }

  const answer = parseTokenAnswer(response, TOKEN_ENDPOINT, sentAt);
  // Truecaller grants no offline access and issues no ID token: the profile comes from user info.
  return answer.ok ? { ok: true, value: { access: answer.value.access, refreshToken: undefined, idToken: undefined } } : answer;
}

/** Reads the profile with the access token; a GET, so lost connections are retried. */
export function sendUserInfoRequest(http: ProviderHttp, token: ProviderToken, signal: AbortSignal): Promise<HttpOutcome> {
  return sendWithRetry(
    http,
    "userinfo",
    USERINFO_PATH,
    { method: "get", headers: { authorization: `Bearer ${token.accessToken}` }, signal },
    IDEMPOTENT_READ_RETRY,
  );
}

/**
 * Judges a userinfo response. 401 (token not accepted), 404 (no profile) and 422
 * (`openid` scope missing) mean the profile cannot be read; `sub` is required;
 * `phone_number` comes as international digits without the plus and is normalised
 * with `phone_number_country_code`; other fields depend on the granted scopes.
 */
export function parseUserInfoResponse(outcome: HttpOutcome): ProviderResult<ProviderProfile> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, USERINFO_ENDPOINT) };
  const { response } = outcome;
  const transient = transientFailure(response, USERINFO_ENDPOINT);
  if (transient) return { ok: false, failure: transient };
  if (response.status === 401 || response.status === 404 || response.status === 422) {
    return { ok: false, failure: { kind: "ProfileUnavailable", detail: `${USERINFO_ENDPOINT}: HTTP ${response.status}` } };
  }
  if (response.status !== 200) return { ok: false, failure: malformed(USERINFO_ENDPOINT, `unexpected HTTP ${response.status}`) };

  const body = parseJsonObject(response.body);
  if (!body) return { ok: false, failure: malformed(USERINFO_ENDPOINT, "body is not a JSON object") };
  const subject = digitsOrString(body.sub);
  if (subject === undefined) return { ok: false, failure: malformed(USERINFO_ENDPOINT, '"sub" must be a non-empty string') };

  const rawPhone = digitsOrString(body.phone_number);
  const countryHint = optionalString(body, "phone_number_country_code");
  const phoneNumber = rawPhone === undefined ? undefined : normalizePhoneNumber(rawPhone, countryHint);
  if (rawPhone !== undefined && phoneNumber === undefined) {
    return { ok: false, failure: malformed(USERINFO_ENDPOINT, '"phone_number" is not a phone number') };
  }
  const address = typeof body.address === "object" && body.address !== null ? (body.address as Record<string, unknown>) : undefined;
  return {
    ok: true,
    value: {
      subject,
      phoneNumber,
      phoneNumberVerified: body.phone_number_verified === true,
      givenName: optionalString(body, "given_name"),
      familyName: optionalString(body, "family_name"),
      email: optionalString(body, "email"),
      picture: optionalString(body, "picture"),
      gender: optionalString(body, "gender"),
      address: address && {
        locality: optionalString(address, "locality"),
        postalCode: digitsOrString(address.postal_code),
      },
    },
  };
}

export interface TruecallerOptions {
  readonly clientId: string;
  readonly baseUrl: string;
  /** Per-attempt timeout of each HTTP request. */
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  readonly telemetry?: Telemetry;
  readonly now?: () => Date;
}

/** Truecaller behind the provider interface the login service uses. */
export function createTruecallerProvider(options: TruecallerOptions): PhoneLoginProvider {
  const http = createProviderHttp({ ...options, provider: "truecaller" });
  const now = options.now ?? (() => new Date());
  return {
    id: "truecaller",
    grantRules: { verifier: "required", redirectUri: "unsupported", nonce: "unsupported" },
    async exchangeCode(grant, signal) {
      const sentAt = now();
      return parseTokenResponse(await sendTokenRequest(http, options.clientId, grant, signal), sentAt);
    },
    async fetchProfile(tokens, signal) {
      return parseUserInfoResponse(await sendUserInfoRequest(http, tokens.access, signal));
    },
  };
}
