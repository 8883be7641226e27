/**
 * Local emulator of Truecaller's backend: every server-to-server call a backend makes to confirm a
 * login, on one server, so one URL serves as `TRUECALLER_BASE_URL`, `TRUECALLER_VERIFICATION_BASE_URL`
 * and (with `/v1/key`) `TRUECALLER_KEYS_URL`.
 *
 * - OAuth SDK 3.x, after the Android SDK hands the app an authorization code:
 *   - Token: https://docs.truecaller.com/truecaller-sdk/android/oauth-sdk-3.0.0/integration-steps/integrating-with-your-backend/fetching-user-token
 *   - User info: https://docs.truecaller.com/truecaller-sdk/android/oauth-sdk-3.0.0/integration-steps/integrating-with-your-backend/fetching-user-profile
 * - Non-Truecaller users (drop call / OTP verification, Indian numbers), after the SDK hands the app an
 *   access token: `GET /v1/otp/client/installation/phoneNumberDetail/{accessToken}` (host
 *   sdk-otp-verification-noneu.truecaller.com),
 *   https://docs.truecaller.com/truecaller-sdk/android/oauth-sdk-3.0.0/integration-steps/non-truecaller-user-verification/server-side-validation
 * - Signed profiles (SDK 2.x TrueProfile, iOS TrueProfile): the app receives `payload`, `signature` and
 *   `signatureAlgorithm`; the backend verifies the signature with a key from `GET /v1/key` (host
 *   api4.truecaller.com), https://docs.truecaller.com/truecaller-sdk/ios/server-side-response-validation
 *   and https://github.com/truecaller/backend-sdk-validation.
 *
 * What happens on the phone is replaced by the control API: {@link TruecallerEmulator.mintCode}
 * (`POST /emulator/codes`), {@link TruecallerEmulator.mintVerificationToken}
 * (`POST /emulator/verification-tokens`) and {@link TruecallerEmulator.signProfile}
 * (`POST /emulator/signed-profiles`); {@link TruecallerEmulator.rotateKeys} replaces the published key.
 * Faults that a healthy server never produces (5xx, 429, slow or dead connections) are injected on
 * demand so the gateway's failure handling can be tested over real HTTP.
 */
import { generateKeyPairSync, randomInt, randomUUID, sign, type KeyObject } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { UnreachableCaseError } from "../unreachable.js";
import {
  AUTHORIZATION_CODE_GRANT,
  BEARER_PATTERN,
  codeChallengeSchema,
  controlRoutes,
  createRouter,
  EmulatorServer,
  EmulatorUsageError,
  FORM_MEDIA_TYPE,
  mediaType,
  MS_PER_SECOND,
  oauthError,
  OPENID_SCOPE,
  parseOrThrow,
  pick,
  ProviderEndpoints,
  randomDigits,
  randomSecret,
  readJson,
  s256,
  sendEmpty,
  sendJson,
  sendText,
  verifierMatches,
  type EndpointFault,
  type JsonAnswer,
  type RequestRecord,
  type Routes,
} from "./http-emulator.js";

export { EmulatorUsageError, type FaultKind } from "./http-emulator.js";

/** Client id registered in every emulator with the authorization_code grant, used when a code names none. */
export const DEFAULT_CLIENT_ID = "emulator-client";

/** Scopes granted to a minted code unless the caller chooses others: every scope user info knows. */
export const DEFAULT_SCOPES: readonly string[] = ["openid", "profile", "phone", "email", "address"];

const DEFAULT_TOKEN_EXPIRES_IN_SECONDS = 3600; // the value in the token page's sample answer
const DEFAULT_CODE_TTL_SECONDS = 600;
const DEFAULT_VERIFICATION_TOKEN_TTL_SECONDS = 600;

const TOKEN_PATH = "/v1/token";
const USERINFO_PATH = "/v1/userinfo";
/** The access token is the last path segment, after this prefix. */
const PHONE_NUMBER_DETAIL_PREFIX = "/v1/otp/client/installation/phoneNumberDetail/";
/** How the phoneNumberDetail path is routed and logged: a placeholder where the access token goes. */
const PHONE_NUMBER_DETAIL_PATH = `${PHONE_NUMBER_DETAIL_PREFIX}{accessToken}`;
const KEYS_PATH = "/v1/key";
/** The `clientId` request header of phoneNumberDetail, as Node names it (lower case). */
const CLIENT_ID_HEADER = "clientid";
/** Where each provider endpoint is served, as routed and logged. */
const PROVIDER_PATHS: Readonly<Record<ProviderEndpoint, string>> = {
  token: TOKEN_PATH,
  userinfo: USERINFO_PATH,
  phoneNumberDetail: PHONE_NUMBER_DETAIL_PATH,
  keys: KEYS_PATH,
};

/** Signing keys: RSA 2048 (as Truecaller's published key), listed by `GET /v1/key` as SPKI DER in base64. */
const RSA_MODULUS_BITS = 2048;
const RSA_KEY_TYPE = "RSA";
/** The label the SDK sends (Java naming); `RSA-SHA512` in node:crypto. */
const DEFAULT_SIGNATURE_ALGORITHM = "SHA512withRSA";
const DEFAULT_HASH_ALGORITHM = "sha512";
const SIGNING_KEY_CHOICES = ["current", "retired", "foreign"] as const;
const HASH_ALGORITHMS = ["sha512", "sha256"] as const;

