import type { TtlCache } from "./ttl-cache.js";

/**
 * Signed payloads already accepted, kept while they could still pass the age
 * check: shared by every instance through the cache, so a payload logs in
 * once across the deployment.
 */
export class UsedPayloads {
  constructor(private readonly cache: TtlCache) {}

  /** True for the first claim of `digest` within `ttlMs`; false for every later one. */
  claim(digest: string, ttlMs: number): Promise<boolean> {
    return this.cache.setIfAbsent(usedPayloadKey(digest), "1", ttlMs);
  }

  /** Gives a claim back when the login it was for failed before storing anything, so the app can retry. */
  release(digest: string): Promise<void> {
    return this.cache.delete(usedPayloadKey(digest));
  }
}

function usedPayloadKey(digest: string): string {
  return `used-signed-profile:${digest}`;
}
