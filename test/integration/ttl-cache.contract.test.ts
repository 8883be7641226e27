import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { captureLogs } from "../helpers/log-capture.js";
import { TEST_REDIS_URL } from "../helpers/test-gateway.js";
import { connectRedis } from "../../src/store/redis.js";
import { createMemoryCache, createRedisCache, type TtlCache } from "../../src/store/ttl-cache.js";

/** The contract every TtlCache keeps; run against each implementation. */
function ttlCacheContract(name: string, open: () => Promise<{ cache: TtlCache; expireAll(): Promise<void> }>) {
  describe(`TtlCache contract: ${name}`, () => {
    let subject: Awaited<ReturnType<typeof open>>;
    afterAll(async () => subject?.cache.close());

    it("answers undefined for an absent key", async () => {
      subject = await open();
      expect(await subject.cache.get("absent")).toBeUndefined();
      expect(await subject.cache.ttl("absent")).toBeUndefined();
    });

    it("returns what was stored, with a TTL no longer than asked", async () => {
      await subject.cache.set("k", "value", 60_000);
      expect(await subject.cache.get("k")).toBe("value");
      const ttl = await subject.cache.ttl("k");
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it("replaces the value and the TTL on a second set", async () => {
      await subject.cache.set("k", "newer", 5_000);
      expect(await subject.cache.get("k")).toBe("newer");
      expect(await subject.cache.ttl("k")).toBeLessThanOrEqual(5_000);
    });

    it("forgets entries once their TTL has passed", async () => {
      await subject.cache.set("short", "v", 1);
      await subject.expireAll();
      expect(await subject.cache.get("short")).toBeUndefined();
    });

    it("answers ping", async () => {
      await expect(subject.cache.ping()).resolves.toBeUndefined();
    });
  });
}

ttlCacheContract("Redis", async () => {
  const redis = await connectRedis(TEST_REDIS_URL, `phonegate-test:${randomUUID()}:`, captureLogs().logger);
  return {
    cache: createRedisCache(redis),
    // Redis expires a 1 ms key by itself; wait for that, bounded, rather than sleeping a guess.
    async expireAll() {
      for (let attempt = 0; attempt < 100 && (await redis.exists("short")) === 1; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  };
});

ttlCacheContract("in-process LRU", async () => {
  let now = 1_000_000;
  return {
    cache: createMemoryCache({ now: () => now }),
    async expireAll() {
      now += 10;
    },
  };
});
