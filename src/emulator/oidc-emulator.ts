/**
 * Local emulator of an OpenID Connect provider's back channel for the authorization-code flow with
 * PKCE, in one of two flavors:
 *
 * - `auth0`: an Auth0 native application (public client), the reference for generic OIDC. Auth0 docs,
 *   "Request Tokens" of the mobile login flow (`POST /oauth/token`, JSON or form body, `client_id`
 *   in the body, `code_verifier` always) and the Authentication API's `/userinfo`.
 * - `wgtwo`: wgtwo's operator login, an Ory Hydra server with a confidential client. wgtwo docs,
 *   "Get user access token" (`POST /oauth2/token`, form body, `client_secret_basic`), with Hydra's
 *   error wording and its habits (`aud` an array, pairwise `sub`, `sid`, refresh tokens always rotated).
 *
 * Both serve discovery (OpenID Connect Discovery 1.0 §4), a JWKS (RFC 7517 §5) and RS256 ID tokens
 * (OpenID Connect Core 1.0 §2). The login page is replaced by {@link OidcEmulator.mintCode} (or
 * `POST /emulator/codes`), which can also tamper with the ID token for attack tests. Faults that a
 * healthy server never produces (5xx, slow or dead connections) are injected on demand.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
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
  JSON_MEDIA_TYPE,
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

/** Auth0: a native application; wgtwo: Ory Hydra with a confidential client. */
export type OidcFlavor = "auth0" | "wgtwo";

/** Client registered in every emulator, used when a code names none. */
export const DEFAULT_OIDC_CLIENT_ID = "oidc-emulator-client";
/** Secret of {@link DEFAULT_OIDC_CLIENT_ID}, checked by the wgtwo flavor (`client_secret_basic`). */
export const DEFAULT_OIDC_CLIENT_SECRET = "oidc-emulator-secret";
/** Redirect URI of a minted code unless the caller chooses one: a native app's custom scheme. */
export const DEFAULT_REDIRECT_URI = "com.example.app://callback";

const DEFAULT_ID_TOKEN_LIFETIME_SECONDS = 36_000; // exp - iat of the ID token sample on Auth0's page
const DEFAULT_CODE_TTL_SECONDS = 600;

const DISCOVERY_PATH = "/.well-known/openid-configuration";
const JWKS_PATH = "/.well-known/jwks.json";
const USERINFO_PATH = "/userinfo";
const REFRESH_TOKEN_GRANT = "refresh_token";
const OFFLINE_ACCESS_SCOPE = "offline_access";
const ID_TOKEN_ALG = "RS256";

/** RFC 6749 §3.3: scope-token = 1*NQCHAR. */
const SCOPE_TOKEN_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** RFC 7617 §2: credentials = "Basic" 1*SP token68. */
const BASIC_PATTERN = /^Basic +([A-Za-z0-9+/]+=*)$/i;

/** The claims a provider knows about a user (OpenID Connect Core §5.1); `sid` is Hydra's login session. */
export interface OidcProfile {
  sub: string;
  /** E.164, e.g. "+46701234567". */
  phone_number?: string;
  phone_number_verified?: boolean;
  given_name?: string;
  family_name?: string;
  name?: string;
  email?: string;
  picture?: string;
  /** wgtwo only. */
  sid?: string;
}

/** Options of {@link createOidcEmulator}. */
export interface OidcEmulatorOptions {
  flavor: OidcFlavor;
  /** Extra clients (id -> secret); the default client is always registered. auth0 clients are public (no secret checked). */
  clients?: Record<string, { secret?: string }>;
  /** `expires_in` of access tokens; default 86400 (auth0 sample) / 3600 (wgtwo sample). */
  tokenExpiresInSeconds?: number;
  /** Lifetime of ID tokens; default 36000. */
  idTokenLifetimeSeconds?: number;
  /**
   * auth0 only: issue a new refresh token on each refresh and invalidate the old (rotation); default
   * true. wgtwo (Hydra) always rotates.
   */
  rotateRefreshTokens?: boolean;
  /** Clock in epoch milliseconds for code, token and ID-token times, so tests can advance time. Default `Date.now`. */
  now?: () => number;
  /** Receives one line per provider request (method, path, grant type, outcome: never a secret). Default: silent. */
  log?: (line: string) => void;
  /**
   * The host name clients reach the emulator by, when it is not the one it listens on (in Docker
   * Compose it listens on 0.0.0.0 and the gateway calls it `emulator`): the issuer and the
   * discovered endpoints are built from it. Default: the listening host.
   */
  publicHost?: string;
}

/** How an ID token is spoilt, for attack tests; see {@link OidcMintOptions.idToken}. */
export interface OidcIdTokenTamper {
  /** Claims set over the issued ones; `null` deletes a claim. */
  claims?: Record<string, unknown>;
  /** "none": an unsecured JWT (RFC 7519 §6) with an empty signature segment. */
  alg?: "RS256" | "none";
  /** "foreign": signed with a key the JWKS does not list (its kid is not listed either, unless `kid` says otherwise). */
  signWith?: "current" | "foreign";
  /** The header's kid, e.g. one the JWKS does not list. */
  kid?: string;
}

