import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { UNOBSERVED, type Telemetry } from "../telemetry/telemetry.js";

/** A budget: `points` per `windowSeconds`; 0 points means no limit. */
export interface RateBudget {
  readonly points: number;
  readonly windowSeconds: number;
}

export interface RateLimitSettings {
  /** Verification attempts per client IP; startLogin calls per client IP are counted apart, with the same budget. */
  readonly perClient: RateBudget;
  /** Logins per phone number. */
  readonly perNumber: RateBudget;
  /** Failed verifications (wrong codes, states, proofs) per client IP: code stuffing. */
  readonly failuresPerClient: RateBudget;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const ALLOWED: RateDecision = { allowed: true };

/**
 * The login abuse limits, counted in Redis so every instance shares them
 * (rate-limiter-flexible). When Redis is unreachable each limiter falls back
 * to a per-instance in-memory one (its insurance limiter), and goes back to
 * Redis by itself once Redis answers again. Keys are keyed hashes, never an
 * address or a number.
 */
export class LoginRateLimits {
  private readonly perClient: RateLimiterAbstract | undefined;
  private readonly challengesPerClient: RateLimiterAbstract | undefined;
  private readonly perNumber: RateLimiterAbstract | undefined;
  private readonly failures: RateLimiterAbstract | undefined;

  constructor(
    settings: RateLimitSettings,
    redis: Redis | undefined,
    private readonly telemetry: Telemetry = UNOBSERVED,
  ) {
    this.perClient = limiter("login-rate-client", settings.perClient, redis);
    // Each startLogin stores a state in Redis: bounded per client like verifications, but not from their budget.
    this.challengesPerClient = limiter("login-rate-challenge", settings.perClient, redis);
    this.perNumber = limiter("login-rate-number", settings.perNumber, redis);
    this.failures = limiter("login-rate-failures", settings.failuresPerClient, redis);
  }

  /**
   * Counts an attempt from a client: refused while it is over its attempts or
   * its failures. The attempt reserves a failure up front — parallel requests
   * cannot all slip in under the failure budget — which {@link settle} gives
   * back when it did not fail.
   */
  async admitClient(clientKey: string): Promise<RateDecision> {
    const failures = await this.consume(this.failures, clientKey, "client_failures");
    if (!failures.allowed) return failures;
    return this.consume(this.perClient, clientKey, "client");
  }

  /** Counts a startLogin from a client: refused while it is over its budget. */
  admitChallenge(clientKey: string): Promise<RateDecision> {
    return this.consume(this.challengesPerClient, clientKey, "challenge");
  }

  /** Settles the failure an admitted attempt reserved: kept when it failed, given back otherwise. */
  async settle(clientKey: string, failed: boolean): Promise<void> {
    if (!failed) await this.failures?.reward(clientKey, 1).catch(() => {});
  }

  /** Whether a number is still within its logins (taken by {@link reserveNumberLogin}). */
  async checkNumber(numberKey: string): Promise<RateDecision> {
    if (!this.perNumber) return ALLOWED;
    const used = await this.perNumber.get(numberKey).catch(() => null);
    if (!used || used.consumedPoints < this.perNumber.points) return ALLOWED;
    this.telemetry.rateLimited("number");
    return refused(used);
  }

  /** Takes one of a number's logins before storing it: refused when none is left. */
  reserveNumberLogin(numberKey: string): Promise<RateDecision> {
    return this.consume(this.perNumber, numberKey, "number");
  }

  /** Gives back a login {@link reserveNumberLogin} took (the login could not be stored). */
  async releaseNumberLogin(numberKey: string): Promise<void> {
    await this.perNumber?.reward(numberKey, 1).catch(() => {});
  }

  private async consume(limiter: RateLimiterAbstract | undefined, key: string, limit: "client" | "client_failures" | "challenge" | "number"): Promise<RateDecision> {
    if (!limiter) return ALLOWED;
    try {
      await limiter.consume(key);
      return ALLOWED;
    } catch (rejection) {
      // A store error with the insurance limiter failing too: let the login through rather than lose it.
      if (!(rejection instanceof RateLimiterRes)) return ALLOWED;
      this.telemetry.rateLimited(limit);
      return refused(rejection);
    }
  }
}

function limiter(keyPrefix: string, budget: RateBudget, redis: Redis | undefined): RateLimiterAbstract | undefined {
  if (budget.points === 0) return undefined;
  const options = { keyPrefix, points: budget.points, duration: budget.windowSeconds };
  const memory = new RateLimiterMemory(options);
  // Not waiting for a Redis that is away: its insurance limiter answers at once.
  return redis ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: memory }) : memory;
}

function refused(result: RateLimiterRes): RateDecision {
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(result.msBeforeNext / 1000)) };
}
