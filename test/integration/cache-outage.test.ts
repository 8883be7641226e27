import { afterAll, describe, expect, it, vi } from "vitest";
import { postGraphql, START_LOGIN_MUTATION, startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

describe("Redis outage", () => {
  let t: TestGateway;
  afterAll(async () => t?.close());

  it("keeps logins working without the cache, stays ready reporting it degraded, and uses it again once Redis returns", async () => {
    t = await startTestGateway({ throughProxies: true });
    expect(await t.login()).toMatchObject({ __typename: "LoginSuccess" });

    await t.proxies!.redis.cut();
    const duringOutage = await t.login();
    expect(duringOutage).toMatchObject({ __typename: "LoginSuccess", isNewUser: true });
    expect(t.logs.some((line) => line.includes("provider token not cached"))).toBe(true);
    expect(t.logs.some((line) => line.includes("redis unreachable"))).toBe(true);
    // Logins go on without Redis: a shared Redis outage must not take every instance out of the load balancer.
    const health = await fetch(`${t.gateway.url}/health/ready`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "degraded", database: "up", cache: "down" });

    t.proxies!.redis.restore();
    await vi.waitFor(() => expect(t.logs.some((line) => line.includes("redis reachable again"))).toBe(true), { timeout: 10_000, interval: 50 });
    expect(await (await fetch(`${t.gateway.url}/health/ready`)).json()).toEqual({ status: "ok", database: "up", cache: "up" });
    // Back to full service without a restart: tokens cached, and a retried code answered without a second exchange.
    const minted = t.emulator.mintCode();
    const tokenCalls = t.emulator.requestCount("token");
    const first = await t.verify(minted.code, minted.codeVerifier!);
    const retry = await t.verify(minted.code, minted.codeVerifier!);
    expect(first).toMatchObject({ __typename: "LoginSuccess", isNewUser: true });
    expect(retry).toMatchObject({ __typename: "LoginSuccess", user: { id: (first.user as { id: string }).id } });
    expect(t.emulator.requestCount("token")).toBe(tokenCalls + 1);
    expect(await t.providerTokens.get("truecaller", (first.user as { id: string }).id)).toMatchObject({ tokenType: "Bearer" });
  });

  it("still starts logins while Redis is away (their states unchecked), unless states are required: then SERVICE_UNAVAILABLE", async () => {
    const gateway = await startTestGateway({ throughProxies: true });
    try {
      await gateway.proxies!.redis.cut();
      const challenge = await postGraphql<{ startLogin: { state: string } }>(gateway.gateway.url, START_LOGIN_MUTATION, { provider: "TRUECALLER" });
      const state = challenge.data!.startLogin.state;
      expect(gateway.logs.some((line) => line.includes("login state not kept: cache unavailable"))).toBe(true);
      const minted = gateway.emulator.mintCode();
      const login = await postGraphql<{ verifyTruecaller: unknown }>(gateway.gateway.url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier, state });
      expect(login.data?.verifyTruecaller).toMatchObject({ __typename: "LoginSuccess" });

      // Start-up needs Redis (a wrong REDIS_URL shows at once); the outage comes after.
      gateway.proxies!.redis.restore();
      await gateway.restartGateway({ REQUIRE_LOGIN_STATE: "true" });
      await gateway.proxies!.redis.cut();
      const refused = await postGraphql(gateway.gateway.url, START_LOGIN_MUTATION, { provider: "TRUECALLER" });
      expect(refused.data).toBeNull();
      expect(refused.errors).toMatchObject([{ extensions: { code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 5 } }]);
    } finally {
      await gateway.close();
    }
  });
});
