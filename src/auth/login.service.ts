import { errorSummary, type Logger } from "../logger.js";
import type { PhoneLoginProvider, ProviderFailure, ProviderId } from "../providers/provider.js";
import type { ProviderTokenCache } from "../store/provider-token-cache.js";
import type { UserRepository, VerifiedLogin } from "../store/user.repository.js";
import { UnreachableCaseError } from "../unreachable.js";
import { validateCodeGrant } from "./login-input.js";
import type { LoginOutcome } from "./login-outcome.js";
import type { SessionService } from "./session.service.js";

export interface LoginServiceDependencies {
  /** Configured providers by id; a missing one answers ProviderMisconfigured without a network call. */
  readonly providers: ReadonlyMap<ProviderId, PhoneLoginProvider>;
  readonly users: UserRepository;
  readonly providerTokens: ProviderTokenCache;
  readonly sessions: SessionService;
  readonly logger: Logger;
  /** Budget for all provider calls of one login, retries included. */
  readonly loginTimeoutMs: number;
}

/**
 * Turns a provider authorization code into a stored, verified user: validate
 * locally, exchange the code, read the profile, insist on a verified phone,
 * upsert the user, open a session, cache the provider token.
 */
export class LoginService {
  constructor(private readonly deps: LoginServiceDependencies) {}

  /** Ids of the providers this deployment can log in with. */
  configuredProviders(): ProviderId[] {
    return [...this.deps.providers.keys()];
  }

  async verifyAuthorizationCode(providerId: ProviderId, code: string, verifier: string): Promise<LoginOutcome> {
    const { logger } = this.deps;
    const started = performance.now();
    const outcome = await this.attempt(providerId, code, verifier);
    const log = { provider: providerId, outcome: outcome.kind, durationMs: Math.round(performance.now() - started) };
    if (outcome.kind === "LoginSucceeded") {
      logger.info({ ...log, userId: outcome.user.id, isNewUser: outcome.isNewUser }, "login succeeded");
    } else {
      logger.info(log, "login refused");
    }
    return outcome;
  }

  private async attempt(providerId: ProviderId, code: string, verifier: string): Promise<LoginOutcome> {
    const input = validateCodeGrant(code, verifier);
    if (!input.ok) return { kind: "InvalidInput", field: input.field, problem: input.problem };

    const provider = this.deps.providers.get(providerId);
    if (!provider) {
      this.deps.logger.error({ provider: providerId }, "provider is not configured");
      return { kind: "ProviderMisconfigured" };
    }

    const deadline = AbortSignal.timeout(this.deps.loginTimeoutMs);
    const token = await provider.exchangeCode(input.grant, deadline);
    if (!token.ok) return this.refused(providerId, token.failure);
    const profile = await provider.fetchProfile(token.value, deadline);
    if (!profile.ok) return this.refused(providerId, profile.failure);

    const { phoneNumber, phoneNumberVerified } = profile.value;
    if (!phoneNumberVerified || phoneNumber === undefined) return { kind: "PhoneNotVerified" };

    const verified: VerifiedLogin = {
      phoneNumber: phoneNumber.e164,
      countryCode: phoneNumber.countryCode,
      provider: providerId,
      subject: profile.value.subject,
      givenName: profile.value.givenName,
      familyName: profile.value.familyName,
      email: profile.value.email,
      picture: profile.value.picture,
      gender: profile.value.gender,
      addressLocality: profile.value.address?.locality,
      addressPostalCode: profile.value.address?.postalCode,
    };
    const pending = this.deps.sessions.newSession();
    const { user, created } = await this.deps.users.upsertVerifiedUser(verified, pending.record);
    const session = await this.deps.sessions.issue(pending, user);

    // The user is stored; a cache outage must not lose the login.
    await this.deps.providerTokens.put(providerId, user.id, token.value).catch((error: unknown) => {
      this.deps.logger.warn({ provider: providerId, userId: user.id, error: errorSummary(error) }, "provider token not cached");
    });
    return { kind: "LoginSucceeded", user, isNewUser: created, session };
  }

  /** Logs what operators need to know about a provider failure, then maps it to its outcome. */
  private refused(providerId: ProviderId, failure: ProviderFailure): LoginOutcome {
    const { logger } = this.deps;
    switch (failure.kind) {
      case "Misconfigured":
        logger.error({ provider: providerId, detail: failure.detail }, "provider rejected our client configuration");
        break;
      case "Unavailable":
      case "ProfileUnavailable":
        logger.warn({ provider: providerId, detail: failure.detail }, "provider call failed");
        break;
      case "RateLimited":
        logger.warn({ provider: providerId, retryAfterSeconds: failure.retryAfterSeconds }, "provider rate limit hit");
        break;
      case "InvalidCode":
      case "InvalidVerifier":
      case "AccessDenied":
        // The user's or app's doing, not the operator's: the "login refused" line says enough.
        break;
      default:
        throw new UnreachableCaseError(failure);
    }
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
      return { kind: failure.kind };
    case "Misconfigured":
      return { kind: "ProviderMisconfigured" };
    case "RateLimited":
      return { kind: "RateLimited", retryAfterSeconds: failure.retryAfterSeconds };
    case "Unavailable":
      return { kind: "ProviderUnavailable", retryAfterSeconds: failure.retryAfterSeconds };
    default:
      throw new UnreachableCaseError(failure);
  }
}
