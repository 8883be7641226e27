import { setTimeout as delay } from "node:timers/promises";
import { errorSummary, type Logger } from "../logger.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { AuthorizationCodeGrant, PhoneLoginProvider, ProviderFailure, ProviderTokens } from "../providers/provider.js";
import type { LoginChallenges, UsedChallenge } from "../store/login-challenges.js";
import type { LoginReplays, VerifiedExchange } from "../store/login-replays.js";

/** How often a duplicate looks whether the request it duplicates has its answer yet. */
const REPLAY_POLL_MS = 50;
/** A claim outlives the login that holds it by this much (then a retry may try the provider itself). */
const CLAIM_MARGIN_MS = 5_000;

export interface IdempotentExchangeDependencies {
  readonly replays: LoginReplays;
  readonly challenges: LoginChallenges;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** How long a verified exchange answers retries of its request. */
  readonly replayTtlMs: number;
  /** The login's whole budget: a claim lasts this long plus a margin. */
  readonly loginTimeoutMs: number;
  /** Whether every code login must present a state this deployment issued. */
  readonly requireLoginState: boolean;
}

/** What exchanging a code here came to. */
export type ExchangeResult =
  | { kind: "Exchanged"; exchange: VerifiedExchange; replayed: boolean }
  | { kind: "ProviderRefused"; failure: ProviderFailure }
  /** The code was answered before for another request (other verifier, redirect URI, nonce or state), or without PKCE. */
  | { kind: "CodeUsed" }
  | { kind: "InvalidState" }
  /** States are required and the cache, which knows which are used, does not answer: retry shortly, not a wrong state. */
  | { kind: "StateUncheckable" };

/** Where this request starts: with the code claimed, from tokens an earlier try got, or without the cache. */
type Start = { kind: "Claimed" } | { kind: "Resume"; tokens: ProviderTokens } | { kind: "Unrecorded" } | { kind: "Answered"; result: ExchangeResult };

/**
 * A provider's code exchange made idempotent across retries and instances.
 * The first request with a code claims it and asks the provider; a retry of
 * the same request (same code, verifier, redirect URI, nonce, state) gets what
 * the provider answered, and a duplicate arriving meanwhile waits for it. Once
 * the provider traded the code for tokens they are kept, so a retry after a
 * failed profile read resumes there instead of presenting the spent code again.
 * A request without PKCE verifier has nothing secret to bind a retry to: its
 * code is never answered twice. The state, when the app sends one, is used up
 * by the request that claims the code, and given back when the provider did
 * not take the code. When the cache is unreachable, codes are exchanged
 * without all this (and states go unchecked; with REQUIRE_LOGIN_STATE such
 * logins are refused).
 */
export class IdempotentExchange {
  constructor(private readonly deps: IdempotentExchangeDependencies) {}

  async exchange(provider: PhoneLoginProvider, grant: AuthorizationCodeGrant, state: string | undefined, deadline: AbortSignal): Promise<ExchangeResult> {
    if (this.deps.requireLoginState && state === undefined) return { kind: "InvalidState" };
    const { replays } = this.deps;
    const key = replays.key(provider.id, grant.code);
    const binding = replays.binding(grant.codeVerifier, grant.redirectUri, grant.nonce, state);
    const start = await this.claimOrWait(provider, key, binding, deadline);
    this.deps.telemetry.cacheLookup("login_replay", start.kind === "Answered" || start.kind === "Resume");
    if (start.kind === "Answered") return start.result;
    const recorded = start.kind !== "Unrecorded";
    const forget = () => (recorded ? replays.release(key).catch(() => {}) : Promise.resolve());

    let tokens: ProviderTokens;
    let nonce = grant.nonce;
    if (start.kind === "Resume") {
      // The state was used by the try that got these tokens.
      tokens = start.tokens;
    } else {
      const challenge = await this.useState(provider, state, grant.nonce, start.kind === "Claimed");
      if (challenge === "Invalid" || challenge === "Uncheckable") {
        await forget();
        return { kind: challenge === "Invalid" ? "InvalidState" : "StateUncheckable" };
      }
      // The ID token must carry the nonce this deployment issued with the state, whatever the app says.
      if (challenge && provider.grantRules.nonce === "supported") nonce = challenge.nonce;
      let exchanged;
      try {
        exchanged = await provider.exchangeCode({ ...grant, nonce }, deadline);
      } catch (error) {
        await Promise.all([forget(), challenge?.restore().catch(() => {})]);
        throw error;
      }
      if (!exchanged.ok) {
        // The provider did not take the code: the request may be tried again, state and all.
        await Promise.all([forget(), challenge?.restore().catch(() => {})]);
        return { kind: "ProviderRefused", failure: exchanged.failure };
      }
      tokens = exchanged.value;
    }
    // With PKCE the kept tokens let a retry read the profile again should this request fail to; without, the code is
    // spent like at the provider. Duplicates go on waiting while this request holds the lease.
    const resumable = recorded && grant.codeVerifier !== undefined;
    const leaseUntil = Date.now() + this.deps.loginTimeoutMs + CLAIM_MARGIN_MS;
    if (resumable) await this.keep(provider, key, { status: "exchanged", binding, tokens, leaseUntil, failed: false });
    const gaveUp = () => (resumable ? this.keep(provider, key, { status: "exchanged", binding, tokens, leaseUntil, failed: true }) : forget());

    const profile = await provider.fetchProfile(tokens, deadline).catch(async (error: unknown) => {
      await gaveUp();
      throw error;
    });
    if (!profile.ok) {
      await gaveUp();
      return { kind: "ProviderRefused", failure: profile.failure };
    }
    const exchange: VerifiedExchange = { profile: profile.value, access: tokens.access, refreshToken: tokens.refreshToken };
    if (recorded) {
      await this.keep(provider, key, grant.codeVerifier === undefined ? { status: "consumed", binding } : { status: "verified", binding, exchange });
    }
    return { kind: "Exchanged", exchange, replayed: false };
  }

