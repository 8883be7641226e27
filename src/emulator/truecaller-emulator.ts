/**
 * Local emulator of Truecaller's OAuth backend: the two server-to-server calls a backend makes after
 * the Android OAuth SDK hands it an authorization code.
 *
 * - Token: https://docs.truecaller.com/truecaller-sdk/android/oauth-sdk-3.0.0/integration-steps/integrating-with-your-backend/fetching-user-token
 * - User info: https://docs.truecaller.com/truecaller-sdk/android/oauth-sdk-3.0.0/integration-steps/integrating-with-your-backend/fetching-user-profile
 *
 * The authorization step happens on the phone, so the emulator replaces it with {@link TruecallerEmulator.mintCode}
 * (or `POST /emulator/codes`). Faults that a healthy server never produces (5xx, 429, slow or dead
 * connections) are injected on demand so the gateway's failure handling can be tested over real HTTP.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";

/** Client id registered in every emulator with the authorization_code grant, used when a code names none. */
export const DEFAULT_CLIENT_ID = "emulator-client";

/** Scopes granted to a minted code unless the caller chooses others: every scope user info knows. */
export const DEFAULT_SCOPES: readonly string[] = ["openid", "profile", "phone", "email", "address"];

const DEFAULT_TOKEN_EXPIRES_IN_SECONDS = 3600; // the value in the token page's sample answer
const DEFAULT_CODE_TTL_SECONDS = 600;
/** Largest request body read; the token form is a few hundred bytes, control JSON a few kilobytes. */
const MAX_BODY_BYTES = 16 * 1024;
/** 32 random bytes give 43 base64url characters: a valid RFC 7636 §4.1 verifier, and 256 bits for codes and tokens. */
const SECRET_BYTES = 32;
const MS_PER_SECOND = 1000;

const TOKEN_PATH = "/v1/token";
const USERINFO_PATH = "/v1/userinfo";
const FORM_MEDIA_TYPE = "application/x-www-form-urlencoded";
const JSON_MEDIA_TYPE = "application/json";
const AUTHORIZATION_CODE_GRANT = "authorization_code";
const OPENID_SCOPE = "openid";

/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
const CODE_VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding is always 43 characters. */
const S256_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER_PATTERN = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

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

/** The two provider endpoints of the contract. */
export type ProviderEndpoint = "token" | "userinfo";

/**
 * A forced answer for the next request(s) to one endpoint. Faults are queued per endpoint, first in
 * first out, and take effect before the request is processed, so a faulted token call does not
 * consume its code.
 */
export interface Fault {
  endpoint: ProviderEndpoint;
  status?: number;
  /** A string is sent verbatim (to fake malformed JSON); anything else is serialised as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** A contract error that only a fault produces (`server_error`, `too_many_requests`, `temporarily_unavailable`). */
  error?: string;
  /** Sets `Retry-After` on the answer. */
  retryAfterSeconds?: number;
  /** Wait before answering; with no status/error, wait and then process normally. */
  delayMs?: number;
  /** Never answer, until the client gives up or the emulator closes. */
  hang?: boolean;
  /** Reset the TCP connection without answering. */
  resetConnection?: boolean;
  /** How many requests the fault applies to; default 1. */
  times?: number;
}

/** How a request was handled by a fault: answered, slowed down, left hanging or reset. */
export type FaultKind = "answer" | "delay" | "hang" | "reset";

/** One provider request as the emulator saw it; deliberately without codes, verifiers or tokens. */
export interface RecordedRequest {
  endpoint: ProviderEndpoint;
  method: string;
  /** ISO 8601, from the emulator's clock. */
  time: string;
  /** `null` until answered, and forever for hanging or reset requests. */
  status: number | null;
  /** The `error` field of a JSON error answer. */
  error?: string;
  fault?: FaultKind;
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
  /** Queues a fault; throws {@link EmulatorUsageError} for a fault that contradicts itself. */
  injectFault(fault: Fault): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** A copy of the provider requests received so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** How many requests an endpoint has received. */
  requestCount(endpoint: ProviderEndpoint): number;
  /** Forgets codes, tokens, faults and the request log; client registrations stay. */
  reset(): void;
}

