/**
 * One circuit breaker per provider: when a provider is down, logins answer
 * PROVIDER_UNAVAILABLE at once instead of each spending its timeouts and
 * retries on it (and each presenting a one-time code the provider may never
 * answer for). The breaker policy is cockatiel's (Closed → Open → HalfOpen);
 * this module only decides what counts as an outage and how an open circuit
 * answers.
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhenResult, type CircuitBreakerPolicy } from "cockatiel";
import { isMalformedAnswer } from "./oauth-response.js";
import type { Logger } from "../logger.js";
import type { IdentityProviderId, PhoneLoginProvider, ProviderFailure, ProviderResult } from "./provider.js";
import type { TruecallerNumberVerification } from "./truecaller/phone-number-detail.js";

/**
 * Outage answers in a row that open the circuit. Consecutive rather than a
 * failure rate over a time window: a login gateway's traffic per provider runs
 * from many logins a second to a few an hour, and a rate needs a minimum volume
 * before it may judge (below it, it never opens; above it, it opens on a few
 * slow calls in a quiet minute). Five outages with no answer in between is a
 * dead provider at any volume, and a blip does not reach it: each call has
 * already retried what it safely could (`http.ts`), so five calls are up to
 * fifteen failed attempts. Any answer from the provider, a user's mistake
 * included, starts the count again. Known gap: a provider whose token endpoint
 * answers while its userinfo endpoint fails alternates success and outage and
 * never opens the circuit; those logins still end within their own timeouts.
 */
export const CONSECUTIVE_OUTAGES_TO_OPEN = 5;
/**
 * How long an open circuit answers without trying; then one trial call goes
 * through, and its outcome closes the circuit or opens it again for as long.
 * Long enough to spare a struggling provider our retries, short enough that a
 * recovered provider is back within one user's patience.
 */
export const HALF_OPEN_AFTER_MS = 30_000;
/**
 * What a call answers while the trial call is in flight: its outcome is a
 * provider timeout away at most, and may close the circuit.
 */
export const TRIAL_RETRY_AFTER_S = 1;

export interface CircuitBreakerOptions {
  /** Opening is a warning, closing again is information. */
  readonly logger: Logger;
}

/** One breaker around calls that answer a {@link ProviderResult}. */
interface ProviderBreaker {
  call<T>(attempt: () => Promise<ProviderResult<T>>): Promise<ProviderResult<T>>;
}

/**
 * Only an outage opens the circuit: a timeout, a lost connection, a 5xx. A
 * malformed answer, a refused code, verifier or ID token,
 * a missing verified phone, a 429 (the provider is up and asks us to slow
 * down, and says for how long) and our own misconfiguration are answers: they
 * prove the provider reachable.
 */
export function isOutage(result: ProviderResult<unknown>): boolean {
  // A malformed answer is the provider answering: one user's odd profile must not shut the provider for everyone.
  return !result.ok && result.failure.kind === "Unavailable" && !isMalformedAnswer(result.failure);
}

/**
 * The breaker of the provider `name`. Thrown errors are bugs, not provider
 * behaviour: they pass through uncounted (cockatiel does count one thrown by
 * the trial call as the end of the outage, so the next outage starts a new
 * count).
 */
function createProviderBreaker(name: IdentityProviderId, { logger }: CircuitBreakerOptions): ProviderBreaker {
  const policy: CircuitBreakerPolicy = circuitBreaker(
    handleWhenResult((result) => isOutage(result as ProviderResult<unknown>)),
    { halfOpenAfter: HALF_OPEN_AFTER_MS, breaker: new ConsecutiveBreaker(CONSECUTIVE_OUTAGES_TO_OPEN) },
  );
  // cockatiel keeps when it opened to itself; it opens synchronously before emitting, so this is the same instant.
  let openedAt = 0;
  let trying = false;
  policy.onHalfOpen(() => {
    trying = true;
    logger.info({ provider: name }, "provider circuit half-open: one trial call goes through");
  });
  policy.onBreak((reason) => {
    openedAt = Date.now();
    const detail = "value" in reason ? (reason.value as { failure?: { detail?: string } }).failure?.detail : undefined;
    const log = { provider: name, detail, halfOpenAfterSeconds: HALF_OPEN_AFTER_MS / 1000 };
    if (trying) logger.warn(log, "provider circuit opened again: the trial call failed");
    else logger.warn({ ...log, consecutiveOutages: CONSECUTIVE_OUTAGES_TO_OPEN }, "provider circuit opened: calls answer PROVIDER_UNAVAILABLE without trying");
    trying = false;
  });
  policy.onReset(() => {
    trying = false;
    logger.info({ provider: name }, "provider circuit closed: the trial call was answered");
  });

  const open = (retryAfterSeconds: number): { ok: false; failure: ProviderFailure } => ({
    ok: false,
    failure: { kind: "Unavailable", detail: `${name} circuit open`, retryAfterSeconds },
  });
  return {
    async call(attempt) {
      // cockatiel makes callers wait for the trial's outcome; an outage answers fast, the trial included.
      if (policy.state === CircuitState.HalfOpen) return open(TRIAL_RETRY_AFTER_S);
      try {
        return await policy.execute(attempt);
      } catch (error) {
        if (!(error instanceof BrokenCircuitError)) throw error;
        return open(Math.max(1, Math.ceil((openedAt + HALF_OPEN_AFTER_MS - Date.now()) / 1000)));
      }
    },
  };
}

/**
 * `provider` behind its own circuit breaker: the same id and grant rules, and
 * every call (exchange, profile, refresh) counted by one breaker, so an outage
 * seen by logins also stops profile refreshes, and the other way round. While
 * the circuit is open a call answers "Unavailable" with the seconds until the
 * trial call, without any HTTP.
 */
export function withCircuitBreaker(provider: PhoneLoginProvider, options: CircuitBreakerOptions): PhoneLoginProvider {
  const breaker = createProviderBreaker(provider.id, options);
  const { refreshTokens } = provider;
  return {
    id: provider.id,
    grantRules: provider.grantRules,
    exchangeCode: (grant, signal) => breaker.call(() => provider.exchangeCode(grant, signal)),
    fetchProfile: (tokens, signal) => breaker.call(() => provider.fetchProfile(tokens, signal)),
    ...(refreshTokens ? { refreshTokens: (refreshToken: string, signal: AbortSignal) => breaker.call(() => refreshTokens.call(provider, refreshToken, signal)) } : {}),
  };
}

/**
 * Truecaller's app-less number check behind its own breaker ("truecaller_otp"):
 * another host than the OAuth endpoints, so it fails on its own.
 */
export function numberVerificationWithCircuitBreaker(numbers: TruecallerNumberVerification, options: CircuitBreakerOptions): TruecallerNumberVerification {
  const breaker = createProviderBreaker("truecaller_otp", options);
  return {
    verifiedNumber: (accessToken, signal) => breaker.call(() => numbers.verifiedNumber(accessToken, signal)),
  };
}