/** What the login page would have decided; see {@link OidcEmulator.mintCode}. */
export interface OidcMintOptions {
  /** Default {@link DEFAULT_OIDC_CLIENT_ID}. */
  clientId?: string;
  /** S256 challenge; when absent and pkce !== false, the emulator generates a verifier and returns it. */
  codeChallenge?: string;
  /** false: a code without PKCE (allowed for wgtwo's confidential client only; auth0 requires PKCE -> usage error). */
  pkce?: boolean;
  /** Default {@link DEFAULT_REDIRECT_URI}; the token request must repeat it exactly. */
  redirectUri?: string;
  /** Copied into the ID token of the code exchange (not into those of refreshes, OIDC Core §12.2). */
  nonce?: string;
  /** Default auth0: openid profile phone email offline_access; wgtwo: phone offline_access openid. */
  scopes?: string[];
  /**
   * Merged (shallowly) over a generated profile: random sub (auth0 "auth0|<24 hex>", wgtwo 64 hex,
   * pairwise), a verified Swedish or Indian mobile in E.164, names, email; wgtwo adds sid.
   */
  profile?: Partial<OidcProfile>;
  /** Tampers with the ID token of the code exchange only; ID tokens of later refreshes are sound. */
  idToken?: OidcIdTokenTamper;
  /** Claims set over every user-info answer for this code's tokens (`null` deletes), e.g. a different sub. */
  userinfo?: Record<string, unknown>;
  /** The user declined: the token call answers `access_denied`. */
  accessDenied?: boolean;
  /** Default 600. */
  codeTtlSeconds?: number;
}

/** A minted code; `codeVerifier` is present only when the emulator generated it. */
export interface OidcMintedCode {
  code: string;
  codeVerifier?: string;
  redirectUri: string;
  profile: OidcProfile;
}

/** The provider endpoints: everything a relying party calls. */
export type OidcEndpoint = "discovery" | "jwks" | "token" | "userinfo";
const OIDC_ENDPOINTS = ["discovery", "jwks", "token", "userinfo"] as const satisfies readonly OidcEndpoint[];

/** A forced answer for the next request(s) to one endpoint; see {@link EndpointFault}. */
export type OidcFault = EndpointFault<OidcEndpoint>;

/** One provider request as the emulator saw it; deliberately without codes, verifiers, secrets or tokens. */
export interface OidcRecordedRequest extends RequestRecord<OidcEndpoint> {
  /** Token requests with a grant type the emulator knows. */
  grantType?: string;
}

/** A running (or ready to run) emulator; see {@link createOidcEmulator}. */
export interface OidcEmulator {
  /** Starts serving (after generating the signing key); port 0 picks a free port. Resolves with the base URL. */
  listen(port?: number, host?: string): Promise<{ url: string }>;
  /** Stops serving, destroying open connections (hanging requests included) so it returns promptly. */
  close(): Promise<void>;
  /** `${url}/`: with the trailing slash, as Auth0 and wgtwo write it. Throws {@link EmulatorUsageError} before listen. */
  readonly issuer: string;
  readonly flavor: OidcFlavor;
  /** Creates an authorization code as if the user had just logged in and consented. */
  mintCode(options?: OidcMintOptions): OidcMintedCode;
  /** Replaces the signing key by a new one with a new kid; the JWKS then lists only the new key. */
  rotateSigningKey(): Promise<void>;
  /** Revokes every refresh token (the next refresh answers invalid_grant). */
  revokeRefreshTokens(): void;
  /** Queues a fault; throws {@link EmulatorUsageError} for a fault that contradicts itself. */
  injectFault(fault: OidcFault): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** A copy of the provider requests received so far, oldest first. */
  readonly requests: readonly OidcRecordedRequest[];
  /** How many requests an endpoint has received. */
  requestCount(endpoint: OidcEndpoint): number;
  /** Forgets codes, tokens, faults and the request log; clients and the signing key stay. */
  reset(): void;
}

/** The token endpoint's error answers, one set per flavor, each worded as that provider words it. */
interface TokenErrors {
  missingParameter(name: string): JsonAnswer;
  /** A request that no flavor-specific reading can make sense of (wgtwo: not a form). */
  malformed: JsonAnswer;
  unknownClient: JsonAnswer;
  unsupportedGrant(grantType: string): JsonAnswer;
  /** Unknown, expired, used, or another client's code. */
  invalidCode: JsonAnswer;
  redirectMismatch: JsonAnswer;
  pkceMismatch: JsonAnswer;
  accessDenied: JsonAnswer;
  /** Unknown, revoked, rotated away, or another client's refresh token. */
  invalidRefreshToken: JsonAnswer;
}

const AUTH0_ERRORS: TokenErrors = {
  missingParameter: (name) => oauthError(400, "invalid_request", `Missing required parameter: ${name}`),
  malformed: oauthError(400, "invalid_request", "Missing required parameter: grant_type"),
  unknownClient: oauthError(401, "access_denied", "Unauthorized"),
  unsupportedGrant: (grantType) => oauthError(403, "unsupported_grant_type", `Grant type '${grantType}' not allowed for the client.`),
  invalidCode: oauthError(403, "invalid_grant", "Invalid authorization code"),
  redirectMismatch: oauthError(403, "invalid_grant", "Redirect URI mismatch"),
  pkceMismatch: oauthError(403, "invalid_grant", "Failed to verify code verifier"),
  // The description Auth0 sends to the redirect URI when the user declines consent.
  accessDenied: oauthError(403, "access_denied", "User did not authorize the request"),
  invalidRefreshToken: oauthError(403, "invalid_grant", "Unknown or invalid refresh token."),
};