/** A call of the control API (in process or under `/emulator/`) that cannot be honoured; over HTTP it is a 400. */
export class EmulatorUsageError extends Error {
  override name = "EmulatorUsageError";
}

interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

function oauthError(status: number, error: string, description?: string): JsonAnswer {
  return { status, body: description === undefined ? { error } : { error, error_description: description } };
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

/** Contract rows no request can trigger on its own, so only {@link Fault.error} produces them. */
const FAULT_ONLY_ERRORS: Record<ProviderEndpoint, Readonly<Record<string, number>>> = {
  token: { server_error: 500, too_many_requests: 429, temporarily_unavailable: 503 },
  userinfo: { server_error: 500 },
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
  codeChallenge: z
    .string()
    .regex(S256_CHALLENGE_PATTERN, "must be an S256 challenge: BASE64URL(SHA256(verifier)), 43 characters")
    .optional(),
  clientId: z.string().min(1).optional(),
  scopes: z.array(z.string().min(1)).optional(),
  profile: profileOverrideSchema.nullable().optional(),
  accessDenied: z.boolean().optional(),
  codeTtlSeconds: z.number().positive().finite().optional(),
});

const faultSchema: z.ZodType<Fault> = z
  .strictObject({
    endpoint: z.enum(["token", "userinfo"]),
    status: z.int().min(200).max(599).optional(),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    error: z.string().optional(),
    retryAfterSeconds: z.int().nonnegative().optional(),
    delayMs: z.int().nonnegative().optional(),
    hang: z.boolean().optional(),
    resetConnection: z.boolean().optional(),
    times: z.int().positive().optional(),
  })
  .superRefine((fault, ctx) => {
    const problem = faultContradiction(fault);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

/** Why a fault cannot be carried out as written, or undefined when it can. */
function faultContradiction(fault: Fault): string | undefined {
  const answers = fault.status !== undefined || fault.error !== undefined;
  const shapesAnswer = fault.body !== undefined || fault.headers !== undefined || fault.retryAfterSeconds !== undefined;
  if (fault.hang === true && (answers || shapesAnswer || fault.resetConnection === true || fault.delayMs !== undefined)) {
    return "hang never answers: it takes no status, error, body, headers, retryAfterSeconds, delayMs or resetConnection";
  }
  if (fault.resetConnection === true && (answers || shapesAnswer)) {
    return "resetConnection sends no answer: it takes no status, error, body, headers or retryAfterSeconds";
  }
  if (fault.status !== undefined && fault.error !== undefined) {
    return "give either status (with an optional body) or error (which sets both), not both";
  }
  if (fault.error !== undefined && fault.body !== undefined) return "error sets the body; use status and body instead";
  if (shapesAnswer && !answers) return "body, headers and retryAfterSeconds need a status or an error";
  if (fault.error !== undefined && !Object.hasOwn(FAULT_ONLY_ERRORS[fault.endpoint], fault.error)) {
    const known = Object.keys(FAULT_ONLY_ERRORS[fault.endpoint]).join(", ");
    return `error "${fault.error}" is not a fault of the ${fault.endpoint} endpoint (known: ${known})`;
  }
  if (!answers && fault.hang !== true && fault.resetConnection !== true && fault.delayMs === undefined) {
    return "the fault does nothing: give status, error, delayMs, hang or resetConnection";
  }
  return undefined;
}

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new EmulatorUsageError(`Invalid ${what}:\n${z.prettifyError(result.error)}`);
  return result.data;
}

/** What a queued fault does to the request it meets. */
type FaultPlan =
  | {
      kind: "answer";
      delayMs: number;
      status: number;
      error: string | undefined;
      body: string | undefined;
      /** Lower-cased names, so a caller's `content-type` replaces the default one. */
      headers: Record<string, string>;
    }
  | { kind: "delay"; delayMs: number }
  | { kind: "hang" }
  | { kind: "reset"; delayMs: number };

function planFault(fault: Fault): FaultPlan {
  if (fault.hang === true) return { kind: "hang" };
  const delayMs = fault.delayMs ?? 0;
  if (fault.resetConnection === true) return { kind: "reset", delayMs };
  const status = fault.error === undefined ? fault.status : FAULT_ONLY_ERRORS[fault.endpoint][fault.error];
  if (status === undefined) return { kind: "delay", delayMs };
  const body = fault.error === undefined ? fault.body : { error: fault.error };
  const headers: Record<string, string> = body === undefined ? {} : { "content-type": JSON_MEDIA_TYPE };
  if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds);
  for (const [name, value] of Object.entries(fault.headers ?? {})) headers[name.toLowerCase()] = value;
  return {
    kind: "answer",
    delayMs,
    status,
    error: fault.error,
    body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
    headers,
  };
}

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

