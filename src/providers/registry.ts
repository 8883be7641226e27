/**
 * Every provider by id, with what clients are told about it. The GraphQL enums
 * `LoginProvider` and `IdentityProvider` are built from these lists, so a new
 * provider is its module, a line here, its settings, and its factory line in
 * `gateway.ts`; the login service and the GraphQL layer stay as they are.
 */
import type { IdentityProviderId, ProviderId } from "./provider.js";

/** The code-flow providers (`verifyPhoneLogin`), as clients name them. */
export const PROVIDER_DESCRIPTIONS: Readonly<Record<ProviderId, string>> = {
  truecaller: "Truecaller OAuth SDK 3.x (PKCE).",
  wgtwo: "wgtwo mobile operator login (confidential client, PKCE optional).",
  oidc: "The configured OpenID Connect provider (OIDC_ISSUER), Auth0-style native-app flow with PKCE.",
};

/** Everything that can prove a number, as recorded on a user's identities. */
export const IDENTITY_PROVIDER_DESCRIPTIONS: Readonly<Record<IdentityProviderId, string>> = {
  truecaller: "A Truecaller account, through the OAuth SDK.",
  truecaller_otp: "Truecaller's drop-call/OTP verification of a user without the app; names only the number.",
  truecaller_signed_profile: "A Truecaller-signed profile (SDK 2.x / iOS); names only the number.",
  wgtwo: "A wgtwo operator account.",
  oidc: "An account at the configured OpenID Connect provider.",
};
