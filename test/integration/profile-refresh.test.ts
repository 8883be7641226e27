/**
 * refreshProfile over real HTTP: the signed-in user's profile re-read at the OIDC (Auth0-flavored) and
 * wgtwo (Hydra-flavored) emulators with the provider access token cached at login, or with the
 * provider refresh token kept sealed in identities.refresh_token when none is cached (Redis key
 * deleted). The gateway's outbound fetch is spied on (and passed through) to collect every token it
 * was issued, so the last test can check that none of them reached a log line.
 */
import { randomInt } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { DEFAULT_OIDC_CLIENT_ID, DEFAULT_OIDC_CLIENT_SECRET, type OidcMintOptions, type OidcProfile } from "../../src/emulator/oidc-emulator.js";
import { startGateway } from "../../src/gateway.js";
import { captureLogs } from "../helpers/log-capture.js";
import { postGraphql, startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { recordIssuedTokens } from "../helpers/issued-tokens.js";

/** Token endpoints of the Auth0, wgtwo and Truecaller emulators. */
/** `<keyId>.<iv>.<ciphertext>.<tag>`: the test keyring's id "test", a 12-byte IV and a 16-byte tag in base64url. */
const SEALED_SHAPE = /^test\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/;

const REFRESH_PROFILE = /* GraphQL */ `
  mutation RefreshProfile($provider: LoginProvider!) {
    refreshProfile(provider: $provider) {
      __typename
      ... on ProfileRefreshed { user { id phoneNumber givenName familyName email picture updatedAt identities { provider } } }
      ... on UserError { code }
      ... on ProviderUnavailableError { retryAfterSeconds }
    }
  }
`;

type Provider = "OIDC" | "WGTWO";
interface LoginSuccess {
  __typename: "LoginSuccess";
  session: { accessToken: string };
  user: { id: string; phoneNumber: string; updatedAt: string };
}

/** Every code, verifier, token and secret this file used: none may appear in a log line. */
const secrets = new Set<string>([DEFAULT_OIDC_CLIENT_SECRET]);
/** Passes every request through, collecting the tokens the providers issued. */
const wire = recordIssuedTokens(secrets);

let phoneSequence = randomInt(1_000_000, 8_000_000);
/** A Swedish mobile number no other test uses. */
function freshPhone(): string {
  phoneSequence += 1;
  return `+4673${phoneSequence}`;
}

describe("refreshProfile against the OIDC and wgtwo emulators, PostgreSQL and Redis", () => {
  let t: TestGateway;
  let db: pg.Client;
  /** Log lines of the extra gateway instances this file starts. */
  const instanceLogs: string[] = [];

  beforeAll(async () => {
    t = await startTestGateway({ fetch: wire.fetch });
    db = t.db;
  });
  afterAll(async () => {
    await wire.settled();
    await t?.close();
  });
  beforeEach(() => {
    t.oidc.reset();
    t.wgtwo.reset();
  });

  /** Mints a code (keeping its secrets) and logs in with it; the login must succeed. */
  async function login(provider: Provider, mint: OidcMintOptions = {}): Promise<LoginSuccess & { profile: OidcProfile }> {
    const minted = (provider === "OIDC" ? t.oidc : t.wgtwo).mintCode({ ...mint, profile: { phone_number: freshPhone(), ...mint.profile } });
    secrets.add(minted.code);
    if (minted.codeVerifier !== undefined) secrets.add(minted.codeVerifier);
    const result = await t.verifyPhoneLogin({ provider, code: minted.code, ...(minted.codeVerifier === undefined ? {} : { verifier: minted.codeVerifier }) });
    expect(result).toMatchObject({ __typename: "LoginSuccess" });
    return { ...(result as unknown as LoginSuccess), profile: minted.profile };
  }

  /**
   * An access token of the Auth0 emulator for `profile`, obtained by exchanging a code directly
   * at its token endpoint, as another app session of the same provider account would.
   */
  async function providerAccessToken(profile: Partial<OidcProfile>): Promise<{ accessToken: string; expiresAt: Date }> {
    const minted = t.oidc.mintCode({ profile });
    const response = await fetch(new URL("oauth/token", t.oidc.issuer), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "authorization_code",
        client_id: DEFAULT_OIDC_CLIENT_ID,
        code: minted.code,
        code_verifier: minted.codeVerifier,
        redirect_uri: minted.redirectUri,
      }),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { access_token: string; refresh_token?: string; id_token?: string; expires_in: number };
    for (const secret of [minted.code, minted.codeVerifier, answer.access_token, answer.refresh_token, answer.id_token]) if (secret) secrets.add(secret);
    return { accessToken: answer.access_token, expiresAt: new Date(Date.now() + answer.expires_in * 1000) };
  }

  async function storedUser(userId: string): Promise<Record<string, unknown>> {
    const { rows } = await db.query("SELECT phone_number, given_name, family_name, email, updated_at FROM users WHERE id = $1::uuid", [userId]);
    expect(rows).toHaveLength(1);
    return rows[0] as Record<string, unknown>;
  }

  async function sealedRefreshToken(provider: "oidc" | "wgtwo", userId: string): Promise<string | null> {
    const { rows } = await db.query<{ refresh_token: string | null }>(
      "SELECT refresh_token FROM identities WHERE provider = $1 AND user_id = $2::uuid",
      [provider, userId],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!.refresh_token;
  }

  function refreshProfile(provider: Provider, accessToken: string | undefined) {
    return t.graphql<{ refreshProfile: Record<string, unknown> }>(
      REFRESH_PROFILE,
      { provider },
      accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` },
    );
  }

  async function refreshed(provider: Provider, accessToken: string): Promise<Record<string, unknown>> {
    const body = await refreshProfile(provider, accessToken);
    if (!body.data) throw new Error(`refreshProfile failed: ${JSON.stringify(body.errors)}`);
    return body.data.refreshProfile;
  }

  /** The token requests an emulator received, by grant type. */
  const grants = (provider: Provider) =>
    (provider === "OIDC" ? t.oidc : t.wgtwo).requests.filter((request) => request.endpoint === "token").map((request) => request.grantType);

  it("is UNAUTHENTICATED without an access token", async () => {
    const body = await refreshProfile("OIDC", undefined);
    expect(body.data).toBeNull();
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  });

  it("stores the provider's current profile, read with the cached access token", async () => {
    const profile = { given_name: "Maja", family_name: "Lindqvist", email: "maja@example.com", picture: "https://example.com/maja.png" };
    const { session, user } = await login("OIDC", { profile });
    await db.query("UPDATE users SET given_name = 'Stale', family_name = NULL, email = NULL WHERE id = $1::uuid", [user.id]);

    const result = await refreshed("OIDC", session.accessToken);
    expect(result).toMatchObject({
      __typename: "ProfileRefreshed",
      user: { id: user.id, phoneNumber: user.phoneNumber, givenName: "Maja", familyName: "Lindqvist", email: "maja@example.com", picture: profile.picture },
    });
    const refreshedUser = result.user as { updatedAt: string };
    expect(Date.parse(refreshedUser.updatedAt)).toBeGreaterThan(Date.parse(user.updatedAt));
    expect([t.oidc.requestCount("token"), t.oidc.requestCount("userinfo")]).toEqual([1, 2]);
  });

  it("uses the stored refresh token when no access token is cached, replacing it with the rotated one", async () => {
    const { session, user } = await login("OIDC");
    const key = `provider-token:oidc:${user.id}`;
    const firstAccess = await t.providerTokens.get("oidc", user.id);
    expect(firstAccess).toMatchObject({ tokenType: "Bearer" });
    const firstSealed = await sealedRefreshToken("oidc", user.id);
    await t.redis.del(key);

    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ProfileRefreshed", user: { id: user.id } });
    expect(t.oidc.requests.filter((request) => request.endpoint === "token").map(({ grantType, status }) => ({ grantType, status }))).toEqual([
      { grantType: "authorization_code", status: 200 },
      { grantType: "refresh_token", status: 200 },
    ]);
    const secondSealed = await sealedRefreshToken("oidc", user.id);
    expect(secondSealed).toMatch(SEALED_SHAPE);
    expect(secondSealed).not.toBe(firstSealed);
    const secondAccess = await t.providerTokens.get("oidc", user.id);
    expect(secondAccess?.accessToken).toEqual(expect.any(String));
    expect(secondAccess!.accessToken).not.toBe(firstAccess!.accessToken);

    // The old refresh token was rotated away at the provider: only the stored replacement can work again.
    await t.redis.del(key);
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ProfileRefreshed" });
  });

  it("refreshes once when the provider refuses the cached access token", async () => {
    const { session } = await login("OIDC");
    t.oidc.injectFault({ endpoint: "userinfo", status: 401, body: { error: "invalid_token" } });
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ProfileRefreshed" });
    expect(grants("OIDC")).toEqual(["authorization_code", "refresh_token"]);
  });

  it("REAUTHENTICATION_REQUIRED when the provider revoked the refresh token, which is then forgotten", async () => {
    const { session, user } = await login("OIDC");
    await t.redis.del(`provider-token:oidc:${user.id}`);
    t.oidc.revokeRefreshTokens();
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({
      __typename: "ReauthenticationRequiredError",
      code: "REAUTHENTICATION_REQUIRED",
    });
    expect(await sealedRefreshToken("oidc", user.id)).toBeNull();
    const tokenCalls = t.oidc.requestCount("token");
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ code: "REAUTHENTICATION_REQUIRED" });
    expect(t.oidc.requestCount("token")).toBe(tokenCalls);
  });

  it("REAUTHENTICATION_REQUIRED for a user without an OIDC identity, without calling the provider", async () => {
    const truecaller = await t.login();
    expect(truecaller).toMatchObject({ __typename: "LoginSuccess" });
    const { session } = truecaller as unknown as LoginSuccess;
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ code: "REAUTHENTICATION_REQUIRED" });
    expect(t.oidc.requests).toEqual([]);
  });

  it("PROVIDER_UNAVAILABLE when userinfo keeps failing, leaving the profile as stored", async () => {
    const { session, user } = await login("OIDC", { profile: { given_name: "Oskar" } });
    await db.query("UPDATE users SET given_name = 'Kept' WHERE id = $1::uuid", [user.id]);
    t.oidc.injectFault({ endpoint: "userinfo", status: 503, retryAfterSeconds: 0, times: 3 });
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ProviderUnavailableError", code: "PROVIDER_UNAVAILABLE" });
    expect([t.oidc.requestCount("userinfo"), t.oidc.requestCount("token")]).toEqual([1 + 3, 1]);
    const { rows } = await db.query("SELECT given_name FROM users WHERE id = $1::uuid", [user.id]);
    expect(rows).toEqual([{ given_name: "Kept" }]);
  });

  it("refreshes wgtwo tokens, storing the refresh token Hydra always rotates", async () => {
    const { session, user } = await login("WGTWO");
    const firstSealed = await sealedRefreshToken("wgtwo", user.id);
    expect(firstSealed).toMatch(SEALED_SHAPE);
    await t.redis.del(`provider-token:wgtwo:${user.id}`);
    expect(await refreshed("WGTWO", session.accessToken)).toMatchObject({ __typename: "ProfileRefreshed", user: { id: user.id, identities: [{ provider: "WGTWO" }] } });
    expect(grants("WGTWO")).toEqual(["authorization_code", "refresh_token"]);
    expect(await sealedRefreshToken("wgtwo", user.id)).not.toBe(firstSealed);
    expect(await t.providerTokens.get("wgtwo", user.id)).toMatchObject({ tokenType: "Bearer" });
  });

  it.each([
    ["reports another phone number", (profile: OidcProfile) => ({ ...profile, phone_number: freshPhone() })],
    ["no longer marks the number verified", (profile: OidcProfile) => ({ ...profile, phone_number_verified: false })],
    ["reports no phone number at all", (profile: OidcProfile) => ({ ...profile, phone_number: undefined, phone_number_verified: undefined })],
    ["belongs to another account with the same number", (profile: OidcProfile) => ({ ...profile, sub: `auth0|${"f".repeat(24)}` })],
  ])("REAUTHENTICATION_REQUIRED when the provider's profile %s, leaving the user as stored", async (_name, change) => {
    const { session, user, profile } = await login("OIDC", { profile: { given_name: "Ebba", family_name: "Holm" } });
    const before = await storedUser(user.id);
    // The provider account behind the identity changes after the login. The emulator keeps a grant's
    // profile fixed, so the change is modelled by a grant minted for the changed profile (same `sub`
    // unless the case says otherwise): its access token replaces the one the gateway cached at login.
    const changed = await providerAccessToken({ ...change(profile), given_name: "Changed", family_name: "Changed" });
    await t.providerTokens.put("oidc", user.id, { accessToken: changed.accessToken, tokenType: "Bearer", expiresAt: changed.expiresAt });
    const userinfoCalls = t.oidc.requestCount("userinfo");

    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ReauthenticationRequiredError", code: "REAUTHENTICATION_REQUIRED" });
    expect(t.oidc.requestCount("userinfo")).toBe(userinfoCalls + 1);
    expect(await storedUser(user.id)).toEqual(before);
    expect(before).toMatchObject({ phone_number: user.phoneNumber, given_name: "Ebba", family_name: "Holm" });
    // The identity stays where it is; only a new login may move it.
    const { rows } = await db.query("SELECT subject FROM identities WHERE provider = 'oidc' AND user_id = $1::uuid", [user.id]);
    expect(rows).toEqual([{ subject: profile.sub }]);
  });

  it("REAUTHENTICATION_REQUIRED without a provider call when the identity has neither a cached access token nor a refresh token", async () => {
    // Without offline_access the provider issues no refresh token.
    const { session, user } = await login("OIDC", { scopes: ["openid", "profile", "phone", "email"] });
    expect(await sealedRefreshToken("oidc", user.id)).toBeNull();
    await t.redis.del(`provider-token:oidc:${user.id}`);
    const requests = t.oidc.requests.length;

    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ReauthenticationRequiredError", code: "REAUTHENTICATION_REQUIRED" });
    expect(t.oidc.requests).toHaveLength(requests);
    expect(grants("OIDC")).toEqual(["authorization_code"]);
  });

  it("PROVIDER_MISCONFIGURED on an instance where the provider is not configured, without calling it", async () => {
    const oidc = await login("OIDC");
    const wgtwo = await login("WGTWO");
    const requests = [t.oidc.requests.length, t.wgtwo.requests.length];
    const logs = captureLogs();
    // Same database, Redis key space and session keys: the sessions issued above are valid there.
    const unconfigured = Object.fromEntries(
      ["OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_REDIRECT_URI", "WGTWO_CLIENT_ID", "WGTWO_CLIENT_SECRET", "WGTWO_BASE_URL", "WGTWO_REDIRECT_URI"].map((name) => [name, ""]),
    );
    const gateway = await startGateway(loadConfig({ ...t.env, ...unconfigured }), { logger: logs.logger });
    try {
      for (const [provider, session] of [["OIDC", oidc.session], ["WGTWO", wgtwo.session]] as const) {
        const body = await postGraphql<{ refreshProfile: Record<string, unknown> }>(
          gateway.url,
          REFRESH_PROFILE,
          { provider },
          { authorization: `Bearer ${session.accessToken}` },
        );
        expect(body.data?.refreshProfile).toMatchObject({ __typename: "ProviderMisconfiguredError", code: "PROVIDER_MISCONFIGURED" });
      }
    } finally {
      await gateway.close();
      instanceLogs.push(...logs.lines);
    }
    expect([t.oidc.requests.length, t.wgtwo.requests.length]).toEqual(requests);
  });

  it("serialises concurrent refreshes of one identity: one refresh_token grant, both succeed", async () => {
    const { session, user } = await login("OIDC", { profile: { given_name: "Tove" } });
    await t.redis.del(`provider-token:oidc:${user.id}`);
    const firstSealed = await sealedRefreshToken("oidc", user.id);

    const results = await Promise.all([refreshed("OIDC", session.accessToken), refreshed("OIDC", session.accessToken)]);
    expect(results).toEqual([
      expect.objectContaining({ __typename: "ProfileRefreshed", user: expect.objectContaining({ id: user.id, givenName: "Tove" }) }),
      expect.objectContaining({ __typename: "ProfileRefreshed", user: expect.objectContaining({ id: user.id, givenName: "Tove" }) }),
    ]);
    // The emulator rotates refresh tokens and revokes the family when a rotated one is presented again:
    // two exchanges with the same token would have cost the identity its refresh token.
    expect(grants("OIDC")).toEqual(["authorization_code", "refresh_token"]);
    const secondSealed = await sealedRefreshToken("oidc", user.id);
    expect(secondSealed).toMatch(SEALED_SHAPE);
    expect(secondSealed).not.toBe(firstSealed);
    // The rotated token kept works.
    await t.redis.del(`provider-token:oidc:${user.id}`);
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ProfileRefreshed" });
    expect(grants("OIDC")).toEqual(["authorization_code", "refresh_token", "refresh_token"]);
  });

  it("logs no code, verifier, provider token or client secret used in this file", async () => {
    // Its own login and refresh, so it holds when run alone; in a full run the secrets of the tests above are checked too.
    const known = secrets.size;
    const { session, user } = await login("OIDC");
    await t.redis.del(`provider-token:oidc:${user.id}`);
    expect(await refreshed("OIDC", session.accessToken)).toMatchObject({ __typename: "ProfileRefreshed" });
    await wire.settled();
    // Code and verifier; access, refresh and ID token of the exchange; access and rotated refresh token of the refresh.
    expect(secrets.size - known).toBeGreaterThanOrEqual(7);
    expect([...secrets].some((secret) => secret.startsWith("eyJ"))).toBe(true);
    expect(secrets).toContain((await t.providerTokens.get("oidc", user.id))?.accessToken);
    const lines = [...t.logs, ...instanceLogs];
    const leaks = [...secrets].filter((secret) => lines.some((line) => line.includes(secret)));
    expect(leaks).toEqual([]);
  });
});
