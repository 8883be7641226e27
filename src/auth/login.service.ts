import { errorSummary, type Logger } from "../logger.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { IdentityProviderId, PhoneLoginProvider, ProviderFailure, ProviderId, ProviderProfile } from "../providers/provider.js";
import type { TruecallerNumberVerification } from "../providers/truecaller/phone-number-detail.js";
import type { SignedProfileInput, TruecallerSignedProfiles } from "../providers/truecaller/signed-profile.js";
import type { LoginChallenge, LoginChallenges, UsedChallenge } from "../store/login-challenges.js";
import { isDatabaseUnavailable } from "../store/database-errors.js";
import type { ProviderTokenCache } from "../store/provider-token-cache.js";
import type { UsedPayloads } from "../store/used-payloads.js";
import type { UserRepository } from "../store/user.repository.js";
import { UnreachableCaseError } from "../unreachable.js";
import type { IdempotentExchange } from "./idempotent-exchange.js";
import { outcomeCode, type ClientInfo, type LoginAudit } from "./login-audit.js";
import type { LoginLimits } from "./login-limits.js";
import {
  MAX_STATE_LENGTH,
  printableProblem,
  validateCodeGrant,
  validateSignedProfileInput,
  validateTruecallerAccessToken,
  type CodeLoginInput,
  type TruecallerAccessTokenInput,
} from "./login-input.js";
import type { LoginOutcome } from "./login-outcome.js";
import { keepAccessToken, logProviderFailure, profileFieldsOf } from "./provider-results.js";
import type { SessionService } from "./session.service.js";

/** What a client is told to wait after a database outage answered its login (health checks run every few seconds). */
const DATABASE_RETRY_AFTER_S = 5;
/** What a client is told to wait when its required state cannot be checked while Redis is away (it reconnects within 2 s of coming back). */
const CACHE_RETRY_AFTER_S = 5;

/** What startLogin answers. */
export type ChallengeOutcome = { kind: "Issued"; challenge: LoginChallenge } | { kind: "RateLimited"; retryAfterSeconds: number };

/** Truecaller's two app-less paths; absent when Truecaller is not configured. */
export interface TruecallerAppLessPaths {
  readonly numbers: TruecallerNumberVerification;
  /** Absent unless TRUECALLER_SIGNED_PROFILES is on. */
  readonly signedProfiles: TruecallerSignedProfiles | undefined;
  readonly usedPayloads: UsedPayloads;
  /** How long a signed payload stays acceptable (its maximum age plus clock skew): the time it is remembered as used. */
  readonly payloadLifetimeMs: number;
}

export interface LoginServiceDependencies {
  /** Configured code-flow providers by id; a missing one answers ProviderMisconfigured without a network call. */
  readonly providers: ReadonlyMap<ProviderId, PhoneLoginProvider>;
  readonly truecaller: TruecallerAppLessPaths | undefined;
  /** Code exchanges, idempotent across retries and instances. */
  readonly exchanges: IdempotentExchange;
  /** Nonces issued by startLogin; Truecaller's signed profiles must carry one when `requireLoginState`. */
  readonly challenges: LoginChallenges;
  readonly requireLoginState: boolean;
  /** One LoginEvent per attempt. */
  readonly audit: LoginAudit;
  /** Attempts per client, logins per number, failures per client. */
  readonly limits: LoginLimits;
  readonly users: UserRepository;
  readonly providerTokens: ProviderTokenCache;
  readonly sessions: SessionService;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** Budget for all provider calls of one login, retries included. */
  readonly loginTimeoutMs: number;
}

/**
 * Turns proof of a phone number — a provider authorization code, a Truecaller
 * access token, or a Truecaller-signed profile — into a stored, verified user
 * with a new session: validate locally, ask the provider, insist on a verified
 * phone, upsert the user and its identity, open a session, keep the provider's
 * tokens.
 */
export class LoginService {
  /**
   * Each running login with its budget: aborted after LOGIN_TIMEOUT_MS, or when the gateway stops (provider calls
   * still running after the grace give up, and give back their claims). One controller per login, not
   * `AbortSignal.any` with a process-wide signal, which leaks every login's signal on Node 20 (nodejs/node#55351).
   */
  private readonly running = new Map<Promise<LoginOutcome>, AbortController>();

