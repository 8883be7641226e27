/**
 * Truecaller signed profiles (Android SDK 2.x TrueProfile, iOS SDK; "Server Side
 * Response Validation" and github.com/truecaller/backend-sdk-validation): the
 * SDK hands the app `payload` (base64 of the profile JSON), `signature` (base64,
 * computed over the payload *string*) and `signatureAlgorithm` (Java naming,
 * SHA512withRSA). Truecaller's public keys are served at
 * `https://api4.truecaller.com/v1/key` as `[{"keyType":"RSA","key":"<base64
 * X.509 SubjectPublicKeyInfo>"}]`; they are cached, and a signature no cached
 * key verifies makes us re-read them once (at most once a minute: the
 * signature comes from the client, who must not be able to make us hammer the
 * key endpoint).
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from "node:crypto";
import type { Logger } from "../../logger.js";
import { IDEMPOTENT_READ_RETRY, createProviderHttp, sendWithRetry, type HttpOutcome, type ProviderHttp } from "../http.js";
import { failureWithoutResponse, malformed, optionalString, parseJsonObject, transientFailure } from "../oauth-response.js";
import { normalizePhoneNumber } from "../phone-number.js";
import type { ProviderFailure, ProviderProfile, ProviderResult, SignedProfileProblem } from "../provider.js";
import { createRefreshingValue } from "../refreshing-value.js";
import type { Telemetry } from "../../telemetry/telemetry.js";

const KEYS_ENDPOINT = "truecaller keys";
/** The algorithm the SDK uses, and the only others it may name; anything else is refused, never guessed. */
export const DEFAULT_SIGNATURE_ALGORITHM = "SHA512withRSA";
const HASH_OF_ALGORITHM: Readonly<Record<string, string>> = { SHA512withRSA: "sha512", SHA384withRSA: "sha384", SHA256withRSA: "sha256" };
/** Keys are re-read this often even when every signature verifies. */
const KEYS_MAX_AGE_MS = 24 * 60 * 60_000;
/** A failed check re-reads the keys at most this often; a failed read is retried no sooner either. */
const KEY_REFETCH_COOLDOWN_MS = 60_000;
/** `requestTime` this far in the future still counts (clock skew). */
export const SIGNED_PAYLOAD_CLOCK_SKEW_S = 60;
/** Profiles are a few hundred bytes; signatures of RSA-4096 are 684 base64 characters. */
export const MAX_PAYLOAD_LENGTH = 16_384;
export const MAX_SIGNATURE_LENGTH = 2_048;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** `requestTime` above this is in milliseconds, not seconds (the year 5138 in seconds). */
const MILLISECOND_TIMESTAMP_FLOOR = 1e11;

/** TrueProfile codes gender as M/F/N; stored as the OAuth profile words it ("male", "female"); N is no answer. */
const GENDER_OF_CODE: ReadonlyMap<string, string> = new Map([["M", "male"], ["F", "female"]]);

export interface SignedProfileInput {
  readonly payload: string;
  readonly signature: string;
  readonly signatureAlgorithm: string | undefined;
  readonly requestNonce: string;
}

/** A profile whose signature, nonce and age have been checked. */
export interface VerifiedSignedProfile {
  readonly profile: ProviderProfile;
  /**
   * Identifies the payload for the accept-once check: a hash of the signed bytes
   * themselves (a signature's base64 can be respelled; the payload cannot without
   * breaking it), and a hash because payloads hold personal data.
   */
  readonly digest: string;
}

function rejected(problem: SignedProfileProblem, detail: string): { ok: false; failure: ProviderFailure } {
  return { ok: false, failure: { kind: "InvalidSignedProfile", problem, detail: `truecaller signed profile: ${detail}` } };
}

export function sendKeysRequest(http: ProviderHttp, keysUrl: string, signal: AbortSignal): Promise<HttpOutcome> {
  return sendWithRetry(http, "keys", keysUrl, { method: "get", signal }, IDEMPOTENT_READ_RETRY);
}

