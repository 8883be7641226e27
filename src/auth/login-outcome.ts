import type { SignedProfileProblem } from "../providers/provider.js";
import type { StoredIdentity, StoredUser } from "../store/user.repository.js";
import type { InputField } from "./login-input.js";
import type { IssuedSession } from "./session.service.js";

export type { StoredUser };

/**
 * Everything a login can end in. Each kind maps to exactly one GraphQL union
 * member; only bugs and outages are thrown instead.
 */
export type LoginOutcome =
  | { kind: "LoginSucceeded"; user: StoredUser; identities: StoredIdentity[]; isNewUser: boolean; session: IssuedSession }
  | { kind: "InvalidInput"; field: InputField; problem: string }
  | { kind: "InvalidCode" }
  | { kind: "InvalidVerifier" }
  | { kind: "AccessDenied" }
  | { kind: "ProviderMisconfigured" }
  | { kind: "RateLimited"; retryAfterSeconds: number | undefined }
  | { kind: "ProviderUnavailable"; retryAfterSeconds: number | undefined }
  | { kind: "ProfileUnavailable" }
  | { kind: "PhoneNotVerified" }
  | { kind: "InvalidIdToken" }
  | { kind: "InvalidSignedProfile"; problem: SignedProfileProblem }
  /** The state (or Truecaller requestNonce) is not one this deployment issued for the provider, or is used or expired. */
  | { kind: "InvalidState" }
  /** The database is unavailable; what the provider answered is kept, so the same request succeeds once it is back. */
  | { kind: "ServiceUnavailable"; retryAfterSeconds: number };

/** What re-reading a signed-in user's provider profile can end in. */
export type ProfileRefreshOutcome =
  | { kind: "ProfileRefreshed"; user: StoredUser }
  /** No usable provider token, or the provider no longer vouches for this user's number: log in with the provider again. */
  | { kind: "ReauthenticationRequired" }
  | { kind: "ProviderMisconfigured" }
  | { kind: "RateLimited"; retryAfterSeconds: number | undefined }
  | { kind: "ProviderUnavailable"; retryAfterSeconds: number | undefined };
