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

  it("starts logins while Redis is away; a required state waits for Redis (SERVICE_UNAVAILABLE) and works once it is back", async () => {
    const gateway = await startTestGateway({ throughProxies: true, env: { REQUIRE_LOGIN_STATE: "true" } });
    try {
      await gateway.proxies!.redis.cut();
      // A state vouches for itself: issuing needs no Redis.
      const challenge = await postGraphql<{ startLogin: { state: string } }>(gateway.gateway.url, START_LOGIN_MUTATION, { provider: "TRUECALLER" });
      const { state } = challenge.data!.startLogin;
      const minted = gateway.emulator.mintCode();
      const verify = () =>
        postGraphql<{ verifyTruecaller: Record<string, unknown> }>(gateway.gateway.url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier, state });
      // Whether it is used up only Redis knows: the login waits, before any provider call, rather than fail as a wrong state.
      const tokenCalls = gateway.emulator.requestCount("token");
      expect((await verify()).data?.verifyTruecaller).toMatchObject({ __typename: "ServiceUnavailableError", retryAfterSeconds: 5 });
      expect(gateway.emulator.requestCount("token")).toBe(tokenCalls);

      gateway.proxies!.redis.restore();
      await vi.waitFor(() => expect(gateway.logs.some((line) => line.includes("redis reachable again"))).toBe(true), { timeout: 10_000, interval: 50 });
      expect((await verify()).data?.verifyTruecaller).toMatchObject({ __typename: "LoginSuccess" });
    } finally {
      await gateway.close();
    }
  });
});