/** Ory Hydra (fosite) error descriptions, which follow RFC 6749 §5.2's definitions. */
const HYDRA_INVALID_REQUEST = oauthError(
  400,
  "invalid_request",
  "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
);
const HYDRA_INVALID_GRANT = oauthError(
  400,
  "invalid_grant",
  "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
);
const WGTWO_ERRORS: TokenErrors = {
  missingParameter: () => HYDRA_INVALID_REQUEST,
  malformed: HYDRA_INVALID_REQUEST,
  unknownClient: {
    ...oauthError(
      401,
      "invalid_client",
      "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).",
    ),
    // RFC 6749 §5.2: a 401 invalid_client names the scheme the client should have used.
    headers: { "WWW-Authenticate": 'Basic realm="oidc-emulator"' },
  },
  unsupportedGrant: () =>
    oauthError(400, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server."),
  invalidCode: HYDRA_INVALID_GRANT,
  redirectMismatch: HYDRA_INVALID_GRANT,
  pkceMismatch: oauthError(400, "invalid_grant", "The PKCE code challenge did not match the code verifier."),
  accessDenied: oauthError(403, "access_denied", "The resource owner or authorization server denied the request."),
  invalidRefreshToken: HYDRA_INVALID_GRANT,
};

/** Everything that differs between the flavors besides client authentication. */
interface FlavorContract {
  title: string;
  tokenPath: string;
  /** Advertised in discovery; the emulator has no login page there. */
  authorizationPath: string;
  /** Token parameters checked for presence, in this order, before the code is looked at. */
  codeGrantParameters: readonly string[];
  defaultScopes: readonly string[];
  scopesSupported: readonly string[];
  defaultTokenExpiresInSeconds: number;
  /** As each provider's sample answer writes it. */
  tokenType: string;
  subjectType: "public" | "pairwise";
  authMethods: readonly string[];
  /** Fields of a token answer in the order of the provider's sample. */
  tokenFields: readonly TokenField[];
  errors: TokenErrors;
}

type TokenField = "access_token" | "refresh_token" | "id_token" | "scope" | "expires_in" | "token_type";

const FLAVORS: Readonly<Record<OidcFlavor, FlavorContract>> = {
  auth0: {
    title: "Auth0 native application (public client, PKCE)",
    tokenPath: "/oauth/token",
    authorizationPath: "/authorize",
    codeGrantParameters: ["code_verifier", "code", "redirect_uri"],
    defaultScopes: ["openid", "profile", "phone", "email", OFFLINE_ACCESS_SCOPE],
    scopesSupported: ["openid", "profile", "email", "phone", OFFLINE_ACCESS_SCOPE],
    defaultTokenExpiresInSeconds: 86_400,
    tokenType: "Bearer",
    subjectType: "public",
    authMethods: ["none", "client_secret_post"],
    tokenFields: ["access_token", "refresh_token", "id_token", "scope", "expires_in", "token_type"],
    errors: AUTH0_ERRORS,
  },
  wgtwo: {
    title: "wgtwo operator login (Ory Hydra, confidential client)",
    tokenPath: "/oauth2/token",
    authorizationPath: "/oauth2/auth",
    codeGrantParameters: ["code", "redirect_uri"],
    defaultScopes: ["phone", OFFLINE_ACCESS_SCOPE, "openid"],
    scopesSupported: ["openid", "phone", OFFLINE_ACCESS_SCOPE],
    defaultTokenExpiresInSeconds: 3600,
    tokenType: "bearer",
    subjectType: "pairwise",
    authMethods: ["client_secret_basic"],
    tokenFields: ["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"],
    errors: WGTWO_ERRORS,
  },
};

/** RFC 6750 §3.1; the same answer for a missing, unknown or expired token. */
const INVALID_TOKEN: JsonAnswer = {
  ...oauthError(401, "invalid_token", "The access token provided is expired, revoked, malformed, or invalid for other reasons."),
  headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
};

/** Which claims each scope releases (OpenID Connect Core §5.4); wgtwo always adds sub and sid. */
const CLAIMS_BY_SCOPE: ReadonlyMap<string, readonly (keyof OidcProfile)[]> = new Map([
  ["openid", ["sub"]],
  ["profile", ["name", "given_name", "family_name", "picture"]],
  ["phone", ["phone_number", "phone_number_verified"]],
  ["email", ["email"]],
]);
/** The ID token's own claims (OpenID Connect Core §2), before the profile claims. */
const ID_TOKEN_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce"] as const;
const WGTWO_ALWAYS_RELEASED: readonly (keyof OidcProfile)[] = ["sub", "sid"];

const profileOverrideSchema = z
  .strictObject({
    sub: z.string().min(1),
    phone_number: z.string(),
    phone_number_verified: z.boolean(),
    given_name: z.string(),
    family_name: z.string(),
    name: z.string(),
    email: z.string(),
    picture: z.string(),
    sid: z.string(),
  })
  .partial();

const idTokenTamperSchema = z
  .strictObject({
    claims: z.record(z.string(), z.unknown()).optional(),
    alg: z.enum([ID_TOKEN_ALG, "none"]).optional(),
    signWith: z.enum(["current", "foreign"]).optional(),
    kid: z.string().min(1).optional(),
  })
  .refine((tamper) => !(tamper.alg === "none" && tamper.signWith !== undefined), "alg \"none\" is unsigned: it takes no signWith");

const mintOptionsSchema: z.ZodType<OidcMintOptions> = z
  .strictObject({
    clientId: z.string().min(1).optional(),
    codeChallenge: codeChallengeSchema.optional(),
    pkce: z.boolean().optional(),
    redirectUri: z.string().min(1).optional(),
    nonce: z.string().min(1).optional(),
    scopes: z.array(z.string().regex(SCOPE_TOKEN_PATTERN, "must be an RFC 6749 §3.3 scope token")).optional(),
    profile: profileOverrideSchema.optional(),
    idToken: idTokenTamperSchema.optional(),
    userinfo: z.record(z.string(), z.unknown()).optional(),
    accessDenied: z.boolean().optional(),
    codeTtlSeconds: z.number().positive().finite().optional(),
  })
  .refine((options) => !(options.pkce === false && options.codeChallenge !== undefined), "pkce: false contradicts a codeChallenge");

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  /** The JWKS entry (RFC 7517 §4): public parameters only. */
  publicJwk: JWK;
}

