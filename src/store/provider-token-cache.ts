import type { ProviderId, ProviderToken } from "../providers/provider.js";
import type { TtlCache } from "./ttl-cache.js";

/**
 * Provider access tokens per user, kept exactly until the provider says they
 * expire (never longer), so later calls for the user need no new login.
 */
export class ProviderTokenCache {
  constructor(
    private readonly cache: TtlCache,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores the token; a token already expired is not stored. */
  async put(provider: ProviderId, userId: string, token: ProviderToken): Promise<void> {
    const ttlMs = token.expiresAt.getTime() - this.now();
    if (ttlMs < 1) return;
    const entry: CachedToken = { accessToken: token.accessToken, tokenType: token.tokenType, expiresAt: token.expiresAt.toISOString() };
    await this.cache.set(providerTokenKey(provider, userId), JSON.stringify(entry), ttlMs);
  }

  async get(provider: ProviderId, userId: string): Promise<ProviderToken | undefined> {
    const stored = await this.cache.get(providerTokenKey(provider, userId));
    if (stored === undefined) return undefined;
    const entry = JSON.parse(stored) as CachedToken;
    return { accessToken: entry.accessToken, tokenType: entry.tokenType, expiresAt: new Date(entry.expiresAt) };
  }
}

interface CachedToken {
  accessToken: string;
  tokenType: string;
  expiresAt: string;
}

/** The cache key of a user's token at a provider (the Redis client adds the deployment prefix). */
export function providerTokenKey(provider: ProviderId, userId: string): string {
  return `provider-token:${provider}:${userId}`;
}
