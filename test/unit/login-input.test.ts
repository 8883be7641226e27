import { describe, expect, it } from "vitest";
import { MAX_CODE_LENGTH, validateCodeGrant } from "../../src/auth/login-input.js";

const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"; // RFC 7636 Appendix B, 43 chars

describe("validateCodeGrant", () => {
  it("accepts a code with the RFC 7636 example verifier", () => {
    expect(validateCodeGrant("SplxlOBeZQQYbYS6WxSbIA", VERIFIER)).toEqual({
      ok: true,
      grant: { code: "SplxlOBeZQQYbYS6WxSbIA", codeVerifier: VERIFIER },
    });
  });

  it("accepts verifiers of exactly 43 and 128 unreserved characters", () => {
    expect(validateCodeGrant("c", "a".repeat(43)).ok).toBe(true);
    expect(validateCodeGrant("c", "A1-._~".repeat(21) + "ab").ok).toBe(true);
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
    expect(validateCodeGrant(code, verifier)).toEqual({ ok: false, field, problem });
  });

  it("never echoes the rejected value in the problem", () => {
    const secret = `${"s3cr3t".repeat(7)}+`;
    const result = validateCodeGrant("code", secret);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain("s3cr3t");
  });
});
