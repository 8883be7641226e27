import { describe, expect, it } from "vitest";
import { MAX_CODE_LENGTH, validateCodeGrant } from "../../src/auth/login-input.js";
import type { GrantRules } from "../../src/providers/provider.js";

const TRUECALLER_RULES: GrantRules = { verifier: "required", redirectUri: "unsupported", nonce: "unsupported" };

/** A Truecaller code login: code and verifier only. */
function codeGrant(code: string, verifier: string) {
  return validateCodeGrant({ code, verifier, redirectUri: undefined, nonce: undefined }, TRUECALLER_RULES);
}

const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"; // RFC 7636 Appendix B, 43 chars

describe("validateCodeGrant", () => {
  it("accepts a code with the RFC 7636 example verifier", () => {
    expect(codeGrant("SplxlOBeZQQYbYS6WxSbIA", VERIFIER)).toEqual({
      ok: true,
      value: { code: "SplxlOBeZQQYbYS6WxSbIA", codeVerifier: VERIFIER, redirectUri: undefined, nonce: undefined },
    });
  });

  it("accepts verifiers of exactly 43 and 128 unreserved characters", () => {
    expect(codeGrant("c", "a".repeat(43)).ok).toBe(true);
    expect(codeGrant("c", "A1-._~".repeat(21) + "ab").ok).toBe(true);
  });

  it.each([
    ["empty code", "", VERIFIER, "code", "must not be empty"],
    ["blank code", "   ", VERIFIER, "code", "must not be empty"],
    ["oversized code", "x".repeat(MAX_CODE_LENGTH + 1), VERIFIER, "code", `must be at most ${MAX_CODE_LENGTH} characters`],
    ["code with a newline", "abc\ndef", VERIFIER, "code", "may contain only printable ASCII characters"],
    ["code with non-ASCII", "abcé", VERIFIER, "code", "may contain only printable ASCII characters"],
    ["verifier of 42 characters", "code", "a".repeat(42), "verifier", "must be 43 to 128 characters (RFC 7636)"],
    ["verifier of 129 characters", "code", "a".repeat(129), "verifier", "must be 43 to 128 characters (RFC 7636)"],
    ["empty verifier", "code", "", "verifier", "must be 43 to 128 characters (RFC 7636)"],
    ["verifier with '+'", "code", `${"a".repeat(42)}+`, "verifier", "may contain only A-Z, a-z, 0-9 and - . _ ~ (RFC 7636)"],
    ["verifier with '='", "code", `${"a".repeat(42)}=`, "verifier", "may contain only A-Z, a-z, 0-9 and - . _ ~ (RFC 7636)"],
  ])("rejects %s", (_name, code, verifier, field, problem) => {
    expect(codeGrant(code, verifier)).toEqual({ ok: false, field, problem });
  });

  it("never echoes the rejected value in the problem", () => {
    const secret = `${"s3cr3t".repeat(7)}+`;
    const result = codeGrant("code", secret);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain("s3cr3t");
  });
});
