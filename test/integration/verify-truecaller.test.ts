import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

const PHONE = "919876543210";

describe("verifyTruecaller against the emulator, PostgreSQL and Redis", () => {
  let t: TestGateway;
  let db: pg.Client;
  /** How far the emulator's clock runs ahead, to expire codes without waiting. */
  let emulatorClockSkewMs = 0;

  beforeAll(async () => {
    t = await startTestGateway({ emulator: { tokenExpiresInSeconds: 120, now: () => Date.now() + emulatorClockSkewMs } });
    db = t.db;
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    t.emulator.reset();
    emulatorClockSkewMs = 0;
  });

  async function usersWithPhone(e164: string): Promise<number> {
    const { rows } = await db.query<{ count: string }>("SELECT count(*) FROM users WHERE phone_number = $1", [e164]);
    return Number(rows[0]?.count);
  }

  it("stores a new user with the normalised profile, then recognises them", async () => {
    const profile = {
      sub: "13627101294235520",
      given_name: "Asha",
      family_name: "Rao",
      phone_number: "919812345678",
      email: "asha@example.com",
      picture: "https://example.com/asha.jpg",
      gender: "female",
      address: { locality: "Bangalore", postal_code: "560001" },
    };
    const first = await t.login({ profile });
    expect(first).toMatchObject({
      __typename: "LoginSuccess",
      isNewUser: true,
      user: {
        phoneNumber: "+919812345678",
        phoneNumberVerified: true,
        countryCode: "IN",
        givenName: "Asha",
        familyName: "Rao",
        email: "asha@example.com",
        picture: "https://example.com/asha.jpg",
        gender: "female",
        address: { locality: "Bangalore", postalCode: "560001" },
      },
    });
    const user = first.user as { id: string; createdAt: string };
    expect(new Date(user.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    const second = await t.login({ profile: { ...profile, given_name: "Asha M." } });
    expect(second).toMatchObject({ __typename: "LoginSuccess", isNewUser: false, user: { id: user.id, givenName: "Asha M." } });

    const { rows } = await db.query("SELECT provider, subject, user_id FROM identities WHERE user_id = $1", [user.id]);
    expect(rows).toEqual([{ provider: "truecaller", subject: "13627101294235520", user_id: user.id }]);
  });

  it("keeps stored profile fields the provider no longer sends (scopes not granted)", async () => {
    const first = await t.login({ profile: { sub: "scoped", phone_number: "919800000001", email: "kept@example.com" } });
    const again = await t.login({ profile: { sub: "scoped", phone_number: "919800000001" }, scopes: ["openid", "phone"] });
    expect(again).toMatchObject({ isNewUser: false, user: { id: (first.user as { id: string }).id, email: "kept@example.com" } });
  });

  it("caches the provider token in Redis, sealed, for no longer than expires_in", async () => {
    const result = await t.login();
    const userId = (result.user as { id: string }).id;
    const key = `provider-token:truecaller:${userId}`;
    const ttl = await t.redis.pttl(key);
    expect(ttl).toBeGreaterThan(110_000);
    expect(ttl).toBeLessThanOrEqual(120_000);

    const cached = await t.providerTokens.get("truecaller", userId);
    expect(cached?.tokenType).toBe("Bearer");
    expect(cached!.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 120_000);
    // At rest it is AES-GCM ciphertext, not the token.
    expect(await t.redis.get(key)).not.toContain(cached!.accessToken);
  });

  it("converges twenty concurrent first logins of one new phone on one user, exactly one of them new", async () => {
    const codes = Array.from({ length: 20 }, () => t.emulator.mintCode({ profile: { phone_number: PHONE, sub: "concurrent-sub" } }));
    const results = await Promise.all(codes.map((minted) => t.verify(minted.code, minted.codeVerifier ?? "")));
    expect(results.every((result) => result.__typename === "LoginSuccess")).toBe(true);
    expect(new Set(results.map((result) => (result.user as { id: string }).id)).size).toBe(1);
    expect(results.filter((result) => result.isNewUser === true)).toHaveLength(1);
    expect(await usersWithPhone("+919876543210")).toBe(1);
  });

  describe("token endpoint errors", () => {
    it("INVALID_CODE for an unknown code, without a retry", async () => {
      const minted = t.emulator.mintCode();
      expect(await t.verify("not-a-code-we-issued", minted.codeVerifier ?? "")).toMatchObject({ code: "INVALID_CODE" });
      expect(t.emulator.requestCount("token")).toBe(1);
      expect(t.emulator.requestCount("userinfo")).toBe(0);
    });

    it("INVALID_CODE for a used code presented with another verifier (a retry with the same one is a replay)", async () => {
      const minted = t.emulator.mintCode();
      expect(await t.verify(minted.code, minted.codeVerifier ?? "")).toMatchObject({ __typename: "LoginSuccess" });
      expect(await t.verify(minted.code, "w".repeat(43))).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("INVALID_CODE for an expired code", async () => {
      const minted = t.emulator.mintCode({ codeTtlSeconds: 60 });
      emulatorClockSkewMs = 61_000;
      expect(await t.verify(minted.code, minted.codeVerifier ?? "")).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
    });

    it("INVALID_VERIFIER when the verifier does not match the challenge", async () => {
      const minted = t.emulator.mintCode();
      expect(await t.verify(minted.code, "x".repeat(43))).toMatchObject({ __typename: "InvalidVerifierError", code: "INVALID_VERIFIER" });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("ACCESS_DENIED when the user declined", async () => {
      expect(await t.login({ accessDenied: true })).toMatchObject({ __typename: "AccessDeniedError", code: "ACCESS_DENIED" });
    });

    it.each([
      ["unsupported_grant_type", { status: 400, body: { error: "unsupported_grant_type", error_description: "Grant type x not supported" } }],
      ["invalid_request", { status: 400, body: { error: "invalid_request", error_description: "Empty parameter(s) in request" } }],
    ])("PROVIDER_MISCONFIGURED for %s, details only in the log", async (error, fault) => {
      t.emulator.injectFault({ endpoint: "token", ...fault });
      const result = await t.login();
      expect(result).toMatchObject({ __typename: "ProviderMisconfiguredError", code: "PROVIDER_MISCONFIGURED" });
      expect(result.message).not.toContain(error);
      expect(t.logs.some((line) => line.includes(error) && line.includes("provider rejected our client configuration"))).toBe(true);
    });

    it("RATE_LIMITED with Retry-After passed on, without a retry", async () => {
      t.emulator.injectFault({ endpoint: "token", error: "too_many_requests", retryAfterSeconds: 42 });
      expect(await t.login()).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED", retryAfterSeconds: 42 });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("PROVIDER_UNAVAILABLE for server_error, without a retry", async () => {
      t.emulator.injectFault({ endpoint: "token", error: "server_error" });
      expect(await t.login()).toMatchObject({ __typename: "ProviderUnavailableError", code: "PROVIDER_UNAVAILABLE" });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("retries temporarily_unavailable (the code cannot have been consumed) and succeeds", async () => {
      t.emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable", times: 2 });
      expect(await t.login()).toMatchObject({ __typename: "LoginSuccess" });
      expect(t.emulator.requestCount("token")).toBe(3);
    });

    it("PROVIDER_UNAVAILABLE with the provider's Retry-After once 503 retries run out", async () => {
      t.emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable", retryAfterSeconds: 1, times: 3 });
      expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE", retryAfterSeconds: 1 });
      expect(t.emulator.requestCount("token")).toBe(3);
    });

    it("does not retry a 503 that asks for a long wait, and passes the wait on", async () => {
      t.emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable", retryAfterSeconds: 300 });
      expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE", retryAfterSeconds: 300 });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("PROVIDER_UNAVAILABLE for a malformed 200, without storing anything", async () => {
      t.emulator.injectFault({ endpoint: "token", status: 200, body: "<html>maintenance</html>" });
      expect(await t.login({ profile: { phone_number: "919800000002" } })).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
      expect(await usersWithPhone("+919800000002")).toBe(0);
    });

    it("does not retry a reset connection: the provider may have consumed the code", async () => {
      t.emulator.injectFault({ endpoint: "token", resetConnection: true });
      expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
      expect(t.emulator.requestCount("token")).toBe(1);
    });
  });

  describe("userinfo endpoint errors", () => {
    it("PROFILE_UNAVAILABLE when the token is refused (401)", async () => {
      t.emulator.injectFault({ endpoint: "userinfo", status: 401, body: { error: "invalid_token" } });
      expect(await t.login()).toMatchObject({ __typename: "ProfileUnavailableError", code: "PROFILE_UNAVAILABLE" });
    });

    it("PROFILE_UNAVAILABLE when no profile is present (404)", async () => {
      expect(await t.login({ profile: null })).toMatchObject({ code: "PROFILE_UNAVAILABLE" });
    });

    it("PROFILE_UNAVAILABLE when the openid scope is missing (422)", async () => {
      expect(await t.login({ scopes: ["profile", "phone"] })).toMatchObject({ code: "PROFILE_UNAVAILABLE" });
    });

    it("PROVIDER_UNAVAILABLE for a 500", async () => {
      t.emulator.injectFault({ endpoint: "userinfo", error: "server_error" });
      expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    });

    it("retries a userinfo read whose connection was reset (a GET is safe to repeat)", async () => {
      t.emulator.injectFault({ endpoint: "userinfo", resetConnection: true });
      expect(await t.login()).toMatchObject({ __typename: "LoginSuccess" });
      expect(t.emulator.requestCount("userinfo")).toBe(2);
    });

    it("PHONE_NOT_VERIFIED stores nothing", async () => {
      const result = await t.login({ profile: { phone_number: "919800000003", phone_number_verified: false } });
      expect(result).toMatchObject({ __typename: "PhoneNotVerifiedError", code: "PHONE_NOT_VERIFIED" });
      expect(await usersWithPhone("+919800000003")).toBe(0);
    });

    it("PHONE_NOT_VERIFIED without the phone scope", async () => {
      expect(await t.login({ scopes: ["openid", "profile"] })).toMatchObject({ code: "PHONE_NOT_VERIFIED" });
    });
  });
});

describe("verifyTruecaller with a misconfigured client", () => {
  let t: TestGateway;
  afterAll(async () => t?.close());

  it("PROVIDER_MISCONFIGURED for an unknown client id (invalid_client) and for a client without the grant", async () => {
    t = await startTestGateway({ emulator: { clients: { "no-code-grant": { authorizationCodeGrant: false } } }, env: { TRUECALLER_CLIENT_ID: "no-code-grant" } });
    expect(await t.login({ clientId: "no-code-grant" })).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    expect(t.logs.some((line) => line.includes('truecaller token: HTTP 403 invalid_grant\"'))).toBe(true);
    await t.close();

    t = await startTestGateway({ env: { TRUECALLER_CLIENT_ID: "unknown-client" } });
    expect(await t.login()).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    expect(t.logs.some((line) => line.includes("invalid_client"))).toBe(true);
  });
});

describe("verifyTruecaller when the provider hangs or is gone", () => {
  let t: TestGateway;
  afterAll(async () => t?.close());

  it("gives up on a hanging token call after PROVIDER_TIMEOUT_MS, without a retry", async () => {
    t = await startTestGateway({ env: { PROVIDER_TIMEOUT_MS: "300" } });
    t.emulator.injectFault({ endpoint: "token", hang: true });
    const started = performance.now();
    expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    // The 300 ms attempt timeout, not the 12 s login budget, ended it.
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(t.emulator.requestCount("token")).toBe(1);
  });

  it("answers within LOGIN_TIMEOUT_MS: the budget covers all provider calls of a login", async () => {
    await t.close();
    t = await startTestGateway({ env: { PROVIDER_TIMEOUT_MS: "3000", LOGIN_TIMEOUT_MS: "3000" } });
    t.emulator.injectFault({ endpoint: "token", delayMs: 2_500 });
    t.emulator.injectFault({ endpoint: "userinfo", hang: true });
    const started = performance.now();
    expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    // Per-attempt timeouts alone would end this after 2.5 s + 3 s; the shared budget ends it at 3 s.
    expect(performance.now() - started).toBeLessThan(4_500);
  });

  it("retries a refused connection (the code never left) and then answers PROVIDER_UNAVAILABLE", async () => {
    await t.close();
    let attempts = 0;
    const countingFetch: typeof fetch = (input, init) => {
      attempts += 1;
      return fetch(input, init);
    };
    t = await startTestGateway({ env: { TRUECALLER_BASE_URL: `http://127.0.0.1:${REFUSING_PORT}` }, fetch: countingFetch });
    expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect(attempts).toBe(3);
    expect(t.logs.some((line) => line.includes("ECONNREFUSED"))).toBe(true);
  });
});

/**
 * A port nothing listens on. A port freed just now would not do: the emulators and gateways this and parallel test
 * files start on port 0 may be handed it at once. The kernel hands out ports from ip_local_port_range (≥ 1024) only, and
 * fetch refuses low "bad ports" such as 1 outright (no connection attempt to retry).
 */
const REFUSING_PORT = 1023;