/**
 * Digits with the country prefix, no plus (E.164 §6.1: at most 15). No leading 0, since the real
 * phoneNumberDetail answer sends it as a JSON number, which 15 digits keep below 2^53.
 */
const PHONE_DIGITS_PATTERN = /^[1-9]\d{0,14}$/;
/** ISO 3166-1 alpha-2. */
const COUNTRY_CODE_PATTERN = /^[A-Z]{2}$/;

/** The user-info claims (fetching-user-profile page, 200 sample), in the order of that sample. */
export interface TruecallerProfile {
  sub: string;
  given_name?: string;
  family_name?: string;
  /** Digits with the country prefix and no plus, e.g. "919876543210". */
  phone_number?: string;
  email?: string;
  picture?: string;
  gender?: string;
  /** ISO 3166-1 alpha-2, e.g. "IN". */
  phone_number_country_code?: string;
  phone_number_verified?: boolean;
  address?: { locality?: string; postal_code?: string };
}

/** What the authorization step on the phone would have decided; see {@link TruecallerEmulator.mintCode}. */
export interface MintCodeOptions {
  /** S256 challenge; when absent the emulator generates a verifier and returns it. */
  codeChallenge?: string;
  /** Default: {@link DEFAULT_CLIENT_ID}. */
  clientId?: string;
  /** Default: {@link DEFAULT_SCOPES}. */
  scopes?: string[];
  /** Merged (shallowly) over a generated Indian profile; `null` makes user info answer 404. */
  profile?: Partial<TruecallerProfile> | null;
  /** The user declined: the token call answers 403 `access_denied`. */
  accessDenied?: boolean;
  /** Default 600. */
  codeTtlSeconds?: number;
}

/** A minted code; `codeVerifier` is present only when the emulator generated it. */
export interface MintedCode {
  code: string;
  codeVerifier?: string;
  profile: TruecallerProfile | null;
}

/** What the SDK reports after a drop call or OTP verified a number; see {@link TruecallerEmulator.mintVerificationToken}. */
export interface MintVerificationTokenOptions {
  /** Digits with the country prefix and no plus; default a random Indian mobile, "91" then 9xxxxxxxxx. */
  phoneNumber?: string;
  /** ISO 3166-1 alpha-2; default "IN". */
  countryCode?: string;
  /** The client the token is granted to; default {@link DEFAULT_CLIENT_ID}. */
  clientId?: string;
  /** Send `phoneNumber` as a JSON string instead of the unquoted number the real server sends. */
  numberAsString?: boolean;
  /** Default 600. */
  ttlSeconds?: number;
}

/** A minted drop-call/OTP access token and what phoneNumberDetail answers for it. */
export interface MintedVerificationToken {
  accessToken: string;
  phoneNumber: string;
  countryCode: string;
}

/**
 * The profile inside a signed `payload` (SDK 2.x / iOS TrueProfile), fields as the SDK names them.
 * `requestNonce` and `requestTime` come from {@link SignProfileOptions}, never from the profile override.
 */
export interface TruecallerSignedProfile {
  firstName?: string;
  lastName?: string;
  /** E.164 with the plus, e.g. "+919876543210". */
  phoneNumber?: string;
  /** ISO 3166-1 alpha-2, e.g. "IN". */
  countryCode?: string;
  /** "M", "F" or "N". */
  gender?: string;
  email?: string;
  avatarUrl?: string;
  city?: string;
  zipcode?: string;
  isTrueName?: boolean;
  isAmbassador?: boolean;
  /** The string the app chose for this request, echoed so the backend can correlate the answer. */
  requestNonce: string;
  /** Epoch seconds when Truecaller signed the profile. */
  requestTime: number;
  /** Opaque. */
  verifier?: string;
  userLocale?: string;
}

/**
 * Which private key signs: "current" is the one `GET /v1/key` lists; "retired" was listed before the
 * last {@link TruecallerEmulator.rotateKeys}; "foreign" was never listed.
 */
export type SigningKeyChoice = (typeof SIGNING_KEY_CHOICES)[number];

/** What the SDK would sign; see {@link TruecallerEmulator.signProfile}. */
export interface SignProfileOptions {
  requestNonce: string;
  /** Merged (shallowly) over a generated Indian profile. */
  profile?: Partial<TruecallerSignedProfile>;
  /** Epoch seconds; default the emulator's clock, rounded down. */
  requestTime?: number;
  /** Default "current". */
  signWith?: SigningKeyChoice;
  /** The label returned as `signatureAlgorithm`, whatever is used; default "SHA512withRSA". */
  signatureAlgorithm?: string;
  /** The digest actually used (RSA PKCS#1 v1.5); default "sha512". */
  hashAlgorithm?: (typeof HASH_ALGORITHMS)[number];
}

/** What the SDK hands the app, plus the decoded `profile` for the test's convenience. */
export interface SignedProfile {
  /** Base64 of the profile JSON. */
  payload: string;
  /** Base64 of the RSA signature over the `payload` text itself (its UTF-8 bytes), not over the JSON. */
  signature: string;
  signatureAlgorithm: string;
  /** Exactly what `payload` decodes to. */
  profile: TruecallerSignedProfile;
}

