import { afterAll, describe, expect, it, vi } from "vitest";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

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
});
