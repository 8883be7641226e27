import { LRUCache } from "lru-cache";
import type { Redis } from "ioredis";

/**
 * A string store whose entries vanish after a time to live. Two implementations
 * share one contract test: Redis for deployments, an in-process LRU for the
 * single-instance embedded mode.
 */
export interface TtlCache {
  readonly kind: "redis" | "memory";
  /** Stores `value` under `key` for `ttlMs` milliseconds (at least 1). */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Stores `value` only if `key` holds nothing live; resolves whether it did (one winner among racing callers). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Reads and deletes in one step: of callers racing for one entry, exactly one gets it. */
  take(key: string): Promise<string | undefined>;
  /** Resolves when the cache answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Redis-backed cache; the client carries the key prefix that isolates deployments and tests. */
export function createRedisCache(redis: Redis): TtlCache {
  return {
    kind: "redis",
    async set(key, value, ttlMs) {
      await redis.set(key, value, "PX", Math.max(1, Math.floor(ttlMs)));
    },
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async setIfAbsent(key, value, ttlMs) {
      return (await redis.set(key, value, "PX", Math.max(1, Math.floor(ttlMs)), "NX")) === "OK";
    },
    async delete(key) {
      await redis.del(key);
    },
    async take(key) {
      return (await redis.getdel(key)) ?? undefined;
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      if (redis.status === "end") return;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Entries the in-process cache keeps before evicting the least recently used. */
const MEMORY_CACHE_MAX_ENTRIES = 100_000;

/** In-process cache for single-instance mode; `now` lets tests move time. */
export function createMemoryCache(options: { now?: () => number } = {}): TtlCache {
  const cache = new LRUCache<string, string>({
    max: MEMORY_CACHE_MAX_ENTRIES,
    // An injected clock must be read on every check, not cached for lru-cache's default 1 ms.
    ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
  });
  return {
    kind: "memory",
    async set(key, value, ttlMs) {
      cache.set(key, value, { ttl: Math.max(1, Math.floor(ttlMs)) });
    },
    async get(key) {
      return cache.get(key);
    },
    async setIfAbsent(key, value, ttlMs) {
      // Synchronous between the check and the write: no other caller runs in between.
      if (cache.has(key)) return false;
      cache.set(key, value, { ttl: Math.max(1, Math.floor(ttlMs)) });
      return true;
    },
    async delete(key) {
      cache.delete(key);
    },
    async take(key) {
      const value = cache.get(key);
      cache.delete(key);
      return value;
    },
    async ping() {},
    async close() {
      cache.clear();
    },
  };
}