function randomSecret(): string {
  return randomBytes(SECRET_BYTES).toString("base64url");
}

/** RFC 7636 §4.2, S256. */
function s256(codeVerifier: string): string {
  return createHash("sha256").update(codeVerifier, "ascii").digest("base64url");
}

/** RFC 7636 §4.6, compared in constant time so the check leaks nothing about the challenge. */
function verifierMatches(codeVerifier: string, codeChallenge: string): boolean {
  if (!CODE_VERIFIER_PATTERN.test(codeVerifier)) return false;
  const computed = Buffer.from(s256(codeVerifier));
  const expected = Buffer.from(codeChallenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

function randomDigits(count: number): string {
  return Array.from({ length: count }, () => randomInt(10)).join("");
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T;
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
  const mailbox = `${givenName}.${familyName}${randomDigits(2)}`.toLowerCase().replace(/[^a-z0-9.]/g, "");
  return {
    sub,
    given_name: givenName,
    family_name: familyName,
    phone_number: `${INDIA_CALLING_CODE}9${randomDigits(MOBILE_SUBSCRIBER_DIGITS)}`,
    // example.com is reserved (RFC 2606): nothing generated here can reach a real mailbox or host.
    email: `${mailbox}@example.com`,
    picture: `https://example.com/avatars/${encodeURIComponent(sub)}.jpg`,
    gender,
    phone_number_country_code: "IN",
    phone_number_verified: true,
    address: { ...pick(LOCALITIES) },
    ...overrides,
  };
}

/** The claims the granted scopes release; unknown scopes release nothing. */
function claimsFor(profile: TruecallerProfile, scopes: readonly string[]): Partial<TruecallerProfile> {
  const released = new Set<string>(scopes.flatMap((scope) => CLAIMS_BY_SCOPE.get(scope) ?? []));
  return Object.fromEntries(Object.entries(profile).filter(([claim]) => released.has(claim)));
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * Reads a body of at most {@link MAX_BODY_BYTES}; `null` when it is larger. The rest of an oversized
 * body is drained unread so the 413 can still be delivered.
 */
function readBody(req: IncomingMessage): Promise<string | null> {
  if (Number(req.headers["content-length"]) > MAX_BODY_BYTES) {
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) resolve(null);
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, answer: JsonAnswer): void {
  const payload = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    "Content-Type": JSON_MEDIA_TYPE,
    "Content-Length": Buffer.byteLength(payload),
    ...answer.headers,
  });
  res.end(payload);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

const TOO_LARGE = oauthError(413, "invalid_request", `Request body larger than ${MAX_BODY_BYTES} bytes`);

/** Thrown by control endpoints whose body is over {@link MAX_BODY_BYTES}; answered 413. */
class BodyTooLargeError extends Error {}

function sendTooLarge(res: ServerResponse): void {
  // The unread remainder of the body is still arriving: close rather than reuse the connection.
  sendJson(res, { ...TOO_LARGE, headers: { Connection: "close" } });
}

/** The help page at `GET /`, also printed by `npm run emulator`. */
export function emulatorHelp(url: string): string {
  return `Truecaller emulator (phonegate)

Provider endpoints, as documented by Truecaller:
  POST ${url}${TOKEN_PATH}      form: grant_type, client_id, code, code_verifier
  GET  ${url}${USERINFO_PATH}   Authorization: Bearer <access_token>

Mint an authorization code for client "${DEFAULT_CLIENT_ID}" (the answer holds code and codeVerifier):
  curl -s -X POST ${url}/emulator/codes -H 'Content-Type: application/json' -d '{"profile":{"given_name":"Asha"}}'

Exchange it for a token:
  curl -s ${url}${TOKEN_PATH} --data-urlencode grant_type=${AUTHORIZATION_CODE_GRANT} --data-urlencode client_id=${DEFAULT_CLIENT_ID} \\
    --data-urlencode code=<code> --data-urlencode code_verifier=<codeVerifier>

Control:
  POST   ${url}/emulator/codes      MintCodeOptions JSON -> MintedCode JSON
  POST   ${url}/emulator/faults     Fault JSON, e.g. {"endpoint":"token","error":"too_many_requests","retryAfterSeconds":30}
  DELETE ${url}/emulator/faults     drop queued faults
  GET    ${url}/emulator/requests   provider requests received (no secrets)
  POST   ${url}/emulator/reset      forget codes, tokens, faults and requests
`;
}

/**
 * Creates a Truecaller emulator (not yet listening). It answers `POST /v1/token` and
 * `GET /v1/userinfo` exactly as the fetching-user-token and fetching-user-profile pages describe
 * (statuses, error names and descriptions, check order), with state in memory and time from `now`.
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
  const faults: Record<ProviderEndpoint, { plan: FaultPlan; remaining: number }[]> = { token: [], userinfo: [] };
  let records: RecordedRequest[] = [];
  const pendingDelays = new Set<NodeJS.Timeout>();
  let baseUrl = "";

  /** A delay that {@link TruecallerEmulator.close} cancels (the request it holds is then dropped with its socket). */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pendingDelays.delete(timer);
        resolve();
      }, ms);
      pendingDelays.add(timer);
    });
  }

  function takeFault(endpoint: ProviderEndpoint): FaultPlan | undefined {
    const queue = faults[endpoint];
    const head = queue[0];
    if (head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining === 0) queue.shift();
    return head.plan;
  }

  function mintCode(mintOptions: MintCodeOptions = {}): MintedCode {
    const parsed = parseOrThrow(mintCodeOptionsSchema, mintOptions, "MintCodeOptions");
    const clientId = parsed.clientId ?? DEFAULT_CLIENT_ID;
    if (!clients.has(clientId)) {
      throw new EmulatorUsageError(`Unknown client "${clientId}": register it with createTruecallerEmulator({ clients })`);
    }
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

  function summary(record: RecordedRequest, path: string, outcome: string): void {
    const fault = record.fault === undefined ? "" : ` (fault: ${record.fault})`;
    log(`${record.method} ${path} -> ${outcome}${fault}`);
  }

  function answer(res: ServerResponse, record: RecordedRequest, path: string, reply: JsonAnswer): void {
    record.status = reply.status;
    if (typeof reply.body.error === "string") record.error = reply.body.error;
    sendJson(res, reply);
    summary(record, path, [reply.status, record.error].filter((part) => part !== undefined).join(" "));
  }

  async function serveProvider(endpoint: ProviderEndpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = endpoint === "token" ? TOKEN_PATH : USERINFO_PATH;
    const record: RecordedRequest = {
      endpoint,
      method: req.method ?? "",
      time: new Date(now()).toISOString(),
      status: null,
    };
    records.push(record);
    // The body is read before any fault so a delayed request is processed from what it sent,
    // even when its client has given up meanwhile (as a real server would).
    let body = "";
    if (endpoint === "token") {
      const read = await readBody(req);
      if (read === null) {
        record.status = TOO_LARGE.status;
        sendTooLarge(res);
        summary(record, path, `${TOO_LARGE.status} body too large`);
        return;
      }
      body = read;
    } else {
      req.resume();
    }

    const fault = takeFault(endpoint);
    if (fault !== undefined) {
      record.fault = fault.kind;
      switch (fault.kind) {
        case "hang":
          summary(record, path, "no answer");
          return;
        case "reset":
          await pause(fault.delayMs);
          req.socket.resetAndDestroy();
          summary(record, path, "connection reset");
          return;
        case "answer":
          await pause(fault.delayMs);
          record.status = fault.status;
          if (fault.error !== undefined) record.error = fault.error;
          res.writeHead(fault.status, fault.headers);
          res.end(fault.body);
          summary(record, path, [fault.status, fault.error].filter((part) => part !== undefined).join(" "));
          return;
        case "delay":
          await pause(fault.delayMs);
          break;
      }
    }
    const reply = endpoint === "token" ? exchangeCode(req.headers["content-type"], body) : userInfo(req.headers.authorization);
    answer(res, record, path, reply);
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const text = await readBody(req);
    if (text === null) throw new BodyTooLargeError();
    // Any content type is accepted: `curl -d` labels JSON as a form, and humans use this API.
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new EmulatorUsageError("The body is not valid JSON");
    }
  }

  type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
  const routes: Record<string, Record<string, Handler>> = {
    [TOKEN_PATH]: { POST: (req, res) => serveProvider("token", req, res) },
    [USERINFO_PATH]: { GET: (req, res) => serveProvider("userinfo", req, res) },
    "/": {
      GET: (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
        res.end(emulatorHelp(baseUrl));
      },
    },
    "/emulator/codes": {
      POST: async (req, res) => {
        const minted = mintCode((await readJson(req)) as MintCodeOptions);
        sendJson(res, { status: 201, body: { ...minted } });
      },
    },
    "/emulator/faults": {
      POST: async (req, res) => {
        emulator.injectFault((await readJson(req)) as Fault);
        sendEmpty(res, 204);
      },
      DELETE: (_req, res) => {
        emulator.clearFaults();
        sendEmpty(res, 204);
      },
    },
    "/emulator/requests": { GET: (_req, res) => sendJson(res, { status: 200, body: { requests: emulator.requests } }) },
    "/emulator/reset": {
      POST: (_req, res) => {
        emulator.reset();
        sendEmpty(res, 204);
      },
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only the path is used; the base is a placeholder required by the URL parser.
    const { pathname } = new URL(req.url ?? "/", "http://emulator.invalid");
    const methods = routes[pathname];
    if (methods === undefined) return sendJson(res, oauthError(404, "not_found", `No route ${pathname}`));
    const handler = methods[req.method ?? ""];
    if (handler === undefined) {
      return sendJson(res, { ...oauthError(405, "method_not_allowed"), headers: { Allow: Object.keys(methods).join(", ") } });
    }
    try {
      await handler(req, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof EmulatorUsageError) return sendJson(res, oauthError(400, "invalid_request", error.message));
      if (error instanceof BodyTooLargeError) return sendTooLarge(res);
      log(`${req.method} ${pathname} -> 500 (emulator bug: ${error instanceof Error ? error.stack : String(error)})`);
      sendJson(res, oauthError(500, "server_error"));
    }
  }

  const server = createServer((req, res) => void route(req, res));

  const emulator: TruecallerEmulator = {
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const { port: boundPort } = server.address() as AddressInfo;
          baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
          resolve({ url: baseUrl });
        });
      });
    },
    async close() {
      for (const timer of pendingDelays) clearTimeout(timer);
      pendingDelays.clear();
      if (!server.listening) return;
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        // close() alone waits for in-flight requests, and a hanging one never ends.
        server.closeAllConnections();
      });
    },
    mintCode,
    injectFault(fault) {
      const parsed = parseOrThrow(faultSchema, fault, "Fault");
      faults[parsed.endpoint].push({ plan: planFault(parsed), remaining: parsed.times ?? 1 });
    },
    clearFaults() {
      faults.token = [];
      faults.userinfo = [];
    },
    get requests() {
      return records.map((record) => ({ ...record }));
    },
    requestCount(endpoint) {
      return records.filter((record) => record.endpoint === endpoint).length;
    },
    reset() {
      codes.clear();
      tokens.clear();
      emulator.clearFaults();
      records = [];
    },
  };
  return emulator;
}
