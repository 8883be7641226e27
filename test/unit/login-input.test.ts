import { describe, expect, it } from "vitest";
import {
  MAX_CODE_LENGTH,
  MAX_NAME_LENGTH,
  MAX_NONCE_LENGTH,
  validateCodeGrant,
  validateSignedProfileInput,
  validateTruecallerAccessToken,
  type CodeLoginInput,
} from "../../src/auth/login-input.js";
import type { GrantRules } from "../../src/providers/provider.js";
import { MAX_PAYLOAD_LENGTH, MAX_SIGNATURE_LENGTH } from "../../src/providers/truecaller/signed-profile.js";

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

/** The generic OIDC provider without a configured redirect URI: a public client. */
const OIDC_RULES: GrantRules = { verifier: "required", redirectUri: "required", nonce: "supported" };
/** wgtwo: a confidential client with a configured redirect URI. */
const WGTWO_RULES: GrantRules = { verifier: "optional", redirectUri: "optional", nonce: "supported" };

function grant(overrides: Partial<CodeLoginInput>, rules: GrantRules) {
  return validateCodeGrant({ code: "the-code", verifier: VERIFIER, redirectUri: undefined, nonce: undefined, ...overrides }, rules);
}

describe("validateCodeGrant against the provider's rules", () => {
  it("takes a grant without verifier where the verifier is optional, refuses it where required", () => {
    expect(grant({ verifier: undefined }, WGTWO_RULES)).toEqual({
      ok: true,
      value: { code: "the-code", codeVerifier: undefined, redirectUri: undefined, nonce: undefined },
    });
    expect(grant({ verifier: undefined, redirectUri: "https://app.example.com/cb" }, OIDC_RULES)).toEqual({
      ok: false,
      field: "verifier",
      problem: "is required by this provider (PKCE, RFC 7636)",
    });
    expect(grant({ verifier: "a".repeat(42) }, WGTWO_RULES)).toMatchObject({ ok: false, field: "verifier" });
  });

  it("requires a redirect URI where none is configured, and takes none where one is", () => {
    expect(grant({}, OIDC_RULES)).toEqual({ ok: false, field: "redirectUri", problem: "is required by this provider (none is configured)" });
    expect(grant({}, WGTWO_RULES).ok).toBe(true);
  });

  it.each([
    "https://app.example.com/callback",
    "com.example.app://callback",
    "com.example.app:/oauth2redirect",
    "http://127.0.0.1:8080/cb?x=1",
  ])("accepts the redirect URI %s", (redirectUri) => {
    expect(grant({ redirectUri }, OIDC_RULES)).toMatchObject({ ok: true, value: { redirectUri } });
    expect(grant({ redirectUri }, WGTWO_RULES)).toMatchObject({ ok: true, value: { redirectUri } });
  });

  it("refuses a redirect URI a provider does not use", () => {
    expect(grant({ redirectUri: "https://app.example.com/cb" }, TRUECALLER_RULES)).toEqual({
      ok: false,
      field: "redirectUri",
      problem: "is not used by this provider",
    });
  });

  it.each([
    ["a relative path", "/callback"],
    ["no URI at all", "not a uri"],
    ["an empty string", ""],
    ["a newline", "https://app.example.com/cb\nX-Injected: 1"],
    ["non-ASCII", "https://app.example.com/café"],
    ["too many characters", `https://app.example.com/${"a".repeat(MAX_CODE_LENGTH)}`],
  ])("refuses a redirect URI with %s", (_name, redirectUri) => {
    expect(grant({ redirectUri }, OIDC_RULES)).toEqual({
      ok: false,
      field: "redirectUri",
      problem: `must be an absolute URI of at most ${MAX_CODE_LENGTH} characters`,
    });
  });

  it("accepts a nonce where an ID token carries it, up to the maximum length", () => {
    expect(grant({ nonce: "n-0S6_WzA2Mj" }, WGTWO_RULES)).toMatchObject({ ok: true, value: { nonce: "n-0S6_WzA2Mj" } });
    expect(grant({ nonce: "n".repeat(MAX_NONCE_LENGTH) }, WGTWO_RULES).ok).toBe(true);
  });

  it.each([
    ["for a provider without ID tokens", TRUECALLER_RULES, "n-0S6_WzA2Mj", "is not supported by this provider (it issues no ID token)"],
    ["that is empty", WGTWO_RULES, "", "must not be empty"],
    ["that is blank", WGTWO_RULES, "   ", "must not be empty"],
    ["that is too long", WGTWO_RULES, "n".repeat(MAX_NONCE_LENGTH + 1), `must be at most ${MAX_NONCE_LENGTH} characters`],
    ["with a control character", WGTWO_RULES, "nonce\u0000", "may contain only printable ASCII characters"],
    ["with a tab", WGTWO_RULES, "non\tce", "may contain only printable ASCII characters"],
    ["with non-ASCII", WGTWO_RULES, "nöncé", "may contain only printable ASCII characters"],
  ])("refuses a nonce %s", (_name, rules, nonce, problem) => {
    expect(grant({ nonce }, rules)).toEqual({ ok: false, field: "nonce", problem });
  });

  it("never echoes a rejected redirect URI or nonce", () => {
    const uri = grant({ redirectUri: "s3cr3t-not-a-uri" }, OIDC_RULES);
    const nonce = grant({ nonce: `s3cr3t${"x".repeat(MAX_NONCE_LENGTH)}` }, WGTWO_RULES);
    const unsupported = grant({ nonce: "s3cr3t" }, TRUECALLER_RULES);
    for (const result of [uri, nonce, unsupported]) {
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain("s3cr3t");
    }
  });
});