/** One entry of the `GET /v1/key` answer (a JSON array). */
export interface TruecallerPublicKey {
  keyType: typeof RSA_KEY_TYPE;
  /** Base64 of the DER X.509 SubjectPublicKeyInfo. */
  key: string;
}

const PROVIDER_ENDPOINTS = ["token", "userinfo", "phoneNumberDetail", "keys"] as const;

/** The provider endpoints of the three contracts: OAuth (token, userinfo), drop call/OTP, signed profiles. */
export type ProviderEndpoint = (typeof PROVIDER_ENDPOINTS)[number];

/**
 * A forced answer for the next request(s) to one endpoint, see {@link EndpointFault}; `error` names a
 * contract error instead of a status.
 */
export interface Fault extends EndpointFault<ProviderEndpoint> {
  /** A contract error that only a fault produces (`server_error`, `too_many_requests`, `temporarily_unavailable`). */
  error?: string;
}

/** One provider request as the emulator saw it; deliberately without codes, verifiers or tokens. */
export interface RecordedRequest extends RequestRecord<ProviderEndpoint> {
  /** The `code` field of a phoneNumberDetail error answer (404 or 1404). */
  code?: number;
}

/** Registration of a client id, as in Truecaller's developer console. */
export interface EmulatorClient {
  /** False reproduces "Valid grant type but not allowed for the client" (403 `invalid_grant`). */
  authorizationCodeGrant: boolean;
}

/** Options of {@link createTruecallerEmulator}. */
export interface TruecallerEmulatorOptions {
  /** Clients besides {@link DEFAULT_CLIENT_ID} (which an entry here may override). */
  clients?: Record<string, EmulatorClient>;
  /** `expires_in` of issued tokens; default 3600. */
  tokenExpiresInSeconds?: number;
  /** Clock in epoch milliseconds for code and token expiry, so tests can advance time. Default `Date.now`. */
  now?: () => number;
  /** Receives one line per provider request (method, path, outcome: never a secret). Default: silent. */
  log?: (line: string) => void;
}

/** A running (or ready to run) emulator; see {@link createTruecallerEmulator}. */
export interface TruecallerEmulator {
  /** Starts serving; port 0 picks a free port. Resolves with the base URL. */
  listen(port?: number, host?: string): Promise<{ url: string }>;
  /** Stops serving, destroying open connections (hanging requests included) so it returns promptly. */
  close(): Promise<void>;
  /** Creates an authorization code as if a user had just approved the app on their phone. */
  mintCode(options?: MintCodeOptions): MintedCode;
  /** Creates an access token as if a drop call or OTP had just verified a number on the phone. */
  mintVerificationToken(options?: MintVerificationTokenOptions): MintedVerificationToken;
  /** Signs a profile as Truecaller would for the SDK; see {@link SigningKeyChoice} for the keys. */
  signProfile(options: SignProfileOptions): SignedProfile;
  /** Makes a new current signing key; `GET /v1/key` then lists only it, and the old one is "retired". */
  rotateKeys(): void;
  /** Queues a fault; throws {@link EmulatorUsageError} for a fault that contradicts itself. */
  injectFault(fault: Fault): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** A copy of the provider requests received so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** How many requests an endpoint has received. */
  requestCount(endpoint: ProviderEndpoint): number;
  /** Forgets codes, tokens (of both kinds), faults and the request log; client registrations and signing keys stay. */
  reset(): void;
}

/** Token errors, worded as on the fetching-user-token page. */
const EMPTY_PARAMETERS = oauthError(400, "invalid_request", "Empty parameter(s) in request");
const INVALID_CLIENT = oauthError(403, "invalid_client", "Invalid client Id");
const GRANT_NOT_ALLOWED = oauthError(403, "invalid_grant");
const INVALID_CODE = oauthError(403, "invalid_grant", "Invalid authorization code");
const ACCESS_DENIED = oauthError(403, "access_denied");
const INVALID_VERIFIER = oauthError(403, "invalid_grant", "Invalid code verifier");

/**
 * User-info errors. The fetching-user-profile page gives statuses only; the bodies reuse RFC 6750
 * §3.1 error names where one fits and the page's wording as description.
 */
const NOT_BEARER: JsonAnswer = {
  ...oauthError(401, "invalid_request", "Authentication type is not bearer token"),
  headers: { "WWW-Authenticate": "Bearer" },
};
const INVALID_TOKEN: JsonAnswer = {
  ...oauthError(401, "invalid_token", "Token is invalid or expired"),
  headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
};
const OPENID_SCOPE_MISSING = oauthError(422, "insufficient_scope", "openid scope missing in initial request");
const PROFILE_NOT_PRESENT = oauthError(404, "not_found", "Profile information is not present for the user");

/**
 * phoneNumberDetail errors, as on the non-Truecaller-user server-side-validation page: both 404,
 * told apart by `code`.
 */
function verificationError(code: number, message: string): JsonAnswer {
  return { status: 404, body: { code, message } };
}

const INVALID_PARTNER_CREDENTIALS = verificationError(404, "Invalid partner credentials.");
const INVALID_ACCESS_TOKEN = verificationError(1404, "Invalid access token.");

/**
 * Contract rows no request can trigger on its own, so only {@link Fault.error} produces them. The
 * answer body is `{"error": <name>}` on every endpoint (the pages document none of these bodies).
 */