/** A fresh RS256 key; its kid is the RFC 7638 thumbprint, so a new key always has a new kid. */
async function newSigningKey(): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(ID_TOKEN_ALG);
  const { kty, n, e } = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint({ kty, n, e });
  return { kid, privateKey, publicJwk: { kty, n, e, kid, use: "sig", alg: ID_TOKEN_ALG } };
}

/** What a login decided, shared by the code and every token issued from it. */
interface Grant {
  clientId: string;
  scopes: readonly string[];
  profile: OidcProfile;
  /** Epoch seconds of the (emulated) login: the ID tokens' auth_time. */
  authTime: number;
  userinfo: Record<string, unknown> | undefined;
}

interface CodeRecord {
  grant: Grant;
  codeChallenge: string | undefined;
  redirectUri: string;
  nonce: string | undefined;
  idToken: OidcIdTokenTamper | undefined;
  accessDenied: boolean;
  expiresAt: number;
}

interface RefreshRecord {
  grant: Grant;
  /** The chain of rotations a refresh token belongs to, revoked together on reuse. */
  family: string;
}

/** Map key of a code or token: the emulator keeps hashes, never the bearer strings themselves. */
function digest(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

/** Constant-time equality of two secrets of any length (their hashes have one length). */
function secretsEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(createHash("sha256").update(presented).digest(), createHash("sha256").update(expected).digest());
}

/** Where generated users live: wgtwo's sample number is Swedish, the gateway's first market is India. */
const COUNTRIES = [
  {
    given: ["Astrid", "Erik", "Ingrid", "Lars", "Maja", "Oskar"],
    family: ["Andersson", "Berg", "Johansson", "Lindqvist"],
    // Sweden: +46 7X and 7 more digits, the mobile range of the Swedish numbering plan.
    mobileNumber: () => `+467${pick(["0", "2", "3", "6", "9"])}${randomDigits(7)}`,
  },
  {
    given: ["Aarav", "Ananya", "Divya", "Karthik", "Priya", "Rohan"],
    family: ["Iyer", "Nair", "Patel", "Sharma"],
    // India: +91 and a 10-digit mobile number starting with 9.
    mobileNumber: () => `+919${randomDigits(9)}`,
  },
] as const;
const AUTH0_USER_ID_BYTES = 12; // "auth0|" and 24 hex digits, as Auth0 database users are named
const PAIRWISE_SUB_BYTES = 32; // Hydra's pairwise subjects are SHA-256 hex digests

/**
 * A plausible user with `overrides` on top: a verified mobile in E.164, names, an email at
 * example.com; auth0 subjects look like "auth0|5f7c…", wgtwo's are pairwise hex with a sid.
 * Derived claims follow overridden ones (the name from the given and family names).
 */
function generateProfile(flavor: OidcFlavor, overrides: Partial<OidcProfile>): OidcProfile {
  const country = pick(COUNTRIES);
  const givenName = overrides.given_name ?? pick(country.given);
  const familyName = overrides.family_name ?? pick(country.family);
  const sub =
    overrides.sub ??
    (flavor === "auth0" ? `auth0|${randomBytes(AUTH0_USER_ID_BYTES).toString("hex")}` : randomBytes(PAIRWISE_SUB_BYTES).toString("hex"));
  const mailbox = `${givenName}.${familyName}${randomDigits(2)}`.toLowerCase().replace(/[^a-z0-9.]/g, "");
  return {
    sub,
    phone_number: country.mobileNumber(),
    phone_number_verified: true,
    given_name: givenName,
    family_name: familyName,
    name: `${givenName} ${familyName}`,
    // example.com is reserved (RFC 2606): nothing generated here can reach a real mailbox or host.
    email: `${mailbox}@example.com`,
    picture: `https://example.com/avatars/${encodeURIComponent(sub)}.png`,
    ...(flavor === "wgtwo" ? { sid: randomUUID() } : {}),
    ...overrides,
  };
}

/** The profile claims the granted scopes release; unknown scopes release nothing. */
function releasedClaims(flavor: OidcFlavor, profile: OidcProfile, scopes: readonly string[]): Record<string, unknown> {
  const released = new Set<string>(scopes.flatMap((scope) => CLAIMS_BY_SCOPE.get(scope) ?? []));
  if (flavor === "wgtwo") for (const claim of WGTWO_ALWAYS_RELEASED) released.add(claim);
  return Object.fromEntries(Object.entries(profile).filter(([claim, value]) => released.has(claim) && value !== undefined));
}

