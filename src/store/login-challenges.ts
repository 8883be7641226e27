import { randomBytes } from "node:crypto";
import type { ProviderId } from "../providers/provider.js";
import type { KeyedHash } from "./keyed-hash.js";
import type { TtlCache } from "./ttl-cache.js";

/** 256 random bits, base64url: unguessable, and valid as an OAuth `state` and an OIDC/Truecaller nonce. */
const CHALLENGE_BYTES = 32;

/** What `startLogin` hands the app for one authorization request. */
export interface LoginChallenge {
  /** The OAuth `state` to send through the provider and back with the code. */
  readonly state: string;
  /** The nonce for the provider's ID token (OIDC, wgtwo) or Truecaller's `requestNonce`. */
  readonly nonce: string;
  readonly expiresAt: Date;
}

interface StoredState {
  readonly provider: ProviderId;
  readonly nonce: string;
  /** Digest of the nonce's own entry, so using the state uses the nonce up too. */
  readonly nonceKey: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

interface StoredNonce {
  readonly provider: ProviderId;
  readonly stateKey: string;
  readonly expiresAt: number;
}

/** A state or nonce taken for a login, with the means to give it back when the login fails before using it. */
export interface UsedChallenge {
  readonly nonce: string;
  /** Puts the state and its nonce back for the rest of their lifetime (the login it was taken for did not happen). */
  restore(): Promise<void>;
}

/**
 * Login states and nonces this deployment issued, each good for one login
 * within its time to live, on every instance (through the cache). Only
 * digests are keys, so a cache dump gives nobody a usable state.
 */
export class LoginChallenges {
  constructor(
    private readonly cache: TtlCache,
    private readonly hash: KeyedHash,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new state and nonce, kept until used or expired; rejects when the cache cannot keep them. */
  async issue(provider: ProviderId): Promise<LoginChallenge> {
    const challenge = this.fresh();
    const nonceKey = this.nonceKey(challenge.nonce);
    await this.store({ provider, nonce: challenge.nonce, nonceKey, expiresAt: challenge.expiresAt.getTime() }, this.stateKey(challenge.state), this.ttlMs);
    return challenge;
  }

  /**
   * A new state and nonce, kept nowhere: what {@link issue} keeps, and alone
   * what an app gets while the cache is away and states are not required
   * (logins then go on unchecked, see IdempotentExchange).
   */
  fresh(): LoginChallenge {
    const state = randomBytes(CHALLENGE_BYTES).toString("base64url");
    const nonce = randomBytes(CHALLENGE_BYTES).toString("base64url");
    return { state, nonce, expiresAt: new Date(this.now() + this.ttlMs) };
  }

  /**
   * Uses a state up: its nonce when this deployment issued it for `provider`
   * and it is unused and unexpired; `undefined` otherwise. Of two logins
   * presenting one state, one gets it.
   */
  async useState(state: string, provider: ProviderId): Promise<UsedChallenge | undefined> {
    const stateKey = this.stateKey(state);
    const stored = parse<StoredState>(await this.cache.take(stateKey));
    if (!stored) return undefined;
    await this.cache.delete(stored.nonceKey);
    return stored.provider === provider ? this.used(stored, stateKey) : undefined;
  }

  /** Uses a nonce up (Truecaller's `requestNonce`) when this deployment issued it for `provider`, unused and unexpired. */
  async useNonce(nonce: string, provider: ProviderId): Promise<UsedChallenge | undefined> {
    const nonceKey = this.nonceKey(nonce);
    const stored = parse<StoredNonce>(await this.cache.take(nonceKey));
    if (!stored) return undefined;
    await this.cache.delete(stored.stateKey);
    return stored.provider === provider ? this.used({ provider, nonce, nonceKey, expiresAt: stored.expiresAt }, stored.stateKey) : undefined;
  }

  private used(stored: StoredState, stateKey: string): UsedChallenge {
    return {
      nonce: stored.nonce,
      restore: async () => {
        const remainingMs = stored.expiresAt - this.now();
        if (remainingMs >= 1) await this.store(stored, stateKey, remainingMs);
      },
    };
  }

  private async store(state: StoredState, stateKey: string, ttlMs: number): Promise<void> {
    const nonce: StoredNonce = { provider: state.provider, stateKey, expiresAt: state.expiresAt };
    await Promise.all([this.cache.set(stateKey, JSON.stringify(state), ttlMs), this.cache.set(state.nonceKey, JSON.stringify(nonce), ttlMs)]);
  }

  private stateKey(state: string): string {
    return `login-state:${this.hash.digest("state", state)}`;
  }

  private nonceKey(nonce: string): string {
    return `login-nonce:${this.hash.digest("nonce", nonce)}`;
  }
}

function parse<T>(value: string | undefined): T | undefined {
  return value === undefined ? undefined : (JSON.parse(value) as T);
}
