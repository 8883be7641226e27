import { describe, expect, it } from "vitest";
import type { HttpOutcome, ProviderResponse } from "../../src/providers/http.js";
import { digitsOrString, parseTokenAnswer, tokenErrorFailure } from "../../src/providers/oauth-response.js";
import { discoveryUrl, parseDiscoveryResponse } from "../../src/providers/oidc/oidc.js";
import type { IdTokenClaims } from "../../src/providers/openid/id-token.js";
import { basicCredentials, parseUserInfoResponse } from "../../src/providers/openid/openid-client.js";

const SENT_AT = new Date("2026-11-21T10:00:00Z");
const TOKEN_ENDPOINT = "oidc token";
const USERINFO_ENDPOINT = "oidc userinfo";
const ACCESS_TOKEN = "at-5ecret-value";
const REFRESH_TOKEN = "rt-5ecret-value";
const ID_TOKEN = "eyJ-id-token-5ecret";

function response(status: number, body: unknown, headers: Record<string, string> = {}): ProviderResponse {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return { status, headers: new Headers({ "content-type": "application/json", ...headers }), body: text };
}

function outcome(status: number, body: unknown, headers: Record<string, string> = {}): HttpOutcome {
  return { kind: "response", response: response(status, body, headers) };
}

function failureOf<T>(result: { ok: true; value: T } | { ok: false; failure: unknown }): unknown {
  if (result.ok) throw new Error("expected a failure");
  return result.failure;
}

describe("parseTokenAnswer", () => {
  it("accepts a 200 and measures the expiry from the send time", () => {
    const result = parseTokenAnswer(
      response(200, { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 3600, refresh_token: REFRESH_TOKEN, id_token: ID_TOKEN }),
      TOKEN_ENDPOINT,
      SENT_AT,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        access: { accessToken: ACCESS_TOKEN, tokenType: "Bearer", expiresAt: new Date("2026-11-21T11:00:00Z") },
        refreshToken: REFRESH_TOKEN,
        idToken: ID_TOKEN,
      },
    });
  });

  it("uses the default lifetime when expires_in is absent, and requires one without a default", () => {
    const body = { access_token: ACCESS_TOKEN, token_type: "Bearer" };
    const withDefault = parseTokenAnswer(response(200, body), TOKEN_ENDPOINT, SENT_AT, 300);
    expect(withDefault.ok && withDefault.value.access.expiresAt).toEqual(new Date("2026-11-21T10:05:00Z"));
    expect(failureOf(parseTokenAnswer(response(200, body), TOKEN_ENDPOINT, SENT_AT))).toEqual({
      kind: "Unavailable",
      detail: 'oidc token: malformed response: "expires_in" must be a positive number',
      retryAfterSeconds: undefined,
    });
  });

  it("prefers the provider's expires_in over the default", () => {
    const result = parseTokenAnswer(response(200, { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 60 }), TOKEN_ENDPOINT, SENT_AT, 300);
    expect(result.ok && result.value.access.expiresAt).toEqual(new Date("2026-11-21T10:01:00Z"));
  });

  it("accepts a lower-case bearer (wgtwo) and reports it as Bearer", () => {
    const result = parseTokenAnswer(response(200, { access_token: ACCESS_TOKEN, token_type: "bearer", expires_in: 60 }), TOKEN_ENDPOINT, SENT_AT);
    expect(result.ok && result.value.access.tokenType).toBe("Bearer");
  });

  it("treats absent and empty refresh and ID tokens as none", () => {
    const result = parseTokenAnswer(
      response(200, { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 60, refresh_token: "" }),
      TOKEN_ENDPOINT,
      SENT_AT,
    );
    expect(result.ok && [result.value.refreshToken, result.value.idToken]).toEqual([undefined, undefined]);
  });

  it.each([
    ["a body that is not JSON", "<html>ok</html>", "body is not a JSON object"],
    ["a JSON array", [{ access_token: ACCESS_TOKEN }], "body is not a JSON object"],
    ["no access_token", { token_type: "Bearer", expires_in: 60, refresh_token: REFRESH_TOKEN }, '"access_token" must be a non-empty string'],
    ["an empty access_token", { access_token: "", token_type: "Bearer", expires_in: 60 }, '"access_token" must be a non-empty string'],
    ["a numeric access_token", { access_token: 42, token_type: "Bearer", expires_in: 60 }, '"access_token" must be a non-empty string'],
    ["a string expires_in", { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: "60" }, '"expires_in" must be a positive number'],
    ["a negative expires_in", { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: -1 }, '"expires_in" must be a positive number'],
    ["no token_type", { access_token: ACCESS_TOKEN, expires_in: 60 }, '"token_type" must be "Bearer"'],
    ["a DPoP token_type", { access_token: ACCESS_TOKEN, token_type: "DPoP", expires_in: 60 }, '"token_type" must be "Bearer"'],
    ["a numeric refresh_token", { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 60, refresh_token: 7 }, '"refresh_token" must be a string when present'],
    ["an object id_token", { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 60, id_token: { sub: "x" } }, '"id_token" must be a string when present'],
    ["a null refresh_token", { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 60, refresh_token: null }, '"refresh_token" must be a string when present'],
  ])("refuses a 200 with %s, naming the field and no token", (_name, body, problem) => {
    const failure = failureOf(parseTokenAnswer(response(200, body), TOKEN_ENDPOINT, SENT_AT));
    expect(failure).toEqual({ kind: "Unavailable", detail: `oidc token: malformed response: ${problem}`, retryAfterSeconds: undefined });
    expect(JSON.stringify(failure)).not.toMatch(/5ecret/);
  });
});

