import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordIssuedTokens } from "../helpers/issued-tokens.js";
import { captureLogs } from "../helpers/log-capture.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

describe("log redaction", () => {
  let t: TestGateway;
  const secrets: string[] = [];
  /** The tokens providers issued to the gateway. */
  const issued = new Set<string>();
  let wire: ReturnType<typeof recordIssuedTokens>;

  beforeAll(async () => {
    // Note every token a provider hands out (Truecaller, Auth0-style OIDC, wgtwo), to look for it in the logs.
    wire = recordIssuedTokens(issued);
    t = await startTestGateway({ env: { PROVIDER_TIMEOUT_MS: "1500", LOG_LEVEL: "trace", REFRESH_REUSE_GRACE_S: "300" }, fetch: wire.fetch });
  });
  afterAll(async () => t?.close());

  /** Mints a code, notes the code and verifier as secrets, and verifies them. */
  async function loginNotingSecrets(verifierOverride?: string) {
    const minted = t.emulator.mintCode();
    const verifier = verifierOverride ?? minted.codeVerifier ?? "";
    secrets.push(minted.code, verifier);
    return t.verify(minted.code, verifier);
  }

  it("never writes a code, verifier or provider token to the log, on any path", async () => {
    expect(await loginNotingSecrets()).toMatchObject({ __typename: "LoginSuccess" });
    expect(await loginNotingSecrets("v".repeat(43))).toMatchObject({ code: "INVALID_VERIFIER" });
    expect(await loginNotingSecrets("short-verifier")).toMatchObject({ code: "INVALID_INPUT" });
    t.emulator.injectFault({ endpoint: "token", error: "too_many_requests", retryAfterSeconds: 3 });
    expect(await loginNotingSecrets()).toMatchObject({ code: "RATE_LIMITED" });
    t.emulator.injectFault({ endpoint: "token", status: 403, body: { error: "invalid_client", error_description: "Invalid client Id" } });
    expect(await loginNotingSecrets()).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    t.emulator.injectFault({ endpoint: "token", hang: true });
    expect(await loginNotingSecrets()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    t.emulator.injectFault({ endpoint: "userinfo", status: 401, body: { error: "invalid_token" } });
    expect(await loginNotingSecrets()).toMatchObject({ code: "PROFILE_UNAVAILABLE" });
    t.emulator.injectFault({ endpoint: "userinfo", status: 200, body: "{not json" });
    expect(await loginNotingSecrets()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });

    // The paths ran and logged; none of their lines holds a secret.
    await wire.settled();
    secrets.push(...issued);
    expect(secrets.length).toBeGreaterThan(16);
    expect(t.logs.filter((line) => line.includes('"login refused"'))).toHaveLength(7);
    const leaks = secrets.filter((secret) => t.logs.some((line) => line.includes(secret)));
    expect(leaks).toEqual([]);
  });

  it("never writes an access or refresh token to the log, on any session path", async () => {
    const login = (await t.login()) as { session: { accessToken: string; refreshToken: string } };
    const sessionSecrets = [login.session.accessToken, login.session.refreshToken];
    const bearer = { authorization: `Bearer ${login.session.accessToken}` };
    const refresh = async (refreshToken: string) => {
      const body = await t.graphql<{ refreshSession: { session?: { accessToken: string; refreshToken: string } } }>(
        "mutation ($token: String!) { refreshSession(refreshToken: $token) { ... on SessionRefreshed { session { accessToken refreshToken } } } }",
        { token: refreshToken },
      );
      const session = body.data?.refreshSession.session;
      if (session) sessionSecrets.push(session.accessToken, session.refreshToken);
      return session;
    };
    expect(await t.graphql("{ me { id } }", {}, bearer)).toMatchObject({ data: { me: { id: expect.any(String) } } });
    const next = await refresh(login.session.refreshToken);
    expect(next).toBeDefined();
    await refresh(login.session.refreshToken); // a duplicate within the grace window
    expect(await t.graphql("mutation { signOut { revokedSessions } }", {}, bearer)).toMatchObject({ data: { signOut: { revokedSessions: 1 } } });
    expect(await t.graphql("{ me { id } }", {}, bearer)).toMatchObject({ errors: [{ extensions: { code: "UNAUTHENTICATED" } }] });
    expect(await refresh(next!.refreshToken)).toBeUndefined();
    expect(t.logs.some((line) => line.includes('"signed out"'))).toBe(true);

    const leaks = sessionSecrets.filter((secret) => t.logs.some((line) => line.includes(secret)));
    expect(leaks).toEqual([]);
  });

  it("never writes a code, verifier, provider token, ID token, client secret or Truecaller proof on the other providers' paths", async () => {
    const otherSecrets: string[] = [t.env.WGTWO_CLIENT_SECRET ?? ""];
    const loginWith = async (provider: "OIDC" | "WGTWO", mint: Parameters<TestGateway["loginWith"]>[1] = {}) => {
      const minted = (provider === "OIDC" ? t.oidc : t.wgtwo).mintCode(mint);
      otherSecrets.push(minted.code, minted.codeVerifier ?? "");
      return t.verifyPhoneLogin({ provider, code: minted.code, ...(minted.codeVerifier ? { verifier: minted.codeVerifier } : {}) });
    };
    const oidcLogin = (await loginWith("OIDC")) as { session: { accessToken: string } };
    expect(oidcLogin).toMatchObject({ __typename: "LoginSuccess" });
    expect(await loginWith("WGTWO")).toMatchObject({ __typename: "LoginSuccess" });
    expect(await loginWith("OIDC", { idToken: { claims: { aud: "someone-else" } } })).toMatchObject({ code: "INVALID_ID_TOKEN" });
    expect(await loginWith("OIDC", { idToken: { alg: "none" } })).toMatchObject({ code: "INVALID_ID_TOKEN" });
    t.wgtwo.injectFault({ endpoint: "token", status: 401, body: { error: "invalid_client" } });
    expect(await loginWith("WGTWO")).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });

    // refreshProfile through the refresh grant: the cached access token is gone.
    const userId = (await t.graphql<{ me: { id: string } }>("{ me { id } }", {}, { authorization: `Bearer ${oidcLogin.session.accessToken}` })).data!.me.id;
    await t.redis.del(`provider-token:oidc:${userId}`);
    const refreshed = await t.graphql("mutation { refreshProfile(provider: OIDC) { __typename } }", {}, { authorization: `Bearer ${oidcLogin.session.accessToken}` });
    expect(refreshed).toMatchObject({ data: { refreshProfile: { __typename: "ProfileRefreshed" } } });

    const verification = t.emulator.mintVerificationToken();
    otherSecrets.push(verification.accessToken);
    const otp = await t.graphql("mutation ($token: String!) { verifyTruecallerAccessToken(accessToken: $token) { __typename } }", { token: verification.accessToken });
    expect(otp).toMatchObject({ data: { verifyTruecallerAccessToken: { __typename: "LoginSuccess" } } });
    const signed = t.emulator.signProfile({ requestNonce: "log-redaction-nonce" });
    otherSecrets.push(signed.payload, signed.signature);
    const signedLogin = "mutation ($p: String!, $s: String!) { verifyTruecallerSignedProfile(payload: $p, signature: $s, requestNonce: \"log-redaction-nonce\") { __typename } }";
    expect(await t.graphql(signedLogin, { p: signed.payload, s: signed.signature })).toMatchObject({ data: { verifyTruecallerSignedProfile: { __typename: "LoginSuccess" } } });
    expect(await t.graphql(signedLogin, { p: signed.payload, s: signed.signature })).toMatchObject({ data: { verifyTruecallerSignedProfile: { __typename: "InvalidSignedProfileError" } } });

    expect(t.logs.some((line) => line.includes('"provider proof rejected"'))).toBe(true);
    await wire.settled();
    const leaks = [...otherSecrets, ...issued].filter((secret) => secret.length > 0 && t.logs.some((line) => line.includes(secret)));
    expect(leaks).toEqual([]);
  });

  it("redacts secret-named fields a future log call might pass, but keeps error codes", () => {
    const logs = captureLogs();
    logs.logger.info({ code: "c0de", verifier: "v3rifier", grant: { code: "c0de2", accessToken: "t0ken", refresh_token: "r3fresh" } }, "oops");
    logs.logger.warn({ error: { name: "Error", message: "connect failed", code: "ECONNREFUSED" } }, "redis unreachable");
    expect(logs.lines.join("")).not.toMatch(/c0de|v3rifier|t0ken|r3fresh/);
    expect(logs.entries()[1]).toMatchObject({ error: { code: "ECONNREFUSED" } });
  });
});