/** Claims set over others; `null` deletes one. */
function withOverrides(claims: Record<string, unknown>, overrides: Record<string, unknown> | undefined): Record<string, unknown> {
  const result = { ...claims };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === null) delete result[name];
    else result[name] = value;
  }
  return result;
}

/** RFC 7519 §6: an unsecured JWT, whose signature segment is empty. */
function unsecuredJwt(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const segment = (value: Record<string, unknown>) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${segment(header)}.${segment(claims)}.`;
}

/** Reads a token request parameter; a repeated, empty or non-string one reads as absent (RFC 6749 §3.2). */
type Parameters = (name: string) => string | undefined;

function formParameters(body: string): Parameters {
  const form = new URLSearchParams(body);
  return (name) => {
    const values = form.getAll(name);
    return values.length === 1 && values[0] !== "" ? values[0] : undefined;
  };
}

function jsonParameters(body: string): Parameters {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const object = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  return (name) => {
    const value = Object.hasOwn(object, name) ? object[name] : undefined;
    return typeof value === "string" && value !== "" ? value : undefined;
  };
}

/**
 * The token request's parameters: Auth0 reads JSON and forms (anything else carries none); Hydra
 * reads forms only, so `undefined` means a wgtwo request it rejects as malformed.
 */
function tokenParameters(flavor: OidcFlavor, contentType: string | undefined, body: string): Parameters | undefined {
  const type = mediaType(contentType);
  if (type === FORM_MEDIA_TYPE) return formParameters(body);
  if (flavor === "wgtwo") return undefined;
  return type === JSON_MEDIA_TYPE ? jsonParameters(body) : () => undefined;
}

/** RFC 6749 §2.3.1 client_secret_basic: id and secret are form-encoded, joined by ":", then base64. */
function basicCredentials(authorization: string | undefined): { id: string; secret: string } | undefined {
  const match = BASIC_PATTERN.exec(authorization ?? "");
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined; // malformed percent-encoding
  }
}

/** The help page at `GET /`. */
export function oidcEmulatorHelp(url: string, flavor: OidcFlavor): string {
  const contract = FLAVORS[flavor];
  const token = `${url}${contract.tokenPath}`;
  const exchange =
    flavor === "auth0"
      ? `  curl -s ${token} -H 'Content-Type: application/json' \\
    -d '{"grant_type":"${AUTHORIZATION_CODE_GRANT}","client_id":"${DEFAULT_OIDC_CLIENT_ID}","code_verifier":"<codeVerifier>","code":"<code>","redirect_uri":"${DEFAULT_REDIRECT_URI}"}'`
      : `  curl -s -u ${DEFAULT_OIDC_CLIENT_ID}:${DEFAULT_OIDC_CLIENT_SECRET} ${token} --data-urlencode grant_type=${AUTHORIZATION_CODE_GRANT} \\
    --data-urlencode code=<code> --data-urlencode redirect_uri=${DEFAULT_REDIRECT_URI} --data-urlencode code_verifier=<codeVerifier>`;
  const tokenParametersHelp =
    flavor === "auth0"
      ? "JSON or form: grant_type, client_id, code_verifier, code, redirect_uri (or refresh_token)"
      : "form, HTTP Basic client auth: grant_type, code, redirect_uri, code_verifier (or refresh_token)";
  return `OpenID Connect emulator (phonegate), flavor ${flavor}: ${contract.title}
Issuer: ${url}/

Provider endpoints:
  GET  ${url}${DISCOVERY_PATH}
  GET  ${url}${JWKS_PATH}
  POST ${token}   ${tokenParametersHelp}
  GET  ${url}${USERINFO_PATH}   Authorization: Bearer <access_token>

Mint an authorization code for client "${DEFAULT_OIDC_CLIENT_ID}" (the answer holds code and codeVerifier):
  curl -s -X POST ${url}/emulator/codes -H 'Content-Type: application/json' -d '{"nonce":"n-0S6_WzA2Mj"}'

Exchange it for tokens:
${exchange}

Control:
  POST   ${url}/emulator/codes                   OidcMintOptions JSON -> OidcMintedCode JSON
  POST   ${url}/emulator/faults                  OidcFault JSON, e.g. {"endpoint":"token","status":503,"retryAfterSeconds":30}
  DELETE ${url}/emulator/faults                  drop queued faults
  GET    ${url}/emulator/requests                provider requests received (no secrets)
  POST   ${url}/emulator/reset                   forget codes, tokens, faults and requests
  POST   ${url}/emulator/rotate-key              new signing key and kid; the JWKS lists only it
  POST   ${url}/emulator/revoke-refresh-tokens   every refresh token answers invalid_grant
`;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const checked = value ?? fallback;
  if (!Number.isInteger(checked) || checked <= 0) throw new EmulatorUsageError(`${name} must be a positive integer (seconds)`);
  return checked;
}

/**
 * Creates an OpenID provider emulator (not yet listening) of the given flavor. It answers discovery,
 * JWKS, token (authorization_code with PKCE, refresh_token) and user info with each provider's
 * statuses and error wording, with state in memory and time from `now`.
 */
export function createOidcEmulator(options: OidcEmulatorOptions): OidcEmulator {
  const { flavor } = options;
  if (!Object.hasOwn(FLAVORS, flavor)) throw new EmulatorUsageError(`Unknown flavor "${String(flavor)}" (known: auth0, wgtwo)`);
  const contract = FLAVORS[flavor];
  const errors = contract.errors;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const tokenExpiresInSeconds = positiveInteger(
    options.tokenExpiresInSeconds,
    contract.defaultTokenExpiresInSeconds,
    "tokenExpiresInSeconds",
  );
  const idTokenLifetimeSeconds = positiveInteger(
    options.idTokenLifetimeSeconds,
    DEFAULT_ID_TOKEN_LIFETIME_SECONDS,
    "idTokenLifetimeSeconds",
  );
  if (flavor === "wgtwo" && options.rotateRefreshTokens === false) {
    throw new EmulatorUsageError("rotateRefreshTokens: false is auth0 only; Hydra always rotates refresh tokens");
  }
  const rotateRefreshTokens = options.rotateRefreshTokens ?? true;
  const clients = new Map<string, { secret?: string }>(
    Object.entries({ [DEFAULT_OIDC_CLIENT_ID]: { secret: DEFAULT_OIDC_CLIENT_SECRET }, ...options.clients }),
  );
  if (flavor === "wgtwo") {
    for (const [id, client] of clients) {
      if (client.secret === undefined || client.secret === "") {
        throw new EmulatorUsageError(`wgtwo clients are confidential: give client "${id}" a secret`);
      }
    }
  }

  const codes = new Map<string, CodeRecord>();
  const accessTokens = new Map<string, { grant: Grant; expiresAt: number }>();
  const refreshTokens = new Map<string, RefreshRecord>();
  /** Refresh tokens replaced by rotation, by hash, with their family: presenting one is a reuse. */
  const rotatedAway = new Map<string, string>();
  let baseUrl = "";
  let signingKey: SigningKey | undefined;
  let foreignKey: Promise<SigningKey> | undefined;

  const paths: Record<OidcEndpoint, string> = {
    discovery: DISCOVERY_PATH,
    jwks: JWKS_PATH,
    token: contract.tokenPath,
    userinfo: USERINFO_PATH,
  };

  function issuer(): string {
    if (baseUrl === "") throw new EmulatorUsageError("The issuer is known once listen() has resolved");
    return `${baseUrl}/`;
  }

  function currentKey(): SigningKey {
    if (signingKey === undefined) throw new Error("No signing key: listen() creates it before serving");
    return signingKey;
  }

  function mintCode(mintOptions: OidcMintOptions = {}): OidcMintedCode {
    const parsed = parseOrThrow(mintOptionsSchema, mintOptions, "OidcMintOptions");
    const clientId = parsed.clientId ?? DEFAULT_OIDC_CLIENT_ID;
    if (!clients.has(clientId)) {
      throw new EmulatorUsageError(`Unknown client "${clientId}": register it with createOidcEmulator({ clients })`);
    }
    const pkce = parsed.pkce ?? true;
    if (!pkce && flavor === "auth0") {
      throw new EmulatorUsageError("pkce: false is wgtwo only: Auth0 native applications must use PKCE");
    }
    const codeVerifier = pkce && parsed.codeChallenge === undefined ? randomSecret() : undefined;
    const codeChallenge = parsed.codeChallenge ?? (codeVerifier === undefined ? undefined : s256(codeVerifier));
    const redirectUri = parsed.redirectUri ?? DEFAULT_REDIRECT_URI;
    const profile = generateProfile(flavor, parsed.profile ?? {});
    const code = randomSecret();
    codes.set(digest(code), {
      grant: {
        clientId,
        scopes: [...(parsed.scopes ?? contract.defaultScopes)],
        profile,
        authTime: Math.floor(now() / MS_PER_SECOND),
        userinfo: parsed.userinfo,
      },
      codeChallenge,
      redirectUri,
      nonce: parsed.nonce,
      idToken: parsed.idToken,
      accessDenied: parsed.accessDenied ?? false,
      expiresAt: now() + (parsed.codeTtlSeconds ?? DEFAULT_CODE_TTL_SECONDS) * MS_PER_SECOND,
    });
    const minted: OidcMintedCode = { code, redirectUri, profile: structuredClone(profile) };
    return codeVerifier === undefined ? minted : { ...minted, codeVerifier };
  }

  /**
   * OIDC Core §2 and §3.1.3.6: iss, sub, aud (Hydra: an array), iat, exp, auth_time, nonce, then the
   * profile claims the scopes release, then the tamper options.
   */
  async function signIdToken(grant: Grant, nonce: string | undefined, tamper: OidcIdTokenTamper = {}): Promise<string> {
    const issuedAt = Math.floor(now() / MS_PER_SECOND);
    const { sub, ...profileClaims } = releasedClaims(flavor, grant.profile, grant.scopes);
    const claims = withOverrides(
      {
        iss: issuer(),
        sub: sub ?? grant.profile.sub,
        aud: flavor === "wgtwo" ? [grant.clientId] : grant.clientId,
        iat: issuedAt,
        exp: issuedAt + idTokenLifetimeSeconds,
        auth_time: grant.authTime,
        ...(nonce === undefined ? {} : { nonce }),
        ...profileClaims,
      },
      tamper.claims,
    );
    if (tamper.alg === "none") {
      return unsecuredJwt({ alg: "none", typ: "JWT", ...(tamper.kid === undefined ? {} : { kid: tamper.kid }) }, claims);
    }
    const key = tamper.signWith === "foreign" ? await (foreignKey ??= newSigningKey()) : currentKey();
    return new SignJWT(claims).setProtectedHeader({ alg: ID_TOKEN_ALG, kid: tamper.kid ?? key.kid, typ: "JWT" }).sign(key.privateKey);
  }

  function storeRefreshToken(grant: Grant, family: string): string {
    const token = randomSecret();
    refreshTokens.set(digest(token), { grant, family });
    return token;
  }

  /** Access token, ID token (with openid) and refresh token, in the field order of the provider's sample. */
  async function tokenAnswer(
    grant: Grant,
    idToken: { nonce: string | undefined; tamper: OidcIdTokenTamper | undefined },
    refreshToken: string | undefined,
  ): Promise<JsonAnswer> {
    const accessToken = randomSecret();
    accessTokens.set(digest(accessToken), { grant, expiresAt: now() + tokenExpiresInSeconds * MS_PER_SECOND });
    const fields: Record<TokenField, string | number | undefined> = {
      access_token: accessToken,
      refresh_token: refreshToken,
      id_token: grant.scopes.includes(OPENID_SCOPE) ? await signIdToken(grant, idToken.nonce, idToken.tamper) : undefined,
      scope: grant.scopes.join(" "),
      expires_in: tokenExpiresInSeconds,
      token_type: contract.tokenType,
    };
    const body = Object.fromEntries(contract.tokenFields.flatMap((name) => (fields[name] === undefined ? [] : [[name, fields[name]]])));
    // RFC 6749 §5.1: responses carrying tokens must not be cached.
    return { status: 200, body, headers: { "Cache-Control": "no-store" } };
  }

  /** RFC 6749 §4.1.3 with RFC 7636 §4.6. The code is spent by its first presentation, whatever the outcome. */
  async function exchangeCode(clientId: string, param: Parameters): Promise<JsonAnswer> {
    for (const name of contract.codeGrantParameters) if (param(name) === undefined) return errors.missingParameter(name);
    const key = digest(param("code") as string);
    const minted = codes.get(key);
    codes.delete(key);
    if (minted === undefined || now() >= minted.expiresAt || minted.grant.clientId !== clientId) return errors.invalidCode;
    if (minted.accessDenied) return errors.accessDenied;
    if (param("redirect_uri") !== minted.redirectUri) return errors.redirectMismatch;
    const codeVerifier = param("code_verifier");
    if (minted.codeChallenge === undefined) {
      // Hydra refuses a verifier for a code that was requested without a challenge.
      if (codeVerifier !== undefined) return errors.pkceMismatch;
    } else {
      if (codeVerifier === undefined) return errors.missingParameter("code_verifier");
      if (!verifierMatches(codeVerifier, minted.codeChallenge)) return errors.pkceMismatch;
    }
    const refreshToken = minted.grant.scopes.includes(OFFLINE_ACCESS_SCOPE) ? storeRefreshToken(minted.grant, randomUUID()) : undefined;
    return tokenAnswer(minted.grant, { nonce: minted.nonce, tamper: minted.idToken }, refreshToken);
  }

  /**
   * RFC 6749 §6. With rotation, the presented token is replaced; presenting a replaced one again is
   * taken as theft and revokes its whole family (RFC 9700 §4.14.2), as Auth0 and Hydra do.
   */
  async function refresh(clientId: string, param: Parameters): Promise<JsonAnswer> {
    const presented = param("refresh_token");
    if (presented === undefined) return errors.missingParameter("refresh_token");
    const key = digest(presented);
    const held = refreshTokens.get(key);
    if (held === undefined) {
      const family = rotatedAway.get(key);
      if (family !== undefined) {
        for (const [candidate, record] of refreshTokens) if (record.family === family) refreshTokens.delete(candidate);
      }
      return errors.invalidRefreshToken;
    }
    if (held.grant.clientId !== clientId) return errors.invalidRefreshToken;
    let replacement: string | undefined;
    if (rotateRefreshTokens) {
      refreshTokens.delete(key);
      rotatedAway.set(key, held.family);
      replacement = storeRefreshToken(held.grant, held.family);
    }
    // OIDC Core §12.2: a new ID token with the same sub, and no nonce.
    return tokenAnswer(held.grant, { nonce: undefined, tamper: undefined }, replacement);
  }

  /** The client a token request authenticates as, or the answer refusing it. */
  function authenticate(param: Parameters, authorization: string | undefined): string | JsonAnswer {
    switch (flavor) {
      case "auth0": {
        // A public client names itself; no secret is checked.
        const clientId = param("client_id");
        if (clientId === undefined) return errors.missingParameter("client_id");
        return clients.has(clientId) ? clientId : errors.unknownClient;
      }
      case "wgtwo": {
        // client_secret_basic only: credentials in the body are not an accepted method.
        const credentials = basicCredentials(authorization);
        const secret = credentials === undefined ? undefined : clients.get(credentials.id)?.secret;
        if (credentials === undefined || secret === undefined || !secretsEqual(credentials.secret, secret)) return errors.unknownClient;
        return credentials.id;
      }
      default:
        throw new UnreachableCaseError(flavor);
    }
  }

  /** The token call's checks, first failure wins: body, grant_type present, client, grant supported, grant. */
  async function token(param: Parameters | undefined, authorization: string | undefined): Promise<JsonAnswer> {
    if (param === undefined) return errors.malformed;
    const grantType = param("grant_type");
    if (grantType === undefined) return errors.missingParameter("grant_type");
    const client = authenticate(param, authorization);
    if (typeof client !== "string") return client;
    switch (grantType) {
      case AUTHORIZATION_CODE_GRANT:
        return exchangeCode(client, param);
      case REFRESH_TOKEN_GRANT:
        return refresh(client, param);
      default:
        return errors.unsupportedGrant(grantType);
    }
  }

  function userInfo(authorization: string | undefined): JsonAnswer {
    const bearer = BEARER_PATTERN.exec(authorization ?? "");
    const held = bearer === null ? undefined : accessTokens.get(digest(bearer[1] as string));
    if (held === undefined || now() >= held.expiresAt) return INVALID_TOKEN;
    const claims = releasedClaims(flavor, held.grant.profile, held.grant.scopes);
    return { status: 200, body: withOverrides(claims, held.grant.userinfo), headers: { "Cache-Control": "no-store" } };
  }

  /** OpenID Connect Discovery 1.0 §3. */
  function discovery(): JsonAnswer {
    return {
      status: 200,
      body: {
        issuer: issuer(),
        authorization_endpoint: `${baseUrl}${contract.authorizationPath}`,
        token_endpoint: `${baseUrl}${contract.tokenPath}`,
        userinfo_endpoint: `${baseUrl}${USERINFO_PATH}`,
        jwks_uri: `${baseUrl}${JWKS_PATH}`,
        scopes_supported: contract.scopesSupported,
        response_types_supported: ["code"],
        grant_types_supported: [AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT],
        subject_types_supported: [contract.subjectType],
        id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
        token_endpoint_auth_methods_supported: contract.authMethods,
        code_challenge_methods_supported: ["S256"],
        claims_supported: [
          ...new Set([
            ...ID_TOKEN_CLAIMS,
            ...contract.scopesSupported.flatMap((scope) => CLAIMS_BY_SCOPE.get(scope) ?? []),
            ...(flavor === "wgtwo" ? WGTWO_ALWAYS_RELEASED : []),
          ]),
        ],
      },
    };
  }

  async function providerAnswer(endpoint: OidcEndpoint, req: IncomingMessage, param: Parameters | undefined): Promise<JsonAnswer> {
    switch (endpoint) {
      case "discovery":
        return discovery();
      case "jwks":
        return { status: 200, body: { keys: [currentKey().publicJwk] } };
      case "token":
        return token(param, req.headers.authorization);
      case "userinfo":
        return userInfo(req.headers.authorization);
      default:
        throw new UnreachableCaseError(endpoint);
    }
  }

  const provider = new ProviderEndpoints<OidcEndpoint, OidcRecordedRequest, Parameters | undefined>({
    faults: { endpoints: OIDC_ENDPOINTS, typeName: "OidcFault" },
    bodyEndpoints: ["token"],
    now,
    log,
    describe: (record) => `${paths[record.endpoint]}${record.grantType === undefined ? "" : ` ${record.grantType}`}`,
    prepare(_endpoint, req, body, record) {
      if (body === undefined) return undefined;
      const param = tokenParameters(flavor, req.headers["content-type"], body);
      const grantType = param?.("grant_type");
      if (grantType === AUTHORIZATION_CODE_GRANT || grantType === REFRESH_TOKEN_GRANT) record.grantType = grantType;
      return param;
    },
    respond: providerAnswer,
  });

  const emulator: OidcEmulator = {
    async listen(port = 0, host = "127.0.0.1") {
      signingKey ??= await newSigningKey();
      baseUrl = await server.listen(port, host, options.publicHost ?? host);
      return { url: baseUrl };
    },
    close: () => server.close(),
    get issuer() {
      return issuer();
    },
    flavor,
    mintCode,
    async rotateSigningKey() {
      signingKey = await newSigningKey();
    },
    revokeRefreshTokens() {
      refreshTokens.clear();
    },
    ...provider.controls,
    get requests() {
      return provider.requests();
    },
    reset() {
      codes.clear();
      accessTokens.clear();
      refreshTokens.clear();
      rotatedAway.clear();
      provider.reset();
    },
  };

  const server = new EmulatorServer(
    createRouter({
      routes: {
        ...Object.fromEntries(
          OIDC_ENDPOINTS.map((endpoint): [string, Routes[string]] => [
            paths[endpoint],
            { [endpoint === "token" ? "POST" : "GET"]: (req, res) => provider.serve(endpoint, req, res) },
          ]),
        ),
        [contract.authorizationPath]: {
          GET: (_req, res) =>
            sendJson(res, oauthError(501, "not_implemented", "The emulator has no login page: mint a code with POST /emulator/codes")),
        },
        "/": { GET: (_req, res) => sendText(res, oidcEmulatorHelp(baseUrl, flavor)) },
        "/emulator/codes": {
          POST: async (req, res) => sendJson(res, { status: 201, body: { ...mintCode((await readJson(req)) as OidcMintOptions) } }),
        },
        ...controlRoutes(emulator),
        "/emulator/rotate-key": {
          POST: async (_req, res) => {
            await emulator.rotateSigningKey();
            sendEmpty(res, 204);
          },
        },
        "/emulator/revoke-refresh-tokens": {
          POST: (_req, res) => {
            emulator.revokeRefreshTokens();
            sendEmpty(res, 204);
          },
        },
      },
      log,
      describeMethodNotAllowed: (allowed) => `Use ${allowed}`,
      serverErrorDescription: "Emulator bug, see its log",
    }),
    () => provider.faults.cancelPauses(),
  );
  return emulator;
}
