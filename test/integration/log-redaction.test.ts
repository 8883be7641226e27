import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogs } from "../helpers/log-capture.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

describe("log redaction", () => {
  let t: TestGateway;
  const secrets: string[] = [];

  beforeAll(async () => {
    // Note every access token the provider hands out, to look for it in the logs.
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input instanceof Request ? input.url : input).endsWith("/v1/token") && response.ok) {
        const body = (await response.clone().json()) as { access_token?: string };
        if (body.access_token) secrets.push(body.access_token);
      }
      return response;
    };
    t = await startTestGateway({ env: { PROVIDER_TIMEOUT_MS: "1500", LOG_LEVEL: "trace", REFRESH_REUSE_GRACE_S: "300" }, fetch: recordingFetch });
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

  it("redacts secret-named fields a future log call might pass, but keeps error codes", () => {
    const logs = captureLogs();
    logs.logger.info({ code: "c0de", verifier: "v3rifier", grant: { code: "c0de2", accessToken: "t0ken", refresh_token: "r3fresh" } }, "oops");
    logs.logger.warn({ error: { name: "Error", message: "connect failed", code: "ECONNREFUSED" } }, "redis unreachable");
    expect(logs.lines.join("")).not.toMatch(/c0de|v3rifier|t0ken|r3fresh/);
    expect(logs.entries()[1]).toMatchObject({ error: { code: "ECONNREFUSED" } });
  });
});
