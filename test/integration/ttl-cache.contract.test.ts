import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis } from "../../src/store/redis.js";
import { createMemoryCache, createRedisCache, type TtlCache } from "../../src/store/ttl-cache.js";
import { captureLogs } from "../helpers/log-capture.js";
import { TEST_REDIS_URL } from "../helpers/test-gateway.js";

interface Subject {
  cache: TtlCache;
  /** Lets `ms` pass for `key` as the backend sees time. */
  elapse(key: string, ms: number): Promise<void>;
}

/** The contract every TtlCache keeps; run against each implementation. */
function ttlCacheContract(name: string, open: () => Promise<Subject>) {
  describe(`TtlCache contract: ${name}`, () => {
    // Each test opens nothing and relies on no other: the subject is opened once, and every test uses keys of its own.
    let subject: Subject;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => subject?.cache.close());

    it("answers undefined for an absent key", async () => {
      expect(await subject.cache.get("absent")).toBeUndefined();
    });

    it("returns what was stored", async () => {
      await subject.cache.set("stored", "value", 60_000);
      expect(await subject.cache.get("stored")).toBe("value");
    });

    it("replaces the value on a second set", async () => {
      await subject.cache.set("replaced", "older", 60_000);
      await subject.cache.set("replaced", "newer", 60_000);
      expect(await subject.cache.get("replaced")).toBe("newer");
    });

    it("keeps an entry for its time to live and not longer", async () => {
      await subject.cache.set("t", "v", 60_000);
      await subject.elapse("t", 58_000);
      expect(await subject.cache.get("t")).toBe("v");
      await subject.elapse("t", 2_100);
      expect(await subject.cache.get("t")).toBeUndefined();
    });

    it("stores with setIfAbsent only where nothing lives, and again once the entry expired", async () => {
      expect(await subject.cache.setIfAbsent("once", "first", 10_000)).toBe(true);
      expect(await subject.cache.setIfAbsent("once", "second", 10_000)).toBe(false);
      expect(await subject.cache.get("once")).toBe("first");
      await subject.elapse("once", 10_100);
      expect(await subject.cache.setIfAbsent("once", "third", 10_000)).toBe(true);
      expect(await subject.cache.get("once")).toBe("third");
    });

    it("lets exactly one of many concurrent setIfAbsent calls win", async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, index) => subject.cache.setIfAbsent("race", String(index), 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("deletes an entry, after which setIfAbsent succeeds again", async () => {
      expect(await subject.cache.setIfAbsent("deleted", "first", 60_000)).toBe(true);
      expect(await subject.cache.setIfAbsent("deleted", "second", 60_000)).toBe(false);
      await subject.cache.delete("deleted");
      expect(await subject.cache.get("deleted")).toBeUndefined();
      expect(await subject.cache.setIfAbsent("deleted", "again", 60_000)).toBe(true);
      expect(await subject.cache.get("deleted")).toBe("again");
      await expect(subject.cache.delete("never-stored")).resolves.toBeUndefined();
    });

    it("takes an entry once: of many concurrent takes exactly one gets the value", async () => {
      await subject.cache.set("taken", "once", 60_000);
      const taken = await Promise.all(Array.from({ length: 10 }, () => subject.cache.take("taken")));
      expect(taken.filter((value) => value !== undefined)).toEqual(["once"]);
      expect(await subject.cache.get("taken")).toBeUndefined();
      expect(await subject.cache.take("never-stored")).toBeUndefined();
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
    // Redis keeps real time; passing time is shortening what is left of the key's TTL.
    async elapse(key, ms) {
      const remaining = await redis.pttl(key);
      if (remaining < 0) throw new Error(`${key} has no time to live`);
      if (remaining - ms > 0) await redis.pexpire(key, remaining - ms);
      else await redis.del(key);
    },
  };
});

ttlCacheContract("in-process LRU", async () => {
  let now = 1_000_000;
  return {
    cache: createMemoryCache({ now: () => now }),
    async elapse(_key, ms) {
      now += ms;
    },
  };
});
