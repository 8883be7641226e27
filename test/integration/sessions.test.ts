import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKeySetText } from "../../src/auth/signing-keys.js";
import { loadConfig } from "../../src/config.js";
import { startGateway, type Gateway } from "../../src/gateway.js";
import { captureLogs } from "../helpers/log-capture.js";
import { postGraphql, startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

const ISSUER = "https://phonegate.test";
const AUDIENCE = "phonegate-test-api";
const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      __typename
      ... on SessionRefreshed { session { accessToken tokenType expiresAt refreshToken refreshTokenExpiresAt } }
      ... on UserError { code message }
    }
  }
`;
const ME = "{ me { id phoneNumber } }";
const SIGN_OUT = "mutation SignOut($all: Boolean) { signOut(allSessions: $all) { revokedSessions } }";

interface IssuedSession {
  accessToken: string;
  tokenType: string;
  expiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}
interface SignedIn {
  user: { id: string; phoneNumber: string };
  session: IssuedSession;
}

describe("sessions: access tokens, refresh rotation, sign-out", () => {
  let t: TestGateway;
  let db: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway();
    db = t.db;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function signIn(profile: { phone_number?: string; sub?: string } = {}): Promise<SignedIn> {
    const result = await t.login(Object.keys(profile).length > 0 ? { profile } : undefined);
    expect(result.__typename).toBe("LoginSuccess");
    return result as unknown as SignedIn;
  }

  function me(accessToken?: string) {
    return t.graphql<{ me: { id: string; phoneNumber: string } | null }>(ME, {}, accessToken ? { authorization: `Bearer ${accessToken}` } : {});
  }

  async function refresh(refreshToken: string): Promise<Record<string, unknown>> {
    const body = await t.graphql<{ refreshSession: Record<string, unknown> }>(REFRESH, { refreshToken });
    if (!body.data) throw new Error(`refreshSession failed: ${JSON.stringify(body.errors)}`);
    return body.data.refreshSession;
  }

  async function refreshed(refreshToken: string): Promise<IssuedSession> {
    const result = await refresh(refreshToken);
    expect(result.__typename).toBe("SessionRefreshed");
    return (result as { session: IssuedSession }).session;
  }

  function signOut(accessToken: string, all?: boolean) {
    return t.graphql<{ signOut: { revokedSessions: number } }>(SIGN_OUT, all === undefined ? {} : { all }, { authorization: `Bearer ${accessToken}` });
  }

  function expectUnauthenticated(body: { data?: unknown; errors?: Array<{ extensions?: Record<string, unknown> }> }) {
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  }

  /** The first signing key of the gateway, to mint tokens the gateway would have signed. */
  function gatewaySigningKey() {
    const [jwk] = JSON.parse(t.env.SESSION_SIGNING_KEYS ?? "").keys as Array<{ kid: string }>;
    return { kid: jwk!.kid, key: createPrivateKey({ key: jwk as never, format: "jwk" }) };
  }

  it("issues an ES256 JWT whose claims and signature check out with the JWKS fetched over HTTP", async () => {
    const { user, session } = await signIn();
    expect(session.tokenType).toBe("Bearer");

    const discovery = (await (await fetch(`${t.gateway.url}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(discovery).toEqual({ issuer: ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks.json` });
    // The test serves the JWKS from the gateway's real address; jwks_uri names the public one.
    const jwks = createRemoteJWKSet(new URL(`${t.gateway.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(session.accessToken, jwks, { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"] });

    expect(protectedHeader).toEqual({ alg: "ES256", kid: gatewaySigningKey().kid, typ: "JWT" });
    expect(payload).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: user.id,
      sid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      iat: expect.any(Number),
      exp: expect.any(Number),
      phone_number: user.phoneNumber,
      phone_number_verified: true,
    });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(Math.abs(payload.iat! * 1000 - Date.now())).toBeLessThan(60_000);
    expect(new Date(session.expiresAt).getTime()).toBe(payload.exp! * 1000);
    const refreshExpiry = new Date(session.refreshTokenExpiresAt).getTime() - payload.iat! * 1000;
    expect(refreshExpiry / 86_400_000).toBeCloseTo(30, 1);

    const published = (await (await fetch(`${t.gateway.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(published.keys).toEqual([expect.objectContaining({ kty: "EC", crv: "P-256", kid: gatewaySigningKey().kid, alg: "ES256", use: "sig" })]);
    expect(published.keys[0]).not.toHaveProperty("d");
  });

  it("keeps refresh tokens as SHA-256 hashes only", async () => {
    const { session } = await signIn();
    const { rows } = await db.query("SELECT * FROM refresh_tokens WHERE token_hash = $1", [createHash("sha256").update(session.refreshToken).digest()]);
    expect(rows).toHaveLength(1);
    const dump = JSON.stringify((await db.query("SELECT * FROM refresh_tokens")).rows);
    expect(dump).not.toContain(session.refreshToken);
    expect(dump).not.toContain(Buffer.from(session.refreshToken).toString("hex"));
  });

  describe("me", () => {
    it("is null without a token and the user with a valid one", async () => {
      const { user, session } = await signIn();
      expect(await me()).toEqual({ data: { me: null } });
      expect(await me(session.accessToken)).toEqual({ data: { me: { id: user.id, phoneNumber: user.phoneNumber } } });
    });

    it("answers UNAUTHENTICATED for an expired token", async () => {
      const { user } = await signIn();
      const { kid, key } = gatewaySigningKey();
      const issuedAt = Math.floor(Date.now() / 1000) - 3600;
      const expired = await new SignJWT({ sid: randomUUID(), phone_number: user.phoneNumber, phone_number_verified: true })
        .setProtectedHeader({ alg: "ES256", kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(user.id)
        .setJti(randomUUID())
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + 900)
        .sign(key);
      const body = await me(expired);
      expectUnauthenticated(body);
      expect(body.errors?.[0]?.message).toContain("expired");
      expect(body.data).toEqual({ me: null });
    });

    it.each([
      ["garbage", "not-a-jwt"],
      ["a token with its signature cut off", "CUT"],
      ["a token signed by another key under our kid", "FORGED"],
      ["a token for another audience", "AUDIENCE"],
      ["an unsigned token", "NONE"],
    ])("answers UNAUTHENTICATED for %s", async (_name, kind) => {
      const { user, session } = await signIn();
      const { kid } = gatewaySigningKey();
      const sign = (key: ReturnType<typeof createPrivateKey>, audience = AUDIENCE) =>
        new SignJWT({ sid: decodeJwt(session.accessToken).sid as string, phone_number: user.phoneNumber })
          .setProtectedHeader({ alg: "ES256", kid })
          .setIssuer(ISSUER)
          .setAudience(audience)
          .setSubject(user.id)
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime("10m")
          .sign(key);
      const [header, payload] = session.accessToken.split(".");
      const tokens: Record<string, () => Promise<string>> = {
        "not-a-jwt": async () => "not-a-jwt",
        CUT: async () => `${header}.${payload}.`,
        FORGED: () => sign(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey),
        AUDIENCE: () => sign(gatewaySigningKey().key, "another-api"),
        NONE: async () => `${Buffer.from(JSON.stringify({ alg: "none", kid })).toString("base64url")}.${payload}.`,
      };
      expectUnauthenticated(await me(await tokens[kind]!()));
    });

    it("answers UNAUTHENTICATED for an Authorization header that is not a Bearer token", async () => {
      const { session } = await signIn();
      const body = await t.graphql(ME, {}, { authorization: `Basic ${session.accessToken}` });
      expectUnauthenticated(body);
    });
  });

  describe("refreshSession", () => {
    it("rotates: new tokens for the same session, and the new refresh token works in turn", async () => {
      const { user, session } = await signIn();
      const next = await refreshed(session.refreshToken);
      expect(next.refreshToken).not.toBe(session.refreshToken);
      expect(next.accessToken).not.toBe(session.accessToken);
      expect(decodeJwt(next.accessToken)).toMatchObject({ sub: user.id, sid: decodeJwt(session.accessToken).sid });
      expect(decodeJwt(next.accessToken).jti).not.toBe(decodeJwt(session.accessToken).jti);
      expect(await me(next.accessToken)).toEqual({ data: { me: { id: user.id, phoneNumber: user.phoneNumber } } });

      const third = await refreshed(next.refreshToken);
      expect(await me(third.accessToken)).toMatchObject({ data: { me: { id: user.id } } });
    });

    it("gives concurrent duplicates within the grace window the same rotated pair, so a racing client stays signed in", async () => {
      const { user, session } = await signIn();
      const results = await Promise.all(Array.from({ length: 5 }, () => refreshed(session.refreshToken)));
      expect(new Set(results.map((result) => result.refreshToken)).size).toBe(1);
      // ES256 signatures are randomised; the claims, jti included, are the same token's.
      expect(new Set(results.map((result) => JSON.stringify(decodeJwt(result.accessToken)))).size).toBe(1);
      expect(new Set(results.map((result) => result.expiresAt)).size).toBe(1);
      const sessionId = decodeJwt(session.accessToken).sid;
      const { rows } = await db.query("SELECT count(*)::int AS tokens FROM refresh_tokens WHERE session_id = $1", [sessionId]);
      expect(rows[0].tokens).toBe(2);

      const [winner] = results;
      expect(await me(winner!.accessToken)).toMatchObject({ data: { me: { id: user.id } } });
      expect(await refresh(winner!.refreshToken)).toMatchObject({ __typename: "SessionRefreshed" });
    });

    it("answers a late duplicate with the newest tokens when the first answer has been refreshed again", async () => {
      const { session } = await signIn();
      const second = await refreshed(session.refreshToken);
      const third = await refreshed(second.refreshToken);
      // The first request's twin arrives after the client already used the first answer.
      const twin = await refreshed(session.refreshToken);
      expect(twin.refreshToken).toBe(third.refreshToken);
      expect(decodeJwt(twin.accessToken).jti).toBe(decodeJwt(third.accessToken).jti);
      expect(await refresh(twin.refreshToken)).toMatchObject({ __typename: "SessionRefreshed" });
    });

    it("gives duplicates racing on two instances the same rotated pair", async () => {
      const other = await startGateway(loadConfig(t.env), { logger: captureLogs().logger });
      try {
        const { session } = await signIn();
        const refreshOn = async (url: string) =>
          (await postGraphql<{ refreshSession: { session: IssuedSession } }>(url, REFRESH, { refreshToken: session.refreshToken })).data!.refreshSession.session;
        const results = await Promise.all([t.gateway.url, other.url, t.gateway.url, other.url, t.gateway.url, other.url].map(refreshOn));
        expect(new Set(results.map((result) => result?.refreshToken)).size).toBe(1);
        expect(new Set(results.map((result) => decodeJwt(result.accessToken).jti)).size).toBe(1);
        expect(await refresh(results[0]!.refreshToken)).toMatchObject({ __typename: "SessionRefreshed" });
      } finally {
        await other.close();
      }
    });

    it("answers a duplicate with the same tokens after TOKEN_ENCRYPTION_KEYS gained a key, and refuses it once the deriving key is gone", async () => {
      const oldKeys = t.env.TOKEN_ENCRYPTION_KEYS!;
      const rotatedKeys = `rotated:${randomBytes(32).toString("base64")},${oldKeys}`;
      // Restarts take seconds on a slow machine: a wide grace window keeps the duplicates within it.
      await t.restartGateway({ REFRESH_REUSE_GRACE_S: "300" });
      const { session } = await signIn();
      const first = await refreshed(session.refreshToken);
      await t.restartGateway({ TOKEN_ENCRYPTION_KEYS: rotatedKeys });
      try {
        expect((await refreshed(session.refreshToken)).refreshToken).toBe(first.refreshToken);

        const other = await signIn();
        const next = await refreshed(other.session.refreshToken); // derived with the new first key
        await t.restartGateway({ TOKEN_ENCRYPTION_KEYS: oldKeys });
        expect(await refresh(other.session.refreshToken)).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
        expect(t.logs.some((line) => line.includes("duplicate refresh cannot be answered with the same tokens"))).toBe(true);
        // The session itself lives on: the token the first refresh handed out still works.
        expect(await refresh(next.refreshToken)).toMatchObject({ __typename: "SessionRefreshed" });
      } finally {
        await t.restartGateway({ TOKEN_ENCRYPTION_KEYS: oldKeys, REFRESH_REUSE_GRACE_S: "10" });
      }
    });

    it("revokes the whole session family when a rotated token comes back after the grace window", async () => {
      const { session } = await signIn();
      const next = await refreshed(session.refreshToken);
      const sessionId = decodeJwt(session.accessToken).sid;
      // Move the rotation 11 s into the past (grace is 10 s) instead of waiting.
      await db.query("UPDATE refresh_tokens SET rotated_at = rotated_at - interval '11 seconds' WHERE session_id = $1 AND rotated_at IS NOT NULL", [
        sessionId,
      ]);

      expect(await refresh(session.refreshToken)).toMatchObject({ __typename: "InvalidRefreshTokenError", code: "INVALID_REFRESH_TOKEN" });
      expect(await refresh(next.refreshToken)).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
      expectUnauthenticated(await me(next.accessToken));
      expectUnauthenticated(await me(session.accessToken));
      const { rows } = await db.query("SELECT revoked_reason FROM sessions WHERE id = $1", [sessionId]);
      expect(rows).toEqual([{ revoked_reason: "refresh_token_reused" }]);
      expect(t.logs.some((line) => line.includes("refresh token reused after rotation"))).toBe(true);
    });

    it.each([
      ["a malformed token", "short"],
      ["an unknown token", randomBytes(32).toString("base64url")],
      ["an empty string", ""],
    ])("answers INVALID_REFRESH_TOKEN for %s", async (_name, token) => {
      expect(await refresh(token)).toEqual({
        __typename: "InvalidRefreshTokenError",
        code: "INVALID_REFRESH_TOKEN",
        message: "The refresh token is not valid any more; sign in again.",
      });
    });

    it("refuses an expired refresh token", async () => {
      const { session } = await signIn();
      await db.query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
        createHash("sha256").update(session.refreshToken).digest(),
      ]);
      expect(await refresh(session.refreshToken)).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
    });
  });

  describe("signOut", () => {
    it("ends the current session only: its access and refresh tokens die, the user's other session lives", async () => {
      const phone = "919811100001";
      const sub = "sign-out-one";
      const phoneA = await signIn({ phone_number: phone, sub });
      const phoneB = await signIn({ phone_number: phone, sub });

      expect(await signOut(phoneA.session.accessToken)).toEqual({ data: { signOut: { revokedSessions: 1 } } });
      expectUnauthenticated(await me(phoneA.session.accessToken));
      expect(await refresh(phoneA.session.refreshToken)).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
      expect(await me(phoneB.session.accessToken)).toMatchObject({ data: { me: { id: phoneB.user.id } } });
      expect(await refresh(phoneB.session.refreshToken)).toMatchObject({ __typename: "SessionRefreshed" });
      // Signing out again with the dead token is refused, not silently counted.
      expectUnauthenticated(await signOut(phoneA.session.accessToken));
    });

    it("ends every session of the user with allSessions: true", async () => {
      const phone = "919811100002";
      const sub = "sign-out-all";
      const devices = [await signIn({ phone_number: phone, sub }), await signIn({ phone_number: phone, sub }), await signIn({ phone_number: phone, sub })];
      const someoneElse = await signIn();

      expect(await signOut(devices[1]!.session.accessToken, true)).toEqual({ data: { signOut: { revokedSessions: 3 } } });
      for (const device of devices) {
        expectUnauthenticated(await me(device.session.accessToken));
        expect(await refresh(device.session.refreshToken)).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
      }
      expect(await me(someoneElse.session.accessToken)).toMatchObject({ data: { me: { id: someoneElse.user.id } } });
    });

    it("requires a signed-in user", async () => {
      const body = await t.graphql(SIGN_OUT, {});
      expectUnauthenticated(body);
      expect(body.data).toBeNull();
    });

    it("holds across gateway instances: a token revoked on one is refused by another at once", async () => {
      const other = await startGateway(loadConfig(t.env), { logger: captureLogs().logger });
      try {
        const { user, session } = await signIn();
        const onOther = (accessToken: string) => postGraphql(other.url, ME, {}, { authorization: `Bearer ${accessToken}` });
        expect(await onOther(session.accessToken)).toEqual({ data: { me: { id: user.id, phoneNumber: user.phoneNumber } } });
        await signOut(session.accessToken);
        expectUnauthenticated(await onOther(session.accessToken));
      } finally {
        await other.close();
      }
    });
  });

  it("revokes the previous owner's sessions when the phone number changes hands", async () => {
    const phone = "919811100003";
    const previousOwner = await signIn({ phone_number: phone, sub: "previous-owner" });
    const newOwner = await signIn({ phone_number: phone, sub: "new-owner" });
    expect(newOwner.user.id).not.toBe(previousOwner.user.id);
    expectUnauthenticated(await me(previousOwner.session.accessToken));
    expect(await refresh(previousOwner.session.refreshToken)).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
    expect(await me(newOwner.session.accessToken)).toMatchObject({ data: { me: { id: newOwner.user.id } } });
  });
});

describe("REFRESH_REUSE_GRACE_S=0", () => {
  let t: TestGateway;
  afterAll(async () => {
    await t?.close();
  });

  it("treats any second use of a refresh token as theft and ends the session", async () => {
    t = await startTestGateway({ env: { REFRESH_REUSE_GRACE_S: "0" } });
    const { session } = (await t.login()) as unknown as SignedIn;
    const refresh = (refreshToken: string) => t.graphql<{ refreshSession: Record<string, unknown> }>(REFRESH, { refreshToken });
    const first = await refresh(session.refreshToken);
    expect(first.data?.refreshSession.__typename).toBe("SessionRefreshed");
    expect((await refresh(session.refreshToken)).data?.refreshSession).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
    const next = (first.data?.refreshSession.session as IssuedSession).refreshToken;
    expect((await refresh(next)).data?.refreshSession).toMatchObject({ code: "INVALID_REFRESH_TOKEN" });
  });
});

describe("signing key rotation across two instances", () => {
  let t: TestGateway;
  let other: Gateway | undefined;
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  const keysOf = (text: string) => JSON.parse(text).keys as Array<{ kid: string }>;
  const keySet = (...keys: Array<{ kid: string }>) => JSON.stringify({ keys });
  const meOn = (url: string, accessToken: string) => postGraphql(url, ME, {}, { authorization: `Bearer ${accessToken}` });

  it("publishes, then signs with, then retires a key while old and new tokens keep working on every instance", async () => {
    t = await startTestGateway();
    const [oldKey] = keysOf(t.env.SESSION_SIGNING_KEYS ?? "");
    const [newKey] = keysOf(generateSigningKeySetText());
    const before = (await t.login()) as unknown as SignedIn;
    expect(decodeProtectedHeader(before.session.accessToken).kid).toBe(oldKey!.kid);

    // Step 1, mid rolling deploy: one instance already publishes the new key (second), the other not yet.
    other = await startGateway(loadConfig({ ...t.env, SESSION_SIGNING_KEYS: keySet(oldKey!, newKey!) }), { logger: captureLogs().logger });
    const published = (await (await fetch(`${other.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(published.keys.map((key) => key.kid)).toEqual([oldKey!.kid, newKey!.kid]);
    expect(await meOn(other.url, before.session.accessToken)).toMatchObject({ data: { me: { id: before.user.id } } });

    // Step 2, mid rolling deploy: one instance signs with the new key, the other only publishes it.
    await t.restartGateway({ SESSION_SIGNING_KEYS: keySet(newKey!, oldKey!) });
    const after = (await t.login()) as unknown as SignedIn;
    expect(decodeProtectedHeader(after.session.accessToken).kid).toBe(newKey!.kid);
    for (const url of [t.gateway.url, other.url]) {
      expect(await meOn(url, before.session.accessToken)).toMatchObject({ data: { me: { id: before.user.id } } });
      expect(await meOn(url, after.session.accessToken)).toMatchObject({ data: { me: { id: after.user.id } } });
      const jwks = createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
      await expect(jwtVerify(after.session.accessToken, jwks, { issuer: ISSUER, audience: AUDIENCE })).resolves.toBeTruthy();
    }
    // A refresh of the old session is signed with the new key too.
    const refreshed = await t.graphql<{ refreshSession: { session: IssuedSession } }>(REFRESH, { refreshToken: before.session.refreshToken });
    expect(decodeProtectedHeader(refreshed.data!.refreshSession.session.accessToken).kid).toBe(newKey!.kid);

    // Step 3: the old key is retired; what it signed is refused, the new key's tokens live on.
    await t.restartGateway({ SESSION_SIGNING_KEYS: keySet(newKey!) });
    expect((await meOn(t.gateway.url, before.session.accessToken)).errors?.map((error) => error.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
    expect(await meOn(t.gateway.url, after.session.accessToken)).toMatchObject({ data: { me: { id: after.user.id } } });
  });
});
