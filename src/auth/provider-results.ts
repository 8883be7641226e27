import { errorSummary, type Logger } from "../logger.js";
import type { IdentityProviderId, ProviderFailure, ProviderId, ProviderProfile, ProviderToken } from "../providers/provider.js";
import type { ProviderTokenCache } from "../store/provider-token-cache.js";
import type { ProfileFields } from "../store/user.repository.js";
import { UnreachableCaseError } from "../unreachable.js";

/** The stored profile fields of a provider profile; the region comes with the verified number. */
export function profileFieldsOf(profile: ProviderProfile): ProfileFields {
  return {
    countryCode: profile.phoneNumber?.countryCode,
    givenName: profile.givenName,
    familyName: profile.familyName,
    email: profile.email,
    picture: profile.picture,
    gender: profile.gender,
    addressLocality: profile.address?.locality,
    addressPostalCode: profile.address?.postalCode,
  };
}

/** Operators hear about misconfiguration and outages; user mistakes and attacks are in the "login refused" line. */
export function logProviderFailure(logger: Logger, provider: IdentityProviderId, failure: ProviderFailure): void {
  switch (failure.kind) {
    case "Misconfigured":
      logger.error({ provider, detail: failure.detail }, "provider rejected our client configuration");
      break;
    case "Unavailable":
    case "ProfileUnavailable":
      // An open circuit answers every login at once; its opening was the warning.
      logger[failure.detail.endsWith("circuit open") ? "debug" : "warn"]({ provider, detail: failure.detail }, "provider call failed");
      break;
    case "RateLimited":
      logger.warn({ provider, retryAfterSeconds: failure.retryAfterSeconds }, "provider rate limit hit");
      break;
    case "InvalidIdToken":
    case "InvalidSignedProfile":
    case "RefreshTokenRejected":
      // Possibly an attack, possibly a provider key change: worth a line with the check that failed.
      logger.warn({ provider, kind: failure.kind, detail: failure.detail }, "provider proof rejected");
      break;
    case "InvalidCode":
    case "InvalidVerifier":
    case "AccessDenied":
      break;
    default:
      throw new UnreachableCaseError(failure);
  }
}

/** Caches a provider access token for calls on the user's behalf; the login or refresh stands even when the cache is down. */
export async function keepAccessToken(cache: ProviderTokenCache, logger: Logger, provider: ProviderId, userId: string, token: ProviderToken): Promise<void> {
  await cache.put(provider, userId, token).catch((error: unknown) => {
    logger.warn({ provider, userId, error: errorSummary(error) }, "provider token not cached");
  });
}