describe("tokenErrorFailure", () => {
  const codeGrant = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    tokenErrorFailure(response(status, body, headers), TOKEN_ENDPOINT, "authorization_code");
  const refreshGrant = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    tokenErrorFailure(response(status, body, headers), TOKEN_ENDPOINT, "refresh_token");

  it.each([
    ["Auth0 403 invalid_grant for a bad code", 403, { error: "invalid_grant", error_description: "Invalid authorization code" }, { kind: "InvalidCode" }],
    ["Auth0 403 invalid_grant for a bad verifier", 403, { error: "invalid_grant", error_description: "Failed to verify code verifier" }, { kind: "InvalidVerifier" }],
    [
      "Hydra 400 invalid_grant for a PKCE mismatch",
      400,
      { error: "invalid_grant", error_description: "The PKCE code challenge did not match the code verifier." },
      { kind: "InvalidVerifier" },
    ],
    ["400 invalid_grant without description", 400, { error: "invalid_grant" }, { kind: "InvalidCode" }],
    ["403 access_denied", 403, { error: "access_denied", error_description: "Unauthorized" }, { kind: "AccessDenied" }],
  ])("maps %s", (_name, status, body, expected) => {
    expect(codeGrant(status, body)).toEqual(expected);
  });

  it.each(["invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_request", "invalid_scope"])(
    "maps 400 %s to Misconfigured for both grants",
    (error) => {
      const expected = { kind: "Misconfigured", detail: `oidc token: HTTP 400 ${error} "text"` };
      expect(codeGrant(400, { error, error_description: "text" })).toEqual(expected);
      expect(refreshGrant(400, { error, error_description: "text" })).toEqual(expected);
    },
  );

  it.each([
    { error: "invalid_client" },
    { error: "access_denied", error_description: "Unauthorized" },
    { error: "invalid_grant", error_description: "Invalid authorization code" },
    {},
  ])("maps any 401 (%j) to Misconfigured: client authentication failed", (body) => {
    expect(codeGrant(401, body)).toMatchObject({ kind: "Misconfigured" });
    expect(refreshGrant(401, body)).toMatchObject({ kind: "Misconfigured" });
  });

  it("maps invalid_grant of a refresh to RefreshTokenRejected, whatever the description", () => {
    expect(refreshGrant(400, { error: "invalid_grant", error_description: "The refresh token has been revoked" })).toEqual({
      kind: "RefreshTokenRejected",
      detail: 'oidc token: HTTP 400 invalid_grant "The refresh token has been revoked"',
    });
    expect(refreshGrant(403, { error: "invalid_grant", error_description: "Failed to verify code verifier" })).toMatchObject({ kind: "RefreshTokenRejected" });
  });

  it("maps 429 to RateLimited with the provider's Retry-After, for both grants", () => {
    expect(codeGrant(429, { error: "too_many_requests" }, { "retry-after": "30" })).toEqual({ kind: "RateLimited", retryAfterSeconds: 30 });
    expect(refreshGrant(429, "", {})).toEqual({ kind: "RateLimited", retryAfterSeconds: undefined });
  });

  it("maps 5xx to Unavailable with Retry-After, for both grants", () => {
    expect(codeGrant(503, { error: "temporarily_unavailable" }, { "retry-after": "120" })).toEqual({
      kind: "Unavailable",
      detail: "oidc token: HTTP 503",
      retryAfterSeconds: 120,
    });
    expect(refreshGrant(500, "<html>oops</html>")).toEqual({ kind: "Unavailable", detail: "oidc token: HTTP 500", retryAfterSeconds: undefined });
  });

  it.each([
    ["an unknown error code", 400, { error: "something_new" }, "oidc token: malformed response: unexpected HTTP 400 something_new"],
    ["no error code", 400, { message: "bad" }, "oidc token: malformed response: unexpected HTTP 400 without error code"],
    ["a body that is not JSON", 403, "<html>Forbidden</html>", "oidc token: malformed response: unexpected HTTP 403 without error code"],
    ["a redirect", 302, "", "oidc token: malformed response: unexpected HTTP 302 without error code"],
  ])("maps %s to Unavailable (malformed)", (_name, status, body, detail) => {
    expect(codeGrant(status, body)).toEqual({ kind: "Unavailable", detail, retryAfterSeconds: undefined });
  });

  it("never puts token values from the error body into the detail", () => {
    const body = { error: "invalid_client", error_description: "Client authentication failed", refresh_token: REFRESH_TOKEN, access_token: ACCESS_TOKEN };
    for (const failure of [codeGrant(400, body), refreshGrant(400, body), refreshGrant(401, body), codeGrant(400, { ...body, error: "new_thing" })]) {
      expect(JSON.stringify(failure)).not.toMatch(/5ecret/);
    }
  });
});

