import type { ProviderId, ProviderToken } from "../providers/provider.js";
import { UNOBSERVED, type Telemetry } from "../telemetry/telemetry.js";
import type { TokenCipher } from "./token-cipher.js";
import type { TtlCache } from "./ttl-cache.js";

/**
 * Provider access tokens per user, sealed with the {@link TokenCipher} and kept
 * exactly until the provider says they expire (never longer), so the gateway
 * can call the provider on the user's behalf without a new login.
 */
export class ProviderTokenCache {
  constructor(
    private readonly cache: TtlCache,
    private readonly cipher: TokenCipher,
    private readonly telemetry: Telemetry = UNOBSERVED,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores the token; a token already expired is not stored. */
  async put(provider: ProviderId, userId: string, token: ProviderToken): Promise<void> {
    const ttlMs = token.expiresAt.getTime() - this.now();
    if (ttlMs < 1) return;
    const key = providerTokenKey(provider, userId);
    const entry: CachedToken = { accessToken: token.accessToken, tokenType: token.tokenType, expiresAt: token.expiresAt.toISOString() };
    await this.cache.set(key, this.cipher.seal(JSON.stringify(entry), key), ttlMs);
  }

  /** The user's unexpired token, or `undefined` (none cached, or sealed with a key no longer in the ring). */
  async get(provider: ProviderId, userId: string): Promise<ProviderToken | undefined> {
    const key = providerTokenKey(provider, userId);
    const sealed = await this.cache.get(key);
    const opened = sealed === undefined ? undefined : this.cipher.open(sealed, key);
    this.telemetry.cacheLookup("provider_token", opened !== undefined);
    if (opened === undefined) return undefined;
    const entry = JSON.parse(opened) as CachedToken;
    return { accessToken: entry.accessToken, tokenType: entry.tokenType, expiresAt: new Date(entry.expiresAt) };
  }
}

interface CachedToken {
  accessToken: string;
  tokenType: string;
  expiresAt: string;
}

/** The cache key of a user's token at a provider (the Redis client adds the deployment prefix). */
function providerTokenKey(provider: ProviderId, userId: string): string {
  return `provider-token:${provider}:${userId}`;
}
