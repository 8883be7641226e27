import type { AuthorizationCodeGrant, GrantRules } from "../providers/provider.js";
import { MAX_PAYLOAD_LENGTH, MAX_SIGNATURE_LENGTH, type SignedProfileInput } from "../providers/truecaller/signed-profile.js";

/** Longest authorization code, access token, redirect URI or nonce we forward; real ones are far shorter. */
export const MAX_CODE_LENGTH = 2_048;
/** RFC 7636 §4.1: `code_verifier = 43*128unreserved`. */
export const VERIFIER_MIN_LENGTH = 43;
export const VERIFIER_MAX_LENGTH = 128;
export const MAX_NONCE_LENGTH = 512;
export const MAX_STATE_LENGTH = 512;
export const MAX_NAME_LENGTH = 100;
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
/** RFC 6749 Appendix A.11: `code = 1*VSCHAR`, VSCHAR = %x20-7E. */
const VSCHAR = /^[\x20-\x7E]*$/;
/** An access token that travels in a URL path: RFC 6750 b64token characters only. */
const TOKEN_CHARACTERS = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Letters, marks, spaces and the punctuation of names; no control or format characters. */
const NAME = /^[\p{L}\p{M}\p{N} .'\-]*$/u;

export type InputField =
  | "code"
  | "verifier"
  | "redirectUri"
  | "nonce"
  | "accessToken"
  | "firstName"
  | "lastName"
  | "payload"
  | "signature"
  | "signatureAlgorithm"
  | "requestNonce"
  | "state";

export type Validation<T> = { ok: true; value: T } | { ok: false; field: InputField; problem: string };

/** A code login as the app sends it. */
export interface CodeLoginInput {
  readonly code: string;
  readonly verifier: string | undefined;
  readonly redirectUri: string | undefined;
  readonly nonce: string | undefined;
  /** The state from startLogin, as the provider sent it back. */
  readonly state?: string | undefined;
}

function invalid(field: InputField, problem: string): { ok: false; field: InputField; problem: string } {
  return { ok: false, field, problem };
}

/** The rule a printable one-time value breaks, if any. */
export function printableProblem(value: string, maxLength: number): string | undefined {
  if (value.trim().length === 0) return "must not be empty";
  if (value.length > maxLength) return `must be at most ${maxLength} characters`;
  if (!VSCHAR.test(value)) return "may contain only printable ASCII characters";
  return undefined;
}

/**
 * Checks a code login locally against the provider's {@link GrantRules}, so a
 * request the provider would reject never leaves the gateway. Problems
 * describe the rule, never the value.
 */
export function validateCodeGrant(input: CodeLoginInput, rules: GrantRules): Validation<AuthorizationCodeGrant> {
  const codeProblem = printableProblem(input.code, MAX_CODE_LENGTH);
  if (codeProblem) return invalid("code", codeProblem);
  const { verifier, redirectUri, nonce } = input;
  if (verifier === undefined) {
    if (rules.verifier === "required") return invalid("verifier", "is required by this provider (PKCE, RFC 7636)");
  } else if (verifier.length < VERIFIER_MIN_LENGTH || verifier.length > VERIFIER_MAX_LENGTH) {
    return invalid("verifier", `must be ${VERIFIER_MIN_LENGTH} to ${VERIFIER_MAX_LENGTH} characters (RFC 7636)`);
  } else if (!UNRESERVED.test(verifier)) {
    return invalid("verifier", "may contain only A-Z, a-z, 0-9 and - . _ ~ (RFC 7636)");
  }
  if (redirectUri === undefined) {
    if (rules.redirectUri === "required") return invalid("redirectUri", "is required by this provider (none is configured)");
  } else if (rules.redirectUri === "unsupported") {
    return invalid("redirectUri", "is not used by this provider");
  } else if (redirectUri.length > MAX_CODE_LENGTH || !VSCHAR.test(redirectUri) || !URL.canParse(redirectUri)) {
    return invalid("redirectUri", `must be an absolute URI of at most ${MAX_CODE_LENGTH} characters`);
  }
  if (nonce !== undefined) {
    // A nonce that nothing checks would look like protection and be none.
    if (rules.nonce === "unsupported") return invalid("nonce", "is not supported by this provider (it issues no ID token)");
    const nonceProblem = printableProblem(nonce, MAX_NONCE_LENGTH);
    if (nonceProblem) return invalid("nonce", nonceProblem);
  }
  return { ok: true, value: { code: input.code, codeVerifier: verifier, redirectUri, nonce } };
}

/** A Truecaller access token of the app-less flow, and the name the user typed into the app. */
export interface TruecallerAccessTokenInput {
  readonly accessToken: string;
  readonly firstName: string | undefined;
  readonly lastName: string | undefined;
}

export function validateTruecallerAccessToken(input: TruecallerAccessTokenInput): Validation<TruecallerAccessTokenInput> {
  const tokenProblem = printableProblem(input.accessToken, MAX_CODE_LENGTH);
  if (tokenProblem) return invalid("accessToken", tokenProblem);
  if (!TOKEN_CHARACTERS.test(input.accessToken)) return invalid("accessToken", "may contain only A-Z, a-z, 0-9 and - . _ ~ + / =");
  // It becomes a path segment: "." and ".." would be read as path steps, however escaped (WHATWG URL).
  if (/^\.+$/.test(input.accessToken)) return invalid("accessToken", "must not consist of dots only");
  const firstName = input.firstName?.trim() || undefined;
  const lastName = input.lastName?.trim() || undefined;
  for (const [field, name] of [["firstName", firstName], ["lastName", lastName]] as const) {
    if (name === undefined) continue;
    if (name.length > MAX_NAME_LENGTH) return invalid(field, `must be at most ${MAX_NAME_LENGTH} characters`);
    if (!NAME.test(name)) return invalid(field, "may contain only letters, digits, spaces and . ' -");
  }
  return { ok: true, value: { accessToken: input.accessToken, firstName, lastName } };
}

/** Sizes and characters only; the provider module checks the form of payload and signature. */
export function validateSignedProfileInput(input: SignedProfileInput): Validation<SignedProfileInput> {
  for (const [field, maxLength] of [["payload", MAX_PAYLOAD_LENGTH], ["signature", MAX_SIGNATURE_LENGTH]] as const) {
    const problem = printableProblem(input[field], maxLength);
    if (problem) return invalid(field, problem);
  }
  if (input.signatureAlgorithm !== undefined) {
    const problem = printableProblem(input.signatureAlgorithm, MAX_NAME_LENGTH);
    if (problem) return invalid("signatureAlgorithm", problem);
  }
  const nonceProblem = printableProblem(input.requestNonce, MAX_NONCE_LENGTH);
  if (nonceProblem) return invalid("requestNonce", nonceProblem);
  return { ok: true, value: input };
}