  constructor(private readonly deps: LoginServiceDependencies) {}

  /**
   * On shutdown, once the grace for requests is over: the logins still waiting
   * for a provider give up, so a retry on another instance resumes from their
   * kept tokens at once instead of waiting out their lease. Resolves when they settled.
   */
  async abandonRunning(): Promise<void> {
    for (const budget of this.running.values()) budget.abort(new DOMException("The gateway is stopping.", "AbortError"));
    await Promise.allSettled(this.running.keys());
  }

  /** Ids of the code-flow providers this deployment can log in with. */
  configuredProviders(): ProviderId[] {
    return [...this.deps.providers.keys()];
  }

  /**
   * A state and nonce for one authorization request at `providerId`: the app
   * sends the state through the provider and back, and gives the nonce to the
   * provider (OIDC, wgtwo) or to Truecaller's SDK as `requestNonce`. It
   * vouches for itself (nothing is stored until it is used), so it is issued
   * with Redis away too, and stays good once Redis is back.
   */
  async startLogin(providerId: ProviderId, client: ClientInfo): Promise<ChallengeOutcome> {
    const admitted = await this.deps.limits.admitChallenge(client);
    if (!admitted.allowed) return { kind: "RateLimited", retryAfterSeconds: admitted.retryAfterSeconds };
    // Issued for any provider: a login with an unconfigured one answers PROVIDER_MISCONFIGURED anyway.
    return { kind: "Issued", challenge: this.deps.challenges.issue(providerId) };
  }

  verifyAuthorizationCode(providerId: ProviderId, input: CodeLoginInput, client: ClientInfo): Promise<LoginOutcome> {
    return this.observed(providerId, client, async (deadline) => {
      const provider = this.deps.providers.get(providerId);
      if (!provider) return this.notConfigured(providerId);
      const grant = validateCodeGrant(input, provider.grantRules);
      if (!grant.ok) return { kind: "InvalidInput", field: grant.field, problem: grant.problem };

      if (input.state !== undefined) {
        const stateProblem = printableProblem(input.state, MAX_STATE_LENGTH);
        if (stateProblem) return { kind: "InvalidInput", field: "state", problem: stateProblem };
      }

      const result = await this.deps.exchanges.exchange(provider, grant.value, input.state, deadline);
      switch (result.kind) {
        case "InvalidState":
          return { kind: "InvalidState" };
        case "StateUncheckable":
          return { kind: "ServiceUnavailable", retryAfterSeconds: CACHE_RETRY_AFTER_S };
        case "CodeUsed":
          // What the provider would say of a used code; the log says why.
          this.deps.logger.warn({ provider: providerId }, "code presented again with another verifier, redirect URI, nonce or state");
          return { kind: "InvalidCode" };
        case "ProviderRefused":
          return this.refused(providerId, result.failure);
        case "Exchanged":
          break;
        default:
          throw new UnreachableCaseError(result);
      }
      const { profile, access, refreshToken } = result.exchange;
      // A replay must not put back a refresh token the identity may have rotated since.
      const outcome = await this.complete(providerId, profile, result.replayed ? undefined : refreshToken, !result.replayed);
      // On a replay too: the first try may have failed before it kept the token (the put replaces, and skips expired ones).
      if (outcome.kind === "LoginSucceeded") await keepAccessToken(this.deps.providerTokens, this.deps.logger, providerId, outcome.user.id, access);
      return outcome;
    });
  }

  /** Truecaller users without the app: the SDK's access token names the number Truecaller verified by call or OTP. */
  verifyTruecallerAccessToken(input: TruecallerAccessTokenInput, client: ClientInfo): Promise<LoginOutcome> {
    return this.observed("truecaller_otp", client, async (deadline) => {
      const truecaller = this.deps.truecaller;
      if (!truecaller) return this.notConfigured("truecaller_otp");
      const valid = validateTruecallerAccessToken(input);
      if (!valid.ok) return { kind: "InvalidInput", field: valid.field, problem: valid.problem };

      const number = await truecaller.numbers.verifiedNumber(valid.value.accessToken, deadline);
      if (!number.ok) return this.refused("truecaller_otp", number.failure);
      return this.complete(
        "truecaller_otp",
        {
          // The answer names no account: the number is the identity.
          subject: number.value.e164,
          phoneNumber: number.value,
          phoneNumberVerified: true,
          // Typed by the user into the app, as Truecaller's flow asks; the number is what is verified.
          givenName: valid.value.firstName,
          familyName: valid.value.lastName,
          email: undefined,
          picture: undefined,
          gender: undefined,
          address: undefined,
        },
        undefined,
      );
    });
  }

