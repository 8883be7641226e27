/**
 * The Truecaller emulator over real HTTP: every row of the token and user-info contracts
 * (docs.truecaller.com, OAuth SDK 3.0.0, "Fetching User Token" and "Fetching User Profile"), of
 * phoneNumberDetail (non-Truecaller users, "Server Side Validation") and of the signed-profile keys
 * (`GET /v1/key`, verified as github.com/truecaller/backend-sdk-validation does), every fault kind,
 * and the control surface. Time is the injected clock; waits are bounded by aborts or
 * synchronised on the emulator's log, never on sleeps.
 */
import { spawn } from "node:child_process";
import { createPublicKey, createVerify } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTruecallerEmulator,
  DEFAULT_CLIENT_ID,
  EmulatorUsageError,
  type Fault,
  type MintCodeOptions,
  type MintedCode,
  type MintVerificationTokenOptions,
  type SignedProfile,
  type SignProfileOptions,
  type TruecallerEmulator,
  type TruecallerPublicKey,
  type TruecallerSignedProfile,
} from "../../src/emulator/truecaller-emulator.js";

const START = Date.parse("2025-01-01T00:00:00.000Z");
const SECOND = 1000;
const OTHER_CLIENT = "other-client";
const NO_CODE_GRANT_CLIENT = "no-code-grant-client";
/** RFC 7636 Appendix B: a verifier and its S256 challenge, computed independently of the emulator. */
const RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/** Longer than the emulator's body limit (16 KiB). */
const OVERSIZED_BODY = "x".repeat(20 * 1024);
/** A client-side timeout far shorter than the delays it is raced against. */
const CLIENT_TIMEOUT_MS = 50;

const INVALID_REQUEST = { error: "invalid_request", error_description: "Empty parameter(s) in request" };
const INVALID_CODE = { error: "invalid_grant", error_description: "Invalid authorization code" };
const INVALID_VERIFIER = { error: "invalid_grant", error_description: "Invalid code verifier" };
const NOT_BEARER = { error: "invalid_request", error_description: "Authentication type is not bearer token" };
const INVALID_TOKEN = { error: "invalid_token", error_description: "Token is invalid or expired" };
const INVALID_ACCESS_TOKEN = { code: 1404, message: "Invalid access token." };
const INVALID_PARTNER_CREDENTIALS = { code: 404, message: "Invalid partner credentials." };

const PHONE_NUMBER_DETAIL_PREFIX = "/v1/otp/client/installation/phoneNumberDetail/";
/** What the request log shows instead of the access token. */
const PHONE_NUMBER_DETAIL_LOGGED = `${PHONE_NUMBER_DETAIL_PREFIX}{accessToken}`;
/** The sample number of the Server Side Validation page, digits with country code. */
const SAMPLE_NUMBER = "919999999999";
/** backend-sdk-validation maps the SDK's "SHA512withRSA" to this node:crypto name. */
const NODE_SHA512_WITH_RSA = "RSA-SHA512";

let emulator: TruecallerEmulator;
let url: string;
let clock: number;
let logLines: string[];
let logWaiters: { pattern: RegExp; resolve: () => void }[];

beforeEach(async () => {
  clock = START;
  logLines = [];
  logWaiters = [];
  emulator = createTruecallerEmulator({
    clients: { [OTHER_CLIENT]: { authorizationCodeGrant: true }, [NO_CODE_GRANT_CLIENT]: { authorizationCodeGrant: false } },
    now: () => clock,
    log: (line) => {
      logLines.push(line);
      for (const waiter of logWaiters.filter(({ pattern }) => pattern.test(line))) waiter.resolve();
    },
  });
  ({ url } = await emulator.listen());
});

afterEach(() => emulator.close());

/** Resolves when the emulator logs a matching line: the point where it has finished with a request. */
function logged(pattern: RegExp): Promise<void> {
  if (logLines.some((line) => pattern.test(line))) return Promise.resolve();
  return new Promise((resolve) => logWaiters.push({ pattern, resolve }));
}

function postToken(params: Record<string, string>, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}/v1/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
    ...init,
  });
}

function tokenParams(minted: MintedCode, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: "authorization_code",
    client_id: DEFAULT_CLIENT_ID,
    code: minted.code,
    code_verifier: minted.codeVerifier ?? "",
    ...overrides,
  };
}

function getUserInfo(authorization?: string): Promise<Response> {
  return fetch(`${url}/v1/userinfo`, { headers: authorization === undefined ? {} : { Authorization: authorization } });
}

