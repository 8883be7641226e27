import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { AccessTokens } from "../../src/auth/access-tokens.js";
import { hashRefreshToken, isWellFormedRefreshToken, newRefreshToken, RefreshTokenSuccession } from "../../src/auth/refresh-tokens.js";
import { generateSigningKeySetText, parseSigningKeys, type SigningKeySet } from "../../src/auth/signing-keys.js";

function keySet(...texts: string[]): SigningKeySet {
  const parsed = parseSigningKeys(JSON.stringify({ keys: texts.flatMap((text) => JSON.parse(text).keys) }));
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.keys;
}

function ed25519KeySetText(kid: string): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  return JSON.stringify({ keys: [{ ...privateKey.export({ format: "jwk" }), kid }] });
}

const settings = { issuer: "https://id.example.com", audience: "api", ttlSeconds: 900 };
const claims = (issuedAt = new Date()) => ({
  userId: randomUUID(),
  sessionId: randomUUID(),
  tokenId: randomUUID(),
  phoneNumber: "+919876543210",
  issuedAt,
});

describe("AccessTokens", () => {
  it("signs EdDSA with an Ed25519 key that stock verifiers accept from the published JWKS", async () => {
    const tokens = new AccessTokens({ ...settings, keys: keySet(ed25519KeySetText("ed-1")) });
    const issued = claims();
    const { token, expiresAt } = await tokens.sign(issued);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "EdDSA", kid: "ed-1", typ: "JWT" });
    const { payload } = await jwtVerify(token, createLocalJWKSet(JSON.parse(JSON.stringify(tokens.jwks()))), { issuer: settings.issuer, audience: "api" });
    expect(payload).toMatchObject({ sub: issued.userId, sid: issued.sessionId, jti: issued.tokenId, phone_number: "+919876543210", phone_number_verified: true });
    expect(expiresAt.getTime()).toBe((payload.exp ?? 0) * 1000);
    expect(await tokens.verify(token)).toEqual({ ok: true, userId: issued.userId, sessionId: issued.sessionId });
  });

  it("tells expired tokens from invalid ones, and tolerates clock skew between instances", async () => {
    const tokens = new AccessTokens({ ...settings, keys: keySet(generateSigningKeySetText()) });
    const expired = await tokens.sign(claims(new Date(Date.now() - 901_000 - 10_000)));
    expect(await tokens.verify(expired.token)).toEqual({ ok: false, reason: "expired" });
    const fromAFastClock = await tokens.sign(claims(new Date(Date.now() + 3_000)));
    expect((await tokens.verify(fromAFastClock.token)).ok).toBe(true);
    // `iat` is not checked (only we sign, and `exp` bounds a token): an instance whose clock runs a minute
    // ahead must not have its fresh tokens refused by the others.
    const fromAFasterInstance = await tokens.sign(claims(new Date(Date.now() + 60_000)));
    expect((await tokens.verify(fromAFasterInstance.token)).ok).toBe(true);
    const justExpired = await tokens.sign(claims(new Date(Date.now() - 902_000)));
    expect((await tokens.verify(justExpired.token)).ok).toBe(true);
  });

  it("accepts a token it verified before only until it expires", async () => {
    const tokens = new AccessTokens({ ...settings, ttlSeconds: 1, keys: keySet(generateSigningKeySetText()) });
    // iat is whole seconds: exp + the 5 s tolerance falls between 0.5 and 1.5 s from now.
    const issued = claims(new Date(Date.now() - 4_500));
    const { token } = await tokens.sign(issued);
    expect(await tokens.verify(token)).toEqual({ ok: true, userId: issued.userId, sessionId: issued.sessionId });
    expect(await tokens.verify(token)).toEqual({ ok: true, userId: issued.userId, sessionId: issued.sessionId });

    // Past exp + tolerance (not a race: the boundary is fixed by the token).
    await new Promise((resolve) => setTimeout(resolve, 1_600));

    expect(await tokens.verify(token)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses tokens of another issuer or audience, and of keys it does not hold", async () => {
    const keys = keySet(generateSigningKeySetText());
    const ours = new AccessTokens({ ...settings, keys });
    const otherIssuer = new AccessTokens({ ...settings, keys, issuer: "https://evil.example.com" });
    const otherAudience = new AccessTokens({ ...settings, keys, audience: "other-api" });
    const otherKeys = new AccessTokens({ ...settings, keys: keySet(generateSigningKeySetText()) });
    for (const signer of [otherIssuer, otherAudience, otherKeys]) {
      expect(await ours.verify((await signer.sign(claims())).token)).toEqual({ ok: false, reason: "invalid" });
    }
    expect(await ours.verify("a.b.c")).toEqual({ ok: false, reason: "invalid" });
  });

  it("refuses a token under our own key whose sub or sid is not a UUID (it must not reach a uuid column)", async () => {
    const tokens = new AccessTokens({ ...settings, keys: keySet(ed25519KeySetText("ed-1")) });
    const { token: good } = await tokens.sign(claims());
    expect(await tokens.verify(good)).toMatchObject({ ok: true });
    for (const broken of [{ ...claims(), userId: "not-a-uuid" }, { ...claims(), sessionId: "1" }]) {
      const { token } = await tokens.sign(broken);
      expect(await tokens.verify(token)).toEqual({ ok: false, reason: "invalid" });
    }
  });

  it("verifies with every listed key and signs with the first", async () => {
    const oldKey = generateSigningKeySetText();
    const newKey = ed25519KeySetText("new");
    const before = new AccessTokens({ ...settings, keys: keySet(oldKey) });
    const after = new AccessTokens({ ...settings, keys: keySet(newKey, oldKey) });
    const oldToken = (await before.sign(claims())).token;
    expect((await after.verify(oldToken)).ok).toBe(true);
    expect(decodeProtectedHeader((await after.sign(claims())).token).kid).toBe("new");
    expect(after.jwks().keys.map((key) => key.kid)).toEqual(["new", keySet(oldKey)[0].kid]);
  });
});

describe("refresh tokens", () => {
  const keyring = [
    { id: "k2", key: randomBytes(32) },
    { id: "k1", key: randomBytes(32) },
  ] as const;

  it("are 256 random bits in base64url, and only that shape is accepted", () => {
    const token = newRefreshToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newRefreshToken()).not.toBe(token);
    expect(isWellFormedRefreshToken(token)).toBe(true);
    for (const bad of ["", `${token}=`, token.slice(1), `${token.slice(1)}+`]) expect(isWellFormedRefreshToken(bad)).toBe(false);
    expect(hashRefreshToken(token)).toHaveLength(32);
  });

  it("have a successor that follows from the token and the key, so a duplicate refresh gets the same one", () => {
    const successions = new RefreshTokenSuccession(keyring);
    const token = newRefreshToken();
    const next = successions.next(token);
    expect(next.keyId).toBe("k2");
    expect(isWellFormedRefreshToken(next.token)).toBe(true);
    expect(successions.next(token)).toEqual(next);
    expect(successions.derive(token, "k2")).toBe(next.token);
    expect(successions.derive(token, "k1")).not.toBe(next.token);
    expect(successions.next(newRefreshToken()).token).not.toBe(next.token);
    expect(successions.derive(token, "gone")).toBeUndefined();
    // Another deployment (another keyring) derives something else from the same token.
    expect(new RefreshTokenSuccession([{ id: "k2", key: randomBytes(32) }]).next(token).token).not.toBe(next.token);
  });
});
