import { errorSummary, type Logger } from "../logger.js";
import type { PhoneLoginProvider, ProviderFailure, ProviderId, ProviderProfile, ProviderResult, ProviderTokens } from "../providers/provider.js";
import type { ProviderTokenCache } from "../store/provider-token-cache.js";
import type { LinkedIdentity, StoredUser, UserRepository } from "../store/user.repository.js";
import { UnreachableCaseError } from "../unreachable.js";
import { keepAccessToken, logProviderFailure, profileFieldsOf } from "./provider-results.js";
import type { ProfileRefreshOutcome } from "./login-outcome.js";

export interface ProfileServiceDependencies {
  readonly providers: ReadonlyMap<ProviderId, PhoneLoginProvider>;
  readonly users: UserRepository;
  readonly providerTokens: ProviderTokenCache;
  readonly logger: Logger;
  /** Budget for all provider calls of one refresh, retries included. */
  readonly timeoutMs: number;
}

const REAUTHENTICATION_REQUIRED: ProfileRefreshOutcome = { kind: "ReauthenticationRequired" };

type TokenRefresh = { kind: "Refreshed"; tokens: ProviderTokens } | { kind: "Failed"; outcome: ProfileRefreshOutcome };

/**
 * Re-reads a signed-in user's profile at a provider on the user's behalf, with
 * the access token cached at login or, when it has expired or is refused, with
 * new tokens from the refresh token kept for the identity. The profile is
 * written only while the provider still vouches for the user's number.
 */
export class ProfileService {
  /**
   * Profile refreshes in flight, by user and provider: a provider that rotates
   * refresh tokens (and treats a reused one as stolen) must see each token
   * once, so concurrent refreshes of one identity on this instance share one
   * run, from reading the stored tokens to storing the rotated ones.
   */
  private readonly inFlight = new Map<string, Promise<ProfileRefreshOutcome>>();

  constructor(private readonly deps: ProfileServiceDependencies) {}

  refreshProfile(user: StoredUser, providerId: ProviderId): Promise<ProfileRefreshOutcome> {
    const key = `${user.id}:${providerId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const run = this.refreshOnce(user, providerId).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, run);
    return run;
  }

  private async refreshOnce(user: StoredUser, providerId: ProviderId): Promise<ProfileRefreshOutcome> {
    const { logger } = this.deps;
    const provider = this.deps.providers.get(providerId);
    if (!provider) {
      logger.debug({ provider: providerId }, "provider is not configured");
      return { kind: "ProviderMisconfigured" };
    }
    const identity = await this.deps.users.findIdentity(user.id, providerId);
    if (!identity) return REAUTHENTICATION_REQUIRED;
    if (identity.refreshTokenUnreadable) {
      logger.warn({ provider: providerId, userId: user.id }, "stored provider refresh token sealed with a key no longer in TOKEN_ENCRYPTION_KEYS");
    }
    const deadline = AbortSignal.timeout(this.deps.timeoutMs);

    const cached = await this.deps.providerTokens.get(providerId, user.id).catch((error: unknown) => {
      logger.warn({ provider: providerId, error: errorSummary(error) }, "provider token cache unavailable");
      return undefined;
    });
    let profile: ProviderResult<ProviderProfile> | undefined;
    if (cached) {
      profile = await provider.fetchProfile({ access: cached, refreshToken: undefined, idToken: undefined }, deadline);
      // A token the provider refused (revoked, or expired early) is worth one refresh.
      if (!profile.ok && profile.failure.kind !== "ProfileUnavailable") return this.refused(providerId, profile.failure);
    }
    if (!profile?.ok) {
      const refreshed = await this.exchangeRefreshToken(provider, user.id, identity, deadline);
      if (refreshed.kind !== "Refreshed") return refreshed.outcome;
      profile = await provider.fetchProfile(refreshed.tokens, deadline);
      if (!profile.ok) return this.refused(providerId, profile.failure);
    }

    const { subject, phoneNumber, phoneNumberVerified } = profile.value;
    if (subject !== identity.subject || !phoneNumberVerified || phoneNumber?.e164 !== user.phoneNumber) {
      // The provider account now proves another number (or none): only a new login may move the identity.
      logger.info({ provider: providerId, userId: user.id }, "provider profile no longer proves the user's number");
      return REAUTHENTICATION_REQUIRED;
    }
    const updated = await this.deps.users.refreshProfile(user.id, { provider: providerId, subject }, user.phoneNumber, profileFieldsOf(profile.value));
    return updated ? { kind: "ProfileRefreshed", user: updated } : REAUTHENTICATION_REQUIRED;
  }

  /**
   * New provider tokens from the identity's refresh token: a rotated refresh
   * token replaces the stored one, a refused one is forgotten, and the new
   * access token is cached.
   */
  private async exchangeRefreshToken(provider: PhoneLoginProvider, userId: string, identity: LinkedIdentity, deadline: AbortSignal): Promise<TokenRefresh> {
    const stored = identity.refreshToken;
    if (!stored || !provider.refreshTokens) return { kind: "Failed", outcome: REAUTHENTICATION_REQUIRED };
    const key = { provider: provider.id, subject: identity.subject };
    const refreshed = await provider.refreshTokens(stored.token, deadline);
    if (!refreshed.ok) {
      if (refreshed.failure.kind === "RefreshTokenRejected") await this.deps.users.replaceRefreshToken(key, stored, undefined);
      return { kind: "Failed", outcome: this.refused(provider.id, refreshed.failure) };
    }
    if (refreshed.value.refreshToken !== undefined && refreshed.value.refreshToken !== stored.token) {
      if (!(await this.deps.users.replaceRefreshToken(key, stored, refreshed.value.refreshToken))) {
        // Another instance refreshed this identity at the same time; one of the two rotated tokens is lost.
        this.deps.logger.warn({ provider: provider.id, userId }, "rotated provider refresh token not stored: the identity was refreshed concurrently");
      }
    }
    await keepAccessToken(this.deps.providerTokens, this.deps.logger, provider.id, userId, refreshed.value.access);
    return { kind: "Refreshed", tokens: refreshed.value };
  }

  private refused(providerId: ProviderId, failure: ProviderFailure): ProfileRefreshOutcome {
    logProviderFailure(this.deps.logger, providerId, failure);
    switch (failure.kind) {
      case "Misconfigured":
        return { kind: "ProviderMisconfigured" };
      case "RateLimited":
        return { kind: "RateLimited", retryAfterSeconds: failure.retryAfterSeconds };
      case "Unavailable":
        return { kind: "ProviderUnavailable", retryAfterSeconds: failure.retryAfterSeconds };
      case "ProfileUnavailable":
      case "RefreshTokenRejected":
      case "InvalidIdToken":
      case "AccessDenied":
      case "InvalidCode":
      case "InvalidVerifier":
      case "InvalidSignedProfile":
        return REAUTHENTICATION_REQUIRED;
      default:
        throw new UnreachableCaseError(failure);
    }
  }
}