describe("digitsOrString", () => {
  it.each([
    ["a string", "919876543210", "919876543210"],
    ["an empty string", "", undefined],
    ["a safe integer", 919876543210, "919876543210"],
    ["an integer beyond 2^53", 2 ** 53 + 2, undefined],
    ["a negative number", -1, undefined],
    ["a fraction", 1.5, undefined],
    ["null", null, undefined],
  ])("reads %s", (_name, value, expected) => {
    expect(digitsOrString(value)).toBe(expected);
  });
});

describe("parseUserInfoResponse", () => {
  const idToken = (claims: Record<string, unknown> = {}): IdTokenClaims => ({ sub: "auth0|abc", iss: "https://tenant.example/", ...claims });

  it("reads the standard claims and normalises the number to E.164", () => {
    const result = parseUserInfoResponse(
      outcome(200, {
        sub: "auth0|abc",
        phone_number: "+46 70-123 45 67",
        phone_number_verified: true,
        given_name: "Zoë",
        family_name: "Berg",
        email: "zoe@example.com",
        picture: "https://example.com/z.png",
        gender: "female",
      }),
      USERINFO_ENDPOINT,
      undefined,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        subject: "auth0|abc",
        phoneNumber: { e164: "+46701234567", countryCode: "SE" },
        phoneNumberVerified: true,
        givenName: "Zoë",
        familyName: "Berg",
        email: "zoe@example.com",
        picture: "https://example.com/z.png",
        gender: "female",
        address: undefined,
      },
    });
  });

  it.each([
    ["absent", {}],
    ["false", { phone_number_verified: false }],
    ['the string "true"', { phone_number_verified: "true" }],
    ["1", { phone_number_verified: 1 }],
  ])("counts the number as verified only when phone_number_verified is true, not when %s", (_name, claims) => {
    const result = parseUserInfoResponse(outcome(200, { sub: "s", phone_number: "+46701234567", ...claims }), USERINFO_ENDPOINT, undefined);
    expect(result.ok && result.value.phoneNumberVerified).toBe(false);
  });

  it("reads a profile without a number as one without a number", () => {
    const result = parseUserInfoResponse(outcome(200, { sub: "s", phone_number_verified: true }), USERINFO_ENDPOINT, undefined);
    expect(result.ok && [result.value.phoneNumber, result.value.phoneNumberVerified]).toEqual([undefined, false]);
  });

  it.each([
    ["no sub", { phone_number: "+46701234567" }, '"sub" must be a non-empty string'],
    ["an empty sub", { sub: "" }, '"sub" must be a non-empty string'],
    ["a numeric sub", { sub: 12 }, '"sub" must be a non-empty string'],
    ["a number that is not one", { sub: "s", phone_number: "not a number" }, '"phone_number" is not a phone number'],
    ["a body that is not JSON", "<html>", "body is not a JSON object"],
  ])("refuses a 200 with %s", (_name, body, problem) => {
    expect(failureOf(parseUserInfoResponse(outcome(200, body), USERINFO_ENDPOINT, undefined))).toEqual({
      kind: "Unavailable",
      detail: `oidc userinfo: malformed response: ${problem}`,
      retryAfterSeconds: undefined,
    });
  });

  it.each([401, 403])("maps %i to ProfileUnavailable", (status) => {
    expect(failureOf(parseUserInfoResponse(outcome(status, { error: "invalid_token" }), USERINFO_ENDPOINT, undefined))).toEqual({
      kind: "ProfileUnavailable",
      detail: `oidc userinfo: HTTP ${status}`,
    });
  });

  it("maps 429, 5xx, other statuses and missing answers to failures that say so", () => {
    expect(failureOf(parseUserInfoResponse(outcome(429, "", { "retry-after": "5" }), USERINFO_ENDPOINT, undefined))).toEqual({
      kind: "RateLimited",
      retryAfterSeconds: 5,
    });
    expect(failureOf(parseUserInfoResponse(outcome(502, ""), USERINFO_ENDPOINT, undefined))).toMatchObject({ kind: "Unavailable", detail: "oidc userinfo: HTTP 502" });
    expect(failureOf(parseUserInfoResponse(outcome(404, ""), USERINFO_ENDPOINT, undefined))).toMatchObject({
      kind: "Unavailable",
      detail: "oidc userinfo: malformed response: unexpected HTTP 404",
    });
    expect(failureOf(parseUserInfoResponse({ kind: "timeout" }, USERINFO_ENDPOINT, undefined))).toEqual({
      kind: "Unavailable",
      detail: "oidc userinfo: timed out",
      retryAfterSeconds: undefined,
    });
    expect(failureOf(parseUserInfoResponse({ kind: "failed", detail: "ECONNRESET" }, USERINFO_ENDPOINT, undefined))).toMatchObject({
      kind: "Unavailable",
      detail: "oidc userinfo: ECONNRESET",
    });
  });

  it("takes claims missing from user info from the ID token, user info first", () => {
    const result = parseUserInfoResponse(
      outcome(200, { sub: "auth0|abc", given_name: "From userinfo" }),
      USERINFO_ENDPOINT,
      idToken({ given_name: "From ID token", family_name: "Berg", email: "zoe@example.com", phone_number: "+46701234567", phone_number_verified: true }),
    );
    expect(result.ok && result.value).toMatchObject({
      subject: "auth0|abc",
      givenName: "From userinfo",
      familyName: "Berg",
      email: "zoe@example.com",
      phoneNumber: { e164: "+46701234567" },
      phoneNumberVerified: true,
    });
  });

  it("takes the number and its verification from the same source", () => {
    // User info has the number but not its verification; the ID token's flag must not vouch for it.
    const unverified = parseUserInfoResponse(
      outcome(200, { sub: "auth0|abc", phone_number: "+46701234567" }),
      USERINFO_ENDPOINT,
      idToken({ phone_number: "+46709999999", phone_number_verified: true }),
    );
    expect(unverified.ok && [unverified.value.phoneNumber?.e164, unverified.value.phoneNumberVerified]).toEqual(["+46701234567", false]);
    // User info says "verified" about no number; the ID token's unverified number stays unverified.
    const flagWithoutNumber = parseUserInfoResponse(
      outcome(200, { sub: "auth0|abc", phone_number_verified: true }),
      USERINFO_ENDPOINT,
      idToken({ phone_number: "+46709999999", phone_number_verified: false }),
    );
    expect(flagWithoutNumber.ok && [flagWithoutNumber.value.phoneNumber?.e164, flagWithoutNumber.value.phoneNumberVerified]).toEqual([
      "+46709999999",
      false,
    ]);
  });

  it("refuses user info of another subject than the ID token's", () => {
    expect(failureOf(parseUserInfoResponse(outcome(200, { sub: "auth0|other" }), USERINFO_ENDPOINT, idToken()))).toEqual({
      kind: "InvalidIdToken",
      detail: 'oidc userinfo: "sub" differs from the ID token\'s',
    });
  });
});

