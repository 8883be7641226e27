import type { ProviderProfile, ProviderToken, ProviderTokens } from "../providers/provider.js";
import type { KeyedHash } from "./keyed-hash.js";
import type { TokenCipher } from "./token-cipher.js";
import type { TtlCache } from "./ttl-cache.js";

/** What a provider exchange yielded, kept so that a retry of the same request needs no second (impossible) exchange. */
export interface VerifiedExchange {
  readonly profile: ProviderProfile;
  readonly access: ProviderToken;
  readonly refreshToken: string | undefined;
}

/** The state of one authorization code at this deployment. */
export type ReplayRecord =
  /** Some instance is exchanging it now. */
  | { readonly status: "pending"; readonly binding: string }
  /**
   * The provider traded it for tokens and the profile is still to be read: the
   * request that did so is still at it until `leaseUntil` (epoch ms) unless it
   * gave up (`failed`); after that a retry resumes from these tokens.
   */
  | { readonly status: "exchanged"; readonly binding: string; readonly tokens: ProviderTokens; readonly leaseUntil: number; readonly failed: boolean }
  /** The provider answered; a retry of the same request logs in from this. */
  | { readonly status: "verified"; readonly binding: string; readonly exchange: VerifiedExchange }
  /** Used by a request without PKCE verifier: nothing secret binds a retry to it, so none is answered. */
  | { readonly status: "consumed"; readonly binding: string };

/**
 * Authorization codes seen in the last LOGIN_REPLAY_TTL_S, shared by every
 * instance through the cache, so a retried login (mobile networks retry) gets
 * the same user without a second provider call — and concurrent duplicates
 * make exactly one. Codes are kept as keyed hashes; what the provider answered
 * (profile, tokens) is sealed with the code's key as authenticated data.
 * `binding` is a keyed hash of the rest of the request (verifier, redirect URI,
 * nonce, state): a stolen code presented with anything else is refused.
 */
export class LoginReplays {
  constructor(
    private readonly cache: TtlCache,
    private readonly cipher: TokenCipher,
    private readonly hash: KeyedHash,
  ) {}

  /** The cache key of a provider's code. */
  key(provider: string, code: string): string {
    return `login-replay:${provider}:${this.hash.digest("code", provider, code)}`;
  }

  /** The keyed hash of the rest of a request, which a retry must repeat exactly. */
  binding(...parts: ReadonlyArray<string | undefined>): string {
    return this.hash.digest("binding", ...parts.map((part) => (part === undefined ? "" : `=${part}`)));
  }

  /** Marks the code as being exchanged here; false when another request got there first. */
  claim(key: string, binding: string, ttlMs: number): Promise<boolean> {
    return this.cache.setIfAbsent(key, this.seal(key, { status: "pending", binding }), ttlMs);
  }

  async read(key: string): Promise<ReplayRecord | undefined> {
    const sealed = await this.cache.get(key);
    const opened = sealed === undefined ? undefined : this.cipher.open(sealed, key);
    if (opened === undefined) return undefined;
    const record = JSON.parse(opened) as ReplayRecord;
    switch (record.status) {
      case "verified":
        return { ...record, exchange: { ...record.exchange, access: revived(record.exchange.access) } };
      case "exchanged":
        return { ...record, tokens: { ...record.tokens, access: revived(record.tokens.access) } };
      default:
        return record;
    }
  }

  /** Keeps `record` (anything but a claim) for `ttlMs`, replacing the claim. */
  async keep(key: string, record: Exclude<ReplayRecord, { status: "pending" }>, ttlMs: number): Promise<void> {
    await this.cache.set(key, this.seal(key, record), ttlMs);
  }

  /** Forgets a claim whose exchange failed, so a retry may try the provider again. */
  release(key: string): Promise<void> {
    return this.cache.delete(key);
  }

  private seal(key: string, record: ReplayRecord): string {
    return this.cipher.seal(JSON.stringify(record), key);
  }
}

/** JSON turned the expiry into a string. */
function revived(token: ProviderToken): ProviderToken {
  return { ...token, expiresAt: new Date(token.expiresAt) };
}
