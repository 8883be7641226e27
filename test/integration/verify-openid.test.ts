/**
 * verifyPhoneLogin with the two OpenID providers over real HTTP: the generic OIDC provider against the
 * Auth0-flavored emulator (discovery, JSON token request from a public PKCE client, ID token required)
 * and wgtwo against the Hydra-flavored one (form + HTTP Basic, PKCE optional, ID token when present).
 * Every row goes through the gateway's GraphQL endpoint; storage is read from PostgreSQL directly.
 * The gateway's outbound fetch is spied on (and passed through) to see the token requests it sends and
 * to collect every token it was issued, so the last test can check that none of them reached a log line.
 * refreshProfile, which uses the refresh tokens stored here, is tested in profile-refresh.test.ts.
 */
import { randomBytes, randomInt } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_OIDC_CLIENT_ID,
  DEFAULT_OIDC_CLIENT_SECRET,
  DEFAULT_REDIRECT_URI,
  type OidcEmulator,
  type OidcMintedCode,
  type OidcMintOptions,
} from "../../src/emulator/oidc-emulator.js";
import { recordIssuedTokens } from "../helpers/issued-tokens.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

const OTHER_CLIENT = "another-client";
const WRONG_CLIENT_SECRET = "not-the-wgtwo-client-secret";
/** Token endpoints of the Auth0 and wgtwo emulators, and Truecaller's. */
/** `<keyId>.<iv>.<ciphertext>.<tag>`: the test keyring's id "test", a 12-byte IV and a 16-byte tag in base64url. */
const SEALED_SHAPE = /^test\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/;
const AUTH0_ACCESS_TOKEN_LIFETIME_MS = 86_400_000;

const REFRESH_PROFILE = /* GraphQL */ `
  mutation RefreshProfile($provider: LoginProvider!) {
    refreshProfile(provider: $provider) { __typename ... on UserError { code } }
  }
`;

type Provider = "OIDC" | "WGTWO";
interface LoginSuccess {
  __typename: "LoginSuccess";
  isNewUser: boolean;
  session: { accessToken: string };
  user: { id: string; phoneNumber: string; givenName: string | null; updatedAt: string; identities: Array<{ provider: string }> };
}
interface CodeInput {
  code?: string;
  /** `null` sends none even when the emulator generated one. */
  verifier?: string | null;
  redirectUri?: string;
  /** `null` sends none even when the code was minted with one. */
  nonce?: string | null;
}

/** Every code, verifier, token and secret this file used: none may appear in a log line. */
const secrets = new Set<string>([DEFAULT_OIDC_CLIENT_SECRET, WRONG_CLIENT_SECRET]);
/** The log lines of every gateway this file started. */
const logSources: string[][] = [];

/** A fetch that passes everything through, recording token requests and collecting the tokens issued. */
function spyingFetch() {
  const tokenRequests: Array<{ path: string; contentType: string | null; authorization: string | null; body: string }> = [];
  const recorder = recordIssuedTokens(secrets, async (request) => {
    const authorization = request.headers.get("authorization");
    if (authorization !== null) secrets.add(authorization.replace(/^Basic /, ""));
    tokenRequests.push({ path: new URL(request.url).pathname, contentType: request.headers.get("content-type"), authorization, body: await request.text() });
  });
  return { ...recorder, tokenRequests };
}

let phoneSequence = randomInt(1_000_000, 8_000_000);
/** A Swedish mobile number no other test uses. */
function freshPhone(): string {
  phoneSequence += 1;
  return `+4670${phoneSequence}`;
}
function freshSubject(provider: Provider): string {
  return provider === "OIDC" ? `auth0|${randomBytes(12).toString("hex")}` : randomBytes(32).toString("hex");
}
const nowSeconds = () => Math.floor(Date.now() / 1000);

function emulatorOf(gateway: TestGateway, provider: Provider): OidcEmulator {
  return provider === "OIDC" ? gateway.oidc : gateway.wgtwo;
}

