import { describe, expect, it } from "vitest";
import { outcomeOfProviderFailure } from "../../src/auth/login.service.js";
import { toLoginResult } from "../../src/graphql/login-result.union.js";
import { UserError } from "../../src/graphql/user-error.js";
import type { HttpOutcome } from "../../src/providers/http.js";
import type { ProviderFailure, ProviderResult } from "../../src/providers/provider.js";
import { parseTokenResponse, parseUserInfoResponse } from "../../src/providers/truecaller/truecaller.js";

const SENT_AT = new Date("2026-11-21T10:00:00Z");

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpOutcome {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return { kind: "response", response: { status, headers: new Headers({ "content-type": "application/json", ...headers }), body: text } };
}

/** The client-visible error code and retry hint a provider failure ends in, through every layer. */
function clientView(result: ProviderResult<unknown>): { code: string; retryAfterSeconds?: number | null } {
  if (result.ok) throw new Error("expected a failure");
  const member = toLoginResult(outcomeOfProviderFailure(result.failure));
  if (!(member instanceof UserError)) throw new Error("expected a UserError member");
  return "retryAfterSeconds" in member
    ? { code: member.code, retryAfterSeconds: (member as { retryAfterSeconds: number | null }).retryAfterSeconds }
    : { code: member.code };
}

describe("Truecaller token response", () => {
  it("accepts the documented 200 and computes expiry from the send time", async () => {
    const result = parseTokenResponse(json(200, { access_token: "some-access-token", expires_in: 3600, token_type: "Bearer" }), SENT_AT);
    expect(result).toEqual({
      ok: true,
      value: {
        access: { accessToken: "some-access-token", tokenType: "Bearer", expiresAt: new Date("2026-11-21T11:00:00Z") },
        refreshToken: undefined,
        idToken: undefined,
      },
    });
  });

  it("accepts a lower-case bearer token type", async () => {
    const result = parseTokenResponse(json(200, { access_token: "t", expires_in: 60, token_type: "bearer" }), SENT_AT);
    expect(result.ok).toBe(true);
  });

  // Every error row of "Fetching User Token", with the body Truecaller documents.
  it.each([
    [400, { error: "unsupported_grant_type", error_description: "Grant type password not supported" }, {}, { code: "PROVIDER_MISCONFIGURED" }],
    [403, { error: "invalid_client", error_description: "Invalid client Id" }, {}, { code: "PROVIDER_MISCONFIGURED" }],
    [500, { error: "server_error" }, {}, { code: "PROVIDER_UNAVAILABLE", retryAfterSeconds: null }],
    [400, { error: "invalid_request", error_description: "Empty parameter(s) in request" }, {}, { code: "PROVIDER_MISCONFIGURED" }],
    [403, { error: "invalid_grant" }, {}, { code: "PROVIDER_MISCONFIGURED" }],
    [403, { error: "access_denied" }, {}, { code: "ACCESS_DENIED" }],
    [403, { error: "invalid_grant", error_description: "Invalid authorization code" }, {}, { code: "INVALID_CODE" }],
    [403, { error: "invalid_grant", error_description: "Invalid code verifier" }, {}, { code: "INVALID_VERIFIER" }],
    [429, { error: "too_many_requests" }, { "retry-after": "30" }, { code: "RATE_LIMITED", retryAfterSeconds: 30 }],
    [429, { error: "too_many_requests" }, {}, { code: "RATE_LIMITED", retryAfterSeconds: null }],
    [503, { error: "temporarily_unavailable" }, { "retry-after": "120" }, { code: "PROVIDER_UNAVAILABLE", retryAfterSeconds: 120 }],
    [502, "<html>Bad gateway</html>", {}, { code: "PROVIDER_UNAVAILABLE", retryAfterSeconds: null }],
    [401, { error: "something_new" }, {}, { code: "PROVIDER_UNAVAILABLE", retryAfterSeconds: null }],
  ])("HTTP %i %j → %j", async (status, body, headers, expected) => {
    expect(clientView(parseTokenResponse(json(status, body, headers), SENT_AT))).toEqual(expected);
  });

  it("takes invalid_grant descriptions it has not seen as a bad code, or a bad verifier when they say so", async () => {
    const expired = parseTokenResponse(json(403, { error: "invalid_grant", error_description: "Invalid/expired auth code" }), SENT_AT);
    const verifier = parseTokenResponse(json(403, { error: "invalid_grant", error_description: "Invalid/expired code verifier" }), SENT_AT);
    expect(clientView(expired).code).toBe("INVALID_CODE");
    expect(clientView(verifier).code).toBe("INVALID_VERIFIER");
  });

  it.each([
    ["a non-JSON body", "<html>ok</html>"],
    ["a JSON array", [{ access_token: "t" }]],
    ["no access_token", { expires_in: 3600, token_type: "Bearer" }],
    ["an empty access_token", { access_token: "", expires_in: 3600, token_type: "Bearer" }],
    ["expires_in as a string", { access_token: "t", expires_in: "3600", token_type: "Bearer" }],
    ["a zero expires_in", { access_token: "t", expires_in: 0, token_type: "Bearer" }],
    ["a non-Bearer token_type", { access_token: "t", expires_in: 3600, token_type: "MAC" }],
  ])("answers PROVIDER_UNAVAILABLE for a 200 with %s", async (_name, body) => {
    const result = parseTokenResponse(json(200, body), SENT_AT);
    expect(clientView(result).code).toBe("PROVIDER_UNAVAILABLE");
  });

  it("names the offending field in the log detail, without any value", async () => {
    const result = parseTokenResponse(json(200, { access_token: 42, expires_in: 3600, token_type: "Bearer" }), SENT_AT);
    expect(result).toEqual({
      ok: false,
      failure: { kind: "Unavailable", detail: 'truecaller token: malformed response: "access_token" must be a non-empty string', retryAfterSeconds: undefined },
    });
  });

  it.each([
    ["a timeout", { kind: "timeout" } as HttpOutcome],
    ["a refused connection", { kind: "failed", detail: "ECONNREFUSED" } as HttpOutcome],
  ])("answers PROVIDER_UNAVAILABLE for %s", async (_name, outcome) => {
    expect(clientView(parseTokenResponse(outcome, SENT_AT)).code).toBe("PROVIDER_UNAVAILABLE");
  });
});