  /** A Truecaller-signed profile (SDK 2.x / iOS), accepted once while recent. */
  verifyTruecallerSignedProfile(input: SignedProfileInput, client: ClientInfo): Promise<LoginOutcome> {
    return this.observed("truecaller_signed_profile", client, async (deadline) => {
      const truecaller = this.deps.truecaller;
      if (!truecaller?.signedProfiles) return this.notConfigured("truecaller_signed_profile");
      const valid = validateSignedProfileInput(input);
      if (!valid.ok) return { kind: "InvalidInput", field: valid.field, problem: valid.problem };

      const verified = await truecaller.signedProfiles.verify(valid.value, deadline);
      if (!verified.ok) return this.refused("truecaller_signed_profile", verified.failure);
      const { digest, profile } = verified.value;
      if (!(await truecaller.usedPayloads.claim(digest, truecaller.payloadLifetimeMs))) {
        return this.refused("truecaller_signed_profile", { kind: "InvalidSignedProfile", problem: "Replayed", detail: "payload already used" });
      }
      // The signed nonce equals the one sent; with required states it must also be one this deployment issued.
      const nonce = this.deps.requireLoginState ? await this.useIssuedNonce(valid.value.requestNonce) : undefined;
      if (nonce === "Invalid" || nonce === "Uncheckable") {
        await truecaller.usedPayloads.release(digest).catch(() => {});
        return nonce === "Invalid" ? { kind: "InvalidState" } : { kind: "ServiceUnavailable", retryAfterSeconds: CACHE_RETRY_AFTER_S };
      }
      try {
        return await this.complete("truecaller_signed_profile", profile, undefined);
      } catch (error) {
        // The app got no session, so it may send the same payload (and nonce) again once the outage is over. (Were
        // the failure an acknowledgement lost after the commit, the payload could log in once more: the lesser harm
        // than locking the user out.)
        await Promise.all([truecaller.usedPayloads.release(digest).catch(() => {}), nonce?.restore().catch(() => {})]);
        throw error;
      }
    });
  }

  /** Uses up a nonce startLogin issued for Truecaller; "Invalid" for any other, and when the cache cannot tell. */
  private async useIssuedNonce(nonce: string): Promise<UsedChallenge | "Invalid" | "Uncheckable"> {
    try {
      return (await this.deps.challenges.useNonce(nonce, "truecaller")) ?? "Invalid";
    } catch (error) {
      this.deps.logger.warn({ provider: "truecaller_signed_profile", error: errorSummary(error) }, "issued nonce not checkable: cache unavailable");
      return "Uncheckable";
    }
  }

