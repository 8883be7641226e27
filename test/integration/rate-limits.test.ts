import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config.js";
import { startGateway } from "../../src/gateway.js";
import { captureLogs } from "../helpers/log-capture.js";
import { postGraphql, START_LOGIN_MUTATION, startTestGateway, TEST_REDIS_URL, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";
import { freshIndianNumber } from "../helpers/fixtures.js";

/** Abuse limits over real HTTP, counted in Redis (or, with Redis away, in each instance's memory). */
describe("login rate limits", () => {
  let t: TestGateway | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const BAD_VERIFIER = "v".repeat(43);

  async function verifyAt(baseUrl: string, code: string, verifier: string, headers: Record<string, string> = {}) {
    const body = await postGraphql<{ verifyTruecaller: Record<string, unknown> }>(baseUrl, VERIFY_MUTATION, { code, verifier }, headers);
    return body.data!.verifyTruecaller;
  }

  it("refuses a client's attempts over LOGIN_RATE_PER_IP with an honest retryAfterSeconds, before any provider call", async () => {
    t = await startTestGateway({ env: { LOGIN_RATE_PER_IP: "3", LOGIN_RATE_PER_IP_WINDOW_S: "60", TRUST_PROXY: "loopback" } });
    const gateway = t;
    const from = (ip: string) => ({ "x-forwarded-for": ip });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const minted = gateway.emulator.mintCode();
      expect(await verifyAt(gateway.gateway.url, minted.code, minted.codeVerifier!, from("203.0.113.10"))).toMatchObject({ __typename: "LoginSuccess" });
    }
    const tokenCalls = gateway.emulator.requestCount("token");
    const minted = gateway.emulator.mintCode();
    const refused = await verifyAt(gateway.gateway.url, minted.code, minted.codeVerifier!, from("203.0.113.10"));
    expect(refused).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED" });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(gateway.emulator.requestCount("token")).toBe(tokenCalls);
    // Another client is not affected.
    expect(await verifyAt(gateway.gateway.url, minted.code, minted.codeVerifier!, from("198.51.100.20"))).toMatchObject({ __typename: "LoginSuccess" });
  });

  it("bounds a client's startLogin calls by LOGIN_RATE_PER_IP, apart from its verifications", async () => {
    t = await startTestGateway({ env: { LOGIN_RATE_PER_IP: "2", TRUST_PROXY: "loopback" } });
    const client = { "x-forwarded-for": "203.0.113.70" };
    const start = () => postGraphql<{ startLogin: { state: string } }>(t!.gateway.url, START_LOGIN_MUTATION, { provider: "TRUECALLER" }, client);
    const issued = [await start(), await start()];
    for (const answer of issued) expect(answer.data?.startLogin.state).toMatch(/^[A-Za-z0-9_-]{52}$/);
    const refused = await start();
    expect(refused.data).toBeNull();
    expect(refused.errors).toMatchObject([{ message: "Too many requests; retry later.", extensions: { code: "RATE_LIMITED" } }]);
    const retryAfterSeconds = refused.errors![0]!.extensions!.retryAfterSeconds as number;
    expect(retryAfterSeconds).toBeGreaterThan(0);
    expect(retryAfterSeconds).toBeLessThanOrEqual(60);
    // Its verifications have their own budget: the states it got can still be used.
    const minted = t.emulator.mintCode();
    const verified = await postGraphql<{ verifyTruecaller: Record<string, unknown> }>(
      t.gateway.url,
      VERIFY_MUTATION,
      { code: minted.code, verifier: minted.codeVerifier, state: issued[0]!.data!.startLogin.state },
      client,
    );
    expect(verified.data?.verifyTruecaller).toMatchObject({ __typename: "LoginSuccess" });
    // Another client is not held back.
    expect((await postGraphql(t.gateway.url, START_LOGIN_MUTATION, { provider: "TRUECALLER" }, { "x-forwarded-for": "203.0.113.71" })).errors).toBeUndefined();
  });

  it("refuses a number's logins over LOGIN_RATE_PER_NUMBER without storing anything", async () => {
    t = await startTestGateway({ env: { LOGIN_RATE_PER_NUMBER: "2", LOGIN_RATE_PER_NUMBER_WINDOW_S: "3600" } });
    const phone = freshIndianNumber();
    const profile = { sub: "rate-limited-sub", phone_number: phone };
    expect(await t.login({ profile })).toMatchObject({ __typename: "LoginSuccess" });
    expect(await t.login({ profile })).toMatchObject({ __typename: "LoginSuccess" });
    expect(await t.login({ profile })).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED" });
    // Other numbers log in as usual.
    expect(await t.login({ profile: { phone_number: freshIndianNumber() } })).toMatchObject({ __typename: "LoginSuccess" });
  });

  it("stops a client after LOGIN_FAILURES_PER_IP wrong codes, even with a good one, while other clients go on", async () => {
    t = await startTestGateway({ env: { LOGIN_FAILURES_PER_IP: "3", LOGIN_FAILURES_PER_IP_WINDOW_S: "900", TRUST_PROXY: "loopback" } });
    const gateway = t;
    const stuffer = { "x-forwarded-for": "203.0.113.66" };
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(await verifyAt(gateway.gateway.url, `guessed-code-${attempt}`, BAD_VERIFIER, stuffer)).toMatchObject({ code: "INVALID_CODE" });
    }
    const minted = gateway.emulator.mintCode();
    const tokenCalls = gateway.emulator.requestCount("token");
    expect(await verifyAt(gateway.gateway.url, minted.code, minted.codeVerifier!, stuffer)).toMatchObject({ code: "RATE_LIMITED" });
    expect(gateway.emulator.requestCount("token")).toBe(tokenCalls);
    expect(await verifyAt(gateway.gateway.url, minted.code, minted.codeVerifier!, { "x-forwarded-for": "198.51.100.5" })).toMatchObject({
      __typename: "LoginSuccess",
    });
  });

  it("counts a client's attempts across instances sharing Redis", async () => {
    t = await startTestGateway({ env: { LOGIN_RATE_PER_IP: "2", TRUST_PROXY: "loopback" } });
    const other = await startGateway(loadConfig(t.env), { logger: captureLogs().logger });
    try {
      const client = { "x-forwarded-for": "203.0.113.77" };
      expect(await verifyAt(t.gateway.url, "some-code-1", BAD_VERIFIER, client)).toMatchObject({ code: "INVALID_CODE" });
      expect(await verifyAt(other.url, "some-code-2", BAD_VERIFIER, client)).toMatchObject({ code: "INVALID_CODE" });
      expect(await verifyAt(t.gateway.url, "some-code-3", BAD_VERIFIER, client)).toMatchObject({ code: "RATE_LIMITED" });
      expect(await verifyAt(other.url, "some-code-4", BAD_VERIFIER, client)).toMatchObject({ code: "RATE_LIMITED" });
    } finally {
      await other.close();
    }
  });

  it("keeps limiting in each instance's memory while Redis is away, logins keep working, and goes back to Redis when it returns", async () => {
    t = await startTestGateway({ throughProxies: true, env: { LOGIN_RATE_PER_IP: "2", TRUST_PROXY: "loopback" } });
    const gateway = t;
    const loginFrom = async (client: Record<string, string>) => {
      const minted = gateway.emulator.mintCode();
      return verifyAt(gateway.gateway.url, minted.code, minted.codeVerifier!, client);
    };
    await gateway.proxies!.redis.cut();
    const client = { "x-forwarded-for": "203.0.113.88" };
    for (let attempt = 0; attempt < 2; attempt += 1) expect(await loginFrom(client)).toMatchObject({ __typename: "LoginSuccess" });
    expect(await loginFrom(client)).toMatchObject({ code: "RATE_LIMITED" });

    gateway.proxies!.redis.restore();
    await vi.waitFor(() => expect(gateway.logs.some((line) => line.includes("redis reachable again"))).toBe(true), { timeout: 10_000, interval: 50 });
    // Counted in Redis again: shared with every instance, and a key there per client.
    const returning = { "x-forwarded-for": "203.0.113.89" };
    const other = await startGateway(loadConfig({ ...gateway.env, REDIS_URL: TEST_REDIS_URL }), { logger: captureLogs().logger });
    try {
      expect(await loginFrom(returning)).toMatchObject({ __typename: "LoginSuccess" });
      const minted = gateway.emulator.mintCode();
      expect(await verifyAt(other.url, minted.code, minted.codeVerifier!, returning)).toMatchObject({ __typename: "LoginSuccess" });
      expect(await loginFrom(returning)).toMatchObject({ code: "RATE_LIMITED" });
      expect(await gateway.redis.keys(`${gateway.env.REDIS_KEY_PREFIX}login-rate-client:*`)).not.toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});
