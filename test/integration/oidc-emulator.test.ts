/**
 * The OpenID Connect emulator over real HTTP, in both flavors: Auth0's native-app PKCE flow ("Request
 * Tokens") and wgtwo's Hydra ("Get user access token"). Discovery, JWKS, every token error row,
 * refresh rotation, user info per scope, the ID-token tamper options, key rotation, faults and the
 * control surface. ID tokens are checked with jose against the served JWKS, as a relying party would.
 * Time is the injected clock; waits are bounded by aborts or synchronised on the emulator's log.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createOidcEmulator,
  DEFAULT_OIDC_CLIENT_ID,
  DEFAULT_OIDC_CLIENT_SECRET,
  DEFAULT_REDIRECT_URI,
  EmulatorUsageError,
  type OidcEmulator,
  type OidcEmulatorOptions,
  type OidcFault,
  type OidcFlavor,
  type OidcMintedCode,
  type OidcMintOptions,
} from "../../src/emulator/oidc-emulator.js";

const START = Date.parse("2025-01-01T00:00:00.000Z");
const START_SECONDS = START / 1000;
const SECOND = 1000;
const OTHER_CLIENT = "other-client";
const OTHER_SECRET = "other-secret";
/** RFC 7636 Appendix B: a verifier and its S256 challenge, computed independently of the emulator. */
const RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/** A client-side timeout far shorter than the delays it is raced against. */
const CLIENT_TIMEOUT_MS = 50;

const SECRETS: Record<string, string> = { [DEFAULT_OIDC_CLIENT_ID]: DEFAULT_OIDC_CLIENT_SECRET, [OTHER_CLIENT]: OTHER_SECRET };

interface Answer {
  status: number;
  body: unknown;
}

interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope: string;
  expires_in: number;
  token_type: string;
}

/** What each flavor's token endpoint answers, written out from the provider pages (not from the emulator). */
interface ExpectedErrors {
  missing(name: string): Answer;
  unknownClient: Answer;
  unsupportedGrant: Answer;
  invalidCode: Answer;
  redirectMismatch: Answer;
  pkceMismatch: Answer;
  accessDenied: Answer;
  invalidRefreshToken: Answer;
}

const HYDRA_INVALID_GRANT = {
  status: 400,
  body: {
    error: "invalid_grant",
    error_description:
      "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
  },
};
const HYDRA_INVALID_CLIENT = {
  status: 401,
  body: {
    error: "invalid_client",
    error_description:
      "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).",
  },
};

interface FlavorCase {
  flavor: OidcFlavor;
  tokenPath: string;
  authorizationPath: string;
  tokenType: string;
  expiresIn: number;
  defaultScope: string;
  subjectType: string;
  authMethods: string[];
  audience(clientId: string): string | string[];
  subPattern: RegExp;
  errors: ExpectedErrors;
}

const AUTH0: FlavorCase = {
  flavor: "auth0",
  tokenPath: "/oauth/token",
  authorizationPath: "/authorize",
  tokenType: "Bearer",
  expiresIn: 86_400,
  defaultScope: "openid profile phone email offline_access",
  subjectType: "public",
  authMethods: ["none", "client_secret_post"],
  audience: (clientId) => clientId,
  subPattern: /^auth0\|[0-9a-f]{24}$/,
  errors: {
    missing: (name) => ({ status: 400, body: { error: "invalid_request", error_description: `Missing required parameter: ${name}` } }),
    unknownClient: { status: 401, body: { error: "access_denied", error_description: "Unauthorized" } },
    unsupportedGrant: {
      status: 403,
      body: { error: "unsupported_grant_type", error_description: "Grant type 'password' not allowed for the client." },
    },
    invalidCode: { status: 403, body: { error: "invalid_grant", error_description: "Invalid authorization code" } },
    redirectMismatch: { status: 403, body: { error: "invalid_grant", error_description: "Redirect URI mismatch" } },
    pkceMismatch: { status: 403, body: { error: "invalid_grant", error_description: "Failed to verify code verifier" } },
    accessDenied: { status: 403, body: { error: "access_denied", error_description: expect.any(String) } },
    invalidRefreshToken: { status: 403, body: { error: "invalid_grant", error_description: "Unknown or invalid refresh token." } },
  },
};

const WGTWO: FlavorCase = {
  flavor: "wgtwo",
  tokenPath: "/oauth2/token",
  authorizationPath: "/oauth2/auth",
  tokenType: "bearer",
  expiresIn: 3600,
  defaultScope: "phone offline_access openid",
  subjectType: "pairwise",
  authMethods: ["client_secret_basic"],
  audience: (clientId) => [clientId],
  subPattern: /^[0-9a-f]{64}$/,
  errors: {
    missing: () => ({ status: 400, body: { error: "invalid_request", error_description: expect.stringContaining("missing a required parameter") } }),
    unknownClient: HYDRA_INVALID_CLIENT,
    unsupportedGrant: { status: 400, body: { error: "unsupported_grant_type", error_description: expect.any(String) } },
    invalidCode: HYDRA_INVALID_GRANT,
    redirectMismatch: HYDRA_INVALID_GRANT,
    pkceMismatch: {
      status: 400,
      body: { error: "invalid_grant", error_description: "The PKCE code challenge did not match the code verifier." },
    },
    accessDenied: { status: 403, body: { error: "access_denied", error_description: expect.any(String) } },
    invalidRefreshToken: HYDRA_INVALID_GRANT,
  },
};

const INVALID_TOKEN = {
  status: 401,
  body: { error: "invalid_token", error_description: expect.any(String) },
};