  /** Runs one attempt within its budget (`deadline`), kept among the running ones until it settles (see {@link abandonRunning}). */
  private observed(provider: IdentityProviderId, client: ClientInfo, attempt: (deadline: AbortSignal) => Promise<LoginOutcome>): Promise<LoginOutcome> {
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(new DOMException("The login took longer than LOGIN_TIMEOUT_MS.", "TimeoutError")), this.deps.loginTimeoutMs);
    const running = this.observedAttempt(provider, client, () => attempt(budget.signal));
    this.running.set(running, budget);
    const settled = () => {
      clearTimeout(timer);
      this.running.delete(running);
    };
    running.then(settled, settled);
    return running;
  }

  /**
   * Logs one line per attempt (the outcome kind, never the submitted values) and records its LoginEvent.
   * A database outage becomes SERVICE_UNAVAILABLE (each flow has given back
   * what the client's retry needs before it gets here); anything else thrown is a bug.
   */
  private async observedAttempt(provider: IdentityProviderId, client: ClientInfo, attempt: () => Promise<LoginOutcome>): Promise<LoginOutcome> {
    const started = performance.now();
    const admitted = await this.deps.limits.admitClient(client);
    const outcome = !admitted.allowed
      ? ({ kind: "RateLimited", retryAfterSeconds: admitted.retryAfterSeconds } satisfies LoginOutcome)
      : await attempt().catch((error: unknown): LoginOutcome => {
          if (!isDatabaseUnavailable(error)) {
            // A bug: the client gets a masked error, and the metrics must still see the attempt.
            this.deps.telemetry.login(provider, "INTERNAL_SERVER_ERROR");
            throw error;
          }
          this.deps.logger.error({ provider, error: errorSummary(error) }, "database unavailable during login");
          return { kind: "ServiceUnavailable", retryAfterSeconds: DATABASE_RETRY_AFTER_S };
        });
    await this.deps.limits.observe(client, outcome);
    this.deps.telemetry.login(provider, outcomeCode(outcome.kind));
    const log = { provider, outcome: outcome.kind, durationMs: Math.round(performance.now() - started) };
    if (outcome.kind === "LoginSucceeded") {
      this.deps.logger.info({ ...log, userId: outcome.user.id, isNewUser: outcome.isNewUser }, "login succeeded");
    } else {
      this.deps.logger.info(log, "login refused");
    }
    await this.deps.audit.record(provider, outcome, client);
    return outcome;
  }

  private notConfigured(provider: IdentityProviderId): LoginOutcome {
    // Start-up said so once; any caller can ask again, so per request it is no alert.
    this.deps.logger.debug({ provider }, "provider is not configured");
    return { kind: "ProviderMisconfigured" };
  }

  /** Stores the verified login with a new session (and the provider's refresh token, sealed, when it gave one). */
  private async complete(
    provider: IdentityProviderId,
    profile: ProviderProfile,
    refreshToken: string | undefined,
    countAsLogin = true,
  ): Promise<LoginOutcome> {
    const { phoneNumber, phoneNumberVerified } = profile;
    if (!phoneNumberVerified || phoneNumber === undefined) return { kind: "PhoneNotVerified" };

    // A login takes its slot of the number's budget before storing — logins of one number at once cannot all pass a
    // check made before any of them counted — and gives it back when storing fails, so an outage spends none of it.
    // A retry of a login already counted only checks.
    const { e164 } = phoneNumber;
    const admitted = countAsLogin ? await this.deps.limits.reserveNumberLogin(e164) : await this.deps.limits.checkNumber(e164);
    if (!admitted.allowed) return { kind: "RateLimited", retryAfterSeconds: admitted.retryAfterSeconds };
    try {
      const pending = this.deps.sessions.newSession();
      // The identities come with the user (read where an outage is SERVICE_UNAVAILABLE, not by the User.identities field after the answer).
      const { user, created, identities } = await this.deps.users.upsertVerifiedUser(
        { ...profileFieldsOf(profile), phoneNumber: e164, provider, subject: profile.subject, refreshToken },
        pending.record,
      );
      const session = await this.deps.sessions.issue(pending, user);
      return { kind: "LoginSucceeded", user, identities, isNewUser: created, session };
    } catch (error) {
      if (countAsLogin) await this.deps.limits.releaseNumberLogin(e164);
      throw error;
    }
  }

  /** Logs what operators need to know about a provider failure, then maps it to its outcome. */
  private refused(provider: IdentityProviderId, failure: ProviderFailure): LoginOutcome {
    logProviderFailure(this.deps.logger, provider, failure);
    return outcomeOfProviderFailure(failure);
  }
}

/** The login outcome of each provider failure; details stay behind (they are for the log). */
export function outcomeOfProviderFailure(failure: ProviderFailure): LoginOutcome {
  switch (failure.kind) {
    case "InvalidCode":
    case "InvalidVerifier":
    case "AccessDenied":
    case "ProfileUnavailable":
    case "InvalidIdToken":
      return { kind: failure.kind };
    case "InvalidSignedProfile":
      return { kind: "InvalidSignedProfile", problem: failure.problem };
    case "Misconfigured":
      return { kind: "ProviderMisconfigured" };
    case "RateLimited":
      return { kind: "RateLimited", retryAfterSeconds: failure.retryAfterSeconds };
    case "Unavailable":
      return { kind: "ProviderUnavailable", retryAfterSeconds: failure.retryAfterSeconds };
    case "RefreshTokenRejected":
      // Logins exchange codes; only a profile refresh presents a refresh token.
      throw new Error("a login cannot fail on a refresh token");
    default:
      throw new UnreachableCaseError(failure);
  }
}