/** Judges the key list: each entry `{keyType, key}` (or a bare base64 key); RSA SubjectPublicKeyInfo keys are kept, others skipped. */
export function parseKeysResponse(outcome: HttpOutcome): ProviderResult<KeyObject[]> {
  if (outcome.kind !== "response") return { ok: false, failure: failureWithoutResponse(outcome, KEYS_ENDPOINT) };
  const { response } = outcome;
  const transient = transientFailure(response, KEYS_ENDPOINT);
  if (transient) return { ok: false, failure: transient };
  if (response.status !== 200) return { ok: false, failure: malformed(KEYS_ENDPOINT, `unexpected HTTP ${response.status}`) };
  let entries: unknown;
  try {
    entries = JSON.parse(response.body);
  } catch {
    entries = undefined;
  }
  if (!Array.isArray(entries)) return { ok: false, failure: malformed(KEYS_ENDPOINT, "body is not a JSON array") };
  const keys = entries.flatMap((entry: unknown) => {
    const encoded = typeof entry === "string" ? entry : typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>).key : undefined;
    if (typeof encoded !== "string") return [];
    try {
      const key = createPublicKey({ key: Buffer.from(encoded, "base64"), format: "der", type: "spki" });
      return key.asymmetricKeyType === "rsa" ? [key] : [];
    } catch {
      return [];
    }
  });
  if (keys.length === 0) return { ok: false, failure: malformed(KEYS_ENDPOINT, "no RSA SubjectPublicKeyInfo key in the list") };
  return { ok: true, value: keys };
}

/** The hash of a named signature algorithm; `undefined` for any name not known to be Truecaller's. */
export function hashOfAlgorithm(signatureAlgorithm: string | undefined): string | undefined {
  const name = signatureAlgorithm ?? DEFAULT_SIGNATURE_ALGORITHM;
  return Object.hasOwn(HASH_OF_ALGORITHM, name) ? HASH_OF_ALGORITHM[name] : undefined;
}

/** Whether one of `keys` signed the payload string (its UTF-8 bytes, not the decoded JSON) with `hash`. */
export function signedByOneOf(keys: readonly KeyObject[], input: SignedProfileInput, hash: string): boolean {
  const data = Buffer.from(input.payload, "utf8");
  const signature = Buffer.from(input.signature, "base64");
  return keys.some((key) => verifySignature(hash, data, key, signature));
}

/**
 * Reads a payload whose signature has been verified: the nonce must be the
 * app's, `requestTime` (epoch seconds) within `maxAgeSeconds`, and the number
 * an E.164 phone number.
 */
export function parseSignedPayload(
  input: SignedProfileInput,
  now: Date,
  maxAgeSeconds: number,
): ProviderResult<ProviderProfile> {
  const body = parseJsonObject(Buffer.from(input.payload, "base64").toString("utf8"));
  if (!body) return rejected("Malformed", "payload is not base64 of a JSON object");
  if (body.requestNonce !== input.requestNonce) return rejected("NonceMismatch", '"requestNonce" differs from the one sent');
  const requestTime = body.requestTime;
  if (typeof requestTime !== "number" || !Number.isFinite(requestTime)) return rejected("Malformed", '"requestTime" is not a number');
  const signedAtMs = requestTime >= MILLISECOND_TIMESTAMP_FLOOR ? requestTime : requestTime * 1000;
  const ageSeconds = (now.getTime() - signedAtMs) / 1000;
  if (ageSeconds > maxAgeSeconds || ageSeconds < -SIGNED_PAYLOAD_CLOCK_SKEW_S) return rejected("Expired", `signed ${Math.round(ageSeconds)} s ago`);
  const rawPhone = optionalString(body, "phoneNumber");
  const phoneNumber = rawPhone === undefined ? undefined : normalizePhoneNumber(rawPhone, optionalString(body, "countryCode"));
  if (phoneNumber === undefined) return rejected("Malformed", '"phoneNumber" is not a phone number');
  const city = optionalString(body, "city");
  const zipcode = optionalString(body, "zipcode");
  return {
    ok: true,
    value: {
      // The payload names no account: the number is the identity.
      subject: phoneNumber.e164,
      phoneNumber,
      // Truecaller signs only numbers it has verified.
      phoneNumberVerified: true,
      givenName: optionalString(body, "firstName"),
      familyName: optionalString(body, "lastName"),
      email: optionalString(body, "email"),
      picture: optionalString(body, "avatarUrl"),
      gender: GENDER_OF_CODE.get(optionalString(body, "gender") ?? ""),
      address: city === undefined && zipcode === undefined ? undefined : { locality: city, postalCode: zipcode },
    },
  };
}