describe("validateTruecallerAccessToken", () => {
  const TOKEN = "a1B2-c3.d4_e5~f6+g/h==";
  const check = (accessToken: string, firstName?: string, lastName?: string) => validateTruecallerAccessToken({ accessToken, firstName, lastName });

  it("accepts an RFC 6750 b64token with trimmed names", () => {
    expect(check(TOKEN, "  Asha ", " Rao")).toEqual({ ok: true, value: { accessToken: TOKEN, firstName: "Asha", lastName: "Rao" } });
  });

  it("reads blank and absent names as none", () => {
    expect(check(TOKEN, "   ", "")).toEqual({ ok: true, value: { accessToken: TOKEN, firstName: undefined, lastName: undefined } });
    expect(check(TOKEN)).toEqual({ ok: true, value: { accessToken: TOKEN, firstName: undefined, lastName: undefined } });
  });

  it.each(["Zoë", "Zoe\u0308", "ग्रेस", "José María", "O'Brien-Smith", "Jr.", "李小龙", "Ørsted", "Élodie 2"])("accepts the name %j", (name) => {
    expect(check(TOKEN, name, name)).toEqual({ ok: true, value: { accessToken: TOKEN, firstName: name, lastName: name } });
  });

  it("accepts names of exactly the maximum length after trimming", () => {
    expect(check(TOKEN, ` ${"a".repeat(MAX_NAME_LENGTH)} `).ok).toBe(true);
  });

  it.each([
    ["empty", "", "must not be empty"],
    ["blank", "   ", "must not be empty"],
    ["too long", "a".repeat(MAX_CODE_LENGTH + 1), `must be at most ${MAX_CODE_LENGTH} characters`],
    ["with a newline", "abc\ndef", "may contain only printable ASCII characters"],
    ["with non-ASCII", "tokén", "may contain only printable ASCII characters"],
    ["with a space", "abc def", "may contain only A-Z, a-z, 0-9 and - . _ ~ + / ="],
    ["with a percent sign", "abc%2Fdef", "may contain only A-Z, a-z, 0-9 and - . _ ~ + / ="],
    ["with a query", "abc?x=1", "may contain only A-Z, a-z, 0-9 and - . _ ~ + / ="],
    ["with '=' inside", "abc=def", "may contain only A-Z, a-z, 0-9 and - . _ ~ + / ="],
    ["of padding only", "==", "may contain only A-Z, a-z, 0-9 and - . _ ~ + / ="],
  ])("refuses an access token %s", (_name, accessToken, problem) => {
    expect(check(accessToken)).toEqual({ ok: false, field: "accessToken", problem });
  });

  it.each([
    ["firstName", "too long", "a".repeat(MAX_NAME_LENGTH + 1), `must be at most ${MAX_NAME_LENGTH} characters`],
    ["firstName", "with a control character", "Asha\u0007", "may contain only letters, digits, spaces and . ' -"],
    ["firstName", "with a zero-width space", "As\u200Bha", "may contain only letters, digits, spaces and . ' -"],
    ["firstName", "with a right-to-left override", "\u202EahsA", "may contain only letters, digits, spaces and . ' -"],
    ["lastName", "with markup", "<script>", "may contain only letters, digits, spaces and . ' -"],
    ["lastName", "with a newline inside", "Ra\no", "may contain only letters, digits, spaces and . ' -"],
    ["lastName", "with an emoji", "Rao 😀", "may contain only letters, digits, spaces and . ' -"],
  ] as const)("refuses a %s %s", (field, _name, value, problem) => {
    const result = field === "firstName" ? check(TOKEN, value, "Rao") : check(TOKEN, "Asha", value);
    expect(result).toEqual({ ok: false, field, problem });
  });

  it("never echoes a rejected token or name", () => {
    for (const result of [check("s3cr3t token"), check(`s3cr3t${"a".repeat(MAX_CODE_LENGTH)}`), check(TOKEN, "s3cr3t<>"), check(TOKEN, "Asha", `s3cr3t${"a".repeat(MAX_NAME_LENGTH)}`)]) {
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain("s3cr3t");
    }
  });
});

