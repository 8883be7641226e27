import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { captureLogs } from "../helpers/log-capture.js";
import { validateTruecallerAccessToken } from "../../src/auth/login-input.js";
import { createProviderHttp, type HttpOutcome } from "../../src/providers/http.js";
import { parsePhoneNumberDetailResponse, sendPhoneNumberDetailRequest } from "../../src/providers/truecaller/phone-number-detail.js";
import {
  createTruecallerSignedProfiles,
  hashOfAlgorithm,
  parseKeysResponse,
  parseSignedPayload,
  signedByOneOf,
  type SignedProfileInput,
} from "../../src/providers/truecaller/signed-profile.js";

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpOutcome {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return { kind: "response", response: { status, headers: new Headers({ "content-type": "application/json", ...headers }), body: text } };
}

function failureOf(result: { ok: true } | { ok: false; failure: unknown }): unknown {
  if (result.ok) throw new Error("expected a failure");
  return result.failure;
}

describe("parsePhoneNumberDetailResponse", () => {
  it("reads an unquoted number (as Truecaller documents it)", () => {
    expect(parsePhoneNumberDetailResponse(json(200, '{"phoneNumber": 919999999999, "countryCode": "IN"}'))).toEqual({
      ok: true,
      value: { e164: "+919999999999", countryCode: "IN" },
    });
  });

  it("reads a quoted number", () => {
    expect(parsePhoneNumberDetailResponse(json(200, { phoneNumber: "919876543210", countryCode: "IN" }))).toEqual({
      ok: true,
      value: { e164: "+919876543210", countryCode: "IN" },
    });
  });

  it("normalises from the digits alone when countryCode is missing", () => {
    expect(parsePhoneNumberDetailResponse(json(200, { phoneNumber: 919876543210 }))).toEqual({
      ok: true,
      value: { e164: "+919876543210", countryCode: "IN" },
    });
  });

  it.each([
    ["a number beyond 2^53 (no longer exact)", '{"phoneNumber": 9007199254740993, "countryCode": "IN"}'],
    ["a fractional number", '{"phoneNumber": 9198765432.5}'],
    ["no number", '{"countryCode": "IN"}'],
    ["a number too short to be one", '{"phoneNumber": "91"}'],
    ["a body that is not JSON", "<html>ok</html>"],
    ["a JSON array", "[919876543210]"],
  ])("refuses a 200 with %s as malformed", (_name, body) => {
    expect(failureOf(parsePhoneNumberDetailResponse(json(200, body)))).toMatchObject({ kind: "Unavailable", detail: expect.stringContaining("malformed response") });
  });

  it("maps 404 code 1404 to InvalidCode: the access token is not valid", () => {
    expect(failureOf(parsePhoneNumberDetailResponse(json(404, { code: 1404, message: "Invalid access token." })))).toEqual({ kind: "InvalidCode" });
  });

  it("maps 404 code 404 to Misconfigured: our client id is refused", () => {
    expect(failureOf(parsePhoneNumberDetailResponse(json(404, { code: 404, message: "Invalid partner credentials." })))).toEqual({
      kind: "Misconfigured",
      detail: "truecaller phoneNumberDetail: HTTP 404 invalid partner credentials (TRUECALLER_CLIENT_ID)",
    });
  });

  it.each([
    ["another code", { code: 1000, message: "?" }],
    ["a code as a string", { code: "1404" }],
    ["no body", ""],
    ["an HTML page", "<html>Not Found</html>"],
  ])("maps 404 with %s to Unavailable", (_name, body) => {
    expect(failureOf(parsePhoneNumberDetailResponse(json(404, body)))).toEqual({
      kind: "Unavailable",
      detail: "truecaller phoneNumberDetail: malformed response: HTTP 404 without a known code",
      retryAfterSeconds: undefined,
    });
  });

  it("maps 5xx, 429, other statuses and missing answers to failures that say so", () => {
    expect(failureOf(parsePhoneNumberDetailResponse(json(500, { code: 500 })))).toEqual({
      kind: "Unavailable",
      detail: "truecaller phoneNumberDetail: HTTP 500",
      retryAfterSeconds: undefined,
    });
    expect(failureOf(parsePhoneNumberDetailResponse(json(429, "", { "retry-after": "7" })))).toEqual({ kind: "RateLimited", retryAfterSeconds: 7 });
    expect(failureOf(parsePhoneNumberDetailResponse(json(400, { code: 400 })))).toMatchObject({
      kind: "Unavailable",
      detail: "truecaller phoneNumberDetail: malformed response: unexpected HTTP 400",
    });
    expect(failureOf(parsePhoneNumberDetailResponse({ kind: "timeout" }))).toMatchObject({ kind: "Unavailable", detail: "truecaller phoneNumberDetail: timed out" });
  });
});