export interface SignedProfileOptions {
  /** Default https://api4.truecaller.com/v1/key. */
  readonly keysUrl: string;
  /** How old a payload may be (TRUECALLER_PAYLOAD_MAX_AGE_S). */
  readonly maxAgeSeconds: number;
  readonly timeoutMs: number;
  /** Deadline of one key read, retries included (the login's budget). */
  readonly keysTimeoutMs: number;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  readonly telemetry?: Telemetry;
  readonly now?: () => Date;
}

/** Verifies signed profiles against Truecaller's cached public keys. */
export interface TruecallerSignedProfiles {
  verify(input: SignedProfileInput, signal: AbortSignal): Promise<ProviderResult<VerifiedSignedProfile>>;
}

export function createTruecallerSignedProfiles(options: SignedProfileOptions): TruecallerSignedProfiles {
  const http = createProviderHttp({ ...options, provider: "truecaller_signed_profile" });
  const now = options.now ?? (() => new Date());
  const keys = createRefreshingValue<KeyObject[]>({
    load: async (signal) => parseKeysResponse(await sendKeysRequest(http, options.keysUrl, signal)),
    maxAgeMs: KEYS_MAX_AGE_MS,
    retryAfterFailureMs: KEY_REFETCH_COOLDOWN_MS,
    loadTimeoutMs: options.keysTimeoutMs,
    now: () => now().getTime(),
    onStaleKept: (failure) => options.logger.warn({ provider: "truecaller", failure }, "Truecaller keys could not be re-read; using the last good keys"),
  });
  let lastRefetchForFailure = Number.NEGATIVE_INFINITY;

  return {
    async verify(input, signal) {
      if (input.payload.length > MAX_PAYLOAD_LENGTH || !BASE64.test(input.payload)) return rejected("Malformed", "payload is not base64");
      if (input.signature.length > MAX_SIGNATURE_LENGTH || !BASE64.test(input.signature)) return rejected("Malformed", "signature is not base64");
      const hash = hashOfAlgorithm(input.signatureAlgorithm);
      if (hash === undefined) return rejected("UnsupportedAlgorithm", "signature algorithm is not one Truecaller uses");

      const current = await keys.get(signal);
      if (!current.ok) return current;
      if (!signedByOneOf(current.value, input, hash)) {
        const at = now().getTime();
        if (at - lastRefetchForFailure < KEY_REFETCH_COOLDOWN_MS) return rejected("BadSignature", "no Truecaller key verifies the signature");
        lastRefetchForFailure = at;
        const fresh = await keys.reload(signal);
        if (!fresh.ok) return fresh;
        if (!signedByOneOf(fresh.value, input, hash)) return rejected("BadSignature", "no Truecaller key verifies the signature");
      }
      const profile = parseSignedPayload(input, now(), options.maxAgeSeconds);
      if (!profile.ok) return profile;
      return { ok: true, value: { profile: profile.value, digest: createHash("sha256").update(input.payload).digest("base64url") } };
    },
  };
}