describe("Truecaller userinfo response", () => {
  const documentedProfile = {
    sub: "13627101294235520",
    given_name: "Asha",
    family_name: "Rao",
    phone_number: "919876543210",
    email: "asha@example.com",
    picture: "https://www.truecaller.com/xyz",
    gender: "female",
    phone_number_country_code: "IN",
    phone_number_verified: true,
    address: { locality: "Bangalore", postal_code: "560001" },
  };

  it("normalises the documented profile", async () => {
    expect(parseUserInfoResponse(json(200, documentedProfile))).toEqual({
      ok: true,
      value: {
        subject: "13627101294235520",
        phoneNumber: { e164: "+919876543210", countryCode: "IN" },
        phoneNumberVerified: true,
        givenName: "Asha",
        familyName: "Rao",
        email: "asha@example.com",
        picture: "https://www.truecaller.com/xyz",
        gender: "female",
        address: { locality: "Bangalore", postalCode: "560001" },
      },
    });
  });

  it("reads a profile limited to the openid and phone scopes", async () => {
    const result = parseUserInfoResponse(
      json(200, { sub: "1", phone_number: "919876543210", phone_number_country_code: "IN", phone_number_verified: true }),
    );
    expect(result.ok && result.value).toMatchObject({ subject: "1", givenName: undefined, email: undefined, address: undefined });
  });

  it("keeps digits that arrive as JSON numbers", async () => {
    const result = parseUserInfoResponse(json(200, { sub: 13627101294235, phone_number: 919876543210, phone_number_verified: true }));
    expect(result.ok && result.value).toMatchObject({ subject: "13627101294235", phoneNumber: { e164: "+919876543210" } });
  });

  it.each([
    ["false", false],
    ["the string 'true'", "true"],
    ["missing", undefined],
  ])("treats phone_number_verified %s as not verified", async (_name, verified) => {
    const result = parseUserInfoResponse(json(200, { ...documentedProfile, phone_number_verified: verified }));
    expect(result.ok && result.value.phoneNumberVerified).toBe(false);
  });

  // Every error row of "Fetching User Profile".
  it.each([
    [401, { error: "invalid_token" }, "PROFILE_UNAVAILABLE"],
    [404, { error: "not_found" }, "PROFILE_UNAVAILABLE"],
    [422, { error: "openid scope missing" }, "PROFILE_UNAVAILABLE"],
    [500, { error: "server_error" }, "PROVIDER_UNAVAILABLE"],
  ])("HTTP %i → %s", async (status, body, code) => {
    expect(clientView(parseUserInfoResponse(json(status, body))).code).toBe(code);
  });

  it.each([
    ["no sub", { ...documentedProfile, sub: undefined }],
    ["a phone number that is no phone number", { ...documentedProfile, phone_number: "12" }],
    ["a non-JSON body", "oops"],
  ])("answers PROVIDER_UNAVAILABLE for a 200 with %s", async (_name, body) => {
    expect(clientView(parseUserInfoResponse(json(200, body))).code).toBe("PROVIDER_UNAVAILABLE");
  });
});

describe("provider failure → GraphQL member", () => {
  const OPERATOR_DETAIL = "truecaller token: HTTP 403 invalid_client";

  it.each<[ProviderFailure, string]>([
    [{ kind: "InvalidCode" }, "InvalidCodeError"],
    [{ kind: "InvalidVerifier" }, "InvalidVerifierError"],
    [{ kind: "AccessDenied" }, "AccessDeniedError"],
    [{ kind: "Misconfigured", detail: OPERATOR_DETAIL }, "ProviderMisconfiguredError"],
    [{ kind: "RateLimited", retryAfterSeconds: 5 }, "RateLimitedError"],
    [{ kind: "Unavailable", detail: OPERATOR_DETAIL, retryAfterSeconds: undefined }, "ProviderUnavailableError"],
    [{ kind: "ProfileUnavailable", detail: OPERATOR_DETAIL }, "ProfileUnavailableError"],
  ])("%j → %s, and the detail stays out of the client's view", (failure, memberName) => {
    const member = toLoginResult(outcomeOfProviderFailure(failure));
    expect(member.constructor.name).toBe(memberName);
    expect(JSON.stringify(member)).not.toContain(OPERATOR_DETAIL);
  });
});
