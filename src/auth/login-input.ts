import type { AuthorizationCodeGrant } from "../providers/provider.js";

/** Longest authorization code we forward; real codes are far shorter. */
export const MAX_CODE_LENGTH = 2_048;
/** RFC 7636 §4.1: `code_verifier = 43*128unreserved`. */
export const VERIFIER_MIN_LENGTH = 43;
export const VERIFIER_MAX_LENGTH = 128;
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
/** RFC 6749 Appendix A.11: `code = 1*VSCHAR`, VSCHAR = %x20-7E. */
const VSCHAR = /^[\x20-\x7E]*$/;

export type InputField = "code" | "verifier";

export type CodeGrantValidation =
  | { ok: true; grant: AuthorizationCodeGrant }
  | { ok: false; field: InputField; problem: string };

/**
 * Checks a (code, verifier) pair locally, so a request the provider would
 * reject never leaves the gateway. Problems describe the rule, never the value.
 */
export function validateCodeGrant(code: string, verifier: string): CodeGrantValidation {
  if (code.trim().length === 0) return { ok: false, field: "code", problem: "must not be empty" };
  if (code.length > MAX_CODE_LENGTH) return { ok: false, field: "code", problem: `must be at most ${MAX_CODE_LENGTH} characters` };
  if (!VSCHAR.test(code)) return { ok: false, field: "code", problem: "may contain only printable ASCII characters" };
  if (verifier.length < VERIFIER_MIN_LENGTH || verifier.length > VERIFIER_MAX_LENGTH) {
    return { ok: false, field: "verifier", problem: `must be ${VERIFIER_MIN_LENGTH} to ${VERIFIER_MAX_LENGTH} characters (RFC 7636)` };
  }
  if (!UNRESERVED.test(verifier)) {
    return { ok: false, field: "verifier", problem: "may contain only A-Z, a-z, 0-9 and - . _ ~ (RFC 7636)" };
  }
  return { ok: true, grant: { code, codeVerifier: verifier } };
}