const FAULT_ONLY_ERRORS: Record<ProviderEndpoint, Readonly<Record<string, number>>> = {
  token: { server_error: 500, too_many_requests: 429, temporarily_unavailable: 503 },
  userinfo: { server_error: 500 },
  phoneNumberDetail: { server_error: 500 },
  keys: { server_error: 500 },
};

/** Which claims each scope releases (OpenID Connect Core §5.4, as Truecaller's sample profile uses them). */
const CLAIMS_BY_SCOPE: ReadonlyMap<string, readonly (keyof TruecallerProfile)[]> = new Map([
  ["openid", ["sub"]],
  ["profile", ["given_name", "family_name", "picture", "gender"]],
  ["phone", ["phone_number", "phone_number_country_code", "phone_number_verified"]],
  ["email", ["email"]],
  ["address", ["address"]],
]);

const profileOverrideSchema = z
  .strictObject({
    sub: z.string().min(1),
    given_name: z.string(),
    family_name: z.string(),
    phone_number: z.string(),
    email: z.string(),
    picture: z.string(),
    gender: z.string(),
    phone_number_country_code: z.string(),
    phone_number_verified: z.boolean(),
    address: z.strictObject({ locality: z.string().optional(), postal_code: z.string().optional() }),
  })
  .partial();

const mintCodeOptionsSchema: z.ZodType<MintCodeOptions> = z.strictObject({
  codeChallenge: codeChallengeSchema.optional(),
  clientId: z.string().min(1).optional(),
  scopes: z.array(z.string().min(1)).optional(),
  profile: profileOverrideSchema.nullable().optional(),
  accessDenied: z.boolean().optional(),
  codeTtlSeconds: z.number().positive().finite().optional(),
});

const mintVerificationTokenOptionsSchema: z.ZodType<MintVerificationTokenOptions> = z.strictObject({
  phoneNumber: z
    .string()
    .regex(PHONE_DIGITS_PATTERN, "must be up to 15 digits with the country prefix, without plus or leading 0")
    .optional(),
  countryCode: z.string().regex(COUNTRY_CODE_PATTERN, "must be ISO 3166-1 alpha-2 in capitals, e.g. IN").optional(),
  clientId: z.string().min(1).optional(),
  numberAsString: z.boolean().optional(),
  ttlSeconds: z.number().positive().finite().optional(),
});

const SET_BY_OPTION = "is set by the option of the same name, not in profile";

const signedProfileOverrideSchema = z
  .strictObject({
    firstName: z.string(),
    lastName: z.string(),
    phoneNumber: z.string(),
    countryCode: z.string(),
    gender: z.string(),
    email: z.string(),
    avatarUrl: z.string(),
    city: z.string(),
    zipcode: z.string(),
    isTrueName: z.boolean(),
    isAmbassador: z.boolean(),
    requestNonce: z.never(SET_BY_OPTION),
    requestTime: z.never(SET_BY_OPTION),
    verifier: z.string(),
    userLocale: z.string(),
  })
  .partial();

const signProfileOptionsSchema: z.ZodType<SignProfileOptions> = z.strictObject({
  requestNonce: z.string().min(1),
  profile: signedProfileOverrideSchema.optional(),
  requestTime: z.int().nonnegative().optional(),
  signWith: z.enum(SIGNING_KEY_CHOICES).optional(),
  signatureAlgorithm: z.string().min(1).optional(),
  hashAlgorithm: z.enum(HASH_ALGORITHMS).optional(),
});

interface CodeGrant {
  clientId: string;
  codeChallenge: string;
  scopes: readonly string[];
  profile: TruecallerProfile | null;
  accessDenied: boolean;
  expiresAt: number;
}

interface TokenGrant {
  scopes: readonly string[];
  profile: TruecallerProfile | null;
  expiresAt: number;
}

interface VerificationGrant {
  clientId: string;
  phoneNumber: string;
  countryCode: string;
  numberAsString: boolean;
  expiresAt: number;
}

interface SigningKey {
  privateKey: KeyObject;
  /** The `key` of its `GET /v1/key` entry: SPKI DER in base64. */
  published: string;
}

/** Takes ~100 ms (RSA 2048), which is why keys are made on first use; see `createTruecallerEmulator`. */
function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: RSA_MODULUS_BITS });
  return { privateKey, published: publicKey.export({ type: "spki", format: "der" }).toString("base64") };
}

const MALE_GIVEN_NAMES = ["Aarav", "Arjun", "Karthik", "Rahul", "Rohan", "Vikram"] as const;
const FEMALE_GIVEN_NAMES = ["Ananya", "Divya", "Kavya", "Meera", "Priya", "Sneha"] as const;
const FAMILY_NAMES = ["Gupta", "Iyer", "Menon", "Nair", "Patel", "Reddy", "Sharma", "Singh"] as const;
const LOCALITIES = [
  { locality: "Bangalore", postal_code: "560001" },
  { locality: "Chennai", postal_code: "600001" },
  { locality: "Hyderabad", postal_code: "500001" },
  { locality: "Kolkata", postal_code: "700001" },
  { locality: "Mumbai", postal_code: "400001" },
  { locality: "New Delhi", postal_code: "110001" },
  { locality: "Pune", postal_code: "411001" },
] as const;
const INDIA_CALLING_CODE = "91";
const INDIA_COUNTRY_CODE = "IN";
const DEFAULT_USER_LOCALE = "en";
const SUB_DIGITS = 17; // as long as the sample's "13627101294235520"
const MOBILE_SUBSCRIBER_DIGITS = 9; // after the leading 9 of a 10-digit Indian mobile number

