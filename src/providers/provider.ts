import type { NormalizedPhoneNumber } from "./phone-number.js";

/**
 * Why a provider call did not yield what we asked for. Every provider maps its
 * own wire errors onto these kinds; the login service maps them onto results.
 * `detail` is for the log only: it never contains a secret and never reaches a client.
 */
export type ProviderFailure =
  | { kind: "InvalidCode" }
  | { kind: "InvalidVerifier" }
  | { kind: "AccessDenied" }
  | { kind: "Misconfigured"; detail: string }
  | { kind: "RateLimited"; retryAfterSeconds: number | undefined }
  | { kind: "Unavailable"; detail: string; retryAfterSeconds: number | undefined }
  | { kind: "ProfileUnavailable"; detail: string };

export type ProviderResult<T> = { ok: true; value: T } | { ok: false; failure: ProviderFailure };

/** Provider access token as issued, with its absolute expiry computed conservatively. */
export interface ProviderToken {
  readonly accessToken: string;
  readonly tokenType: string;
  /** Measured from when the request was sent, so it never outlives the provider's own expiry. */
  readonly expiresAt: Date;
}

/** The provider's view of the person, normalised. */
export interface ProviderProfile {
  /** The provider's stable subject identifier. */
  readonly subject: string;
  /** Absent when the provider sent no number or one that cannot be a phone number. */
  readonly phoneNumber: NormalizedPhoneNumber | undefined;
  /** True only when the provider says so explicitly. */
  readonly phoneNumberVerified: boolean;
  readonly givenName: string | undefined;
  readonly familyName: string | undefined;
  readonly email: string | undefined;
  readonly picture: string | undefined;
  readonly gender: string | undefined;
  readonly address: { readonly locality: string | undefined; readonly postalCode: string | undefined } | undefined;
}

/** What the mobile app hands us after the provider's PKCE authorization flow. */
export interface AuthorizationCodeGrant {
  readonly code: string;
  readonly codeVerifier: string;
}

/** Identifiers of the providers this gateway speaks to. */
export type ProviderId = "truecaller";

/**
 * One phone-verified login provider: trade an authorization code for a token,
 * then read the profile with it. `signal` carries the login's overall deadline.
 */
export interface PhoneLoginProvider {
  readonly id: ProviderId;
  exchangeCode(grant: AuthorizationCodeGrant, signal: AbortSignal): Promise<ProviderResult<ProviderToken>>;
  fetchProfile(token: ProviderToken, signal: AbortSignal): Promise<ProviderResult<ProviderProfile>>;
}