describe("sendPhoneNumberDetailRequest", () => {
  /** The URL the gateway requests for an access token the app sent, or `undefined` when validation refuses the token. */
  async function requestedUrl(accessToken: string): Promise<string | undefined> {
    if (!validateTruecallerAccessToken({ accessToken, firstName: undefined, lastName: undefined }).ok) return undefined;
    let url: string | undefined;
    const http = createProviderHttp({
      provider: "truecaller_otp",
      baseUrl: "https://tc.example/",
      timeoutMs: 1_000,
      fetch: (async (input: string | URL | Request) => {
        url = input instanceof Request ? input.url : String(input);
        return new Response("{}", { status: 200 });
      }) as typeof fetch,
    });
    await sendPhoneNumberDetailRequest(http, "client-1", accessToken, new AbortController().signal);
    return url;
  }

  it("puts the access token in the path, escaped, under phoneNumberDetail/", async () => {
    expect(await requestedUrl("a1B2-c3.d4_e5~f6+g/h==")).toBe("https://tc.example/v1/otp/client/installation/phoneNumberDetail/a1B2-c3.d4_e5~f6%2Bg%2Fh%3D%3D");
  });

  // Regression: "." and ".." are b64tokens, and as a path segment they are dot segments that URL
  // resolution removes: ".." made the gateway call /v1/otp/client/installation/ with our client id.
  it.each([".", "..", "../..", "./"])("never lets the access token %j leave the phoneNumberDetail path", async (accessToken) => {
    const url = await requestedUrl(accessToken);
    if (url === undefined) return;
    expect(url).toMatch(/^https:\/\/tc\.example\/v1\/otp\/client\/installation\/phoneNumberDetail\/[^/]+$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Signed profiles

function rsaKeyPair(): { privateKey: KeyObject; publicKey: KeyObject; encoded: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { privateKey, publicKey, encoded: publicKey.export({ format: "der", type: "spki" }).toString("base64") };
}

const TRUECALLER_KEY = rsaKeyPair();
const ROTATED_KEY = rsaKeyPair();
const OTHER_KEY = rsaKeyPair();
const EC_KEY = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" }).toString("base64");

const NOW = new Date("2026-11-21T10:00:00Z");
const NOW_S = NOW.getTime() / 1000;
const NONCE = "nonce-7f3a9c";
const MAX_AGE_S = 600;

/** A TrueProfile payload as the SDK hands it over: base64 of the JSON, signed over that base64 string. */
function signedProfile(
  profile: Record<string, unknown> = {},
  options: { key?: KeyObject; hash?: string; algorithm?: string | undefined; requestNonce?: string } = {},
): SignedProfileInput {
  const body = { phoneNumber: "+919876543210", countryCode: "IN", firstName: "Asha", lastName: "Rao", requestNonce: NONCE, requestTime: NOW_S - 5, ...profile };
  const payload = Buffer.from(JSON.stringify(body)).toString("base64");
  const signature = sign(options.hash ?? "sha512", Buffer.from(payload, "utf8"), options.key ?? TRUECALLER_KEY.privateKey).toString("base64");
  return {
    payload,
    signature,
    signatureAlgorithm: "algorithm" in options ? options.algorithm : "SHA512withRSA",
    requestNonce: options.requestNonce ?? NONCE,
  };
}

describe("parseKeysResponse", () => {
  it("reads {keyType, key} objects as Truecaller serves them", () => {
    const result = parseKeysResponse(json(200, [{ keyType: "RSA", key: TRUECALLER_KEY.encoded }, { keyType: "RSA", key: ROTATED_KEY.encoded }]));
    expect(result.ok && result.value.map((key) => key.asymmetricKeyType)).toEqual(["rsa", "rsa"]);
    expect(result.ok && result.value[0]?.equals(TRUECALLER_KEY.publicKey)).toBe(true);
  });

  it("reads bare base64 strings", () => {
    const result = parseKeysResponse(json(200, [TRUECALLER_KEY.encoded]));
    expect(result.ok && result.value[0]?.equals(TRUECALLER_KEY.publicKey)).toBe(true);
  });

  it("skips keys that are not RSA and entries that are no keys", () => {
    const result = parseKeysResponse(
      json(200, [
        { keyType: "EC", key: EC_KEY },
        "not a key!",
        { keyType: "RSA", key: Buffer.from("garbage").toString("base64") },
        { keyType: "RSA", key: 42 },
        { keyType: "RSA" },
        null,
        7,
        [TRUECALLER_KEY.encoded],
        { keyType: "RSA", key: TRUECALLER_KEY.encoded },
      ]),
    );
    expect(result.ok && result.value.length).toBe(1);
    expect(result.ok && result.value[0]?.equals(TRUECALLER_KEY.publicKey)).toBe(true);
  });

  it.each([
    ["an empty list", "[]", "no RSA SubjectPublicKeyInfo key in the list"],
    ["only keys that are not RSA", JSON.stringify([{ keyType: "EC", key: EC_KEY }]), "no RSA SubjectPublicKeyInfo key in the list"],
    ["an object", JSON.stringify({ keyType: "RSA", key: TRUECALLER_KEY.encoded }), "body is not a JSON array"],
    ["a body that is not JSON", "<html>", "body is not a JSON array"],
  ])("refuses %s", (_name, body, problem) => {
    expect(failureOf(parseKeysResponse(json(200, body)))).toEqual({
      kind: "Unavailable",
      detail: `truecaller keys: malformed response: ${problem}`,
      retryAfterSeconds: undefined,
    });
  });

  it("maps 5xx and other statuses to Unavailable", () => {
    expect(failureOf(parseKeysResponse(json(503, "")))).toMatchObject({ kind: "Unavailable", detail: "truecaller keys: HTTP 503" });
    expect(failureOf(parseKeysResponse(json(404, "")))).toMatchObject({ kind: "Unavailable", detail: "truecaller keys: malformed response: unexpected HTTP 404" });
  });
});

describe("hashOfAlgorithm", () => {
  it.each([
    [undefined, "sha512"],
    ["SHA512withRSA", "sha512"],
    ["SHA384withRSA", "sha384"],
    ["SHA256withRSA", "sha256"],
  ])("%s → %s", (algorithm, hash) => {
    expect(hashOfAlgorithm(algorithm)).toBe(hash);
  });

  it.each(["SHA1withRSA", "MD5withRSA", "sha512withrsa", "sha512", "RS512", "", "toString", "__proto__", "constructor", "hasOwnProperty", "valueOf"])(
    "refuses %j",
    (algorithm) => {
      expect(hashOfAlgorithm(algorithm)).toBeUndefined();
    },
  );
});

describe("signedByOneOf", () => {
  const keys = [OTHER_KEY.publicKey, TRUECALLER_KEY.publicKey];

  it("accepts a signature over the payload string by one of the keys", () => {
    expect(signedByOneOf(keys, signedProfile(), "sha512")).toBe(true);
    expect(signedByOneOf(keys, signedProfile({}, { hash: "sha256" }), "sha256")).toBe(true);
  });

  it("refuses a signature by another key, with another hash, or over another payload", () => {
    expect(signedByOneOf([OTHER_KEY.publicKey], signedProfile(), "sha512")).toBe(false);
    expect(signedByOneOf(keys, signedProfile({}, { hash: "sha256" }), "sha512")).toBe(false);
    const input = signedProfile();
    const tampered = { ...input, payload: signedProfile({ phoneNumber: "+919800000000" }).payload };
    expect(signedByOneOf(keys, tampered, "sha512")).toBe(false);
  });

  it("refuses a signature over the decoded JSON rather than the payload string", () => {
    const input = signedProfile();
    const overJson = sign("sha512", Buffer.from(input.payload, "base64"), TRUECALLER_KEY.privateKey).toString("base64");
    expect(signedByOneOf(keys, { ...input, signature: overJson }, "sha512")).toBe(false);
  });

  it("refuses an empty signature", () => {
    expect(signedByOneOf(keys, { ...signedProfile(), signature: "" }, "sha512")).toBe(false);
  });
});

describe("parseSignedPayload", () => {
  const parse = (input: SignedProfileInput, now = NOW) => parseSignedPayload(input, now, MAX_AGE_S);
  const problemOf = (input: SignedProfileInput, now = NOW) => {
    const failure = failureOf(parse(input, now)) as { kind: string; problem?: string };
    expect(failure.kind).toBe("InvalidSignedProfile");
    return failure.problem;
  };

  it("reads the profile: the number is the subject, verified", () => {
    const result = parse(
      signedProfile({ email: "asha@example.com", avatarUrl: "https://example.com/a.png", gender: "F", city: "Bangalore", zipcode: "560001" }),
    );
    expect(result).toEqual({
      ok: true,
      value: {
        subject: "+919876543210",
        phoneNumber: { e164: "+919876543210", countryCode: "IN" },
        phoneNumberVerified: true,
        givenName: "Asha",
        familyName: "Rao",
        email: "asha@example.com",
        picture: "https://example.com/a.png",
        gender: "female",
        address: { locality: "Bangalore", postalCode: "560001" },
      },
    });
  });

  it.each(["919876543210", "+919876543210", "+91 98765 43210"])("normalises the number %j", (phoneNumber) => {
    const result = parse(signedProfile({ phoneNumber }));
    expect(result.ok && result.value.phoneNumber).toEqual({ e164: "+919876543210", countryCode: "IN" });
  });

  it.each([
    ["M", "male"],
    ["F", "female"],
    ["N", undefined],
    ["X", undefined],
    [undefined, undefined],
  ])("reads gender %j as %j", (gender, expected) => {
    const result = parse(signedProfile({ gender }));
    expect(result.ok && result.value.gender).toBe(expected);
  });

  it("builds the address from city and zipcode, either alone, and none from neither", () => {
    const onlyCity = parse(signedProfile({ city: "Pune" }));
    expect(onlyCity.ok && onlyCity.value.address).toEqual({ locality: "Pune", postalCode: undefined });
    const onlyZip = parse(signedProfile({ zipcode: "411001" }));
    expect(onlyZip.ok && onlyZip.value.address).toEqual({ locality: undefined, postalCode: "411001" });
    const neither = parse(signedProfile({ city: "" }));
    expect(neither.ok && neither.value.address).toBeUndefined();
  });

  it("refuses a payload for another nonce", () => {
    expect(problemOf(signedProfile({}, { requestNonce: "another-nonce" }))).toBe("NonceMismatch");
    expect(problemOf(signedProfile({ requestNonce: undefined }))).toBe("NonceMismatch");
  });

  it("refuses payloads older than the maximum age, or from the future beyond the skew", () => {
    expect(parse(signedProfile({ requestTime: NOW_S - MAX_AGE_S })).ok).toBe(true);
    expect(problemOf(signedProfile({ requestTime: NOW_S - MAX_AGE_S - 1 }))).toBe("Expired");
    expect(parse(signedProfile({ requestTime: NOW_S + 60 })).ok).toBe(true);
    expect(problemOf(signedProfile({ requestTime: NOW_S + 61 }))).toBe("Expired");
  });

  it("reads a requestTime in milliseconds as such", () => {
    expect(parse(signedProfile({ requestTime: NOW.getTime() - 5_000 })).ok).toBe(true);
    expect(problemOf(signedProfile({ requestTime: NOW.getTime() - (MAX_AGE_S + 1) * 1000 }))).toBe("Expired");
  });

  it.each([
    ["no requestTime", { requestTime: undefined }],
    ["a requestTime as a string", { requestTime: String(NOW_S) }],
    ["no number", { phoneNumber: undefined }],
    ["a number that is not one", { phoneNumber: "12" }],
  ])("refuses a payload with %s as malformed", (_name, profile) => {
    expect(problemOf(signedProfile(profile))).toBe("Malformed");
  });

  it("refuses a payload that is not base64 of a JSON object", () => {
    expect(problemOf({ ...signedProfile(), payload: Buffer.from("[1,2]").toString("base64") })).toBe("Malformed");
    expect(problemOf({ ...signedProfile(), payload: "bm90IGpzb24" })).toBe("Malformed");
  });
});

describe("createTruecallerSignedProfiles", () => {
  const KEYS_URL = "https://keys.example/v1/key";

  /** Truecaller's key endpoint as an injected `fetch`, and a clock the test moves. */
  function setup(keys: string[] = [TRUECALLER_KEY.encoded]) {
    const state = { keys, status: 200, calls: 0, now: NOW };
    const fetchKeys = (async (input: string | URL | Request) => {
      state.calls += 1;
      expect(input instanceof Request ? input.url : String(input)).toBe(KEYS_URL);
      const body = state.status === 200 ? JSON.stringify(state.keys.map((key) => ({ keyType: "RSA", key }))) : "oops";
      return new Response(body, { status: state.status, headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    const logs = captureLogs();
    const profiles = createTruecallerSignedProfiles({
      keysUrl: KEYS_URL,
      maxAgeSeconds: MAX_AGE_S,
      timeoutMs: 1_000,
      keysTimeoutMs: 2_000,
      logger: logs.logger,
      fetch: fetchKeys,
      now: () => state.now,
    });
    const verify = (input: SignedProfileInput) => profiles.verify(input, new AbortController().signal);
    const advance = (seconds: number) => {
      state.now = new Date(state.now.getTime() + seconds * 1000);
    };
    /** A fresh profile signed now (by the injected clock). */
    const fresh = (options: Parameters<typeof signedProfile>[1] = {}) => signedProfile({ requestTime: state.now.getTime() / 1000 }, options);
    return { state, verify, advance, fresh, logs };
  }

  const problemOf = (result: Awaited<ReturnType<ReturnType<typeof setup>["verify"]>>) =>
    result.ok ? undefined : result.failure.kind === "InvalidSignedProfile" ? result.failure.problem : result.failure.kind;

  it("verifies a profile and reads Truecaller's keys once for many", async () => {
    const { state, verify, fresh } = setup();
    for (let i = 0; i < 5; i += 1) {
      const result = await verify(fresh());
      expect(result).toMatchObject({ ok: true, value: { profile: { subject: "+919876543210", phoneNumberVerified: true } } });
    }
    expect(state.calls).toBe(1);
  });

  it("shares one key read between verifications arriving at once", async () => {
    const { state, verify, fresh } = setup();
    const results = await Promise.all(Array.from({ length: 5 }, () => verify(fresh())));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(state.calls).toBe(1);
  });

  it("re-reads the keys once for a signature no cached key verifies, then at most once a minute", async () => {
    const { state, verify, advance, fresh } = setup();
    expect((await verify(fresh())).ok).toBe(true);
    expect(state.calls).toBe(1);
    expect(problemOf(await verify(fresh({ key: OTHER_KEY.privateKey })))).toBe("BadSignature");
    expect(state.calls).toBe(2);
    for (let i = 0; i < 3; i += 1) expect(problemOf(await verify(fresh({ key: OTHER_KEY.privateKey })))).toBe("BadSignature");
    advance(59);
    expect(problemOf(await verify(fresh({ key: OTHER_KEY.privateKey })))).toBe("BadSignature");
    expect(state.calls).toBe(2);
    advance(2);
    expect(problemOf(await verify(fresh({ key: OTHER_KEY.privateKey })))).toBe("BadSignature");
    expect(state.calls).toBe(3);
    // Good signatures need no read meanwhile.
    expect((await verify(fresh())).ok).toBe(true);
    expect(state.calls).toBe(3);
  });

  it("accepts a signature of a rotated key after one re-read", async () => {
    const { state, verify, fresh } = setup();
    expect((await verify(fresh())).ok).toBe(true);
    state.keys = [ROTATED_KEY.encoded, TRUECALLER_KEY.encoded];
    expect((await verify(fresh({ key: ROTATED_KEY.privateKey }))).ok).toBe(true);
    expect((await verify(fresh({ key: ROTATED_KEY.privateKey }))).ok).toBe(true);
    expect((await verify(fresh()).then((result) => result.ok))).toBe(true);
    expect(state.calls).toBe(2);
  });

  it("re-reads the keys after a day even when every signature verifies", async () => {
    const { state, verify, advance, fresh } = setup();
    expect((await verify(fresh())).ok).toBe(true);
    advance(24 * 3600 + 1);
    expect((await verify(fresh())).ok).toBe(true);
    expect(state.calls).toBe(2);
  });

  it("keeps the last good keys when a scheduled re-read fails", async () => {
    const { state, verify, advance, fresh } = setup();
    expect((await verify(fresh())).ok).toBe(true);
    state.status = 500;
    advance(24 * 3600 + 1);
    expect((await verify(fresh())).ok).toBe(true);
    expect(state.calls).toBe(2);
  });

  it("reports an outage when the keys cannot be read, or a re-read for a failed check fails", async () => {
    const first = setup();
    first.state.status = 500;
    expect(await first.verify(first.fresh())).toEqual({
      ok: false,
      failure: { kind: "Unavailable", detail: "truecaller keys: HTTP 500", retryAfterSeconds: undefined },
    });

    const later = setup();
    expect((await later.verify(later.fresh())).ok).toBe(true);
    later.state.status = 500;
    expect(await later.verify(later.fresh({ key: OTHER_KEY.privateKey }))).toMatchObject({ ok: false, failure: { kind: "Unavailable" } });
    expect(later.state.calls).toBe(2);
  });

  it.each([
    ["an oversize payload", (input: SignedProfileInput) => ({ ...input, payload: "A".repeat(16_385) }), "Malformed"],
    ["a payload that is not base64", (input: SignedProfileInput) => ({ ...input, payload: `${input.payload}$` }), "Malformed"],
    ["a payload with spaces", (input: SignedProfileInput) => ({ ...input, payload: `${input.payload.slice(0, 10)} ${input.payload.slice(10)}` }), "Malformed"],
    ["an oversize signature", (input: SignedProfileInput) => ({ ...input, signature: "A".repeat(2_049) }), "Malformed"],
    ["a signature that is not base64", (input: SignedProfileInput) => ({ ...input, signature: "sig!" }), "Malformed"],
    ["an empty signature", (input: SignedProfileInput) => ({ ...input, signature: "" }), "Malformed"],
    ["an unknown algorithm", (input: SignedProfileInput) => ({ ...input, signatureAlgorithm: "SHA1withRSA" }), "UnsupportedAlgorithm"],
    ["an algorithm named like an Object property", (input: SignedProfileInput) => ({ ...input, signatureAlgorithm: "__proto__" }), "UnsupportedAlgorithm"],
  ])("refuses %s without reading any key", async (_name, change, problem) => {
    const { state, verify, fresh } = setup();
    const result = await verify(change(fresh()));
    expect(result).toMatchObject({ ok: false, failure: { kind: "InvalidSignedProfile", problem } });
    expect(state.calls).toBe(0);
  });

  it("takes SHA512withRSA when the app names no algorithm, and honours SHA256withRSA", async () => {
    const { verify, fresh } = setup();
    expect((await verify(fresh({ algorithm: undefined }))).ok).toBe(true);
    expect((await verify(fresh({ hash: "sha256", algorithm: "SHA256withRSA" }))).ok).toBe(true);
    expect(problemOf(await verify(fresh({ hash: "sha256", algorithm: "SHA512withRSA" })))).toBe("BadSignature");
  });

  it("checks nonce and age only on a verified signature", async () => {
    const { verify, advance, fresh } = setup();
    expect(problemOf(await verify(fresh({ requestNonce: "another" })))).toBe("NonceMismatch");
    const old = fresh();
    advance(MAX_AGE_S + 1);
    expect(problemOf(await verify(old))).toBe("Expired");
  });

  it("gives the same digest for the same payload, whatever the signature's spelling, and another for another payload", async () => {
    const { verify, fresh } = setup();
    const input = fresh();
    const first = await verify(input);
    const again = await verify({ ...input, signature: Buffer.from(input.signature, "base64").toString("base64url") });
    const other = await verify(signedProfile({ requestTime: NOW_S, firstName: "Ravi" }));
    expect(first.ok && again.ok && other.ok).toBe(true);
    if (!first.ok || !again.ok || !other.ok) return;
    expect(again.value.digest).toBe(first.value.digest);
    expect(first.value.digest).toBe(createHash("sha256").update(input.payload).digest("base64url"));
    expect(other.value.digest).not.toBe(first.value.digest);
    // The digest identifies the payload without holding its personal data.
    expect(first.value.digest).not.toContain(input.payload.slice(0, 12));
  });
});