/**
 * A plausible Truecaller user (verified Indian mobile, every claim filled, as in the profile page's
 * sample) with `overrides` on top. Generated claims follow the overridden ones, so overriding the
 * name also changes the email, and overriding `sub` the picture URL.
 */
function generateProfile(overrides: Partial<TruecallerProfile>): TruecallerProfile {
  const gender = overrides.gender ?? pick(["male", "female"]);
  const givenName = overrides.given_name ?? pick(gender === "female" ? FEMALE_GIVEN_NAMES : MALE_GIVEN_NAMES);
  const familyName = overrides.family_name ?? pick(FAMILY_NAMES);
  const sub = overrides.sub ?? `${randomInt(1, 10)}${randomDigits(SUB_DIGITS - 1)}`;
  return {
    sub,
    given_name: givenName,
    family_name: familyName,
    phone_number: randomIndianMobile(),
    email: exampleEmail(givenName, familyName),
    picture: exampleAvatar(sub),
    gender,
    phone_number_country_code: INDIA_COUNTRY_CODE,
    phone_number_verified: true,
    address: { ...pick(LOCALITIES) },
    ...overrides,
  };
}

/** An Indian mobile number: digits with the country prefix, no plus, e.g. "919876543210". */
function randomIndianMobile(): string {
  return `${INDIA_CALLING_CODE}9${randomDigits(MOBILE_SUBSCRIBER_DIGITS)}`;
}

// example.com is reserved (RFC 2606): nothing generated here can reach a real mailbox or host.
function exampleEmail(givenName: string, familyName: string): string {
  const mailbox = `${givenName}.${familyName}${randomDigits(2)}`.toLowerCase().replace(/[^a-z0-9.]/g, "");
  return `${mailbox}@example.com`;
}

function exampleAvatar(id: string): string {
  return `https://example.com/avatars/${encodeURIComponent(id)}.jpg`;
}

/**
 * A plausible signed profile (verified Indian mobile, every field filled) with `overrides` on top,
 * then the request's nonce and time. As in {@link generateProfile}, generated fields follow the
 * overridden names and gender.
 */
function generateSignedProfile(
  overrides: Omit<Partial<TruecallerSignedProfile>, "requestNonce" | "requestTime">,
  requestNonce: string,
  requestTime: number,
): TruecallerSignedProfile {
  const gender = overrides.gender ?? pick(["M", "F"]);
  const firstName = overrides.firstName ?? pick(gender === "F" ? FEMALE_GIVEN_NAMES : MALE_GIVEN_NAMES);
  const lastName = overrides.lastName ?? pick(FAMILY_NAMES);
  const { locality, postal_code: postalCode } = pick(LOCALITIES);
  return {
    firstName,
    lastName,
    phoneNumber: `+${randomIndianMobile()}`,
    countryCode: INDIA_COUNTRY_CODE,
    gender,
    email: exampleEmail(firstName, lastName),
    avatarUrl: exampleAvatar(randomDigits(SUB_DIGITS)),
    city: locality,
    zipcode: postalCode,
    isTrueName: true,
    isAmbassador: false,
    verifier: randomSecret(),
    userLocale: DEFAULT_USER_LOCALE,
    ...overrides,
    requestNonce,
    requestTime,
  };
}

/**
 * The access token of a phoneNumberDetail path (its last segment, percent-decoded), or undefined when
 * there is none or it cannot be decoded.
 */