  /**
   * Claims the code, or answers from an earlier request with it: its exchange
   * once it has one (waiting while it runs), its tokens to resume from, or
   * CodeUsed when the rest of the request differs. Without a reachable cache at
   * the first try the code is exchanged unrecorded; a cache failure while
   * waiting only makes the wait longer.
   */
  private async claimOrWait(provider: PhoneLoginProvider, key: string, binding: string, deadline: AbortSignal): Promise<Start> {
    const { replays } = this.deps;
    const claimTtlMs = this.deps.loginTimeoutMs + CLAIM_MARGIN_MS;
    try {
      if (await replays.claim(key, binding, claimTtlMs)) return { kind: "Claimed" };
    } catch (error) {
      this.deps.logger.warn({ provider: provider.id, error: errorSummary(error) }, "login replay store unavailable: exchanging without it");
      return { kind: "Unrecorded" };
    }
    for (;;) {
      try {
        const record = await replays.read(key);
        if (record === undefined) {
          if (await replays.claim(key, binding, claimTtlMs)) return { kind: "Claimed" };
        } else if (record.status !== "pending") {
          // Only an answered record says the code is used; a pending one with another binding may yet fail.
          if (record.status === "consumed" || record.binding !== binding) return { kind: "Answered", result: { kind: "CodeUsed" } };
          if (record.status === "verified") return { kind: "Answered", result: { kind: "Exchanged", exchange: record.exchange, replayed: true } };
          // Tokens whose request is still reading the profile are its; once it gave up (or vanished) they are ours.
          if (record.failed || Date.now() > record.leaseUntil) return { kind: "Resume", tokens: record.tokens };
        }
      } catch (error) {
        this.deps.logger.debug({ provider: provider.id, error: errorSummary(error) }, "login replay store unavailable while waiting");
      }
      if (deadline.aborted) {
        const failure: ProviderFailure = { kind: "Unavailable", detail: "a duplicate login did not finish in time", retryAfterSeconds: 1 };
        return { kind: "Answered", result: { kind: "ProviderRefused", failure } };
      }
      await delay(REPLAY_POLL_MS, undefined, { signal: deadline }).catch(() => {});
    }
  }

  /** The state's challenge, `undefined` when none was sent (or it cannot be checked and need not be), or "Invalid". */
  private async useState(
    provider: PhoneLoginProvider,
    state: string | undefined,
    nonce: string | undefined,
    cacheReachable: boolean,
  ): Promise<UsedChallenge | "Invalid" | "Uncheckable" | undefined> {
    if (state === undefined) return undefined;
    let challenge: UsedChallenge | undefined;
    try {
      if (!cacheReachable) throw new Error("cache unreachable");
      challenge = await this.deps.challenges.useState(state, provider.id);
    } catch (error) {
      if (this.deps.requireLoginState) return "Uncheckable";
      this.deps.logger.warn({ provider: provider.id, error: errorSummary(error) }, "login state not checked: cache unavailable");
      return undefined;
    }
    if (!challenge) return "Invalid";
    if (nonce !== undefined && nonce !== challenge.nonce) {
      await challenge.restore().catch(() => {});
      return "Invalid";
    }
    return challenge;
  }

  private async keep(provider: PhoneLoginProvider, key: string, record: Parameters<LoginReplays["keep"]>[1]): Promise<void> {
    await this.deps.replays.keep(key, record, this.deps.replayTtlMs).catch((error: unknown) => {
      this.deps.logger.warn({ provider: provider.id, error: errorSummary(error) }, "login not kept for retries");
    });
  }
}