describe("validateSignedProfileInput", () => {
  const INPUT = { payload: "eyJwaG9uZU51bWJlciI6Ii", signature: "c2lnbmF0dXJl", signatureAlgorithm: "SHA512withRSA", requestNonce: "nonce-1" };

  it("passes a well-sized input through unchanged, with or without an algorithm", () => {
    expect(validateSignedProfileInput(INPUT)).toEqual({ ok: true, value: INPUT });
    const withoutAlgorithm = { ...INPUT, signatureAlgorithm: undefined };
    expect(validateSignedProfileInput(withoutAlgorithm)).toEqual({ ok: true, value: withoutAlgorithm });
    expect(validateSignedProfileInput({ ...INPUT, payload: "A".repeat(MAX_PAYLOAD_LENGTH) }).ok).toBe(true);
    expect(validateSignedProfileInput({ ...INPUT, signature: "A".repeat(MAX_SIGNATURE_LENGTH) }).ok).toBe(true);
  });

  it.each([
    ["payload", "empty", { payload: "" }, "must not be empty"],
    ["payload", "too long", { payload: "A".repeat(MAX_PAYLOAD_LENGTH + 1) }, `must be at most ${MAX_PAYLOAD_LENGTH} characters`],
    ["payload", "with a newline", { payload: "eyJ\nhIjo" }, "may contain only printable ASCII characters"],
    ["signature", "blank", { signature: "  " }, "must not be empty"],
    ["signature", "too long", { signature: "A".repeat(MAX_SIGNATURE_LENGTH + 1) }, `must be at most ${MAX_SIGNATURE_LENGTH} characters`],
    ["signatureAlgorithm", "empty", { signatureAlgorithm: "" }, "must not be empty"],
    ["signatureAlgorithm", "too long", { signatureAlgorithm: "S".repeat(MAX_NAME_LENGTH + 1) }, `must be at most ${MAX_NAME_LENGTH} characters`],
    ["signatureAlgorithm", "non-ASCII", { signatureAlgorithm: "SHA512wïthRSA" }, "may contain only printable ASCII characters"],
    ["requestNonce", "empty", { requestNonce: "" }, "must not be empty"],
    ["requestNonce", "too long", { requestNonce: "n".repeat(MAX_NONCE_LENGTH + 1) }, `must be at most ${MAX_NONCE_LENGTH} characters`],
    ["requestNonce", "with a control character", { requestNonce: "nonce\u0000" }, "may contain only printable ASCII characters"],
  ])("refuses a %s that is %s", (field, _name, change, problem) => {
    expect(validateSignedProfileInput({ ...INPUT, ...change })).toEqual({ ok: false, field, problem });
  });

  it("limits the payload to 16384 and the signature to 2048 characters", () => {
    expect([MAX_PAYLOAD_LENGTH, MAX_SIGNATURE_LENGTH]).toEqual([16_384, 2_048]);
    expect(validateSignedProfileInput({ ...INPUT, signature: "A".repeat(2_049) })).toEqual({ ok: false, field: "signature", problem: "must be at most 2048 characters" });
    expect(validateSignedProfileInput({ ...INPUT, payload: "A".repeat(2_049) }).ok).toBe(true);
  });

  it("never echoes a rejected value", () => {
    const results = [
      validateSignedProfileInput({ ...INPUT, payload: `s3cr3t${"A".repeat(MAX_PAYLOAD_LENGTH)}` }),
      validateSignedProfileInput({ ...INPUT, signature: "s3cr3t\n" }),
      validateSignedProfileInput({ ...INPUT, requestNonce: "s3cr3t\u0001" }),
    ];
    for (const result of results) {
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain("s3cr3t");
    }
  });
});
