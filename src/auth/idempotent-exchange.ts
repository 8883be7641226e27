import { setTimeout as delay } from "node:timers/promises";
import { errorSummary, type Logger } from "../logger.js";
import type { AuthorizationCodeGrant, PhoneLoginProvider, ProviderFailure } from "../providers/provider.js";
import type { LoginChallenges } from "../store/login-challenges.js";
import type { LoginReplays, VerifiedExchange } from "../store/login-replays.js";

/** How often a duplicate looks whether the request it duplicates has its answer yet. */
const REPLAY_POLL_MS = 50;
/** A claim outlives the login that holds it by this much (then a retry may try the provider itself). */
const CLAIM_MARGIN_MS = 5_000;

export interface IdempotentExchangeDependencies {
  readonly replays: LoginReplays;
  readonly challenges: LoginChallenges;
  readonly logger: Logger;
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
  /** The request's code was answered before with another verifier, redirect URI, nonce or state. */
  | { kind: "CodeUsed" }
  | { kind: "InvalidState" };

/**
 * A provider's code exchange made idempotent across instances: the first
 * request with a code claims it and asks the provider; a retry of the same
 * request (same code, verifier, redirect URI, nonce, state) gets what the
 * provider answered, and a duplicate arriving meanwhile waits for it. The
 * state, when the app sends one, is used up by the request that claims the code.
 * When the cache is unreachable, codes are exchanged without this (and states
 * cannot be checked: with REQUIRE_LOGIN_STATE such logins are refused).
 */
export class IdempotentExchange {
  constructor(private readonly deps: IdempotentExchangeDependencies) {}

  async exchange(provider: PhoneLoginProvider, grant: AuthorizationCodeGrant, state: string | undefined, deadline: AbortSignal): Promise<ExchangeResult> {
    if (this.deps.requireLoginState && state === undefined) return { kind: "InvalidState" };
    const { replays } = this.deps;
    const key = replays.key(provider.id, grant.code);
    const binding = replays.binding(grant.codeVerifier, grant.redirectUri, grant.nonce, state);

    let claimed: boolean;
    try {
      const earlier = await this.claimOrWait(key, binding, deadline);
      if (earlier) return earlier;
      claimed = true;
    } catch (error) {
      this.deps.logger.warn({ provider: provider.id, error: errorSummary(error) }, "login replay store unavailable: exchanging without it");
      claimed = false;
    }

    try {
      const result = await this.exchangeNow(provider, grant, state, deadline, claimed);
      if (claimed) {
        if (result.kind === "Exchanged") {
          await replays.verified(key, binding, result.exchange, this.deps.replayTtlMs).catch((error: unknown) => {
            this.deps.logger.warn({ provider: provider.id, error: errorSummary(error) }, "login not kept for retries");
          });
        } else {
          await replays.release(key).catch(() => {});
        }
      }
      return result;
    } catch (error) {
      if (claimed) await replays.release(key).catch(() => {});
      throw error;
    }
  }

  /**
   * Claims the code, or answers from an earlier request with it: its exchange
   * once it has one (waiting while it runs), or CodeUsed when the rest of the
   * request differs. `undefined` when this request holds the claim.
   */
  private async claimOrWait(key: string, binding: string, deadline: AbortSignal): Promise<ExchangeResult | undefined> {
    const { replays } = this.deps;
    for (;;) {
      if (await replays.claim(key, binding, this.deps.loginTimeoutMs + CLAIM_MARGIN_MS)) return undefined;
      const record = await replays.read(key);
      if (record !== undefined) {
        if (record.binding !== binding) return { kind: "CodeUsed" };
        if (record.status === "verified") return { kind: "Exchanged", exchange: record.exchange, replayed: true };
      }
      // Being exchanged elsewhere (or just released): look again shortly, within this login's budget.
      if (deadline.aborted) {
        return { kind: "ProviderRefused", failure: { kind: "Unavailable", detail: "a duplicate login did not finish in time", retryAfterSeconds: 1 } };
      }
      await delay(REPLAY_POLL_MS, undefined, { signal: deadline }).catch(() => {});
    }
  }

  private async exchangeNow(
    provider: PhoneLoginProvider,
    grant: AuthorizationCodeGrant,
    state: string | undefined,
    deadline: AbortSignal,
    cacheReachable: boolean,
  ): Promise<ExchangeResult> {
    let nonce = grant.nonce;
    if (state !== undefined) {
      if (!cacheReachable) {
        if (this.deps.requireLoginState) return { kind: "InvalidState" };
      } else {
        const challenge = await this.deps.challenges.useState(state, provider.id);
        if (!challenge || (grant.nonce !== undefined && grant.nonce !== challenge.nonce)) return { kind: "InvalidState" };
        // The ID token must carry the nonce this deployment issued with the state, whatever the app says.
        if (provider.grantRules.nonce === "supported") nonce = challenge.nonce;
      }
    }
    const tokens = await provider.exchangeCode({ ...grant, nonce }, deadline);
    if (!tokens.ok) return { kind: "ProviderRefused", failure: tokens.failure };
    const profile = await provider.fetchProfile(tokens.value, deadline);
    if (!profile.ok) return { kind: "ProviderRefused", failure: profile.failure };
    return { kind: "Exchanged", exchange: { profile: profile.value, access: tokens.value.access, refreshToken: tokens.value.refreshToken }, replayed: false };
  }
}