async function accessTokenFor(options: MintCodeOptions = {}): Promise<string> {
  const response = await postToken(tokenParams(emulator.mintCode(options)));
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function answerOf(response: Response): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

/** `clientId: null` sends no clientId header. */
function getPhoneNumberDetail(accessToken: string, clientId: string | null = DEFAULT_CLIENT_ID): Promise<Response> {
  return fetch(`${url}${PHONE_NUMBER_DETAIL_PREFIX}${encodeURIComponent(accessToken)}`, {
    headers: clientId === null ? {} : { clientId },
  });
}

async function fetchKeys(): Promise<TruecallerPublicKey[]> {
  const response = await fetch(`${url}/v1/key`);
  expect(response.status).toBe(200);
  return (await response.json()) as TruecallerPublicKey[];
}

/** As backend-sdk-validation checks a profile: the signature over the payload text, with any listed key. */
function verifiesWithAny(signed: Pick<SignedProfile, "payload" | "signature">, keys: readonly TruecallerPublicKey[], algorithm = NODE_SHA512_WITH_RSA): boolean {
  return keys.some(({ key }) =>
    createVerify(algorithm)
      .update(signed.payload, "utf8")
      .verify(createPublicKey({ key: Buffer.from(key, "base64"), format: "der", type: "spki" }), signed.signature, "base64"),
  );
}

function decodePayload(payload: string): unknown {
  return JSON.parse(Buffer.from(payload, "base64").toString("utf8"));
}

function postJson(path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("POST /v1/token success", () => {
  it("answers 200 with a bearer token for a generated verifier", async () => {
    const response = await postToken(tokenParams(emulator.mintCode()));

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({ access_token: expect.any(String), expires_in: 3600, token_type: "Bearer" });
  });

  it("accepts the caller's own S256 challenge (RFC 7636 Appendix B vector)", async () => {
    const minted = emulator.mintCode({ codeChallenge: RFC7636_CHALLENGE });
    expect(minted.codeVerifier).toBeUndefined();

    const response = await postToken(tokenParams(minted, { code_verifier: RFC7636_VERIFIER }));

    expect(response.status).toBe(200);
  });

  it("generates RFC 7636 verifiers: 43 to 128 unreserved characters", () => {
    expect(emulator.mintCode().codeVerifier).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
  });

  it("accepts a charset parameter on the form content type", async () => {
    const response = await postToken(tokenParams(emulator.mintCode()), {
      headers: { "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8" },
    });

    expect(response.status).toBe(200);
  });

  it("issues tokens for every registered client with the grant", async () => {
    const minted = emulator.mintCode({ clientId: OTHER_CLIENT });

    const response = await postToken(tokenParams(minted, { client_id: OTHER_CLIENT }));

    expect(response.status).toBe(200);
  });

  it("uses the configured expires_in, and the token lapses after it", async () => {
    const shortLived = createTruecallerEmulator({ tokenExpiresInSeconds: 120, now: () => clock });
    try {
      const { url: shortUrl } = await shortLived.listen();
      const minted = shortLived.mintCode();
      const response = await fetch(`${shortUrl}/v1/token`, {
        method: "POST",
        body: new URLSearchParams(tokenParams(minted)),
      });
      const { access_token: token, expires_in: expiresIn } = (await response.json()) as {
        access_token: string;
        expires_in: number;
      };
      expect(expiresIn).toBe(120);

      clock += 120 * SECOND;
      const userInfo = await fetch(`${shortUrl}/v1/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
      expect(await answerOf(userInfo)).toEqual({ status: 401, body: INVALID_TOKEN });
    } finally {
      await shortLived.close();
    }
  });
});

describe("POST /v1/token errors, in check order (each case also fails every later check)", () => {
  const ALL_WRONG = {
    grant_type: "password",
    client_id: "unknown-client",
    code: "unknown-code",
    code_verifier: "too-short",
  };

  it.each(Object.keys(ALL_WRONG))("1. 400 invalid_request when %s is missing", async (name) => {
    const params: Record<string, string> = { ...ALL_WRONG };
    delete params[name];

    expect(await answerOf(await postToken(params))).toEqual({ status: 400, body: INVALID_REQUEST });
  });

  it.each(Object.keys(ALL_WRONG))("1. 400 invalid_request when %s is empty", async (name) => {
    expect(await answerOf(await postToken({ ...ALL_WRONG, [name]: "" }))).toEqual({ status: 400, body: INVALID_REQUEST });
  });

  it("1. 400 invalid_request when the body is JSON, even with every parameter right", async () => {
    const minted = emulator.mintCode();
    const response = await fetch(`${url}/v1/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(tokenParams(minted)),
    });

    expect(await answerOf(response)).toEqual({ status: 400, body: INVALID_REQUEST });
  });

  it("1. 400 invalid_request when there is no content type", async () => {
    const response = await fetch(`${url}/v1/token`, {
      method: "POST",
      body: new Blob([new URLSearchParams(tokenParams(emulator.mintCode())).toString()]),
    });

    expect(await answerOf(response)).toEqual({ status: 400, body: INVALID_REQUEST });
  });

  it("1. 400 invalid_request when a parameter is repeated", async () => {
    const minted = emulator.mintCode();
    const form = new URLSearchParams(tokenParams(minted));
    form.append("code", minted.code);

    const response = await fetch(`${url}/v1/token`, { method: "POST", body: form });

    expect(await answerOf(response)).toEqual({ status: 400, body: INVALID_REQUEST });
  });

  it("2. 400 unsupported_grant_type naming the grant", async () => {
    expect(await answerOf(await postToken(ALL_WRONG))).toEqual({
      status: 400,
      body: { error: "unsupported_grant_type", error_description: "Grant type password not supported" },
    });
  });

  it("3. 403 invalid_client for an unknown client id", async () => {
    expect(await answerOf(await postToken({ ...ALL_WRONG, grant_type: "authorization_code" }))).toEqual({
      status: 403,
      body: { error: "invalid_client", error_description: "Invalid client Id" },
    });
  });

  it("4. 403 invalid_grant without description for a client lacking the authorization_code grant", async () => {
    const minted = emulator.mintCode({ clientId: NO_CODE_GRANT_CLIENT });

    const response = await postToken(tokenParams(minted, { client_id: NO_CODE_GRANT_CLIENT, code_verifier: "too-short" }));

    expect(await answerOf(response)).toEqual({ status: 403, body: { error: "invalid_grant" } });
  });

  it("5. 403 Invalid authorization code for an unknown code", async () => {
    const response = await postToken({ ...tokenParams(emulator.mintCode()), code: "unknown-code" });

    expect(await answerOf(response)).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("5. 403 Invalid authorization code for a code used before", async () => {
    const minted = emulator.mintCode();
    expect((await postToken(tokenParams(minted))).status).toBe(200);

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("5. 403 Invalid authorization code once the default 600 s have passed, not before", async () => {
    const early = emulator.mintCode();
    const late = emulator.mintCode({ accessDenied: true });
    clock += 600 * SECOND - 1;
    expect((await postToken(tokenParams(early))).status).toBe(200);

    clock += 1;
    expect(await answerOf(await postToken(tokenParams(late, { code_verifier: "too-short" })))).toEqual({
      status: 403,
      body: INVALID_CODE,
    });
  });

  it("5. honours codeTtlSeconds", async () => {
    const minted = emulator.mintCode({ codeTtlSeconds: 30 });
    clock += 30 * SECOND;

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("5. 403 Invalid authorization code for a code minted for another client, which spends it", async () => {
    const minted = emulator.mintCode();

    const wrongClient = await postToken(tokenParams(minted, { client_id: OTHER_CLIENT }));
    expect(await answerOf(wrongClient)).toEqual({ status: 403, body: INVALID_CODE });

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("6. 403 access_denied for a code the user declined", async () => {
    const minted = emulator.mintCode({ accessDenied: true });

    const response = await postToken(tokenParams(minted, { code_verifier: RFC7636_VERIFIER }));

    expect(await answerOf(response)).toEqual({ status: 403, body: { error: "access_denied" } });
  });

  it("7. 403 Invalid code verifier when SHA-256 of the verifier is not the challenge", async () => {
    const minted = emulator.mintCode();

    const response = await postToken(tokenParams(minted, { code_verifier: RFC7636_VERIFIER }));

    expect(await answerOf(response)).toEqual({ status: 403, body: INVALID_VERIFIER });
  });

  it("7. 403 Invalid code verifier when the verifier breaks RFC 7636 syntax", async () => {
    const minted = emulator.mintCode();

    const response = await postToken(tokenParams(minted, { code_verifier: `${minted.codeVerifier}!` }));

    expect(await answerOf(response)).toEqual({ status: 403, body: INVALID_VERIFIER });
  });
});

describe("POST /v1/token single use", () => {
  it("spends a code whose verifier was wrong", async () => {
    const minted = emulator.mintCode();
    expect((await postToken(tokenParams(minted, { code_verifier: RFC7636_VERIFIER }))).status).toBe(403);

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("spends a declined code", async () => {
    const minted = emulator.mintCode({ accessDenied: true });
    expect((await postToken(tokenParams(minted))).status).toBe(403);

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it.each([
    ["an empty verifier", { code_verifier: "" }],
    ["another grant type", { grant_type: "refresh_token" }],
    ["an unknown client", { client_id: "unknown-client" }],
    ["a client without the grant", { client_id: NO_CODE_GRANT_CLIENT }],
  ])("keeps a code rejected before the code check (%s)", async (_case, overrides) => {
    const minted = emulator.mintCode();
    expect((await postToken(tokenParams(minted, overrides))).status).not.toBe(200);

    expect((await postToken(tokenParams(minted))).status).toBe(200);
  });
});

describe("GET /v1/userinfo", () => {
  it("answers the minted profile for the default scopes: a verified Indian mobile", async () => {
    const minted = emulator.mintCode();
    const { access_token: token } = (await (await postToken(tokenParams(minted))).json()) as { access_token: string };

    const response = await getUserInfo(`Bearer ${token}`);

    expect(response.status).toBe(200);
    const profile = await response.json();
    expect(profile).toEqual(minted.profile);
    expect(profile).toEqual({
      sub: expect.stringMatching(/^[1-9]\d{16}$/),
      given_name: expect.any(String),
      family_name: expect.any(String),
      phone_number: expect.stringMatching(/^919\d{9}$/),
      email: expect.stringMatching(/^[a-z0-9.]+@example\.com$/),
      picture: expect.stringMatching(/^https:\/\//),
      gender: expect.stringMatching(/^(male|female)$/),
      phone_number_country_code: "IN",
      phone_number_verified: true,
      address: { locality: expect.any(String), postal_code: expect.stringMatching(/^\d{6}$/) },
    });
  });

  it("merges profile overrides over the generated profile, deriving the email from the names", async () => {
    const token = await accessTokenFor({ profile: { given_name: "Asha", family_name: "Rao", phone_number: "919876543210" } });

    const profile = (await (await getUserInfo(`Bearer ${token}`)).json()) as Record<string, unknown>;

    expect(profile).toMatchObject({ given_name: "Asha", family_name: "Rao", phone_number: "919876543210" });
    expect(profile.email).toMatch(/^asha\.rao\d\d@example\.com$/);
  });

  it("omits a claim overridden with undefined", async () => {
    const token = await accessTokenFor({ profile: { email: undefined } });

    const profile = (await (await getUserInfo(`Bearer ${token}`)).json()) as Record<string, unknown>;

    expect(profile).not.toHaveProperty("email");
    expect(profile).toHaveProperty("phone_number");
  });

  it.each([
    [["openid"], ["sub"]],
    [["openid", "profile"], ["sub", "given_name", "family_name", "picture", "gender"]],
    [["openid", "phone"], ["sub", "phone_number", "phone_number_country_code", "phone_number_verified"]],
    [["openid", "email"], ["sub", "email"]],
    [["openid", "address"], ["sub", "address"]],
    [["openid", "email", "unknown-scope"], ["sub", "email"]],
  ])("releases only the claims of scopes %j", async (scopes, claims) => {
    const token = await accessTokenFor({ scopes });

    const response = await getUserInfo(`Bearer ${token}`);

    expect(response.status).toBe(200);
    expect(Object.keys((await response.json()) as object).sort()).toEqual([...claims].sort());
  });

  it("allows the token to be used until it expires, not after", async () => {
    const token = await accessTokenFor();
    clock += 3600 * SECOND - 1;
    expect((await getUserInfo(`Bearer ${token}`)).status).toBe(200);
    expect((await getUserInfo(`bearer ${token}`)).status).toBe(200);

    clock += 1;
    const response = await getUserInfo(`Bearer ${token}`);
    expect(await answerOf(response)).toEqual({ status: 401, body: INVALID_TOKEN });
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  });

  it.each([
    ["no Authorization header", undefined],
    ["Basic credentials", "Basic ZW11bGF0b3I6c2VjcmV0"],
    ["the scheme alone", "Bearer"],
    ["a space where the token should be", "Bearer  "],
    ["another scheme", "Token abc"],
  ])("401 when the authentication is not a bearer token (%s)", async (_case, authorization) => {
    const response = await getUserInfo(authorization);

    expect(await answerOf(response)).toEqual({ status: 401, body: NOT_BEARER });
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("401 for an unknown token", async () => {
    expect(await answerOf(await getUserInfo("Bearer unknown-token"))).toEqual({ status: 401, body: INVALID_TOKEN });
  });

  it("404 when the user has no profile", async () => {
    const token = await accessTokenFor({ profile: null });

    expect(await answerOf(await getUserInfo(`Bearer ${token}`))).toEqual({
      status: 404,
      body: { error: "not_found", error_description: "Profile information is not present for the user" },
    });
  });

  it("422 when openid was not granted, even without a profile", async () => {
    const token = await accessTokenFor({ scopes: ["profile", "phone"], profile: null });

    expect(await answerOf(await getUserInfo(`Bearer ${token}`))).toEqual({
      status: 422,
      body: { error: "insufficient_scope", error_description: "openid scope missing in initial request" },
    });
  });
});

describe("faults", () => {
  it.each([
    ["server_error", 500],
    ["too_many_requests", 429],
    ["temporarily_unavailable", 503],
  ])("token %s answers %i before processing: the code stays usable", async (error, status) => {
    const minted = emulator.mintCode();
    emulator.injectFault({ endpoint: "token", error });

    const faulted = await postToken(tokenParams(minted));

    expect(await answerOf(faulted)).toEqual({ status, body: { error } });
    expect(faulted.headers.get("retry-after")).toBeNull();
    expect((await postToken(tokenParams(minted))).status).toBe(200);
  });

  it("sets Retry-After from retryAfterSeconds", async () => {
    emulator.injectFault({ endpoint: "token", error: "too_many_requests", retryAfterSeconds: 30 });

    const response = await postToken(tokenParams(emulator.mintCode()));

    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("30");
  });

  it("userinfo server_error answers 500, then the token still works", async () => {
    const token = await accessTokenFor();
    emulator.injectFault({ endpoint: "userinfo", error: "server_error" });

    expect(await answerOf(await getUserInfo(`Bearer ${token}`))).toEqual({ status: 500, body: { error: "server_error" } });
    expect((await getUserInfo(`Bearer ${token}`)).status).toBe(200);
  });

  it("answers a custom status, verbatim string body and headers (e.g. an HTML page from a proxy)", async () => {
    emulator.injectFault({ endpoint: "token", status: 200, body: "<html>", headers: { "Content-Type": "text/html" } });

    const response = await postToken(tokenParams(emulator.mintCode()));

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html");
    expect(await response.text()).toBe("<html>");
  });

  it("serialises a non-string body as JSON, and sends nothing without a body", async () => {
    emulator.injectFault({ endpoint: "userinfo", status: 502, body: { message: "bad gateway" } });
    emulator.injectFault({ endpoint: "userinfo", status: 504 });

    const first = await getUserInfo("Bearer whatever");
    expect(first.headers.get("content-type")).toBe("application/json");
    expect(await answerOf(first)).toEqual({ status: 502, body: { message: "bad gateway" } });
    const second = await getUserInfo("Bearer whatever");
    expect(second.status).toBe(504);
    expect(await second.text()).toBe("");
  });

  it("applies faults first in, first out, each `times` times, per endpoint", async () => {
    emulator.injectFault({ endpoint: "token", error: "server_error", times: 2 });
    emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable" });
    const minted = emulator.mintCode();

    expect(await getUserInfo("Bearer unknown-token").then(answerOf)).toEqual({ status: 401, body: INVALID_TOKEN });
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt += 1) statuses.push((await postToken(tokenParams(minted))).status);
    expect(statuses).toEqual([500, 500, 503, 200]);
  });

  it("clearFaults drops queued faults", async () => {
    emulator.injectFault({ endpoint: "token", error: "server_error", times: 5 });
    emulator.clearFaults();

    expect((await postToken(tokenParams(emulator.mintCode()))).status).toBe(200);
  });

  it("hang never answers: the client's timeout fires and the code stays usable", async () => {
    const minted = emulator.mintCode();
    emulator.injectFault({ endpoint: "token", hang: true });

    await Promise.all([
      expect(postToken(tokenParams(minted), { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).rejects.toThrow(
        expect.objectContaining({ name: "TimeoutError" }),
      ),
      logged(/POST \/v1\/token -> no answer \(fault: hang\)/),
    ]);

    expect(emulator.requests[0]).toMatchObject({ endpoint: "token", status: null, fault: "hang" });
    expect((await postToken(tokenParams(minted))).status).toBe(200);
  });

  it("close() returns promptly with a hanging request open, which then fails", async () => {
    emulator.injectFault({ endpoint: "userinfo", hang: true });
    const hanging = getUserInfo("Bearer whatever");
    await logged(/fault: hang/);

    await emulator.close();

    await expect(hanging).rejects.toThrow(TypeError);
  });

  it("delayMs without status slows a request down, then processes it normally", async () => {
    const minted = emulator.mintCode();
    emulator.injectFault({ endpoint: "token", delayMs: 100 });

    const started = performance.now();
    const response = await postToken(tokenParams(minted));

    // Timers never fire early by more than the millisecond rounding of the clock.
    expect(performance.now() - started).toBeGreaterThanOrEqual(99);
    expect(response.status).toBe(200);
  });

  it("a delayed request is processed even after its client gave up, so the code is spent", async () => {
    const minted = emulator.mintCode();
    emulator.injectFault({ endpoint: "token", delayMs: 200 });

    await expect(postToken(tokenParams(minted), { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).rejects.toThrow(
      expect.objectContaining({ name: "TimeoutError" }),
    );
    await logged(/POST \/v1\/token -> 200 \(fault: delay\)/);

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("delayMs with an error delays the error", async () => {
    emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable", delayMs: 200 });

    await expect(postToken(tokenParams(emulator.mintCode()), { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).rejects.toThrow(
      expect.objectContaining({ name: "TimeoutError" }),
    );
    await logged(/-> 503 temporarily_unavailable \(fault: answer\)/);
  });

  it("resetConnection resets the TCP connection without an answer; the code stays usable", async () => {
    const minted = emulator.mintCode();
    emulator.injectFault({ endpoint: "token", resetConnection: true });

    await expect(postToken(tokenParams(minted))).rejects.toThrow(
      expect.objectContaining({ name: "TypeError", cause: expect.objectContaining({ code: "ECONNRESET" }) }),
    );

    expect(emulator.requests[0]).toMatchObject({ status: null, fault: "reset" });
    expect((await postToken(tokenParams(minted))).status).toBe(200);
  });

  it.each<[string, Fault]>([
    ["an error of another endpoint", { endpoint: "userinfo", error: "too_many_requests" }],
    ["an unknown error", { endpoint: "token", error: "teapot" }],
    ["both status and error", { endpoint: "token", status: 500, error: "server_error" }],
    ["a body with an error", { endpoint: "token", error: "server_error", body: "x" }],
    ["a body without status", { endpoint: "token", body: "x" }],
    ["retryAfterSeconds without status", { endpoint: "token", retryAfterSeconds: 1 }],
    ["hang with a status", { endpoint: "token", hang: true, status: 500 }],
    ["resetConnection with a status", { endpoint: "token", resetConnection: true, error: "server_error" }],
    ["a fault that does nothing", { endpoint: "token" }],
    ["times 0", { endpoint: "token", error: "server_error", times: 0 }],
    ["a status out of range", { endpoint: "token", status: 99 }],
    ["an unknown endpoint", { endpoint: "authorize" as "token", error: "server_error" }],
  ])("rejects %s", (_case, fault) => {
    expect(() => emulator.injectFault(fault)).toThrow(EmulatorUsageError);
  });
});

describe("control API", () => {
  it.each<[string, MintCodeOptions]>([
    ["an unregistered client", { clientId: "nobody" }],
    ["a challenge that is not S256", { codeChallenge: "plain-text-challenge" }],
    ["an unknown profile claim", { profile: { phoneNumber: "919876543210" } as MintCodeOptions["profile"] }],
    ["a zero TTL", { codeTtlSeconds: 0 }],
  ])("mintCode rejects %s", (_case, options) => {
    expect(() => emulator.mintCode(options)).toThrow(EmulatorUsageError);
  });

  it("rejects a token lifetime that is not a positive integer", () => {
    expect(() => createTruecallerEmulator({ tokenExpiresInSeconds: 0.5 })).toThrow(EmulatorUsageError);
  });

  it("logs requests by endpoint, method, clock time and answer, and never a secret", async () => {
    const minted = emulator.mintCode();
    const { access_token: token } = (await (await postToken(tokenParams(minted))).json()) as { access_token: string };
    clock += SECOND;
    await getUserInfo(`Bearer ${token}`);
    await postToken(tokenParams(minted));

    expect(emulator.requests).toEqual([
      { endpoint: "token", method: "POST", time: "2025-01-01T00:00:00.000Z", status: 200 },
      { endpoint: "userinfo", method: "GET", time: "2025-01-01T00:00:01.000Z", status: 200 },
      { endpoint: "token", method: "POST", time: "2025-01-01T00:00:01.000Z", status: 403, error: "invalid_grant" },
    ]);
    expect(emulator.requestCount("token")).toBe(2);
    expect(emulator.requestCount("userinfo")).toBe(1);
    expect(logLines).toEqual(["POST /v1/token -> 200", "GET /v1/userinfo -> 200", "POST /v1/token -> 403 invalid_grant"]);
    const everythingRecorded = JSON.stringify(emulator.requests) + logLines.join("\n");
    for (const secret of [minted.code, minted.codeVerifier as string, token]) expect(everythingRecorded).not.toContain(secret);
  });

  it("reset() forgets codes, tokens, faults and requests", async () => {
    const minted = emulator.mintCode();
    const token = await accessTokenFor();
    emulator.injectFault({ endpoint: "userinfo", error: "server_error" });

    emulator.reset();

    expect(emulator.requests).toEqual([]);
    expect(await answerOf(await getUserInfo(`Bearer ${token}`))).toEqual({ status: 401, body: INVALID_TOKEN });
    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it("close() can be called twice", async () => {
    await emulator.close();
    await emulator.close();
  });
});

describe("HTTP control endpoints", () => {
  it("GET / shows how to mint a code with curl", async () => {
    const response = await fetch(`${url}/`);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toContain(`curl -s -X POST ${url}/emulator/codes`);
  });

  it("POST /emulator/codes mints a code with options that works end to end", async () => {
    const response = await postJson("/emulator/codes", { scopes: ["openid", "phone"], profile: { phone_number: "919876543210" } });
    expect(response.status).toBe(201);
    const minted = (await response.json()) as MintedCode;
    expect(minted).toEqual({ code: expect.any(String), codeVerifier: expect.any(String), profile: expect.any(Object) });

    const { access_token: token } = (await (await postToken(tokenParams(minted))).json()) as { access_token: string };
    const profile = await (await getUserInfo(`Bearer ${token}`)).json();

    expect(profile).toEqual({
      sub: minted.profile?.sub,
      phone_number: "919876543210",
      phone_number_country_code: "IN",
      phone_number_verified: true,
    });
  });

  it("POST /emulator/codes with no body (curl -X POST) mints with defaults", async () => {
    const response = await fetch(`${url}/emulator/codes`, { method: "POST" });

    expect(response.status).toBe(201);
    expect((await postToken(tokenParams((await response.json()) as MintedCode))).status).toBe(200);
  });

  it("POST /emulator/codes with a challenge returns no verifier", async () => {
    const response = await postJson("/emulator/codes", { codeChallenge: RFC7636_CHALLENGE, profile: null });
    const minted = (await response.json()) as MintedCode;

    expect(minted).toEqual({ code: expect.any(String), profile: null });
    expect((await postToken(tokenParams(minted, { code_verifier: RFC7636_VERIFIER }))).status).toBe(200);
  });

  it("POST /emulator/codes answers 400 for invalid options or JSON", async () => {
    const unknownClient = await postJson("/emulator/codes", { clientId: "nobody" });
    expect(await answerOf(unknownClient)).toEqual({
      status: 400,
      body: { error: "invalid_request", error_description: expect.stringContaining('Unknown client "nobody"') },
    });

    const notJson = await fetch(`${url}/emulator/codes`, { method: "POST", body: "{" });
    expect(await answerOf(notJson)).toEqual({
      status: 400,
      body: { error: "invalid_request", error_description: "The body is not valid JSON" },
    });
  });

  it("POST and DELETE /emulator/faults queue and clear faults", async () => {
    const queued = await postJson("/emulator/faults", { endpoint: "token", error: "too_many_requests", retryAfterSeconds: 7, times: 2 });
    expect(queued.status).toBe(204);

    const faulted = await postToken(tokenParams(emulator.mintCode()));
    expect(faulted.status).toBe(429);
    expect(faulted.headers.get("retry-after")).toBe("7");

    expect((await fetch(`${url}/emulator/faults`, { method: "DELETE" })).status).toBe(204);
    expect((await postToken(tokenParams(emulator.mintCode()))).status).toBe(200);
  });

  it("POST /emulator/faults answers 400 for a contradictory fault", async () => {
    const response = await postJson("/emulator/faults", { endpoint: "token", hang: true, status: 500 });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request", error_description: expect.stringContaining("hang") });
  });

  it("GET /emulator/requests lists provider requests, not control requests", async () => {
    await getUserInfo("Bearer unknown-token");

    const response = await fetch(`${url}/emulator/requests`);

    expect(await answerOf(response)).toEqual({
      status: 200,
      body: {
        requests: [{ endpoint: "userinfo", method: "GET", time: "2025-01-01T00:00:00.000Z", status: 401, error: "invalid_token" }],
      },
    });
  });

  it("POST /emulator/reset forgets everything", async () => {
    const minted = emulator.mintCode();

    expect((await fetch(`${url}/emulator/reset`, { method: "POST" })).status).toBe(204);

    expect(await answerOf(await postToken(tokenParams(minted)))).toEqual({ status: 403, body: INVALID_CODE });
  });

  it.each(["/emulator/codes", "/v1/token"])("POST %s answers 413 for a body over the limit", async (path) => {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: OVERSIZED_BODY,
    });

    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });

  it("answers 404 for an unknown path and 405 with Allow for a wrong method", async () => {
    expect((await fetch(`${url}/v1/authorize`)).status).toBe(404);

    const wrongMethod = await fetch(`${url}/v1/token`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });
});

describe("GET /v1/otp/client/installation/phoneNumberDetail/{accessToken}", () => {
  it("200 with phoneNumber as an unquoted JSON number, as the real server sends it", async () => {
    const minted = emulator.mintVerificationToken({ phoneNumber: SAMPLE_NUMBER });

    const response = await getPhoneNumberDetail(minted.accessToken);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe(`{"phoneNumber":${SAMPLE_NUMBER},"countryCode":"IN"}`);
  });

  it("numberAsString sends phoneNumber as a JSON string instead", async () => {
    const minted = emulator.mintVerificationToken({ phoneNumber: SAMPLE_NUMBER, numberAsString: true });

    const response = await getPhoneNumberDetail(minted.accessToken);

    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`{"phoneNumber":"${SAMPLE_NUMBER}","countryCode":"IN"}`);
  });

  it("mints a random Indian mobile in IN for the default client by default", async () => {
    const minted = emulator.mintVerificationToken();
    expect(minted).toEqual({ accessToken: expect.any(String), phoneNumber: expect.stringMatching(/^919\d{9}$/), countryCode: "IN" });

    const response = await getPhoneNumberDetail(minted.accessToken);

    expect(await answerOf(response)).toEqual({ status: 200, body: { phoneNumber: Number(minted.phoneNumber), countryCode: "IN" } });
  });

  it("answers any registered client its own tokens, with the minted country", async () => {
    const minted = emulator.mintVerificationToken({ clientId: NO_CODE_GRANT_CLIENT, phoneNumber: "447700900123", countryCode: "GB" });

    const response = await getPhoneNumberDetail(minted.accessToken, NO_CODE_GRANT_CLIENT);

    expect(await answerOf(response)).toEqual({ status: 200, body: { phoneNumber: 447700900123, countryCode: "GB" } });
  });

  it("does not consume the token: it answers again until the default 600 s have passed, not after", async () => {
    const minted = emulator.mintVerificationToken({ phoneNumber: SAMPLE_NUMBER });
    expect((await getPhoneNumberDetail(minted.accessToken)).status).toBe(200);
    expect((await getPhoneNumberDetail(minted.accessToken)).status).toBe(200);

    clock += 600 * SECOND - 1;
    expect((await getPhoneNumberDetail(minted.accessToken)).status).toBe(200);

    clock += 1;
    expect(await answerOf(await getPhoneNumberDetail(minted.accessToken))).toEqual({ status: 404, body: INVALID_ACCESS_TOKEN });
  });

  it("honours ttlSeconds", async () => {
    const minted = emulator.mintVerificationToken({ ttlSeconds: 30 });
    clock += 30 * SECOND;

    expect(await answerOf(await getPhoneNumberDetail(minted.accessToken))).toEqual({ status: 404, body: INVALID_ACCESS_TOKEN });
  });

  it.each([
    ["no clientId header", null],
    ["an empty clientId", ""],
    ["an unregistered clientId", "unknown-client"],
  ])("1. 404 Invalid partner credentials for %s, even with a valid token", async (_case, clientId) => {
    const minted = emulator.mintVerificationToken();

    expect(await answerOf(await getPhoneNumberDetail(minted.accessToken, clientId))).toEqual({
      status: 404,
      body: INVALID_PARTNER_CREDENTIALS,
    });
  });

  it("1. the client is checked before the token", async () => {
    expect(await answerOf(await getPhoneNumberDetail("unknown-token", "unknown-client"))).toEqual({
      status: 404,
      body: INVALID_PARTNER_CREDENTIALS,
    });
  });

  it("2. 404 Invalid access token for an unknown token", async () => {
    expect(await answerOf(await getPhoneNumberDetail("71d8367e-39f7-4de5-a3a3-2066431b9ca8"))).toEqual({
      status: 404,
      body: INVALID_ACCESS_TOKEN,
    });
  });

  it("2. 404 Invalid access token for an empty token segment", async () => {
    const response = await fetch(`${url}${PHONE_NUMBER_DETAIL_PREFIX}`, { headers: { clientId: DEFAULT_CLIENT_ID } });

    expect(await answerOf(response)).toEqual({ status: 404, body: INVALID_ACCESS_TOKEN });
  });

  it("2. 404 Invalid access token for a token minted for another client, which its own client can still read", async () => {
    const minted = emulator.mintVerificationToken({ clientId: OTHER_CLIENT });

    expect(await answerOf(await getPhoneNumberDetail(minted.accessToken))).toEqual({ status: 404, body: INVALID_ACCESS_TOKEN });
    expect((await getPhoneNumberDetail(minted.accessToken, OTHER_CLIENT)).status).toBe(200);
  });

  it("an access token from the OAuth token call is not a verification token", async () => {
    const oauthToken = await accessTokenFor();

    expect(await answerOf(await getPhoneNumberDetail(oauthToken))).toEqual({ status: 404, body: INVALID_ACCESS_TOKEN });
  });

  it("server_error answers 500 before processing, then the token still works", async () => {
    const minted = emulator.mintVerificationToken();
    emulator.injectFault({ endpoint: "phoneNumberDetail", error: "server_error" });

    expect(await answerOf(await getPhoneNumberDetail(minted.accessToken))).toEqual({ status: 500, body: { error: "server_error" } });
    expect((await getPhoneNumberDetail(minted.accessToken)).status).toBe(200);
  });

  it("resetConnection and hang apply to it too", async () => {
    const minted = emulator.mintVerificationToken();
    emulator.injectFault({ endpoint: "phoneNumberDetail", resetConnection: true });
    emulator.injectFault({ endpoint: "phoneNumberDetail", hang: true });

    await expect(getPhoneNumberDetail(minted.accessToken)).rejects.toThrow(
      expect.objectContaining({ cause: expect.objectContaining({ code: "ECONNRESET" }) }),
    );
    await Promise.all([
      expect(
        fetch(`${url}${PHONE_NUMBER_DETAIL_PREFIX}${minted.accessToken}`, {
          headers: { clientId: DEFAULT_CLIENT_ID },
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
        }),
      ).rejects.toThrow(expect.objectContaining({ name: "TimeoutError" })),
      logged(/phoneNumberDetail\/\{accessToken\} -> no answer \(fault: hang\)/),
    ]);
    expect((await getPhoneNumberDetail(minted.accessToken)).status).toBe(200);
  });

  it("logs the path with {accessToken} in place of the token, and never the token", async () => {
    const minted = emulator.mintVerificationToken();
    const foreign = emulator.mintVerificationToken({ clientId: OTHER_CLIENT });
    await getPhoneNumberDetail(minted.accessToken);
    clock += SECOND;
    await getPhoneNumberDetail(foreign.accessToken);
    await getPhoneNumberDetail(minted.accessToken, "unknown-client");
    const wrongMethod = await fetch(`${url}${PHONE_NUMBER_DETAIL_PREFIX}${minted.accessToken}`, { method: "POST" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");

    expect(emulator.requests).toEqual([
      { endpoint: "phoneNumberDetail", method: "GET", time: "2025-01-01T00:00:00.000Z", status: 200 },
      { endpoint: "phoneNumberDetail", method: "GET", time: "2025-01-01T00:00:01.000Z", status: 404, code: 1404 },
      { endpoint: "phoneNumberDetail", method: "GET", time: "2025-01-01T00:00:01.000Z", status: 404, code: 404 },
    ]);
    expect(emulator.requestCount("phoneNumberDetail")).toBe(3);
    expect(logLines).toEqual([
      `GET ${PHONE_NUMBER_DETAIL_LOGGED} -> 200`,
      `GET ${PHONE_NUMBER_DETAIL_LOGGED} -> 404 code 1404`,
      `GET ${PHONE_NUMBER_DETAIL_LOGGED} -> 404 code 404`,
    ]);
    const everythingRecorded =
      JSON.stringify(emulator.requests) + logLines.join("\n") + JSON.stringify(await (await fetch(`${url}/emulator/requests`)).json());
    for (const token of [minted.accessToken, foreign.accessToken]) expect(everythingRecorded).not.toContain(token);
  });

  it("reset() forgets verification tokens", async () => {
    const minted = emulator.mintVerificationToken();

    emulator.reset();

    expect(await answerOf(await getPhoneNumberDetail(minted.accessToken))).toEqual({ status: 404, body: INVALID_ACCESS_TOKEN });
  });

  it.each<[string, MintVerificationTokenOptions]>([
    ["an unregistered client", { clientId: "nobody" }],
    ["a number with a plus", { phoneNumber: "+919876543210" }],
    ["a number with a leading 0", { phoneNumber: "09876543210" }],
    ["a number over 15 digits", { phoneNumber: "9198765432101234" }],
    ["a lower-case country", { countryCode: "in" }],
    ["a zero TTL", { ttlSeconds: 0 }],
    ["an unknown option", { phone: SAMPLE_NUMBER } as MintVerificationTokenOptions],
  ])("mintVerificationToken rejects %s", (_case, options) => {
    expect(() => emulator.mintVerificationToken(options)).toThrow(EmulatorUsageError);
  });

  it("POST /emulator/verification-tokens mints a token that works end to end, and 400 for bad options", async () => {
    const response = await postJson("/emulator/verification-tokens", { phoneNumber: SAMPLE_NUMBER, numberAsString: true });
    expect(response.status).toBe(201);
    const minted = await response.json();
    expect(minted).toEqual({ accessToken: expect.any(String), phoneNumber: SAMPLE_NUMBER, countryCode: "IN" });

    expect(await (await getPhoneNumberDetail((minted as { accessToken: string }).accessToken)).text()).toBe(
      `{"phoneNumber":"${SAMPLE_NUMBER}","countryCode":"IN"}`,
    );
    expect((await fetch(`${url}/emulator/verification-tokens`, { method: "POST" })).status).toBe(201);
    expect(await answerOf(await postJson("/emulator/verification-tokens", { clientId: "nobody" }))).toEqual({
      status: 400,
      body: { error: "invalid_request", error_description: expect.stringContaining('Unknown client "nobody"') },
    });
  });
});

describe("GET /v1/key and signed profiles", () => {
  it("lists one RSA 2048 key as base64 SPKI DER, the same on every call", async () => {
    const response = await fetch(`${url}/v1/key`);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    const keys = (await response.json()) as TruecallerPublicKey[];
    expect(keys).toEqual([{ keyType: "RSA", key: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) }]);
    const publicKey = createPublicKey({ key: Buffer.from(keys[0]?.key ?? "", "base64"), format: "der", type: "spki" });
    expect(publicKey.asymmetricKeyType).toBe("rsa");
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(await fetchKeys()).toEqual(keys);
  });

  it("signs the payload text with SHA512withRSA: it verifies with the listed key, and not over the decoded JSON", async () => {
    const signed = emulator.signProfile({ requestNonce: "nonce-1" });
    const keys = await fetchKeys();

    expect(signed.signatureAlgorithm).toBe("SHA512withRSA");
    expect(verifiesWithAny(signed, keys)).toBe(true);
    const overJson = { ...signed, payload: Buffer.from(signed.payload, "base64").toString("utf8") };
    expect(verifiesWithAny(overJson, keys)).toBe(false);
    expect(verifiesWithAny({ ...signed, payload: `${signed.payload} ` }, keys)).toBe(false);
  });

  it("the payload decodes to a random Indian profile with the request's nonce and the clock's time in seconds", async () => {
    clock = START + 1500;

    const signed = emulator.signProfile({ requestNonce: "nonce-2" });

    const decoded = decodePayload(signed.payload);
    expect(decoded).toEqual(signed.profile);
    expect(decoded).toEqual({
      firstName: expect.any(String),
      lastName: expect.any(String),
      phoneNumber: expect.stringMatching(/^\+919\d{9}$/),
      countryCode: "IN",
      gender: expect.stringMatching(/^[MF]$/),
      email: expect.stringMatching(/^[a-z0-9.]+@example\.com$/),
      avatarUrl: expect.stringMatching(/^https:\/\/example\.com\//),
      city: expect.any(String),
      zipcode: expect.stringMatching(/^\d{6}$/),
      isTrueName: true,
      isAmbassador: false,
      requestNonce: "nonce-2",
      requestTime: START / SECOND + 1,
      verifier: expect.any(String),
      userLocale: "en",
    } satisfies Record<keyof TruecallerSignedProfile, unknown>);
  });

  it("merges profile overrides, deriving the email from the names, and honours requestTime", () => {
    const signed = emulator.signProfile({
      requestNonce: "nonce-3",
      requestTime: 1_700_000_000,
      profile: { firstName: "Asha", lastName: "Rao", phoneNumber: "+919876543210", gender: "F", email: undefined },
    });

    const decoded = decodePayload(signed.payload) as Record<string, unknown>;
    expect(decoded).toMatchObject({ firstName: "Asha", lastName: "Rao", phoneNumber: "+919876543210", gender: "F" });
    expect(decoded).toMatchObject({ requestNonce: "nonce-3", requestTime: 1_700_000_000 });
    expect(decoded).not.toHaveProperty("email");
    expect(signed.profile).not.toHaveProperty("email");
  });

  it("hashAlgorithm sha256 keeps the SHA512withRSA label: only a SHA-256 verifier accepts it", async () => {
    const signed = emulator.signProfile({ requestNonce: "nonce-4", hashAlgorithm: "sha256" });
    const keys = await fetchKeys();

    expect(signed.signatureAlgorithm).toBe("SHA512withRSA");
    expect(verifiesWithAny(signed, keys)).toBe(false);
    expect(verifiesWithAny(signed, keys, "RSA-SHA256")).toBe(true);
    expect(emulator.signProfile({ requestNonce: "nonce-5", signatureAlgorithm: "SHA256withRSA" }).signatureAlgorithm).toBe("SHA256withRSA");
  });

  it("rotateKeys lists only the new key: new signatures need a refetch, retired ones verify no more", async () => {
    const before = await fetchKeys();

    emulator.rotateKeys();

    const after = await fetchKeys();
    expect(after).toHaveLength(1);
    expect(after[0]?.key).not.toBe(before[0]?.key);
    const fresh = emulator.signProfile({ requestNonce: "nonce-6" });
    expect(verifiesWithAny(fresh, before)).toBe(false);
    expect(verifiesWithAny(fresh, after)).toBe(true);
    const retired = emulator.signProfile({ requestNonce: "nonce-7", signWith: "retired" });
    expect(verifiesWithAny(retired, before)).toBe(true);
    expect(verifiesWithAny(retired, after)).toBe(false);
  });

  it("signWith retired before any rotation is a usage error", () => {
    expect(() => emulator.signProfile({ requestNonce: "nonce-8", signWith: "retired" })).toThrow(
      new EmulatorUsageError('No retired key: signWith "retired" needs a rotateKeys() first'),
    );
  });

  it("foreign signatures verify with no listed key, before or after a rotation", async () => {
    const foreign = emulator.signProfile({ requestNonce: "nonce-9", signWith: "foreign" });
    const before = await fetchKeys();
    emulator.rotateKeys();
    const after = await fetchKeys();

    expect(verifiesWithAny(foreign, [...before, ...after])).toBe(false);
    expect(verifiesWithAny(emulator.signProfile({ requestNonce: "nonce-10", signWith: "foreign" }), after)).toBe(false);
  });

  it("reset() keeps the signing keys", async () => {
    const before = await fetchKeys();

    emulator.reset();

    expect(await fetchKeys()).toEqual(before);
  });

  it("keys server_error answers 500 before processing, then the list is served", async () => {
    emulator.injectFault({ endpoint: "keys", error: "server_error" });

    expect(await answerOf(await fetch(`${url}/v1/key`))).toEqual({ status: 500, body: { error: "server_error" } });
    expect(await fetchKeys()).toHaveLength(1);
    expect(emulator.requests).toEqual([
      { endpoint: "keys", method: "GET", time: "2025-01-01T00:00:00.000Z", status: 500, error: "server_error", fault: "answer" },
      { endpoint: "keys", method: "GET", time: "2025-01-01T00:00:00.000Z", status: 200 },
    ]);
    expect(logLines).toEqual(["GET /v1/key -> 500 server_error (fault: answer)", "GET /v1/key -> 200"]);
  });

  it("keys faults answer a custom body (an empty list), reset the connection, or hang", async () => {
    emulator.injectFault({ endpoint: "keys", status: 200, body: [] });
    emulator.injectFault({ endpoint: "keys", resetConnection: true });
    emulator.injectFault({ endpoint: "keys", hang: true });

    expect(await answerOf(await fetch(`${url}/v1/key`))).toEqual({ status: 200, body: [] });
    await expect(fetch(`${url}/v1/key`)).rejects.toThrow(expect.objectContaining({ cause: expect.objectContaining({ code: "ECONNRESET" }) }));
    await Promise.all([
      expect(fetch(`${url}/v1/key`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).rejects.toThrow(
        expect.objectContaining({ name: "TimeoutError" }),
      ),
      logged(/GET \/v1\/key -> no answer \(fault: hang\)/),
    ]);
    expect(emulator.requestCount("keys")).toBe(3);
  });

  it.each<[string, Fault]>([
    ["a token error on keys", { endpoint: "keys", error: "too_many_requests" }],
    ["a token error on phoneNumberDetail", { endpoint: "phoneNumberDetail", error: "temporarily_unavailable" }],
    ["hang with a status on keys", { endpoint: "keys", hang: true, status: 500 }],
    ["a fault that does nothing on phoneNumberDetail", { endpoint: "phoneNumberDetail" }],
  ])("injectFault rejects %s", (_case, fault) => {
    expect(() => emulator.injectFault(fault)).toThrow(EmulatorUsageError);
  });

  it.each<[string, SignProfileOptions]>([
    ["no requestNonce", {} as SignProfileOptions],
    ["an empty requestNonce", { requestNonce: "" }],
    ["requestNonce inside profile", { requestNonce: "n", profile: { requestNonce: "other" } }],
    ["requestTime inside profile", { requestNonce: "n", profile: { requestTime: 1 } }],
    ["a fractional requestTime", { requestNonce: "n", requestTime: 1.5 }],
    ["an unknown key choice", { requestNonce: "n", signWith: "stolen" as "foreign" }],
    ["an unknown hash", { requestNonce: "n", hashAlgorithm: "md5" as "sha256" }],
    ["an unknown profile field", { requestNonce: "n", profile: { given_name: "Asha" } as Partial<TruecallerSignedProfile> }],
  ])("signProfile rejects %s", (_case, options) => {
    expect(() => emulator.signProfile(options)).toThrow(EmulatorUsageError);
  });

  it("POST /emulator/signed-profiles signs with the same options, and 400 without a nonce", async () => {
    const response = await postJson("/emulator/signed-profiles", { requestNonce: "nonce-11", profile: { firstName: "Asha" } });
    expect(response.status).toBe(201);
    const signed = (await response.json()) as SignedProfile;
    expect(signed).toEqual({
      payload: expect.any(String),
      signature: expect.any(String),
      signatureAlgorithm: "SHA512withRSA",
      profile: expect.objectContaining({ firstName: "Asha", requestNonce: "nonce-11" }),
    });
    expect(decodePayload(signed.payload)).toEqual(signed.profile);
    expect(verifiesWithAny(signed, await fetchKeys())).toBe(true);

    const noNonce = await fetch(`${url}/emulator/signed-profiles`, { method: "POST" });
    expect(await answerOf(noNonce)).toEqual({
      status: 400,
      body: { error: "invalid_request", error_description: expect.stringContaining("requestNonce") },
    });
  });

  it("POST /emulator/rotate-keys replaces the listed key", async () => {
    const before = await fetchKeys();

    expect((await fetch(`${url}/emulator/rotate-keys`, { method: "POST" })).status).toBe(204);

    const after = await fetchKeys();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    const retired = (await (await postJson("/emulator/signed-profiles", { requestNonce: "n", signWith: "retired" })).json()) as SignedProfile;
    expect(verifiesWithAny(retired, before)).toBe(true);
    expect(verifiesWithAny(retired, after)).toBe(false);
  });

  it("GET / shows the new endpoints, the control routes and the one-URL settings", async () => {
    const help = await (await fetch(`${url}/`)).text();

    for (const line of [
      `${url}${PHONE_NUMBER_DETAIL_LOGGED}`,
      `${url}/v1/key`,
      `curl -s -X POST ${url}/emulator/verification-tokens`,
      `curl -s -X POST ${url}/emulator/signed-profiles`,
      `${url}/emulator/rotate-keys`,
      `TRUECALLER_VERIFICATION_BASE_URL=${url}`,
      `TRUECALLER_KEYS_URL=${url}/v1/key`,
    ]) {
      expect(help).toContain(line);
    }
  });
});

describe("npm run emulator", () => {
  it("serves every emulator from EMULATOR_PORT on, prints the mint curl and the gateway settings, and stops on SIGTERM", async () => {
    const repositoryRoot = fileURLToPath(new URL("../../", import.meta.url));
    const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/emulator/main.ts"], {
      cwd: repositoryRoot,
      env: { ...process.env, EMULATOR_PORT: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = once(child, "exit");
    let output = "";
    const listening = new Promise<string>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        const match = /Truecaller emulator listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1] !== undefined && output.includes("OIDC_REDIRECT_URI=")) resolve(match[1]);
      });
    });

    try {
      const childUrl = await listening;
      expect(output).toContain(`curl -s -X POST ${childUrl}/emulator/codes`);
      expect((await fetch(`${childUrl}/emulator/codes`, { method: "POST" })).status).toBe(201);
      const oidcIssuer = /OIDC_ISSUER=(\S+)/.exec(output)?.[1];
      const discovery = (await (await fetch(`${oidcIssuer}.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(oidcIssuer);
      expect(output).toMatch(/WGTWO_BASE_URL=http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      child.kill("SIGTERM");
    }

    expect(await exited).toEqual([0, null]);
    expect(output).toContain("Emulators stopped (SIGTERM)");
  });
});