/** RFC 6749 §2.3.1: id and secret are form-encoded, then joined and base64-encoded. */
function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString("base64")}`;
}

async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, body: await response.json() };
}

let clock: number;
let logLines: string[];
let logWaiters: { pattern: RegExp; resolve: () => void }[];

function emulatorOptions(flavor: OidcFlavor, extra: Partial<OidcEmulatorOptions> = {}): OidcEmulatorOptions {
  return {
    flavor,
    clients: { [OTHER_CLIENT]: { secret: OTHER_SECRET } },
    now: () => clock,
    log: (line) => {
      logLines.push(line);
      for (const waiter of logWaiters.filter(({ pattern }) => pattern.test(line))) waiter.resolve();
    },
    ...extra,
  };
}

beforeEach(() => {
  clock = START;
  logLines = [];
  logWaiters = [];
});

/** Resolves when the emulator logs a matching line: the point where it has finished with a request. */
function logged(pattern: RegExp): Promise<void> {
  if (logLines.some((line) => pattern.test(line))) return Promise.resolve();
  return new Promise((resolve) => logWaiters.push({ pattern, resolve }));
}

describe.each([AUTH0, WGTWO])("$flavor flavor", (contract) => {
  const { flavor, errors } = contract;
  let emulator: OidcEmulator;
  let url: string;

  beforeAll(async () => {
    clock = START;
    logLines = [];
    logWaiters = [];
    emulator = createOidcEmulator(emulatorOptions(flavor));
    ({ url } = await emulator.listen());
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  interface TokenCall {
    /** auth0: the body's client_id; wgtwo: whose Basic credentials are sent. */
    client?: string;
    /** wgtwo: replaces the Basic header; null sends none. */
    authorization?: string | null;
    /** Default: JSON for auth0 (as its page documents), form for wgtwo. */
    encoding?: "json" | "form";
    signal?: AbortSignal;
  }

  /** A token request as the flavor's client sends it; an `undefined` parameter is left out. */
  function postToken(params: Record<string, string | undefined>, call: TokenCall = {}): Promise<Response> {
    const client = call.client ?? DEFAULT_OIDC_CLIENT_ID;
    const all = flavor === "auth0" ? { client_id: client, ...params } : params;
    const sent = Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const encoding = call.encoding ?? (flavor === "auth0" ? "json" : "form");
    const authorization = flavor === "wgtwo" && call.authorization === undefined ? basic(client, SECRETS[client] ?? "") : call.authorization;
    return fetch(`${url}${contract.tokenPath}`, {
      method: "POST",
      headers: {
        "Content-Type": encoding === "json" ? "application/json" : "application/x-www-form-urlencoded",
        ...(authorization === undefined || authorization === null ? {} : { Authorization: authorization }),
      },
      body: encoding === "json" ? JSON.stringify(sent) : new URLSearchParams(sent),
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    });
  }

  function codeParams(minted: OidcMintedCode, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      grant_type: "authorization_code",
      code_verifier: minted.codeVerifier,
      code: minted.code,
      redirect_uri: minted.redirectUri,
      ...overrides,
    };
  }

  async function tokensFor(options: OidcMintOptions = {}, call: TokenCall = {}): Promise<TokenAnswer> {
    const response = await postToken(codeParams(emulator.mintCode(options)), call);
    expect(response.status).toBe(200);
    return (await response.json()) as TokenAnswer;
  }

  function refreshWith(refreshToken: string, call: TokenCall = {}): Promise<Response> {
    return postToken({ grant_type: "refresh_token", refresh_token: refreshToken }, call);
  }

  function getUserInfo(authorization?: string): Promise<Response> {
    return fetch(`${url}/userinfo`, { headers: authorization === undefined ? {} : { Authorization: authorization } });
  }

  /** Verifies as a relying party does: keys from the served JWKS, RS256 only, iss and aud, at the emulator's time. */
  function verifyIdToken(idToken: string, clientId = DEFAULT_OIDC_CLIENT_ID) {
    const jwks = createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
    return jwtVerify(idToken, jwks, { issuer: emulator.issuer, audience: clientId, algorithms: ["RS256"], currentDate: new Date(clock) });
  }

  describe("discovery and JWKS", () => {
    it("serves discovery with the trailing-slash issuer and the flavor's endpoints", async () => {
      const response = await fetch(`${url}/.well-known/openid-configuration`);

      expect(emulator.issuer).toBe(`${url}/`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        issuer: `${url}/`,
        authorization_endpoint: `${url}${contract.authorizationPath}`,
        token_endpoint: `${url}${contract.tokenPath}`,
        userinfo_endpoint: `${url}/userinfo`,
        jwks_uri: `${url}/.well-known/jwks.json`,
        response_types_supported: ["code"],
        subject_types_supported: [contract.subjectType],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported: contract.authMethods,
        scopes_supported: expect.arrayContaining(contract.defaultScope.split(" ")),
      });
    });

    it("serves one public RS256 signing key with a kid, and no private parameters", async () => {
      const response = await fetch(`${url}/.well-known/jwks.json`);

      const { keys } = (await response.json()) as { keys: JWK[] };
      expect(keys).toEqual([{ kty: "RSA", n: expect.any(String), e: "AQAB", kid: expect.any(String), use: "sig", alg: "RS256" }]);
    });

    it("answers the advertised authorization endpoint with 501: codes are minted, not logged in", async () => {
      const response = await fetch(`${url}${contract.authorizationPath}`);

      expect(await answerOf(response)).toEqual({
        status: 501,
        body: { error: "not_implemented", error_description: expect.stringContaining("/emulator/codes") },
      });
    });
  });

  describe("authorization_code grant", () => {
    it("answers the flavor's sample shape, uncached", async () => {
      const response = await postToken(codeParams(emulator.mintCode()));

      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
      const body = await response.json();
      expect(body).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        id_token: expect.any(String),
        scope: contract.defaultScope,
        expires_in: contract.expiresIn,
        token_type: contract.tokenType,
      });
    });

    it("issues an ID token the JWKS verifies, with iss, aud, nonce and the clock's times", async () => {
      const minted = emulator.mintCode({ nonce: "n-0S6_WzA2Mj" });
      clock += 5 * SECOND;
      const { id_token: idToken } = (await (await postToken(codeParams(minted))).json()) as TokenAnswer;

      const { payload, protectedHeader } = await verifyIdToken(idToken as string);

      const { keys } = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      expect(protectedHeader).toEqual({ alg: "RS256", kid: keys[0]?.kid, typ: "JWT" });
      expect(payload).toMatchObject({
        iss: `${url}/`,
        sub: minted.profile.sub,
        aud: contract.audience(DEFAULT_OIDC_CLIENT_ID),
        iat: START_SECONDS + 5,
        exp: START_SECONDS + 5 + 36_000,
        auth_time: START_SECONDS,
        nonce: "n-0S6_WzA2Mj",
        phone_number: minted.profile.phone_number,
        phone_number_verified: true,
      });
      if (flavor === "wgtwo") expect(payload.sid).toBe(minted.profile.sid);
      else expect(payload).toMatchObject({ name: minted.profile.name, email: minted.profile.email, picture: minted.profile.picture });
    });

    it("issues no refresh token without offline_access and no ID token without openid", async () => {
      const withoutOffline = await tokensFor({ scopes: ["openid", "phone"] });
      const withoutOpenid = await tokensFor({ scopes: ["phone", "offline_access"] });

      expect(withoutOffline).not.toHaveProperty("refresh_token");
      expect(withoutOffline.id_token).toEqual(expect.any(String));
      expect(withoutOpenid).not.toHaveProperty("id_token");
      expect(withoutOpenid.scope).toBe("phone offline_access");
    });

    it("accepts the caller's own S256 challenge (RFC 7636 Appendix B vector) and redirect URI", async () => {
      const minted = emulator.mintCode({ codeChallenge: RFC7636_CHALLENGE, redirectUri: "https://app.example.com/cb" });
      expect(minted.codeVerifier).toBeUndefined();

      const response = await postToken(codeParams(minted, { code_verifier: RFC7636_VERIFIER }));

      expect(response.status).toBe(200);
    });

    it("issues tokens to another registered client, with that client as audience", async () => {
      const tokens = await tokensFor({ clientId: OTHER_CLIENT }, { client: OTHER_CLIENT });

      const { payload } = await verifyIdToken(tokens.id_token as string, OTHER_CLIENT);
      expect(payload.aud).toEqual(contract.audience(OTHER_CLIENT));
    });

    it.each<[string, (minted: OidcMintedCode) => Record<string, string | undefined>, (e: ExpectedErrors) => Answer]>([
      ["a missing grant_type", (m) => codeParams(m, { grant_type: undefined }), (e) => e.missing("grant_type")],
      ["a missing code", (m) => codeParams(m, { code: undefined }), (e) => e.missing("code")],
      ["a missing redirect_uri", (m) => codeParams(m, { redirect_uri: undefined }), (e) => e.missing("redirect_uri")],
      ["an unsupported grant type", (m) => codeParams(m, { grant_type: "password" }), (e) => e.unsupportedGrant],
      ["an unknown code", (m) => codeParams(m, { code: "unknown-code" }), (e) => e.invalidCode],
      ["another redirect URI", (m) => codeParams(m, { redirect_uri: `${DEFAULT_REDIRECT_URI}/other` }), (e) => e.redirectMismatch],
      ["a verifier whose SHA-256 is not the challenge", (m) => codeParams(m, { code_verifier: RFC7636_VERIFIER }), (e) => e.pkceMismatch],
      ["a verifier breaking RFC 7636 syntax", (m) => codeParams(m, { code_verifier: "short" }), (e) => e.pkceMismatch],
    ])("refuses %s", async (_case, params, expected) => {
      const response = await postToken(params(emulator.mintCode()));

      expect(await answerOf(response)).toEqual(expected(errors));
    });

    it("refuses a code the user declined", async () => {
      const response = await postToken(codeParams(emulator.mintCode({ accessDenied: true })));

      expect(await answerOf(response)).toEqual(errors.accessDenied);
    });

    it("refuses another client's code, which spends it", async () => {
      const minted = emulator.mintCode({ clientId: OTHER_CLIENT });

      expect(await answerOf(await postToken(codeParams(minted)))).toEqual(errors.invalidCode);
      expect(await answerOf(await postToken(codeParams(minted), { client: OTHER_CLIENT }))).toEqual(errors.invalidCode);
    });

    it("expires a code after the default 600 s by the clock, not before; codeTtlSeconds shortens it", async () => {
      const lasting = emulator.mintCode();
      const expiring = emulator.mintCode();
      const short = emulator.mintCode({ codeTtlSeconds: 10 });
      clock += 600 * SECOND - 1;
      expect((await postToken(codeParams(lasting))).status).toBe(200);
      expect(await answerOf(await postToken(codeParams(short)))).toEqual(errors.invalidCode);
      clock += 1;

      expect(await answerOf(await postToken(codeParams(expiring)))).toEqual(errors.invalidCode);
    });

    it.each<[string, (minted: OidcMintedCode) => Record<string, string | undefined>]>([
      ["success", (m) => codeParams(m)],
      ["a wrong verifier", (m) => codeParams(m, { code_verifier: RFC7636_VERIFIER })],
      ["a wrong redirect URI", (m) => codeParams(m, { redirect_uri: "https://attacker.example/cb" })],
    ])("spends a code at its first presentation, even with %s", async (_case, params) => {
      const minted = emulator.mintCode();
      await postToken(params(minted));

      expect(await answerOf(await postToken(codeParams(minted)))).toEqual(errors.invalidCode);
    });
  });

  describe("refresh_token grant", () => {
    it("rotates: new access, refresh and ID token with the same sub and no nonce; the old refresh token is dead", async () => {
      const first = await tokensFor({ nonce: "login-nonce" });
      const { payload: firstClaims } = await verifyIdToken(first.id_token as string);
      clock += 60 * SECOND;

      const response = await refreshWith(first.refresh_token as string);

      expect(response.headers.get("cache-control")).toBe("no-store");
      const second = (await response.json()) as TokenAnswer;
      expect(second).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        id_token: expect.any(String),
        scope: contract.defaultScope,
        expires_in: contract.expiresIn,
        token_type: contract.tokenType,
      });
      expect(second.access_token).not.toBe(first.access_token);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      const { payload } = await verifyIdToken(second.id_token as string);
      expect(payload).toMatchObject({ sub: firstClaims.sub, iat: START_SECONDS + 60, auth_time: START_SECONDS });
      expect(payload).not.toHaveProperty("nonce");
      expect(await answerOf(await refreshWith(first.refresh_token as string))).toEqual(errors.invalidRefreshToken);
    });

    it("reuse of a rotated-away refresh token revokes its successor too (RFC 9700 §4.14.2)", async () => {
      const first = await tokensFor();
      const second = (await (await refreshWith(first.refresh_token as string)).json()) as TokenAnswer;

      expect(await answerOf(await refreshWith(first.refresh_token as string))).toEqual(errors.invalidRefreshToken);
      expect(await answerOf(await refreshWith(second.refresh_token as string))).toEqual(errors.invalidRefreshToken);
    });

    it("revokeRefreshTokens() makes every refresh token invalid_grant; access tokens stay", async () => {
      const tokens = await tokensFor();

      emulator.revokeRefreshTokens();

      expect(await answerOf(await refreshWith(tokens.refresh_token as string))).toEqual(errors.invalidRefreshToken);
      expect((await getUserInfo(`Bearer ${tokens.access_token}`)).status).toBe(200);
    });

    it("refuses an unknown refresh token, another client's, and a missing one", async () => {
      const others = await tokensFor({ clientId: OTHER_CLIENT }, { client: OTHER_CLIENT });

      expect(await answerOf(await refreshWith("unknown"))).toEqual(errors.invalidRefreshToken);
      expect(await answerOf(await refreshWith(others.refresh_token as string))).toEqual(errors.invalidRefreshToken);
      expect(await answerOf(await postToken({ grant_type: "refresh_token" }))).toEqual(errors.missing("refresh_token"));
      // Refused for the wrong client, the token still works for its own.
      expect((await refreshWith(others.refresh_token as string, { client: OTHER_CLIENT })).status).toBe(200);
    });

    it("issues sound ID tokens on refresh even when the code's was tampered with", async () => {
      const first = await tokensFor({ idToken: { signWith: "foreign", claims: { sub: "someone-else" } } });

      const second = (await (await refreshWith(first.refresh_token as string)).json()) as TokenAnswer;

      await expect(verifyIdToken(first.id_token as string)).rejects.toThrow();
      await expect(verifyIdToken(second.id_token as string)).resolves.toBeDefined();
    });
  });

  describe("GET /userinfo", () => {
    it.each([
      ["no Authorization header", undefined],
      ["an unknown token", "Bearer unknown-token"],
      ["another scheme", `Basic ${Buffer.from("a:b").toString("base64")}`],
    ])("401 invalid_token with WWW-Authenticate for %s", async (_case, authorization) => {
      const response = await getUserInfo(authorization);

      expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      expect(await answerOf(response)).toEqual(INVALID_TOKEN);
    });

    it(`serves the token until expires_in has passed by the clock, not after`, async () => {
      const { access_token: token } = await tokensFor();

      clock += contract.expiresIn * SECOND - 1;
      expect((await getUserInfo(`Bearer ${token}`)).status).toBe(200);
      clock += 1;
      expect(await answerOf(await getUserInfo(`Bearer ${token}`))).toEqual(INVALID_TOKEN);
    });

    it("answers the generated profile: a verified E.164 mobile and the flavor's subject", async () => {
      const minted = emulator.mintCode();
      expect(minted.profile.sub).toMatch(contract.subPattern);
      expect(minted.profile.phone_number).toMatch(/^\+(467\d{8}|919\d{9})$/);
      const { access_token: token } = (await (await postToken(codeParams(minted))).json()) as TokenAnswer;

      const response = await getUserInfo(`Bearer ${token}`);

      expect(response.headers.get("cache-control")).toBe("no-store");
      const body = await response.json();
      if (flavor === "wgtwo") {
        // The wgtwo page's sample: exactly these four claims.
        expect(body).toEqual({
          phone_number: minted.profile.phone_number,
          phone_number_verified: true,
          sid: minted.profile.sid,
          sub: minted.profile.sub,
        });
        expect(minted.profile.sid).toEqual(expect.any(String));
      } else {
        expect(body).toEqual({ ...minted.profile });
      }
    });

    it.each<[string[], string[], string[]]>([
      [["openid"], ["sub"], ["sid", "sub"]],
      [["openid", "phone"], ["phone_number", "phone_number_verified", "sub"], ["phone_number", "phone_number_verified", "sid", "sub"]],
      [["openid", "profile"], ["family_name", "given_name", "name", "picture", "sub"], ["family_name", "given_name", "name", "picture", "sid", "sub"]],
      [["openid", "email"], ["email", "sub"], ["email", "sid", "sub"]],
      [["phone"], ["phone_number", "phone_number_verified"], ["phone_number", "phone_number_verified", "sid", "sub"]],
    ])("scopes %j release auth0 %j, wgtwo %j", async (scopes, auth0Claims, wgtwoClaims) => {
      const { access_token: token } = await tokensFor({ scopes });

      const body = (await (await getUserInfo(`Bearer ${token}`)).json()) as Record<string, unknown>;

      expect(Object.keys(body).sort()).toEqual(flavor === "auth0" ? auth0Claims : wgtwoClaims);
    });

    it("merges profile overrides, deriving the name from the given and family names", async () => {
      const minted = emulator.mintCode({ profile: { given_name: "Asha", family_name: "Rao", phone_number: "+919812345678" } });

      expect(minted.profile).toMatchObject({ name: "Asha Rao", phone_number: "+919812345678" });
    });

    it("applies userinfo overrides: another sub, a deleted claim, an added one", async () => {
      const { access_token: token } = await tokensFor({ userinfo: { sub: "someone-else", phone_number: null, extra: 1 } });

      const body = (await (await getUserInfo(`Bearer ${token}`)).json()) as Record<string, unknown>;

      expect(body).toMatchObject({ sub: "someone-else", extra: 1, phone_number_verified: true });
      expect(body).not.toHaveProperty("phone_number");
    });
  });

  describe("ID token tampering and keys", () => {
    it("expires the ID token by the clock after 36000 s", async () => {
      const { id_token: idToken } = await tokensFor();

      clock += 36_000 * SECOND;

      await expect(verifyIdToken(idToken as string)).rejects.toMatchObject({ code: "ERR_JWT_EXPIRED" });
    });

    it('alg "none": an unsecured JWT with an empty signature segment, which a verifier refuses', async () => {
      const { id_token: idToken } = await tokensFor({ idToken: { alg: "none" } });

      const [header, payload, signature] = (idToken as string).split(".");
      expect(signature).toBe("");
      expect(decodeProtectedHeader(idToken as string)).toEqual({ alg: "none", typ: "JWT" });
      expect(decodeJwt(idToken as string)).toMatchObject({ iss: `${url}/` });
      expect(header && payload).toBeTruthy();
      await expect(verifyIdToken(idToken as string)).rejects.toMatchObject({ code: "ERR_JOSE_ALG_NOT_ALLOWED" });
    });

    it("signWith foreign: a key the JWKS does not list, under its own kid or the published one", async () => {
      const { keys } = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      const foreign = await tokensFor({ idToken: { signWith: "foreign" } });
      const foreignUnderPublishedKid = await tokensFor({ idToken: { signWith: "foreign", kid: keys[0]?.kid as string } });

      expect(decodeProtectedHeader(foreign.id_token as string).kid).not.toBe(keys[0]?.kid);
      await expect(verifyIdToken(foreign.id_token as string)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
      await expect(verifyIdToken(foreignUnderPublishedKid.id_token as string)).rejects.toMatchObject({
        code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
      });
    });

    it("kid: the current key signs under a kid the JWKS does not list", async () => {
      const { id_token: idToken } = await tokensFor({ idToken: { kid: "unknown-kid" } });
      const { keys } = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };

      expect(decodeProtectedHeader(idToken as string).kid).toBe("unknown-kid");
      await expect(verifyIdToken(idToken as string)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
      // Only the kid is wrong: the published key itself verifies the signature.
      const key = await importJWK(keys[0] as JWK, "RS256");
      await expect(jwtVerify(idToken as string, key, { currentDate: new Date(clock) })).resolves.toBeDefined();
    });

    it("claims: overrides and additions show up, null deletes, and the signature stays valid", async () => {
      const { id_token: idToken } = await tokensFor({
        nonce: "n",
        idToken: { claims: { sub: "victim", aud: "someone-else", nonce: null, phone_number_verified: false, extra: [1] } },
      });

      const { keys } = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      const { payload } = await jwtVerify(idToken as string, await importJWK(keys[0] as JWK, "RS256"), { currentDate: new Date(clock) });
      expect(payload).toMatchObject({ sub: "victim", aud: "someone-else", phone_number_verified: false, extra: [1], iss: `${url}/` });
      expect(payload).not.toHaveProperty("nonce");
      await expect(verifyIdToken(idToken as string)).rejects.toMatchObject({ code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "aud" });
    });

    it("rotateSigningKey(): a new kid, the JWKS lists only it, and a verifier with the old JWKS refetches", async () => {
      const jwksUrl = new URL(`${url}/.well-known/jwks.json`);
      const cachingVerifier = createRemoteJWKSet(jwksUrl, { cooldownDuration: 0 });
      const before = await tokensFor();
      await jwtVerify(before.id_token as string, cachingVerifier, { currentDate: new Date(clock) });
      const oldKid = decodeProtectedHeader(before.id_token as string).kid;

      await emulator.rotateSigningKey();

      const after = await tokensFor();
      const newKid = decodeProtectedHeader(after.id_token as string).kid;
      expect(newKid).not.toBe(oldKid);
      const { keys } = (await (await fetch(jwksUrl)).json()) as { keys: JWK[] };
      expect(keys.map((key) => key.kid)).toEqual([newKid]);
      await expect(jwtVerify(after.id_token as string, cachingVerifier, { currentDate: new Date(clock) })).resolves.toBeDefined();
      await expect(verifyIdToken(before.id_token as string)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
    });
  });

  describe("faults", () => {
    it("answers a status, body, headers and Retry-After before processing: the code stays usable", async () => {
      const minted = emulator.mintCode();
      emulator.injectFault({
        endpoint: "token",
        status: 503,
        body: { error: "temporarily_unavailable" },
        retryAfterSeconds: 30,
        headers: { "X-Trace": "1" },
      });

      const faulted = await postToken(codeParams(minted));

      expect(await answerOf(faulted)).toEqual({ status: 503, body: { error: "temporarily_unavailable" } });
      expect(faulted.headers.get("retry-after")).toBe("30");
      expect(faulted.headers.get("x-trace")).toBe("1");
      expect((await postToken(codeParams(minted))).status).toBe(200);
    });

    it("faults discovery and the JWKS: a verifier fails while the JWKS answers 500, then recovers", async () => {
      const { id_token: idToken } = await tokensFor();
      emulator.injectFault({ endpoint: "jwks", status: 500, body: "<html>oops</html>", headers: { "Content-Type": "text/html" } });
      emulator.injectFault({ endpoint: "discovery", status: 502 });

      await expect(verifyIdToken(idToken as string)).rejects.toThrow("Expected 200 OK");
      expect((await fetch(`${url}/.well-known/openid-configuration`)).status).toBe(502);
      await expect(verifyIdToken(idToken as string)).resolves.toBeDefined();
      expect((await fetch(`${url}/.well-known/openid-configuration`)).status).toBe(200);
    });

    it("applies faults first in, first out, each `times` times, per endpoint", async () => {
      emulator.injectFault({ endpoint: "userinfo", status: 500, times: 2 });
      emulator.injectFault({ endpoint: "userinfo", status: 429 });
      const tokens = await tokensFor();

      const statuses = [];
      for (let attempt = 0; attempt < 4; attempt += 1) statuses.push((await getUserInfo(`Bearer ${tokens.access_token}`)).status);

      expect(statuses).toEqual([500, 500, 429, 200]);
    });

    it("clearFaults() drops queued faults", async () => {
      emulator.injectFault({ endpoint: "token", status: 500, times: 5 });
      emulator.clearFaults();

      expect((await postToken(codeParams(emulator.mintCode()))).status).toBe(200);
    });

    it("hang never answers: the client's timeout fires and the code stays usable", async () => {
      const minted = emulator.mintCode();
      emulator.injectFault({ endpoint: "token", hang: true });

      await Promise.all([
        expect(postToken(codeParams(minted), { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).rejects.toThrow(
          expect.objectContaining({ name: "TimeoutError" }),
        ),
        logged(/-> no answer \(fault: hang\)/),
      ]);

      expect(emulator.requests[0]).toMatchObject({ endpoint: "token", status: null, fault: "hang", grantType: "authorization_code" });
      expect((await postToken(codeParams(minted))).status).toBe(200);
    });

    it("resetConnection resets the TCP connection without an answer; the code stays usable", async () => {
      const minted = emulator.mintCode();
      emulator.injectFault({ endpoint: "token", resetConnection: true });

      await expect(postToken(codeParams(minted))).rejects.toThrow(
        expect.objectContaining({ name: "TypeError", cause: expect.objectContaining({ code: "ECONNRESET" }) }),
      );

      expect(emulator.requests[0]).toMatchObject({ status: null, fault: "reset" });
      expect((await postToken(codeParams(minted))).status).toBe(200);
    });

    it("delayMs without status slows a request down, then processes it normally", async () => {
      emulator.injectFault({ endpoint: "jwks", delayMs: 30 });

      const started = performance.now();
      const response = await fetch(`${url}/.well-known/jwks.json`);

      // Timers never fire early by more than the millisecond rounding of the clock.
      expect(performance.now() - started).toBeGreaterThanOrEqual(29);
      expect(response.status).toBe(200);
      expect(emulator.requests[0]).toMatchObject({ fault: "delay", status: 200 });
    });
  });

  describe("request log and control API", () => {
    it("records endpoint, method, clock time, status, error and grant type, and never a secret", async () => {
      const minted = emulator.mintCode({ nonce: "nonce-value-123" });
      const tokens = (await (await postToken(codeParams(minted))).json()) as TokenAnswer;
      clock += SECOND;
      await getUserInfo(`Bearer ${tokens.access_token}`);
      const refreshed = (await (await refreshWith(tokens.refresh_token as string)).json()) as TokenAnswer;
      await postToken(codeParams(minted));
      await fetch(`${url}/.well-known/jwks.json`);

      expect(emulator.requests).toEqual([
        { endpoint: "token", method: "POST", time: "2025-01-01T00:00:00.000Z", status: 200, grantType: "authorization_code" },
        { endpoint: "userinfo", method: "GET", time: "2025-01-01T00:00:01.000Z", status: 200 },
        { endpoint: "token", method: "POST", time: "2025-01-01T00:00:01.000Z", status: 200, grantType: "refresh_token" },
        {
          endpoint: "token",
          method: "POST",
          time: "2025-01-01T00:00:01.000Z",
          status: errors.invalidCode.status,
          error: "invalid_grant",
          grantType: "authorization_code",
        },
        { endpoint: "jwks", method: "GET", time: "2025-01-01T00:00:01.000Z", status: 200 },
      ]);
      expect(emulator.requestCount("token")).toBe(3);
      expect(emulator.requestCount("discovery")).toBe(0);
      expect(logLines).toEqual([
        `POST ${contract.tokenPath} authorization_code -> 200`,
        "GET /userinfo -> 200",
        `POST ${contract.tokenPath} refresh_token -> 200`,
        `POST ${contract.tokenPath} authorization_code -> ${errors.invalidCode.status} invalid_grant`,
        "GET /.well-known/jwks.json -> 200",
      ]);
      const everythingRecorded = JSON.stringify(emulator.requests) + logLines.join("\n");
      const secrets = [
        minted.code,
        minted.codeVerifier as string,
        "nonce-value-123",
        DEFAULT_OIDC_CLIENT_SECRET,
        basic(DEFAULT_OIDC_CLIENT_ID, DEFAULT_OIDC_CLIENT_SECRET).slice("Basic ".length),
        ...[tokens, refreshed].flatMap((answer) => [answer.access_token, answer.refresh_token as string, answer.id_token as string]),
      ];
      for (const secret of secrets) expect(everythingRecorded).not.toContain(secret);
    });

    it("reset() forgets codes, tokens, faults and requests; the signing key stays", async () => {
      const kid = decodeProtectedHeader((await tokensFor()).id_token as string).kid;
      const minted = emulator.mintCode();
      const tokens = await tokensFor();
      emulator.injectFault({ endpoint: "userinfo", status: 500 });

      emulator.reset();

      expect(emulator.requests).toEqual([]);
      expect(await answerOf(await getUserInfo(`Bearer ${tokens.access_token}`))).toEqual(INVALID_TOKEN);
      expect(await answerOf(await refreshWith(tokens.refresh_token as string))).toEqual(errors.invalidRefreshToken);
      expect(await answerOf(await postToken(codeParams(minted)))).toEqual(errors.invalidCode);
      expect(decodeProtectedHeader((await tokensFor()).id_token as string).kid).toBe(kid);
    });

    it("GET / shows the flavor, the token endpoint and how to mint a code", async () => {
      const response = await fetch(`${url}/`);

      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain(`flavor ${flavor}`);
      expect(text).toContain(`${url}${contract.tokenPath}`);
      expect(text).toContain(`curl -s -X POST ${url}/emulator/codes`);
    });

    it("POST /emulator/codes mints a code with options that works end to end", async () => {
      const response = await fetch(`${url}/emulator/codes`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ nonce: "http-nonce", profile: { sub: "http-user" }, idToken: { claims: { extra: null } } }),
      });

      expect(response.status).toBe(201);
      const minted = (await response.json()) as OidcMintedCode;
      expect(minted).toMatchObject({
        code: expect.any(String),
        codeVerifier: expect.any(String),
        redirectUri: DEFAULT_REDIRECT_URI,
        profile: { sub: "http-user" },
      });
      const tokens = (await (await postToken(codeParams(minted))).json()) as TokenAnswer;
      expect((await verifyIdToken(tokens.id_token as string)).payload).toMatchObject({ sub: "http-user", nonce: "http-nonce" });
    });

    it("POST /emulator/codes answers 400 for invalid options or JSON", async () => {
      for (const body of ['{"clientId":"nobody"}', '{"idToken":{"alg":"HS256"}}', "{not json"]) {
        const response = await fetch(`${url}/emulator/codes`, { method: "POST", body });
        expect(await answerOf(response)).toEqual({ status: 400, body: { error: "invalid_request", error_description: expect.any(String) } });
      }
    });

    it("POST and DELETE /emulator/faults queue and clear faults; GET /emulator/requests lists provider requests", async () => {
      const post = (fault: unknown) => fetch(`${url}/emulator/faults`, { method: "POST", body: JSON.stringify(fault) });
      expect((await post({ endpoint: "discovery", status: 503 })).status).toBe(204);
      expect((await fetch(`${url}/.well-known/openid-configuration`)).status).toBe(503);
      expect((await post({ endpoint: "discovery", status: 503 })).status).toBe(204);
      expect((await fetch(`${url}/emulator/faults`, { method: "DELETE" })).status).toBe(204);
      expect((await fetch(`${url}/.well-known/openid-configuration`)).status).toBe(200);
      expect((await post({ endpoint: "discovery", hang: true, status: 500 })).status).toBe(400);

      const listed = (await (await fetch(`${url}/emulator/requests`)).json()) as { requests: unknown[] };
      expect(listed.requests).toEqual([
        expect.objectContaining({ endpoint: "discovery", status: 503, fault: "answer" }),
        expect.objectContaining({ endpoint: "discovery", status: 200 }),
      ]);
    });

    it("POST /emulator/reset, /emulator/rotate-key and /emulator/revoke-refresh-tokens", async () => {
      const tokens = await tokensFor();
      const oldKid = decodeProtectedHeader(tokens.id_token as string).kid;

      expect((await fetch(`${url}/emulator/revoke-refresh-tokens`, { method: "POST" })).status).toBe(204);
      expect(await answerOf(await refreshWith(tokens.refresh_token as string))).toEqual(errors.invalidRefreshToken);
      expect((await fetch(`${url}/emulator/rotate-key`, { method: "POST" })).status).toBe(204);
      const { keys } = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      expect(keys.map((key) => key.kid)).not.toContain(oldKid);
      expect((await fetch(`${url}/emulator/reset`, { method: "POST" })).status).toBe(204);
      expect(emulator.requests).toEqual([]);
    });

    it("answers 404 for an unknown path and 405 with Allow for a wrong method", async () => {
      expect((await fetch(`${url}/nowhere`)).status).toBe(404);
      const wrongMethod = await fetch(`${url}${contract.tokenPath}`);
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get("allow")).toBe("POST");
    });
  });
});

describe("auth0 only", () => {
  let emulator: OidcEmulator;
  let url: string;

  beforeAll(async () => {
    emulator = createOidcEmulator(
      emulatorOptions("auth0", {
        clients: { "with-secret": { secret: "ignored" } },
        rotateRefreshTokens: false,
        tokenExpiresInSeconds: 120,
        idTokenLifetimeSeconds: 300,
      }),
    );
    ({ url } = await emulator.listen());
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  function post(body: string, contentType?: string): Promise<Response> {
    return fetch(`${url}/oauth/token`, { method: "POST", headers: contentType === undefined ? {} : { "Content-Type": contentType }, body });
  }

  function params(minted: OidcMintedCode, overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const all: Record<string, string | undefined> = {
      grant_type: "authorization_code",
      client_id: DEFAULT_OIDC_CLIENT_ID,
      code_verifier: minted.codeVerifier,
      code: minted.code,
      redirect_uri: minted.redirectUri,
      ...overrides,
    };
    return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
  }

  it.each([
    ["JSON", (p: Record<string, string>) => post(JSON.stringify(p), "application/json")],
    ["JSON with a charset", (p: Record<string, string>) => post(JSON.stringify(p), "application/json; charset=utf-8")],
    ["a form", (p: Record<string, string>) => post(new URLSearchParams(p).toString(), "application/x-www-form-urlencoded")],
  ])("accepts the token request as %s", async (_case, send) => {
    expect((await send(params(emulator.mintCode()))).status).toBe(200);
  });

  it.each(["grant_type", "client_id", "code_verifier", "code", "redirect_uri"])("400 Missing required parameter: %s", async (name) => {
    const response = await post(JSON.stringify(params(emulator.mintCode(), { [name]: undefined })), "application/json");

    expect(await answerOf(response)).toEqual(AUTH0.errors.missing(name));
  });

  it("reads an unlabelled or non-JSON body as carrying no parameters", async () => {
    expect(await answerOf(await post(JSON.stringify(params(emulator.mintCode()))))).toEqual(AUTH0.errors.missing("grant_type"));
    expect(await answerOf(await post("{broken", "application/json"))).toEqual(AUTH0.errors.missing("grant_type"));
  });

  it("401 access_denied Unauthorized for an unknown client, without spending the code", async () => {
    const minted = emulator.mintCode();

    expect(await answerOf(await post(JSON.stringify(params(minted, { client_id: "nobody" })), "application/json"))).toEqual(
      AUTH0.errors.unknownClient,
    );
    expect((await post(JSON.stringify(params(minted)), "application/json")).status).toBe(200);
  });

  it("treats clients as public: a registered secret is never asked for", async () => {
    const minted = emulator.mintCode({ clientId: "with-secret" });

    expect((await post(JSON.stringify(params(minted, { client_id: "with-secret" })), "application/json")).status).toBe(200);
  });

  it("requires PKCE: pkce false is a usage error", () => {
    expect(() => emulator.mintCode({ pkce: false })).toThrow(EmulatorUsageError);
  });

  it("rotateRefreshTokens false: no new refresh token, and the same one keeps working", async () => {
    const tokens = (await (await post(JSON.stringify(params(emulator.mintCode())), "application/json")).json()) as TokenAnswer;
    const refresh = () => {
      const body = { grant_type: "refresh_token", client_id: DEFAULT_OIDC_CLIENT_ID, refresh_token: tokens.refresh_token };
      return post(JSON.stringify(body), "application/json");
    };

    const first = (await (await refresh()).json()) as TokenAnswer;

    expect(first).not.toHaveProperty("refresh_token");
    expect((await refresh()).status).toBe(200);
  });

  it("uses the configured expires_in and ID token lifetime", async () => {
    const tokens = (await (await post(JSON.stringify(params(emulator.mintCode())), "application/json")).json()) as TokenAnswer;

    expect(tokens.expires_in).toBe(120);
    const claims = decodeJwt(tokens.id_token as string);
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
  });
});

describe("wgtwo only", () => {
  const ODD_CLIENT = "client:1 é";
  const ODD_SECRET = "s3cr3t +%&=:";
  let emulator: OidcEmulator;
  let url: string;

  beforeAll(async () => {
    emulator = createOidcEmulator(emulatorOptions("wgtwo", { clients: { [ODD_CLIENT]: { secret: ODD_SECRET } } }));
    ({ url } = await emulator.listen());
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  function post(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${url}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(params),
    });
  }

  function params(minted: OidcMintedCode): Record<string, string> {
    const verifier: Record<string, string> = minted.codeVerifier === undefined ? {} : { code_verifier: minted.codeVerifier };
    return { grant_type: "authorization_code", code: minted.code, redirect_uri: minted.redirectUri, ...verifier };
  }

  const DEFAULT_BASIC = basic(DEFAULT_OIDC_CLIENT_ID, DEFAULT_OIDC_CLIENT_SECRET);

  it.each<[string, Record<string, string>, Record<string, string>]>([
    ["a wrong secret", { Authorization: basic(DEFAULT_OIDC_CLIENT_ID, "wrong") }, {}],
    ["no Authorization header", {}, {}],
    ["client_secret_post instead of Basic", {}, { client_id: DEFAULT_OIDC_CLIENT_ID, client_secret: DEFAULT_OIDC_CLIENT_SECRET }],
    ["the Bearer scheme", { Authorization: `Bearer ${DEFAULT_OIDC_CLIENT_SECRET}` }, {}],
    ["an unknown client", { Authorization: basic("nobody", DEFAULT_OIDC_CLIENT_SECRET) }, {}],
    ["credentials without a colon", { Authorization: `Basic ${Buffer.from(DEFAULT_OIDC_CLIENT_ID).toString("base64")}` }, {}],
    [
      "unencoded credentials of a client whose id needs encoding",
      { Authorization: `Basic ${Buffer.from(`${ODD_CLIENT}:${ODD_SECRET}`).toString("base64")}` },
      {},
    ],
  ])("401 invalid_client with WWW-Authenticate Basic for %s, without spending the code", async (_case, headers, extra) => {
    const minted = emulator.mintCode();

    const response = await post({ ...params(minted), ...extra }, headers);

    expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    expect(await answerOf(response)).toEqual(HYDRA_INVALID_CLIENT);
    expect((await post(params(minted), { Authorization: DEFAULT_BASIC })).status).toBe(200);
  });

  it("decodes form-encoded Basic credentials (RFC 6749 §2.3.1)", async () => {
    const minted = emulator.mintCode({ clientId: ODD_CLIENT });

    expect((await post(params(minted), { Authorization: basic(ODD_CLIENT, ODD_SECRET) })).status).toBe(200);
  });

  it("400 invalid_request for a JSON body", async () => {
    const response = await fetch(`${url}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: DEFAULT_BASIC },
      body: JSON.stringify(params(emulator.mintCode())),
    });

    expect(await answerOf(response)).toEqual(WGTWO.errors.missing("body"));
  });

  it("a code minted without PKCE is exchanged without a verifier, as on the wgtwo page", async () => {
    const minted = emulator.mintCode({ pkce: false });
    expect(minted.codeVerifier).toBeUndefined();

    expect((await post(params(minted), { Authorization: DEFAULT_BASIC })).status).toBe(200);
  });

  it("refuses a verifier for a code minted without a challenge", async () => {
    const minted = emulator.mintCode({ pkce: false });

    const response = await post({ ...params(minted), code_verifier: RFC7636_VERIFIER }, { Authorization: DEFAULT_BASIC });

    expect(await answerOf(response)).toEqual(WGTWO.errors.pkceMismatch);
  });

  it("400 invalid_request when a PKCE code comes without its verifier", async () => {
    const { code_verifier: _verifier, ...withoutVerifier } = params(emulator.mintCode());

    expect(await answerOf(await post(withoutVerifier, { Authorization: DEFAULT_BASIC }))).toEqual(WGTWO.errors.missing("code_verifier"));
  });

  it("refresh requires Basic authentication too", async () => {
    const tokens = (await (await post(params(emulator.mintCode()), { Authorization: DEFAULT_BASIC })).json()) as TokenAnswer;
    const refresh = { grant_type: "refresh_token", refresh_token: tokens.refresh_token as string };

    expect(await answerOf(await post(refresh))).toEqual(HYDRA_INVALID_CLIENT);
    expect((await post(refresh, { Authorization: DEFAULT_BASIC })).status).toBe(200);
  });
});

