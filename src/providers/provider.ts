import type { NormalizedPhoneNumber } from "./phone-number.js";

/** Why a signed profile was not accepted; each reason is one a client or an attacker can cause. */
export type SignedProfileProblem = "Malformed" | "UnsupportedAlgorithm" | "BadSignature" | "NonceMismatch" | "Expired" | "Replayed";

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
  | { kind: "ProfileUnavailable"; detail: string }
  /** An ID token failed validation (signature, issuer, audience, times, nonce) or names another subject than the profile. */
  | { kind: "InvalidIdToken"; detail: string }
  | { kind: "InvalidSignedProfile"; problem: SignedProfileProblem; detail: string }
  /** A stored provider refresh token was refused: only a new login gets new provider tokens. */
  | { kind: "RefreshTokenRejected"; detail: string };

export type ProviderResult<T> = { ok: true; value: T } | { ok: false; failure: ProviderFailure };

/** Provider access token as issued, with its absolute expiry computed conservatively. */
export interface ProviderToken {
  readonly accessToken: string;
  readonly tokenType: string;
  /** Measured from when the request was sent, so it never outlives the provider's own expiry. */
  readonly expiresAt: Date;
}

/** What a code exchange or a refresh yields. */
export interface ProviderTokens {
  readonly access: ProviderToken;
  /** Present when the provider grants offline access (`offline_access`). */
  readonly refreshToken: string | undefined;
  /** Claims of the ID token that came with the tokens, already validated; the profile must be the same subject's. */
  readonly idToken: Readonly<Record<string, unknown>> & { readonly sub: string } | undefined;
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

/** What the mobile app hands us after the provider's authorization flow. */
export interface AuthorizationCodeGrant {
  readonly code: string;
  /** PKCE code verifier (RFC 7636); optional only for confidential clients. */
  readonly codeVerifier: string | undefined;
  /** The redirect URI of the authorization request, when the app sent one (else the configured one is used). */
  readonly redirectUri: string | undefined;
  /** The nonce of the authorization request; the ID token must carry it. */
  readonly nonce: string | undefined;
}

/** Identifiers of the providers that log in with an authorization code. */
export const PROVIDER_IDS = ["truecaller", "wgtwo", "oidc"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/**
 * Who proved a phone number, as recorded on the user's identities: the
 * code-flow providers by their account subject, and Truecaller's two app-less
 * paths, which identify nobody but the number itself.
 */
export type IdentityProviderId = ProviderId | "truecaller_otp" | "truecaller_signed_profile";

/** The identities whose subject is the phone number itself: they say nothing about who holds it. */
export const NUMBER_ONLY_PROVIDERS: ReadonlySet<IdentityProviderId> = new Set(["truecaller_otp", "truecaller_signed_profile"]);

/** Which optional parts of a code grant a provider takes. */
export interface GrantRules {
  /** PKCE verifier: public clients must send one; a confidential client may. */
  readonly verifier: "required" | "optional";
  /** `redirect_uri`: "optional" when the provider takes one and a default is configured. */
  readonly redirectUri: "required" | "optional" | "unsupported";
  /** A nonce needs an ID token to be checked against. */
  readonly nonce: "supported" | "unsupported";
}

/**
 * One phone-verified login provider: trade an authorization code for tokens,
 * read the profile with them, and (where the provider grants offline access)
 * trade a refresh token for new tokens. `signal` carries the call's overall deadline.
 */
export interface PhoneLoginProvider {
  readonly id: ProviderId;
  readonly grantRules: GrantRules;
  exchangeCode(grant: AuthorizationCodeGrant, signal: AbortSignal): Promise<ProviderResult<ProviderTokens>>;
  fetchProfile(tokens: ProviderTokens, signal: AbortSignal): Promise<ProviderResult<ProviderProfile>>;
  refreshTokens?(refreshToken: string, signal: AbortSignal): Promise<ProviderResult<ProviderTokens>>;
}