/** Mints a code at the provider's emulator (keeping its secrets) and logs in with it through verifyPhoneLogin. */
async function loginAt(gateway: TestGateway, provider: Provider, mint: OidcMintOptions = {}, input: CodeInput = {}) {
  const minted: OidcMintedCode = emulatorOf(gateway, provider).mintCode(mint);
  secrets.add(minted.code);
  if (minted.codeVerifier !== undefined) secrets.add(minted.codeVerifier);
  const verifier = input.verifier === undefined ? minted.codeVerifier : (input.verifier ?? undefined);
  const nonce = input.nonce === undefined ? mint.nonce : (input.nonce ?? undefined);
  const result = await gateway.verifyPhoneLogin({
    provider,
    code: input.code ?? minted.code,
    ...(verifier === undefined ? {} : { verifier }),
    ...(nonce === undefined ? {} : { nonce }),
    ...(input.redirectUri === undefined ? {} : { redirectUri: input.redirectUri }),
  });
  return { minted, result };
}

function succeeded(result: Record<string, unknown>): LoginSuccess {
  expect(result).toMatchObject({ __typename: "LoginSuccess" });
  return result as unknown as LoginSuccess;
}

describe("verifyPhoneLogin with OIDC and wgtwo", () => {
  let t: TestGateway;
  let db: pg.Client;
  const wire = spyingFetch();

  beforeAll(async () => {
    t = await startTestGateway({ fetch: wire.fetch });
    logSources.push(t.logs);
    db = t.db;
  });
  afterAll(async () => {
    await wire.settled();
    await t?.close();
  });
  beforeEach(() => {
    // Codes, tokens, faults and request logs; signing keys stay, and the gateway keeps its discovery and JWKS caches.
    t.oidc.reset();
    t.wgtwo.reset();
  });

  const login = (provider: Provider, mint: OidcMintOptions = {}, input: CodeInput = {}) => loginAt(t, provider, mint, input);

  /** Users with the phone number, and identities of the subject: what a refused login must leave at zero. */
  async function stored(phone: string, subject: string): Promise<{ users: number; identities: number }> {
    const users = await db.query("SELECT 1 FROM users WHERE phone_number = $1", [phone]);
    const identities = await db.query("SELECT 1 FROM identities WHERE subject = $1", [subject]);
    return { users: users.rowCount ?? 0, identities: identities.rowCount ?? 0 };
  }

  async function sealedRefreshToken(provider: "oidc" | "wgtwo", userId: string): Promise<string | null> {
    const { rows } = await db.query<{ refresh_token: string | null }>(
      "SELECT refresh_token FROM identities WHERE provider = $1 AND user_id = $2::uuid",
      [provider, userId],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!.refresh_token;
  }

  /** The detail of the last "provider proof rejected" log line: which check refused the provider's proof. */
  function lastRejection(): string {
    const line = t.logs.findLast((entry) => entry.includes('"provider proof rejected"'));
    return line === undefined ? "" : String((JSON.parse(line) as { detail?: unknown }).detail);
  }

  async function publishedKid(emulator: OidcEmulator): Promise<string> {
    const jwks = (await (await fetch(`${emulator.issuer}.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    return jwks.keys[0]!.kid;
  }

  it("lists every configured provider", async () => {
    expect(await t.graphql("{ providers { id } }")).toEqual({ data: { providers: [{ id: "TRUECALLER" }, { id: "WGTWO" }, { id: "OIDC" }] } });
  });

  describe("OIDC (Auth0) logins", () => {
    it("stores a new user from the verified phone, then recognises the returning user", async () => {
      const [phone, sub] = [freshPhone(), freshSubject("OIDC")];
      const profile = { sub, phone_number: phone, given_name: "Astrid", family_name: "Berg", email: "astrid@example.com" };
      const first = succeeded((await login("OIDC", { profile })).result);
      expect(first).toMatchObject({
        isNewUser: true,
        user: { phoneNumber: phone, countryCode: "SE", givenName: "Astrid", familyName: "Berg", email: "astrid@example.com", identities: [{ provider: "OIDC" }] },
      });

      const second = succeeded((await login("OIDC", { profile: { ...profile, given_name: "Astrid M." } })).result);
      expect(second).toMatchObject({ isNewUser: false, user: { id: first.user.id, givenName: "Astrid M.", identities: [{ provider: "OIDC" }] } });
      const { rows } = await db.query("SELECT provider, subject FROM identities WHERE user_id = $1::uuid", [first.user.id]);
      expect(rows).toEqual([{ provider: "oidc", subject: sub }]);
    });

    it("takes the phone number from userinfo, and accepts the nonce it sent back", async () => {
      const [inIdToken, inUserinfo] = [freshPhone(), freshPhone()];
      const { result } = await login("OIDC", { profile: { phone_number: inIdToken }, userinfo: { phone_number: inUserinfo }, nonce: "n-0S6_WzA2Mj" });
      expect(succeeded(result).user.phoneNumber).toBe(inUserinfo);
      expect((await stored(inIdToken, "-")).users).toBe(0);
    });

    it("sends a JSON token request naming the client, as a public client without credentials", async () => {
      const { minted, result } = await login("OIDC");
      succeeded(result);
      const sent = wire.tokenRequests.at(-1)!;
      expect(sent).toMatchObject({ path: "/oauth/token", authorization: null });
      expect(sent.contentType).toMatch(/^application\/json/);
      expect(JSON.parse(sent.body)).toEqual({
        grant_type: "authorization_code",
        code: minted.code,
        code_verifier: minted.codeVerifier,
        redirect_uri: DEFAULT_REDIRECT_URI,
        client_id: DEFAULT_OIDC_CLIENT_ID,
      });
      expect(t.oidc.requests.filter((request) => request.endpoint === "token")).toMatchObject([{ grantType: "authorization_code", status: 200 }]);
    });

    it("caches the provider access token, sealed, until the provider's expiry", async () => {
      const before = Date.now();
      const user = succeeded((await login("OIDC")).result).user;
      const after = Date.now();
      const cached = await t.providerTokens.get("oidc", user.id);
      expect(cached).toMatchObject({ tokenType: "Bearer" });
      secrets.add(cached!.accessToken);
      expect(cached!.expiresAt.getTime()).toBeGreaterThanOrEqual(before + AUTH0_ACCESS_TOKEN_LIFETIME_MS - 1_000);
      expect(cached!.expiresAt.getTime()).toBeLessThanOrEqual(after + AUTH0_ACCESS_TOKEN_LIFETIME_MS);
      const key = `provider-token:oidc:${user.id}`;
      expect(await t.redis.pttl(key)).toBeGreaterThan(AUTH0_ACCESS_TOKEN_LIFETIME_MS - 60_000);
      expect(await t.redis.get(key)).not.toContain(cached!.accessToken);
      // It is the token the provider issued: its userinfo accepts it.
      const userinfo = await fetch(`${t.oidc.issuer}userinfo`, { headers: { authorization: `Bearer ${cached!.accessToken}` } });
      expect(userinfo.status).toBe(200);
    });

    it("keeps the provider refresh token sealed in identities.refresh_token, and keeps it when a later login grants none", async () => {
      const profile = { sub: freshSubject("OIDC"), phone_number: freshPhone() };
      const user = succeeded((await login("OIDC", { profile })).result).user;
      await wire.settled();
      const sealed = await sealedRefreshToken("oidc", user.id);
      expect(sealed).toMatch(SEALED_SHAPE);
      for (const secret of secrets) expect(sealed).not.toContain(secret);

      const withoutOfflineAccess = ["openid", "profile", "phone", "email"];
      succeeded((await login("OIDC", { profile, scopes: withoutOfflineAccess })).result);
      expect(await sealedRefreshToken("oidc", user.id)).toBe(sealed);
    });

    it.each([
      ["phone_number_verified is false", { profile: { phone_number_verified: false } }],
      ["the phone scope was not granted", { scopes: ["openid", "profile", "email", "offline_access"] }],
    ])("PHONE_NOT_VERIFIED when %s, storing nothing", async (_case, mint: OidcMintOptions) => {
      const [phone, sub] = [freshPhone(), freshSubject("OIDC")];
      const { result } = await login("OIDC", { ...mint, profile: { ...mint.profile, sub, phone_number: phone } });
      expect(result).toMatchObject({ __typename: "PhoneNotVerifiedError", code: "PHONE_NOT_VERIFIED" });
      expect(await stored(phone, sub)).toEqual({ users: 0, identities: 0 });
    });
  });

  describe("OIDC token endpoint errors", () => {
    it("INVALID_CODE for a code the provider never issued, without reading userinfo", async () => {
      const { result } = await login("OIDC", {}, { code: "not-a-code-the-provider-issued" });
      expect(result).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
      expect([t.oidc.requestCount("token"), t.oidc.requestCount("userinfo")]).toEqual([1, 0]);
    });

    it("INVALID_VERIFIER when the verifier does not match the challenge", async () => {
      const { result } = await login("OIDC", {}, { verifier: "x".repeat(43) });
      expect(result).toMatchObject({ __typename: "InvalidVerifierError", code: "INVALID_VERIFIER" });
    });

    it("INVALID_CODE when the redirect URI differs from the authorization request's; the app's own one is passed on", async () => {
      const { result } = await login("OIDC", {}, { redirectUri: "com.example.app://elsewhere" });
      expect(result).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
      const own = "com.example.other://callback";
      succeeded((await login("OIDC", { redirectUri: own }, { redirectUri: own })).result);
    });

    it("INVALID_INPUT on verifier when none is sent, without calling the provider", async () => {
      const { result } = await login("OIDC", {}, { verifier: null });
      expect(result).toMatchObject({ __typename: "InvalidInputError", code: "INVALID_INPUT", field: "verifier" });
      expect(t.oidc.requests).toEqual([]);
    });

    it("ACCESS_DENIED when the user declined", async () => {
      expect((await login("OIDC", { accessDenied: true })).result).toMatchObject({ __typename: "AccessDeniedError", code: "ACCESS_DENIED" });
    });

    it("RATE_LIMITED with the provider's Retry-After, without a retry", async () => {
      t.oidc.injectFault({ endpoint: "token", status: 429, retryAfterSeconds: 30, body: { error: "too_many_requests" } });
      expect((await login("OIDC")).result).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED", retryAfterSeconds: 30 });
      expect(t.oidc.requestCount("token")).toBe(1);
    });

    it.each([
      ["500, not retried (the code may be spent)", 500, 1],
      ["503, retried while the provider cannot have seen the code", 503, 3],
    ])("PROVIDER_UNAVAILABLE for %s, storing nothing", async (_case, status, attempts) => {
      const [phone, sub] = [freshPhone(), freshSubject("OIDC")];
      t.oidc.injectFault({ endpoint: "token", status, retryAfterSeconds: 0, body: { error: "server_error" }, times: 3 });
      const { result } = await login("OIDC", { profile: { phone_number: phone, sub } });
      expect(result).toMatchObject({ __typename: "ProviderUnavailableError", code: "PROVIDER_UNAVAILABLE" });
      expect(t.oidc.requestCount("token")).toBe(attempts);
      expect(await stored(phone, sub)).toEqual({ users: 0, identities: 0 });
    });
  });

  describe("OIDC ID-token attacks: INVALID_ID_TOKEN, nothing stored", () => {
    type Attack = (emulator: OidcEmulator) => Promise<{ mint: OidcMintOptions; input?: CodeInput }>;
    /** Each attack, and the check that caught it as the operator's log line names it. */
    const rows: Array<[string, string, Attack]> = [
      ["aud is another client", "ERR_JWT_CLAIM_VALIDATION_FAILED (aud)", async () => ({ mint: { idToken: { claims: { aud: OTHER_CLIENT } } } })],
      [
        "aud names us and another client, without azp",
        '"azp" is not our client id',
        async () => ({ mint: { idToken: { claims: { aud: [DEFAULT_OIDC_CLIENT_ID, OTHER_CLIENT] } } } }),
      ],
      [
        "azp is another client",
        '"azp" is not our client id',
        async () => ({ mint: { idToken: { claims: { aud: [DEFAULT_OIDC_CLIENT_ID, OTHER_CLIENT], azp: OTHER_CLIENT } } } }),
      ],
      ["iss is another issuer", "ERR_JWT_CLAIM_VALIDATION_FAILED (iss)", async () => ({ mint: { idToken: { claims: { iss: "https://attacker.example/" } } } })],
      ["exp is past, beyond the 60 s skew", "ERR_JWT_EXPIRED (exp)", async () => ({ mint: { idToken: { claims: { exp: nowSeconds() - 120 } } } })],
      ["iat is far in the future", "ERR_JWT_CLAIM_VALIDATION_FAILED (iat)", async () => ({ mint: { idToken: { claims: { iat: nowSeconds() + 3_600 } } } })],
      ["iat is older than 10 minutes", "ERR_JWT_EXPIRED (iat)", async () => ({ mint: { idToken: { claims: { iat: nowSeconds() - 700 } } } })],
      [
        "the signature is not the published key's",
        "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        async (emulator) => ({ mint: { idToken: { signWith: "foreign", kid: await publishedKid(emulator) } } }),
      ],
      ["alg is none", "ERR_JOSE_ALG_NOT_ALLOWED", async () => ({ mint: { idToken: { alg: "none" } } })],
      ["the nonce is not the one sent", '"nonce" does not match', async () => ({ mint: { nonce: "n-minted" }, input: { nonce: "n-sent" } })],
      ["a nonce was sent and the token has none", '"nonce" does not match', async () => ({ mint: {}, input: { nonce: "n-sent" } })],
      ["no id_token came (no openid scope)", "no id_token in the answer", async () => ({ mint: { scopes: ["profile", "phone", "email", "offline_access"] } })],
      ["userinfo names another subject", '"sub" differs from the ID token', async () => ({ mint: { userinfo: { sub: "auth0|someone-else" } } })],
    ];

    it.each(rows)("when %s", async (_case, reason, attack) => {
      const [phone, sub] = [freshPhone(), freshSubject("OIDC")];
      const { mint, input } = await attack(t.oidc);
      const { result } = await login("OIDC", { ...mint, profile: { phone_number: phone, sub } }, input);
      expect(result).toMatchObject({ __typename: "InvalidIdTokenError", code: "INVALID_ID_TOKEN" });
      expect(lastRejection()).toContain(reason);
      expect(await stored(phone, sub)).toEqual({ users: 0, identities: 0 });
    });

    it("when the kid is unknown even after one JWKS refetch", async () => {
      succeeded((await login("OIDC")).result);
      const jwksReads = t.oidc.requestCount("jwks");
      const [phone, sub] = [freshPhone(), freshSubject("OIDC")];
      const { result } = await login("OIDC", { profile: { phone_number: phone, sub }, idToken: { signWith: "foreign" } });
      expect(result).toMatchObject({ code: "INVALID_ID_TOKEN" });
      expect(lastRejection()).toContain("ERR_JWKS_NO_MATCHING_KEY");
      expect(t.oidc.requestCount("jwks")).toBe(jwksReads + 1);
      expect(await stored(phone, sub)).toEqual({ users: 0, identities: 0 });
    });

    it("accepts the provider's new key after rotation, reading the JWKS once more", async () => {
      succeeded((await login("OIDC")).result);
      const jwksReads = t.oidc.requestCount("jwks");
      await t.oidc.rotateSigningKey();
      succeeded((await login("OIDC")).result);
      expect(t.oidc.requestCount("jwks")).toBe(jwksReads + 1);
      succeeded((await login("OIDC")).result);
      expect(t.oidc.requestCount("jwks")).toBe(jwksReads + 1);
    });
  });

  describe("wgtwo logins", () => {
    it("logs in with PKCE: a form token request with HTTP Basic client authentication", async () => {
      const { minted, result } = await login("WGTWO");
      expect(succeeded(result)).toMatchObject({ isNewUser: true, user: { phoneNumber: minted.profile.phone_number, identities: [{ provider: "WGTWO" }] } });
      const sent = wire.tokenRequests.at(-1)!;
      expect(sent.path).toBe("/oauth2/token");
      expect(sent.contentType).toMatch(/^application\/x-www-form-urlencoded/);
      expect(sent.authorization).toBe(`Basic ${Buffer.from(`${DEFAULT_OIDC_CLIENT_ID}:${DEFAULT_OIDC_CLIENT_SECRET}`).toString("base64")}`);
      expect(Object.fromEntries(new URLSearchParams(sent.body))).toEqual({
        grant_type: "authorization_code",
        code: minted.code,
        redirect_uri: DEFAULT_REDIRECT_URI,
        code_verifier: minted.codeVerifier,
      });
    });

    it("logs in without PKCE (a confidential client), sending no verifier", async () => {
      const { minted, result } = await login("WGTWO", { pkce: false });
      expect(minted.codeVerifier).toBeUndefined();
      succeeded(result);
      expect(new URLSearchParams(wire.tokenRequests.at(-1)!.body).has("code_verifier")).toBe(false);
    });

    it("logs in without an ID token when the openid scope was not granted", async () => {
      succeeded((await login("WGTWO", { scopes: ["phone", "offline_access"] })).result);
    });

    it.each([
      ["a nonce was sent and no id_token came", () => ({ scopes: ["phone", "offline_access"], nonce: "n-sent" })],
      ["aud (an array) is another client's", () => ({ idToken: { claims: { aud: [OTHER_CLIENT] } } })],
      ["aud names us and another client, without azp", () => ({ idToken: { claims: { aud: [DEFAULT_OIDC_CLIENT_ID, OTHER_CLIENT] } } })],
      ["iss lacks Hydra's trailing slash", () => ({ idToken: { claims: { iss: t.wgtwo.issuer.replace(/\/$/, "") } } })],
    ] as Array<[string, () => OidcMintOptions]>)("INVALID_ID_TOKEN, nothing stored, when %s", async (_case, attack) => {
      const [phone, sub] = [freshPhone(), freshSubject("WGTWO")];
      const { result } = await login("WGTWO", { ...attack(), profile: { phone_number: phone, sub } });
      expect(result).toMatchObject({ __typename: "InvalidIdTokenError", code: "INVALID_ID_TOKEN" });
      expect(await stored(phone, sub)).toEqual({ users: 0, identities: 0 });
    });

    it("INVALID_CODE for an unknown code; INVALID_VERIFIER for a wrong verifier and for one sent without PKCE", async () => {
      expect((await login("WGTWO", {}, { code: "not-a-code-the-provider-issued" })).result).toMatchObject({ code: "INVALID_CODE" });
      expect((await login("WGTWO", {}, { verifier: "y".repeat(43) })).result).toMatchObject({ __typename: "InvalidVerifierError", code: "INVALID_VERIFIER" });
      expect((await login("WGTWO", { pkce: false }, { verifier: "z".repeat(43) })).result).toMatchObject({ code: "INVALID_VERIFIER" });
    });

    it("links a wgtwo account and an OIDC account proving the same phone to one user", async () => {
      const phone = freshPhone();
      const viaOidc = succeeded((await login("OIDC", { profile: { phone_number: phone } })).result);
      const viaWgtwo = succeeded((await login("WGTWO", { profile: { phone_number: phone } })).result);
      expect(viaWgtwo).toMatchObject({ isNewUser: false, user: { id: viaOidc.user.id, identities: [{ provider: "OIDC" }, { provider: "WGTWO" }] } });
      const { rows } = await db.query("SELECT provider FROM identities i JOIN users u ON u.id = i.user_id WHERE u.phone_number = $1 ORDER BY provider", [phone]);
      expect(rows).toEqual([{ provider: "oidc" }, { provider: "wgtwo" }]);
    });
  });
});

describe("OIDC and wgtwo configuration and outages, each on a fresh gateway", () => {
  let t: TestGateway;
  const wire = spyingFetch();

  beforeAll(async () => {
    t = await startTestGateway({ fetch: wire.fetch });
    logSources.push(t.logs);
  });
  afterAll(async () => {
    await wire.settled();
    await t?.close();
  });

  /** A new gateway process (empty discovery and JWKS caches) against the same emulators, with `env` over a sound configuration. */
  async function restart(env: Record<string, string> = {}): Promise<void> {
    await t.restartGateway({
      OIDC_ISSUER: t.oidc.issuer,
      OIDC_CLIENT_ID: DEFAULT_OIDC_CLIENT_ID,
      OIDC_REDIRECT_URI: DEFAULT_REDIRECT_URI,
      WGTWO_CLIENT_SECRET: DEFAULT_OIDC_CLIENT_SECRET,
      PROVIDER_TIMEOUT_MS: "5000",
      LOGIN_TIMEOUT_MS: "12000",
      ...env,
    });
    t.oidc.reset();
    t.wgtwo.reset();
  }

  it("PROVIDER_MISCONFIGURED without calling the provider when OIDC is not configured, and lists only configured providers", async () => {
    await restart({ OIDC_ISSUER: "", OIDC_CLIENT_ID: "", OIDC_REDIRECT_URI: "" });
    expect(await t.graphql("{ providers { id } }")).toEqual({ data: { providers: [{ id: "TRUECALLER" }, { id: "WGTWO" }] } });
    expect((await loginAt(t, "OIDC")).result).toMatchObject({ __typename: "ProviderMisconfiguredError", code: "PROVIDER_MISCONFIGURED" });
    const { session } = succeeded(await t.login());
    const body = await t.graphql<{ refreshProfile: unknown }>(REFRESH_PROFILE, { provider: "OIDC" }, { authorization: `Bearer ${session.accessToken}` });
    expect(body.data?.refreshProfile).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    expect(t.oidc.requests).toEqual([]);
  });

  it("INVALID_INPUT on redirectUri when none is sent and OIDC_REDIRECT_URI is not configured; the app's is used", async () => {
    await restart({ OIDC_REDIRECT_URI: "" });
    expect((await loginAt(t, "OIDC")).result).toMatchObject({ code: "INVALID_INPUT", field: "redirectUri" });
    expect(t.oidc.requests).toEqual([]);
    succeeded((await loginAt(t, "OIDC", {}, { redirectUri: DEFAULT_REDIRECT_URI })).result);
  });

  it("PROVIDER_MISCONFIGURED when discovery names another issuer than OIDC_ISSUER", async () => {
    await restart({ OIDC_ISSUER: t.oidc.issuer.replace(/\/$/, "") });
    expect((await loginAt(t, "OIDC")).result).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    expect(t.oidc.requests.map((request) => request.endpoint)).toEqual(["discovery"]);
    expect(t.logs.some((line) => line.includes("provider rejected our client configuration") && line.includes('\\"issuer\\" differs'))).toBe(true);
  });

  it("PROVIDER_UNAVAILABLE when discovery fails at the first login, without asking again on every login meanwhile", async () => {
    await restart();
    t.oidc.injectFault({ endpoint: "discovery", status: 500 });
    expect((await loginAt(t, "OIDC")).result).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect(t.oidc.requestCount("token")).toBe(0);
    // The failure is remembered for a while (30 s): the next login does not hit the provider again.
    expect((await loginAt(t, "OIDC")).result).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect(t.oidc.requestCount("discovery")).toBe(1);
    // A new instance discovers afresh (the retry after the interval is a unit test of the refreshing value).
    await restart();
    succeeded((await loginAt(t, "OIDC")).result);
  });

  it("PROVIDER_UNAVAILABLE when the JWKS cannot be read, storing nothing", async () => {
    await restart();
    t.oidc.injectFault({ endpoint: "jwks", status: 500 });
    const [phone, sub] = [freshPhone(), freshSubject("OIDC")];
    expect((await loginAt(t, "OIDC", { profile: { phone_number: phone, sub } })).result).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect(t.oidc.requestCount("userinfo")).toBe(0);
    succeeded((await loginAt(t, "OIDC", { profile: { phone_number: phone, sub } })).result);
  });

  it("reads discovery and the JWKS once for many logins", async () => {
    await restart();
    for (let i = 0; i < 3; i += 1) succeeded((await loginAt(t, "OIDC")).result);
    expect([t.oidc.requestCount("discovery"), t.oidc.requestCount("jwks"), t.oidc.requestCount("token")]).toEqual([1, 1, 3]);
  });

  it("PROVIDER_UNAVAILABLE within PROVIDER_TIMEOUT_MS when the token endpoint hangs, without a retry", async () => {
    await restart({ PROVIDER_TIMEOUT_MS: "300", LOGIN_TIMEOUT_MS: "600" });
    succeeded((await loginAt(t, "OIDC")).result);
    t.oidc.injectFault({ endpoint: "token", hang: true });
    const started = performance.now();
    expect((await loginAt(t, "OIDC")).result).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(t.oidc.requestCount("token")).toBe(2);
  });

  it("PROVIDER_UNAVAILABLE within LOGIN_TIMEOUT_MS when wgtwo's userinfo hangs", async () => {
    await restart({ PROVIDER_TIMEOUT_MS: "300", LOGIN_TIMEOUT_MS: "600" });
    t.wgtwo.injectFault({ endpoint: "userinfo", hang: true, times: 3 });
    const started = performance.now();
    expect((await loginAt(t, "WGTWO")).result).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it("PROVIDER_MISCONFIGURED when wgtwo refuses the client secret, details only in the log", async () => {
    await restart({ WGTWO_CLIENT_SECRET: WRONG_CLIENT_SECRET });
    const { result } = await loginAt(t, "WGTWO");
    expect(result).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    expect(result.message).not.toContain("invalid_client");
    expect(t.wgtwo.requests).toMatchObject([{ endpoint: "token", status: 401, error: "invalid_client" }]);
    expect(t.logs.some((line) => line.includes("provider rejected our client configuration") && line.includes("invalid_client"))).toBe(true);
  });
});

describe("logs of every gateway above", () => {
  it("contain no code, verifier, provider token or client secret used in this file", () => {
    // Codes and verifiers of every login, every access/refresh/ID token issued, both client secrets.
    expect(secrets.size).toBeGreaterThan(100);
    expect([...secrets].filter((secret) => secret.startsWith("eyJ")).length).toBeGreaterThan(20);
    const lines = logSources.flat();
    expect(lines.length).toBeGreaterThan(50);
    const leaks = [...secrets].filter((secret) => lines.some((line) => line.includes(secret)));
    expect(leaks).toEqual([]);
  });
});