function accessTokenInPath(url: string | undefined): string | undefined {
  const { pathname } = new URL(url ?? "/", "http://emulator.invalid");
  const encoded = pathname.slice(PHONE_NUMBER_DETAIL_PREFIX.length);
  try {
    return encoded === "" ? undefined : decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** The claims the granted scopes release; unknown scopes release nothing. */
function claimsFor(profile: TruecallerProfile, scopes: readonly string[]): Partial<TruecallerProfile> {
  const released = new Set<string>(scopes.flatMap((scope) => CLAIMS_BY_SCOPE.get(scope) ?? []));
  return Object.fromEntries(Object.entries(profile).filter(([claim]) => released.has(claim)));
}

/** The help page at `GET /`, also printed by `npm run emulator`. */
export function emulatorHelp(url: string): string {
  return `Truecaller emulator (phonegate)

Provider endpoints, as documented by Truecaller:
  POST ${url}${TOKEN_PATH}      form: grant_type, client_id, code, code_verifier
  GET  ${url}${USERINFO_PATH}   Authorization: Bearer <access_token>
  GET  ${url}${PHONE_NUMBER_DETAIL_PATH}   header clientId: <client id>
  GET  ${url}${KEYS_PATH}         [{"keyType":"${RSA_KEY_TYPE}","key":"<base64 SPKI DER>"}], the keys of signed profiles

One URL for all three contracts:
  TRUECALLER_BASE_URL=${url} TRUECALLER_VERIFICATION_BASE_URL=${url} TRUECALLER_KEYS_URL=${url}${KEYS_PATH}

Mint an authorization code for client "${DEFAULT_CLIENT_ID}" (the answer holds code and codeVerifier):
  curl -s -X POST ${url}/emulator/codes -H 'Content-Type: application/json' -d '{"profile":{"given_name":"Asha"}}'

Exchange it for a token:
  curl -s ${url}${TOKEN_PATH} --data-urlencode grant_type=${AUTHORIZATION_CODE_GRANT} --data-urlencode client_id=${DEFAULT_CLIENT_ID} \\
    --data-urlencode code=<code> --data-urlencode code_verifier=<codeVerifier>

Mint a drop-call/OTP access token (the answer holds accessToken), then read its number:
  curl -s -X POST ${url}/emulator/verification-tokens -H 'Content-Type: application/json' -d '{"phoneNumber":"919876543210"}'
  curl -s ${url}${PHONE_NUMBER_DETAIL_PREFIX}<accessToken> -H 'clientId: ${DEFAULT_CLIENT_ID}'

Sign a profile as the SDK hands it to the app (payload, signature, signatureAlgorithm):
  curl -s -X POST ${url}/emulator/signed-profiles -H 'Content-Type: application/json' -d '{"requestNonce":"nonce-1"}'

Control:
  POST   ${url}/emulator/codes                 MintCodeOptions JSON -> MintedCode JSON
  POST   ${url}/emulator/verification-tokens   MintVerificationTokenOptions JSON -> {accessToken, phoneNumber, countryCode}
  POST   ${url}/emulator/signed-profiles       SignProfileOptions JSON -> {payload, signature, signatureAlgorithm, profile}
  POST   ${url}/emulator/rotate-keys           new signing key: ${KEYS_PATH} lists only it
  POST   ${url}/emulator/faults                Fault JSON, e.g. {"endpoint":"token","error":"too_many_requests","retryAfterSeconds":30}
  DELETE ${url}/emulator/faults                drop queued faults
  GET    ${url}/emulator/requests              provider requests received (no secrets)
  POST   ${url}/emulator/reset                 forget codes, tokens, faults and requests (keys stay)
`;
}

/**
 * Creates a Truecaller emulator (not yet listening). It answers `POST /v1/token` and
 * `GET /v1/userinfo` exactly as the fetching-user-token and fetching-user-profile pages describe
 * (statuses, error names and descriptions, check order), phoneNumberDetail as the non-Truecaller-user
 * server-side-validation page does, and `GET /v1/key` as backend-sdk-validation reads it; state is
 * in memory and time comes from `now`.
 */
export function createTruecallerEmulator(options: TruecallerEmulatorOptions = {}): TruecallerEmulator {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const tokenExpiresInSeconds = options.tokenExpiresInSeconds ?? DEFAULT_TOKEN_EXPIRES_IN_SECONDS;
  if (!Number.isInteger(tokenExpiresInSeconds) || tokenExpiresInSeconds <= 0) {
    throw new EmulatorUsageError("tokenExpiresInSeconds must be a positive integer (it is sent as expires_in)");
  }
  const clients = new Map<string, EmulatorClient>(
    Object.entries({ [DEFAULT_CLIENT_ID]: { authorizationCodeGrant: true }, ...options.clients }),
  );

  const codes = new Map<string, CodeGrant>();
  const tokens = new Map<string, TokenGrant>();
  const verificationTokens = new Map<string, VerificationGrant>();
  // Generating an RSA key takes ~100 ms, so each key is made on first use (GET /v1/key, signProfile,
  // rotateKeys) instead of at creation: the many emulators that never sign do not pay for it. A key,
  // once made, is the same for the emulator's lifetime (reset() included) until rotateKeys().
  let currentKey: SigningKey | undefined;
  /** The current key before the last rotateKeys(): published once, listed no more. */
  let retiredKey: SigningKey | undefined;
  /** Never published. */
  let foreignKey: SigningKey | undefined;
  let baseUrl = "";

  function requireClient(clientId: string): void {
    if (!clients.has(clientId)) {
      throw new EmulatorUsageError(`Unknown client "${clientId}": register it with createTruecallerEmulator({ clients })`);
    }
  }

  function mintCode(mintOptions: MintCodeOptions = {}): MintedCode {
    const parsed = parseOrThrow(mintCodeOptionsSchema, mintOptions, "MintCodeOptions");
    const clientId = parsed.clientId ?? DEFAULT_CLIENT_ID;
    requireClient(clientId);
    const codeVerifier = parsed.codeChallenge === undefined ? randomSecret() : undefined;
    const profile = parsed.profile === null ? null : generateProfile(parsed.profile ?? {});
    const code = randomSecret();
    codes.set(code, {
      clientId,
      codeChallenge: parsed.codeChallenge ?? s256(codeVerifier as string),
      scopes: [...(parsed.scopes ?? DEFAULT_SCOPES)],
      profile,
      accessDenied: parsed.accessDenied ?? false,
      expiresAt: now() + (parsed.codeTtlSeconds ?? DEFAULT_CODE_TTL_SECONDS) * MS_PER_SECOND,
    });
    const copy = structuredClone(profile);
    return codeVerifier === undefined ? { code, profile: copy } : { code, codeVerifier, profile: copy };
  }

  /**
   * The token call's checks, first failure wins: request shape, grant type, client, client's
   * grants, code, consent, PKCE.
   */
  function exchangeCode(contentType: string | undefined, body: string): JsonAnswer {
    if (mediaType(contentType) !== FORM_MEDIA_TYPE) return EMPTY_PARAMETERS;
    const form = new URLSearchParams(body);
    // RFC 6749 §3.2: a parameter sent twice is as unusable as a missing one.
    const single = (name: string): string | undefined => {
      const values = form.getAll(name);
      return values.length === 1 && values[0] !== "" ? values[0] : undefined;
    };
    const grantType = single("grant_type");
    const clientId = single("client_id");
    const code = single("code");
    const codeVerifier = single("code_verifier");
    if (grantType === undefined || clientId === undefined || code === undefined || codeVerifier === undefined) {
      return EMPTY_PARAMETERS;
    }

    if (grantType !== AUTHORIZATION_CODE_GRANT) {
      return oauthError(400, "unsupported_grant_type", `Grant type ${grantType} not supported`);
    }
    const client = clients.get(clientId);
    if (client === undefined) return INVALID_CLIENT;
    if (!client.authorizationCodeGrant) return GRANT_NOT_ALLOWED;

    const grant = codes.get(code);
    // Single use: the code is spent by its first presentation, whatever the outcome (RFC 6749 §4.1.2).
    codes.delete(code);
    if (grant === undefined || now() >= grant.expiresAt || grant.clientId !== clientId) return INVALID_CODE;
    if (grant.accessDenied) return ACCESS_DENIED;
    if (!verifierMatches(codeVerifier, grant.codeChallenge)) return INVALID_VERIFIER;

    const accessToken = randomSecret();
    tokens.set(accessToken, {
      scopes: grant.scopes,
      profile: grant.profile,
      expiresAt: now() + tokenExpiresInSeconds * MS_PER_SECOND,
    });
    return {
      status: 200,
      body: { access_token: accessToken, expires_in: tokenExpiresInSeconds, token_type: "Bearer" },
      // RFC 6749 §5.1: responses carrying tokens must not be cached.
      headers: { "Cache-Control": "no-store" },
    };
  }

  function userInfo(authorization: string | undefined): JsonAnswer {
    const bearer = BEARER_PATTERN.exec(authorization ?? "");
    if (bearer === null) return NOT_BEARER;
    const grant = tokens.get(bearer[1] as string);
    if (grant === undefined || now() >= grant.expiresAt) return INVALID_TOKEN;
    // The scope is a property of the request, so it is judged before the data (404).
    if (!grant.scopes.includes(OPENID_SCOPE)) return OPENID_SCOPE_MISSING;
    if (grant.profile === null) return PROFILE_NOT_PRESENT;
    return { status: 200, body: claimsFor(grant.profile, grant.scopes), headers: { "Cache-Control": "no-store" } };
  }

  function mintVerificationToken(mintOptions: MintVerificationTokenOptions = {}): MintedVerificationToken {
    const parsed = parseOrThrow(mintVerificationTokenOptionsSchema, mintOptions, "MintVerificationTokenOptions");
    const clientId = parsed.clientId ?? DEFAULT_CLIENT_ID;
    requireClient(clientId);
    const phoneNumber = parsed.phoneNumber ?? randomIndianMobile();
    const countryCode = parsed.countryCode ?? INDIA_COUNTRY_CODE;
    // A UUID, like the page's sample token: 122 random bits.
    const accessToken = randomUUID();
    verificationTokens.set(accessToken, {
      clientId,
      phoneNumber,
      countryCode,
      numberAsString: parsed.numberAsString ?? false,
      expiresAt: now() + (parsed.ttlSeconds ?? DEFAULT_VERIFICATION_TOKEN_TTL_SECONDS) * MS_PER_SECOND,
    });
    return { accessToken, phoneNumber, countryCode };
  }

  /**
   * The phoneNumberDetail checks, first failure wins: partner credentials (the `clientId` header names
   * a registered client), then the access token (known, unexpired, granted to that client). The call
   * is a GET and only reads the token: it is not consumed, and answers again until it expires.
   */
  function phoneNumberDetail(clientId: string | string[] | undefined, accessToken: string | undefined): JsonAnswer {
    if (typeof clientId !== "string" || !clients.has(clientId)) return INVALID_PARTNER_CREDENTIALS;
    const grant = accessToken === undefined ? undefined : verificationTokens.get(accessToken);
    if (grant === undefined || now() >= grant.expiresAt || grant.clientId !== clientId) return INVALID_ACCESS_TOKEN;
    return {
      status: 200,
      body: {
        // The real server sends an unquoted number; PHONE_DIGITS_PATTERN keeps it exact as a double.
        phoneNumber: grant.numberAsString ? grant.phoneNumber : Number(grant.phoneNumber),
        countryCode: grant.countryCode,
      },
    };
  }

  function currentSigningKey(): SigningKey {
    currentKey ??= generateSigningKey();
    return currentKey;
  }

  function signingKeyFor(choice: SigningKeyChoice): SigningKey {
    switch (choice) {
      case "current":
        return currentSigningKey();
      case "retired":
        if (retiredKey === undefined) throw new EmulatorUsageError('No retired key: signWith "retired" needs a rotateKeys() first');
        return retiredKey;
      case "foreign":
        foreignKey ??= generateSigningKey();
        return foreignKey;
      default:
        throw new UnreachableCaseError(choice);
    }
  }

  /** The `GET /v1/key` answer: only the current key (a rotation unlists the previous one at once). */
  function publishedKeys(): TruecallerPublicKey[] {
    return [{ keyType: RSA_KEY_TYPE, key: currentSigningKey().published }];
  }

  function signProfile(signOptions: SignProfileOptions): SignedProfile {
    const parsed = parseOrThrow(signProfileOptionsSchema, signOptions, "SignProfileOptions");
    const key = signingKeyFor(parsed.signWith ?? "current");
    const requestTime = parsed.requestTime ?? Math.floor(now() / MS_PER_SECOND);
    const json = JSON.stringify(generateSignedProfile(parsed.profile ?? {}, parsed.requestNonce, requestTime));
    const payload = Buffer.from(json, "utf8").toString("base64");
    // The signature covers the payload text (the base64, as UTF-8 bytes), not the JSON it encodes:
    // backend-sdk-validation verifies `Buffer.from(profile.payload)`.
    const signature = sign(parsed.hashAlgorithm ?? DEFAULT_HASH_ALGORITHM, Buffer.from(payload, "utf8"), key.privateKey);
    return {
      payload,
      signature: signature.toString("base64"),
      signatureAlgorithm: parsed.signatureAlgorithm ?? DEFAULT_SIGNATURE_ALGORITHM,
      // Parsed back so that claims overridden with undefined are absent here too.
      profile: JSON.parse(json) as TruecallerSignedProfile,
    };
  }

  function rotateKeys(): void {
    retiredKey = currentSigningKey();
    currentKey = generateSigningKey();
  }

  /** The contract's answer to a request no fault intercepted. */
  function respond(endpoint: ProviderEndpoint, req: IncomingMessage, body: string): JsonAnswer {
    switch (endpoint) {
      case "token":
        return exchangeCode(req.headers["content-type"], body);
      case "userinfo":
        return userInfo(req.headers.authorization);
      case "phoneNumberDetail":
        return phoneNumberDetail(req.headers[CLIENT_ID_HEADER], accessTokenInPath(req.url));
      case "keys":
        return { status: 200, body: publishedKeys() };
      default:
        throw new UnreachableCaseError(endpoint);
    }
  }

  const provider = new ProviderEndpoints<ProviderEndpoint, RecordedRequest, string>({
    faults: { endpoints: PROVIDER_ENDPOINTS, typeName: "Fault", faultOnlyErrors: FAULT_ONLY_ERRORS },
    bodyEndpoints: ["token"],
    now,
    log,
    // Never the request's own path: phoneNumberDetail's holds the access token.
    describe: (record) => PROVIDER_PATHS[record.endpoint],
    prepare: (_endpoint, _req, body) => body ?? "",
    respond,
    annotate(record, reply) {
      if (Array.isArray(reply.body) || reply.status < 400 || typeof reply.body.code !== "number") return undefined;
      record.code = reply.body.code;
      return `code ${record.code}`;
    },
  });

  const emulator: TruecallerEmulator = {
    async listen(port = 0, host = "127.0.0.1") {
      baseUrl = await server.listen(port, host);
      return { url: baseUrl };
    },
    close: () => server.close(),
    mintCode,
    mintVerificationToken,
    signProfile,
    rotateKeys,
    ...provider.controls,
    get requests() {
      return provider.requests();
    },
    reset() {
      codes.clear();
      tokens.clear();
      verificationTokens.clear();
      provider.reset();
    },
  };

  const routes: Routes = {
    [TOKEN_PATH]: { POST: (req, res) => provider.serve("token", req, res) },
    [USERINFO_PATH]: { GET: (req, res) => provider.serve("userinfo", req, res) },
    [PHONE_NUMBER_DETAIL_PATH]: { GET: (req, res) => provider.serve("phoneNumberDetail", req, res) },
    [KEYS_PATH]: { GET: (req, res) => provider.serve("keys", req, res) },
    "/": { GET: (_req, res) => sendText(res, emulatorHelp(baseUrl)) },
    "/emulator/codes": {
      POST: async (req, res) => {
        const minted = mintCode((await readJson(req)) as MintCodeOptions);
        sendJson(res, { status: 201, body: { ...minted } });
      },
    },
    "/emulator/verification-tokens": {
      POST: async (req, res) => {
        const minted = mintVerificationToken((await readJson(req)) as MintVerificationTokenOptions);
        sendJson(res, { status: 201, body: { ...minted } });
      },
    },
    "/emulator/signed-profiles": {
      POST: async (req, res) => {
        const signed = signProfile((await readJson(req)) as SignProfileOptions);
        sendJson(res, { status: 201, body: { ...signed } });
      },
    },
    "/emulator/rotate-keys": {
      POST: (_req, res) => {
        rotateKeys();
        sendEmpty(res, 204);
      },
    },
    ...controlRoutes(emulator),
  };

  const server = new EmulatorServer(
    createRouter({
      routes,
      log,
      // The phoneNumberDetail path carries the access token: route, and log, by its template instead.
      routeOf: (pathname) => (pathname.startsWith(PHONE_NUMBER_DETAIL_PREFIX) ? PHONE_NUMBER_DETAIL_PATH : pathname),
    }),
    () => provider.faults.cancelPauses(),
  );
  return emulator;
}
