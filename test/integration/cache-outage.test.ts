import { afterAll, describe, expect, it } from "vitest";
import { startTcpProxy } from "../helpers/tcp-proxy.js";
import { startTestGateway, TEST_REDIS_URL, type TestGateway } from "../helpers/test-gateway.js";

describe("Redis outage", () => {
  let t: TestGateway;
  afterAll(async () => t?.close());

  it("keeps logins working without the token cache, logs it, and stays ready, reporting the cache degraded", async () => {
    const redisUrl = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    t = await startTestGateway({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    expect(await t.login()).toMatchObject({ __typename: "LoginSuccess" });

    await proxy.cut();
    expect(await t.login()).toMatchObject({ __typename: "LoginSuccess", isNewUser: true });
    expect(t.logs.some((line) => line.includes("provider token not cached"))).toBe(true);
    expect(t.logs.some((line) => line.includes("redis unreachable"))).toBe(true);

    // Logins go on without Redis: a shared Redis outage must not take every instance out of the load balancer.
    const health = await fetch(`${t.gateway.url}/health/ready`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "degraded", database: "up", cache: "down" });
  });
});
