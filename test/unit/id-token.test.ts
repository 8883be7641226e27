import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { exportJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { acceptableIdTokenAlgorithms, createIdTokenVerifier, MAX_ID_TOKEN_AGE_S, type IdTokenVerifier } from "../../src/providers/openid/id-token.js";
import { createProviderHttp } from "../../src/providers/http.js";

const ISSUER = "https://tenant.example.com/";
const CLIENT_ID = "our-client";
const JWKS_URI = "https://tenant.example.com/.well-known/jwks.json";
const ENDPOINT = "oidc token";
/** The verifier's clock: every token below is minted relative to it, so the time checks are exact. */
const NOW = new Date("2026-11-21T10:00:00Z");
const NOW_S = NOW.getTime() / 1000;

/** A login's deadline, far enough away never to be the reason a check ends. */
const deadline = () => AbortSignal.timeout(5_000);

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

async function rsaKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** A JWKS endpoint as an injected `fetch`: serves whatever `keys` holds now, and counts its calls. */
function jwksServer(initial: readonly SigningKey[]) {
  const server = {
    keys: [...initial],
    calls: 0,
    answer: "keys" as "keys" | "error" | "throw",
    fetch: (async (input: string | URL | Request) => {
      server.calls += 1;
      expect(String(input instanceof Request ? input.url : input)).toBe(JWKS_URI);
      if (server.answer === "throw") throw new TypeError("fetch failed");
      if (server.answer === "error") return new Response("oops", { status: 500 });
      return new Response(JSON.stringify({ keys: server.keys.map((key) => key.jwk) }), { status: 200, headers: { "content-type": "application/json" } });
    }) as typeof fetch,
  };
  return server;
}

function verifierFor(server: ReturnType<typeof jwksServer>, algorithms?: readonly string[]): IdTokenVerifier {
  return createIdTokenVerifier({
    issuer: ISSUER,
    clientId: CLIENT_ID,
    jwksUri: JWKS_URI,
    timeoutMs: 1_000,
    http: createProviderHttp({ provider: "test", timeoutMs: 1_000, fetch: server.fetch }),
    now: () => NOW,
    ...(algorithms ? { algorithms } : {}),
  });
}

/** A token as the provider mints it for us; `claims` override or (as `undefined`) remove the defaults. */
async function idToken(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const payload: Record<string, unknown> = { iss: ISSUER, aud: CLIENT_ID, sub: "auth0|user-1", iat: NOW_S, exp: NOW_S + 300, ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
}

/** Asserts an InvalidIdToken failure whose detail does not repeat the token. */
function expectRejected(result: Awaited<ReturnType<IdTokenVerifier["verify"]>>, token: string, detail?: RegExp) {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.failure.kind).toBe("InvalidIdToken");
  if (detail && "detail" in result.failure) expect(result.failure.detail).toMatch(detail);
  const serialized = JSON.stringify(result);
  for (const part of token.split(".").filter((segment) => segment.length > 8)) expect(serialized).not.toContain(part);
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("createIdTokenVerifier", () => {
  let key: SigningKey;
  let rotated: SigningKey;
  let stranger: SigningKey;

  beforeAll(async () => {
    [key, rotated, stranger] = await Promise.all([rsaKey("key-1"), rsaKey("key-2"), rsaKey("key-1")]);
  });

  it("accepts a valid token and returns its claims, reading the keys once for many tokens", async () => {
    const server = jwksServer([key]);
    const verifier = verifierFor(server);
    const result = await verifier.verify(await idToken(key, { phone_number: "+46701234567" }), undefined, ENDPOINT, deadline());
    expect(result).toMatchObject({ ok: true, value: { sub: "auth0|user-1", iss: ISSUER, aud: CLIENT_ID, phone_number: "+46701234567" } });
    for (let i = 0; i < 3; i += 1) expect((await verifier.verify(await idToken(key), undefined, ENDPOINT, deadline())).ok).toBe(true);
    expect(server.calls).toBe(1);
  });

  it.each([
    ["another issuer", { iss: "https://evil.example.com/" }],
    ["the issuer without its trailing slash", { iss: "https://tenant.example.com" }],
    ["no issuer", { iss: undefined }],
    ["another audience", { aud: "other-client" }],
    ["an audience list without us", { aud: ["other-client", "third"] }],
    ["no audience", { aud: undefined }],
  ])("rejects a token with %s", async (_name, claims) => {
    const token = await idToken(key, claims);
    expectRejected(await verifierFor(jwksServer([key])).verify(token, undefined, ENDPOINT, deadline()), token);
  });

  it("requires azp to be ours when the audience has several entries (OIDC Core §3.1.3.7)", async () => {
    const verifier = verifierFor(jwksServer([key]));
    const withoutAzp = await idToken(key, { aud: [CLIENT_ID, "https://api.example.com"] });
    expectRejected(await verifier.verify(withoutAzp, undefined, ENDPOINT, deadline()), withoutAzp, /"azp" is not our client id/);
    const withOurAzp = await idToken(key, { aud: [CLIENT_ID, "https://api.example.com"], azp: CLIENT_ID });
    expect((await verifier.verify(withOurAzp, undefined, ENDPOINT, deadline())).ok).toBe(true);
    const singleEntryList = await idToken(key, { aud: [CLIENT_ID] });
    expect((await verifier.verify(singleEntryList, undefined, ENDPOINT, deadline())).ok).toBe(true);
  });

  it("rejects a token authorized for another client", async () => {
    const verifier = verifierFor(jwksServer([key]));
    for (const aud of [CLIENT_ID, [CLIENT_ID, "https://api.example.com"]]) {
      const token = await idToken(key, { aud, azp: "other-client" });
      expectRejected(await verifier.verify(token, undefined, ENDPOINT, deadline()), token, /"azp" is not our client id/);
    }
  });

  it("tolerates 60 s of clock skew on exp: 59 s after expiry is accepted, 61 s is not", async () => {
    const verifier = verifierFor(jwksServer([key]));
    const withinSkew = await idToken(key, { iat: NOW_S - 100, exp: NOW_S - 59 });
    expect((await verifier.verify(withinSkew, undefined, ENDPOINT, deadline())).ok).toBe(true);
    const expired = await idToken(key, { iat: NOW_S - 100, exp: NOW_S - 61 });
    expectRejected(await verifier.verify(expired, undefined, ENDPOINT, deadline()), expired, /ERR_JWT_EXPIRED \(exp\)/);
  });

  it("accepts a token issued 599 s ago and rejects one issued 601 s ago, even if it has not expired (skew included in the 600 s)", async () => {
    expect(MAX_ID_TOKEN_AGE_S).toBe(600);
    const verifier = verifierFor(jwksServer([key]));
    const recent = await idToken(key, { iat: NOW_S - 599, exp: NOW_S + 3600 });
    expect((await verifier.verify(recent, undefined, ENDPOINT, deadline())).ok).toBe(true);
    const old = await idToken(key, { iat: NOW_S - 601, exp: NOW_S + 3600 });
    expectRejected(await verifier.verify(old, undefined, ENDPOINT, deadline()), old, /\(iat\)/);
  });

  it("accepts a token issued 59 s in the future (clock skew) and rejects one issued 61 s ahead", async () => {
    const verifier = verifierFor(jwksServer([key]));
    const slightlyAhead = await idToken(key, { iat: NOW_S + 59, exp: NOW_S + 600 });
    expect((await verifier.verify(slightlyAhead, undefined, ENDPOINT, deadline())).ok).toBe(true);
    const future = await idToken(key, { iat: NOW_S + 61, exp: NOW_S + 600 });
    expectRejected(await verifier.verify(future, undefined, ENDPOINT, deadline()), future, /\(iat\)/);
  });

  it.each([
    ["sub", { sub: undefined }],
    ["exp", { exp: undefined }],
    ["iat", { iat: undefined }],
  ])("rejects a token without %s", async (_claim, claims) => {
    const token = await idToken(key, claims);
    expectRejected(await verifierFor(jwksServer([key])).verify(token, undefined, ENDPOINT, deadline()), token);
  });

  it.each([
    ["empty", ""],
    ["a number", 42],
  ])("rejects a token whose sub is %s", async (_name, sub) => {
    const token = await idToken(key, { sub });
    expectRejected(await verifierFor(jwksServer([key])).verify(token, undefined, ENDPOINT, deadline()), token);
  });

  it("checks the nonce when one was sent, and only then", async () => {
    const verifier = verifierFor(jwksServer([key]));
    const withNonce = await idToken(key, { nonce: "n-0S6_WzA2Mj" });
    expect((await verifier.verify(withNonce, "n-0S6_WzA2Mj", ENDPOINT, deadline())).ok).toBe(true);
    expectRejected(await verifier.verify(withNonce, "another-nonce", ENDPOINT, deadline()), withNonce, /"nonce" does not match/);
    const withoutNonce = await idToken(key);
    expectRejected(await verifier.verify(withoutNonce, "n-0S6_WzA2Mj", ENDPOINT, deadline()), withoutNonce, /"nonce" does not match/);
    expect((await verifier.verify(withNonce, undefined, ENDPOINT, deadline())).ok).toBe(true);
  });

  it("rejects an unsigned token (alg none)", async () => {
    const token = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ iss: ISSUER, aud: CLIENT_ID, sub: "auth0|user-1", iat: NOW_S, exp: NOW_S + 300 })}.`;
    const server = jwksServer([key]);
    expectRejected(await verifierFor(server).verify(token, undefined, ENDPOINT, deadline()), token);
    expectRejected(await verifierFor(server, ["none", "RS256"]).verify(token, undefined, ENDPOINT, deadline()), token);
  });

  it("rejects an HS256 token keyed with the RSA public key (algorithm confusion), even when discovery advertises HS256", async () => {
    const secrets = [
      key.publicKey.export({ format: "pem", type: "spki" }) as string,
      key.publicKey.export({ format: "der", type: "spki" }) as Buffer,
      Buffer.from(JSON.stringify(key.jwk)),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT({ iss: ISSUER, aud: CLIENT_ID, sub: "auth0|user-1", iat: NOW_S, exp: NOW_S + 300 })
        .setProtectedHeader({ alg: "HS256", kid: key.kid })
        .sign(new Uint8Array(secret instanceof Buffer ? secret : Buffer.from(secret)));
      const server = jwksServer([key]);
      expectRejected(await verifierFor(server).verify(token, undefined, ENDPOINT, deadline()), token);
      expectRejected(await verifierFor(server, ["HS256", "RS256"]).verify(token, undefined, ENDPOINT, deadline()), token);
    }
  });

  it("rejects a token signed by a key the provider does not publish under the same kid", async () => {
    const token = await idToken(stranger);
    expectRejected(await verifierFor(jwksServer([key])).verify(token, undefined, ENDPOINT, deadline()), token);
  });

  it("re-reads the keys once for an unknown kid, then rejects", async () => {
    const server = jwksServer([key]);
    const verifier = verifierFor(server);
    expect((await verifier.verify(await idToken(key), undefined, ENDPOINT, deadline())).ok).toBe(true);
    expect(server.calls).toBe(1);
    const token = await idToken(rotated);
    expectRejected(await verifier.verify(token, undefined, ENDPOINT, deadline()), token, /ERR_JWKS_NO_MATCHING_KEY/);
    expect(server.calls).toBe(2);
  });

  it("accepts a kid that appeared after a key rotation, with exactly one re-read", async () => {
    const server = jwksServer([key]);
    const verifier = verifierFor(server);
    expect((await verifier.verify(await idToken(key), undefined, ENDPOINT, deadline())).ok).toBe(true);
    server.keys = [rotated, key];
    const result = await verifier.verify(await idToken(rotated), undefined, ENDPOINT, deadline());
    expect(result).toMatchObject({ ok: true, value: { sub: "auth0|user-1" } });
    expect(server.calls).toBe(2);
    // The new key set is cached: tokens of either key need no further read.
    expect((await verifier.verify(await idToken(rotated), undefined, ENDPOINT, deadline())).ok).toBe(true);
    expect((await verifier.verify(await idToken(key), undefined, ENDPOINT, deadline())).ok).toBe(true);
    expect(server.calls).toBe(2);
  });

  it.each([
    ["answers 500", "error"],
    ["cannot be reached", "throw"],
  ] as const)("reports an outage, not a bad token, when the JWKS endpoint %s", async (_name, answer) => {
    const server = jwksServer([key]);
    server.answer = answer;
    const token = await idToken(key);
    const result = await verifierFor(server).verify(token, undefined, ENDPOINT, deadline());
    expect(result).toEqual({ ok: false, failure: { kind: "Unavailable", detail: "oidc token: JWKS could not be read", retryAfterSeconds: undefined } });
    expect(JSON.stringify(result)).not.toContain(token.split(".")[2]);
  });

  it("reports an outage when the JWKS endpoint answers something that is no key set, or times out", async () => {
    const invalid = jwksServer([key]);
    invalid.fetch = (async () => new Response(JSON.stringify({ not: "keys" }), { status: 200 })) as typeof fetch;
    expect(await verifierFor(invalid).verify(await idToken(key), undefined, ENDPOINT, deadline())).toMatchObject({ ok: false, failure: { kind: "Unavailable" } });
    const timingOut = jwksServer([key]);
    timingOut.fetch = (async () => {
      throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
    }) as typeof fetch;
    expect(await verifierFor(timingOut).verify(await idToken(key), undefined, ENDPOINT, deadline())).toEqual({
      ok: false,
      failure: { kind: "Unavailable", detail: "oidc token: JWKS ERR_JWKS_TIMEOUT", retryAfterSeconds: undefined },
    });
  });

  it("reports an outage during a re-read for an unknown kid as an outage", async () => {
    const server = jwksServer([key]);
    const verifier = verifierFor(server);
    expect((await verifier.verify(await idToken(key), undefined, ENDPOINT, deadline())).ok).toBe(true);
    server.answer = "error";
    expect(await verifier.verify(await idToken(rotated), undefined, ENDPOINT, deadline())).toMatchObject({ ok: false, failure: { kind: "Unavailable" } });
  });

  it("rejects text that is not a JWT without reading the keys", async () => {
    const server = jwksServer([key]);
    for (const token of ["", "not-a-jwt", "a.b.c", "a.b"]) {
      expect(await verifierFor(server).verify(token, undefined, ENDPOINT, deadline())).toMatchObject({ ok: false, failure: { kind: "InvalidIdToken" } });
    }
    expect(server.calls).toBe(0);
  });

  it("ends a check whose JWKS read never answers with an outage as soon as the caller's deadline passes", async () => {
    const server = jwksServer([key]);
    let reading: ((signal: AbortSignal | null | undefined) => void) | undefined;
    const started = new Promise<AbortSignal | null | undefined>((resolve) => (reading = resolve));
    server.fetch = ((_input: string | URL | Request, init?: RequestInit) => {
      server.calls += 1;
      reading?.(init?.signal);
      // The endpoint never answers: only the read's own signal (jose's timeout) ends it.
      return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason), { once: true }));
    }) as typeof fetch;
    const login = new AbortController();
    const verifying = verifierFor(server).verify(await idToken(key), undefined, ENDPOINT, login.signal);
    const readSignal = await started;
    login.abort();
    expect(await verifying).toEqual({
      ok: false,
      failure: { kind: "Unavailable", detail: "deadline passed while a shared provider read was running", retryAfterSeconds: undefined },
    });
    // The caller gave up; the read is bounded by its own timeout, not by this login.
    expect(readSignal?.aborted).toBe(false);
    expect(server.calls).toBe(1);
  });

  it("answers an outage at once for a caller whose deadline has already passed", async () => {
    const verifier = verifierFor(jwksServer([key]));
    expect(await verifier.verify(await idToken(key), undefined, ENDPOINT, AbortSignal.abort())).toMatchObject({ ok: false, failure: { kind: "Unavailable" } });
  });
});

describe("acceptableIdTokenAlgorithms", () => {
  it("keeps the asymmetric algorithms in their order and drops none and HMAC", () => {
    expect(acceptableIdTokenAlgorithms(["none", "HS256", "RS256", "HS384", "ES256", "HS512", "PS256", "EdDSA"])).toEqual(["RS256", "ES256", "PS256", "EdDSA"]);
    expect(acceptableIdTokenAlgorithms(["none", "HS256"])).toEqual([]);
    expect(acceptableIdTokenAlgorithms([])).toEqual([]);
  });
});