describe("basicCredentials", () => {
  /** What a server does with the header: base64, split at the first colon, form-decode each half. */
  function decode(header: string): [string, string] {
    const [scheme, encoded] = header.split(" ");
    expect(scheme).toBe("Basic");
    const joined = Buffer.from(encoded ?? "", "base64").toString("utf8");
    const colon = joined.indexOf(":");
    const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
    return [formDecode(joined.slice(0, colon)), formDecode(joined.slice(colon + 1))];
  }

  it("form-encodes id and secret before joining them (RFC 6749 §2.3.1)", () => {
    const header = basicCredentials("a b:c", "p@ss/w+rd");
    expect(header).toBe(`Basic ${Buffer.from("a+b%3Ac:p%40ss%2Fw%2Brd").toString("base64")}`);
    expect(decode(header)).toEqual(["a b:c", "p@ss/w+rd"]);
  });

  it.each([
    ["plain", "client-1", "secret"],
    ["unicode", "klïent", "sécret€"],
    ["percent signs", "100%", "%41"],
  ])("round-trips %s credentials", (_name, id, secret) => {
    expect(decode(basicCredentials(id, secret))).toEqual([id, secret]);
  });
});

describe("parseDiscoveryResponse", () => {
  const ISSUER = "https://tenant.example.com/";
  const DOCUMENT = {
    issuer: ISSUER,
    authorization_endpoint: "https://tenant.example.com/authorize",
    token_endpoint: "https://tenant.example.com/oauth/token",
    userinfo_endpoint: "https://tenant.example.com/userinfo",
    jwks_uri: "https://tenant.example.com/.well-known/jwks.json",
    id_token_signing_alg_values_supported: ["RS256", "HS256"],
  };

  it("reads the endpoints and the advertised algorithms we accept", () => {
    expect(parseDiscoveryResponse(outcome(200, DOCUMENT), ISSUER)).toEqual({
      ok: true,
      value: {
        tokenEndpoint: "https://tenant.example.com/oauth/token",
        userinfoEndpoint: "https://tenant.example.com/userinfo",
        jwksUri: "https://tenant.example.com/.well-known/jwks.json",
        algorithms: ["RS256"],
      },
    });
  });

  it("keeps only the asymmetric algorithms of those advertised", () => {
    const result = parseDiscoveryResponse(outcome(200, { ...DOCUMENT, id_token_signing_alg_values_supported: ["HS256", "RS256"] }), ISSUER);
    expect(result.ok && result.value.algorithms).toEqual(["RS256"]);
    const several = parseDiscoveryResponse(outcome(200, { ...DOCUMENT, id_token_signing_alg_values_supported: ["none", "ES256", "HS512", "PS256"] }), ISSUER);
    expect(several.ok && several.value.algorithms).toEqual(["ES256", "PS256"]);
  });

  it.each([
    ["only HS256", ["HS256"]],
    ["only none", ["none"]],
    ["only HMAC and none", ["HS256", "HS384", "HS512", "none"]],
  ])("refuses a provider that signs ID tokens with %s as misconfigured", (_name, advertised) => {
    expect(failureOf(parseDiscoveryResponse(outcome(200, { ...DOCUMENT, id_token_signing_alg_values_supported: advertised }), ISSUER))).toEqual({
      kind: "Misconfigured",
      detail: "oidc discovery: ID tokens are signed only with algorithms we refuse (none or HMAC)",
    });
  });

  it.each([
    ["absent", undefined],
    ["empty", []],
    ["not an array", "RS256"],
    ["without strings", [1, null]],
  ])("defaults the algorithms to RS256 when the list is %s", (_name, advertised) => {
    const result = parseDiscoveryResponse(outcome(200, { ...DOCUMENT, id_token_signing_alg_values_supported: advertised }), ISSUER);
    expect(result.ok && result.value.algorithms).toEqual(["RS256"]);
  });

  it.each([
    ["without the trailing slash", "https://tenant.example.com"],
    ["with another host", "https://evil.example.com/"],
    ["with another case", "https://Tenant.example.com/"],
    ["absent", undefined],
  ])("refuses a document whose issuer is the configured one %s", (_name, issuer) => {
    expect(failureOf(parseDiscoveryResponse(outcome(200, { ...DOCUMENT, issuer }), ISSUER))).toEqual({
      kind: "Misconfigured",
      detail: 'oidc discovery: "issuer" differs from OIDC_ISSUER',
    });
  });

  it("matches an issuer configured without trailing slash exactly too", () => {
    const issuer = "https://tenant.example.com";
    expect(parseDiscoveryResponse(outcome(200, { ...DOCUMENT, issuer }), issuer).ok).toBe(true);
    expect(parseDiscoveryResponse(outcome(200, DOCUMENT), issuer).ok).toBe(false);
  });

  it.each(["token_endpoint", "userinfo_endpoint", "jwks_uri"])("refuses a document without %s, or with one that is not a URL", (field) => {
    const expected = {
      kind: "Unavailable",
      detail: 'oidc discovery: malformed response: "token_endpoint", "userinfo_endpoint" and "jwks_uri" must be URLs',
      retryAfterSeconds: undefined,
    };
    expect(failureOf(parseDiscoveryResponse(outcome(200, { ...DOCUMENT, [field]: undefined }), ISSUER))).toEqual(expected);
    expect(failureOf(parseDiscoveryResponse(outcome(200, { ...DOCUMENT, [field]: "/relative" }), ISSUER))).toEqual(expected);
  });

  it.each(["token_endpoint", "userinfo_endpoint", "jwks_uri"])("refuses an http %s for an https issuer", (field) => {
    const document = { ...DOCUMENT, [field]: "http://tenant.example.com/x" };
    expect(failureOf(parseDiscoveryResponse(outcome(200, document), ISSUER))).toMatchObject({ kind: "Unavailable" });
  });

  it("refuses endpoints of other schemes", () => {
    const document = { ...DOCUMENT, jwks_uri: "file:///etc/jwks.json" };
    expect(parseDiscoveryResponse(outcome(200, document), ISSUER).ok).toBe(false);
  });

  it("accepts http endpoints where the issuer itself is http (local emulation)", () => {
    const issuer = "http://127.0.0.1:4011/";
    const document = {
      issuer,
      token_endpoint: "http://127.0.0.1:4011/oauth/token",
      userinfo_endpoint: "http://127.0.0.1:4011/userinfo",
      jwks_uri: "http://127.0.0.1:4011/jwks",
    };
    expect(parseDiscoveryResponse(outcome(200, document), issuer)).toMatchObject({ ok: true, value: { tokenEndpoint: "http://127.0.0.1:4011/oauth/token" } });
  });

  it("maps 404 to Misconfigured, 503 to Unavailable, a body that is not JSON to malformed", () => {
    expect(failureOf(parseDiscoveryResponse(outcome(404, "Not Found"), ISSUER))).toEqual({
      kind: "Misconfigured",
      detail: "oidc discovery: HTTP 404 (is OIDC_ISSUER right?)",
    });
    expect(failureOf(parseDiscoveryResponse(outcome(503, "", { "retry-after": "10" }), ISSUER))).toEqual({
      kind: "Unavailable",
      detail: "oidc discovery: HTTP 503",
      retryAfterSeconds: 10,
    });
    expect(failureOf(parseDiscoveryResponse(outcome(200, "<html>"), ISSUER))).toEqual({
      kind: "Unavailable",
      detail: "oidc discovery: malformed response: body is not a JSON object",
      retryAfterSeconds: undefined,
    });
    expect(failureOf(parseDiscoveryResponse({ kind: "timeout" }, ISSUER))).toMatchObject({ kind: "Unavailable", detail: "oidc discovery: timed out" });
  });
});

describe("discoveryUrl", () => {
  it.each([
    ["https://tenant.example.com/", "https://tenant.example.com/.well-known/openid-configuration"],
    ["https://tenant.example.com", "https://tenant.example.com/.well-known/openid-configuration"],
    ["https://example.com/realms/app/", "https://example.com/realms/app/.well-known/openid-configuration"],
    ["https://example.com/realms/app", "https://example.com/realms/app/.well-known/openid-configuration"],
  ])("%s → %s", (issuer, url) => {
    expect(discoveryUrl(issuer)).toBe(url);
  });
});