describe("options and usage errors", () => {
  it.each<[string, OidcEmulatorOptions]>([
    ["an unknown flavor", { flavor: "okta" as OidcFlavor }],
    ["a zero token lifetime", { flavor: "auth0", tokenExpiresInSeconds: 0 }],
    ["a fractional ID token lifetime", { flavor: "wgtwo", idTokenLifetimeSeconds: 1.5 }],
    ["wgtwo without refresh token rotation", { flavor: "wgtwo", rotateRefreshTokens: false }],
    ["a wgtwo client without a secret", { flavor: "wgtwo", clients: { public: {} } }],
  ])("createOidcEmulator rejects %s", (_case, options) => {
    expect(() => createOidcEmulator(options)).toThrow(EmulatorUsageError);
  });

  it("the issuer is a usage error before listen()", () => {
    expect(() => createOidcEmulator({ flavor: "auth0" }).issuer).toThrow(EmulatorUsageError);
  });

  it.each<[string, OidcMintOptions]>([
    ["an unregistered client", { clientId: "nobody" }],
    ["a challenge that is not S256", { codeChallenge: "plain-text-challenge" }],
    ["pkce false with a challenge", { pkce: false, codeChallenge: RFC7636_CHALLENGE }],
    ["an unknown profile claim", { profile: { phoneNumber: "+46701234567" } as OidcMintOptions["profile"] }],
    ["alg none with signWith", { idToken: { alg: "none", signWith: "foreign" } }],
    ["a scope with a space", { scopes: ["openid phone"] }],
    ["a zero TTL", { codeTtlSeconds: 0 }],
  ])("mintCode rejects %s", (_case, options) => {
    const emulator = createOidcEmulator({ flavor: "wgtwo" });

    expect(() => emulator.mintCode(options)).toThrow(EmulatorUsageError);
  });

  it.each<[string, OidcFault]>([
    ["a body without status", { endpoint: "token", body: "x" }],
    ["retryAfterSeconds without status", { endpoint: "token", retryAfterSeconds: 1 }],
    ["hang with a status", { endpoint: "token", hang: true, status: 500 }],
    ["hang with a delay", { endpoint: "userinfo", hang: true, delayMs: 5 }],
    ["resetConnection with a status", { endpoint: "jwks", resetConnection: true, status: 500 }],
    ["a fault that does nothing", { endpoint: "token" }],
    ["times 0", { endpoint: "token", status: 500, times: 0 }],
    ["a status out of range", { endpoint: "token", status: 99 }],
    ["an unknown endpoint", { endpoint: "authorize" as OidcFault["endpoint"], status: 500 }],
  ])("injectFault rejects %s", (_case, fault) => {
    expect(() => createOidcEmulator({ flavor: "auth0" }).injectFault(fault)).toThrow(EmulatorUsageError);
  });

  it("close() returns promptly with a hanging request open, which then fails; a second close() is harmless", async () => {
    const emulator = createOidcEmulator(emulatorOptions("auth0"));
    const { url } = await emulator.listen();
    emulator.injectFault({ endpoint: "discovery", hang: true });
    const hanging = fetch(`${url}/.well-known/openid-configuration`);
    await logged(/fault: hang/);

    await emulator.close();
    await emulator.close();

    await expect(hanging).rejects.toThrow(TypeError);
  });
});
