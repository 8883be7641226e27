/**
 * Truecaller's verification of users without the Truecaller app (drop call or
 * OTP, Indian numbers; OAuth SDK 3.x "Non Truecaller User Verification →
 * Completing Verification"): the SDK hands the app an access token, and the
 * backend reads the verified number with
 * `GET {base}/v1/otp/client/installation/phoneNumberDetail/{accessToken}` and
 * the `clientId` header. The answer names no account, only the number.
 */
import { IDEMPOTENT_READ_RETRY, createProviderHttp, sendWithRetry, type HttpOutcome, type ProviderHttp } from "../http.js";
import { digitsOrString, failureWithoutResponse, malformed, optionalString, parseJsonObject, transientFailure } from "../oauth-response.js";
import { normalizePhoneNumber, type NormalizedPhoneNumber } from "../phone-number.js";
import type { ProviderResult } from "../provider.js";
import type { Telemetry } from "../../telemetry/telemetry.js";

const ENDPOINT = "truecaller phoneNumberDetail";
const PATH = "v1/otp/client/installation/phoneNumberDetail";
/** `{"code":1404,"message":"Invalid access token."}` */
const INVALID_ACCESS_TOKEN_CODE = 1404;
/** `{"code":404,"message":"Invalid partner credentials."}` */
const INVALID_PARTNER_CREDENTIALS_CODE = 404;

/** The access token goes into the path, so it is escaped; validation has already kept it short and printable. */
export function sendPhoneNumberDetailRequest(http: ProviderHttp, clientId: string, accessToken: string, signal: AbortSignal): Promise<HttpOutcome> {
  return sendWithRetry(http, "phoneNumberDetail", `${PATH}/${encodeURIComponent(accessToken)}`, { method: "get", headers: { clientId }, signal }, IDEMPOTENT_READ_RETRY);
}

/**
 * Judges the answer: 200 `{"phoneNumber": 919999999999, "countryCode": "IN"}`
 * (the number may come unquoted, so a JSON number is read while it is exact),
 * 404 code 1404 an invalid access token, 404 code 404 our client id refused,
 * 5xx an outage.
 */
export function parsePhoneNumberDetailResponse(outcome: HttpOutcome): ProviderResult<NormalizedPhoneNumber> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, ENDPOINT) };
  const { response } = outcome;
  const transient = transientFailure(response, ENDPOINT);
  if (transient) return { ok: false, failure: transient };
  const body = parseJsonObject(response.body);
  if (response.status === 404) {
    switch (body?.code) {
      case INVALID_ACCESS_TOKEN_CODE:
        return { ok: false, failure: { kind: "InvalidCode" } };
      case INVALID_PARTNER_CREDENTIALS_CODE:
        return { ok: false, failure: { kind: "Misconfigured", detail: `${ENDPOINT}: HTTP 404 invalid partner credentials (TRUECALLER_CLIENT_ID)` } };
      default:
        return { ok: false, failure: malformed(ENDPOINT, "HTTP 404 without a known code") };
    }
  }
  if (response.status !== 200) return { ok: false, failure: malformed(ENDPOINT, `unexpected HTTP ${response.status}`) };
  if (!body) return { ok: false, failure: malformed(ENDPOINT, "body is not a JSON object") };
  const digits = digitsOrString(body.phoneNumber);
  const phoneNumber = digits === undefined ? undefined : normalizePhoneNumber(digits, optionalString(body, "countryCode"));
  if (phoneNumber === undefined) return { ok: false, failure: malformed(ENDPOINT, '"phoneNumber" is not a phone number') };
  return { ok: true, value: phoneNumber };
}

export interface PhoneNumberDetailOptions {
  readonly clientId: string;
  /** Default https://sdk-otp-verification-noneu.truecaller.com. */
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  readonly telemetry?: Telemetry;
}

/** Reads the number Truecaller verified for an access token of the app-less flow. */
export interface TruecallerNumberVerification {
  verifiedNumber(accessToken: string, signal: AbortSignal): Promise<ProviderResult<NormalizedPhoneNumber>>;
}

export function createTruecallerNumberVerification(options: PhoneNumberDetailOptions): TruecallerNumberVerification {
  const http = createProviderHttp({ ...options, provider: "truecaller_otp" });
  return {
    async verifiedNumber(accessToken, signal) {
      return parsePhoneNumberDetailResponse(await sendPhoneNumberDetailRequest(http, options.clientId, accessToken, signal));
    },
  };
}
