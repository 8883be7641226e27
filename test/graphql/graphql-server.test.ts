import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_CODE_LENGTH } from "../../src/auth/login-input.js";
import { startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

describe("GraphQL over HTTP (development)", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => t?.close());
  beforeEach(() => t.emulator.reset());

  it.each([
    ["an empty code", "", VERIFIER, "code"],
    ["an oversized code", "c".repeat(MAX_CODE_LENGTH + 1), VERIFIER, "code"],
    ["a short verifier", "code", "short", "verifier"],
    ["a verifier outside RFC 7636's alphabet", "code", `${VERIFIER.slice(0, 42)}/`, "verifier"],
  ])("answers INVALID_INPUT for %s without calling the provider", async (_name, code, verifier, field) => {
    expect(await t.verify(code, verifier)).toMatchObject({ __typename: "InvalidInputError", code: "INVALID_INPUT", field });
    expect(t.emulator.requests).toEqual([]);
  });

  it("returns a top-level validation error, not a union member, for a missing argument", async () => {
    const body = await t.graphql('mutation { verifyTruecaller(code: "abc") { __typename } }');
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it("does not echo a mistyped variable's value", async () => {
    const body = await t.graphql(VERIFY_MUTATION, { code: ["secret-code-value"], verifier: VERIFIER });
    expect(body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(JSON.stringify(body)).not.toContain("secret-code-value");
  });

  it("does not echo an argument written inline with the wrong type", async () => {
    const body = await t.graphql(`mutation { verifyTruecaller(code: secretInlineCode, verifier: "${VERIFIER}") { __typename } }`);
    expect(body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(JSON.stringify(body)).not.toContain("secretInlineCode");
  });

  it("refuses a request body over the limit with 413", async () => {
    const response = await fetch(`${t.gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: VERIFY_MUTATION, variables: { code: "c".repeat(100_000), verifier: VERIFIER } }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ errors: [{ message: "The request body is larger than 64kb.", extensions: { code: "BAD_REQUEST" } }] });
    expect(t.emulator.requests).toEqual([]);
  });

  it("answers malformed JSON with a GraphQL-shaped 400 that does not quote the body", async () => {
    const response = await fetch(`${t.gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query":"mutation { verifyTruecaller(code: \\"secret-code-in-bad-json\\"',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }] });
    expect(t.logs.some((line) => line.includes("secret-code-in-bad-json"))).toBe(false);
  });

  it("lists the configured providers", async () => {
    expect(await t.graphql("{ providers { id } }")).toEqual({ data: { providers: [{ id: "TRUECALLER" }, { id: "WGTWO" }, { id: "OIDC" }] } });
  });

  it("serves Apollo Sandbox at /graphql to a browser", async () => {
    const response = await fetch(`${t.gateway.url}/graphql`, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("embeddable-sandbox");
  });

  it("blocks GET requests without a preflight header (CSRF prevention)", async () => {
    const response = await fetch(`${t.gateway.url}/graphql?query=${encodeURIComponent("{ providers { id } }")}`);
    expect(response.status).toBe(400);
  });

  it("reports health 200 while the database and cache answer", async () => {
    const response = await fetch(`${t.gateway.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", database: "up", cache: "up" });
  });
});

describe("GraphQL over HTTP (production)", () => {
  let t: TestGateway;
  beforeAll(async () => {
    // Production takes plain http to provider emulators on loopback only, as these are.
    t = await startTestGateway({ env: { NODE_ENV: "production" } });
  });
  afterAll(async () => t?.close());

  it("disables introspection and the landing page", async () => {
    const body = await t.graphql("{ __schema { queryType { name } } }");
    expect(body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    const page = await fetch(`${t.gateway.url}/graphql`, { headers: { accept: "text/html" } });
    expect(await page.text()).not.toContain("embeddable-sandbox");
  });

  it("while the database is down: SERVICE_UNAVAILABLE for a login (which succeeds on retry once it is back), masked faults elsewhere, not ready but live", async () => {
    const signedIn = (await t.login()) as { session: { accessToken: string } };
    await t.refuseDatabaseConnections();
    try {
      const minted = t.emulator.mintCode();
      const tokenRequestsBefore = t.emulator.requestCount("token");
      const body = await t.graphql<{ verifyTruecaller: Record<string, unknown> }>(VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
      expect(body.data?.verifyTruecaller).toMatchObject({ __typename: "ServiceUnavailableError", code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 5 });

      // A fault that is no login outage stays masked, with its cause in the log only.
      const me = await t.graphql("{ me { id } }", {}, { authorization: `Bearer ${signedIn.session.accessToken}` });
      expect(me.errors).toEqual([
        { message: "Unexpected error.", path: ["me"], locations: expect.any(Array), extensions: { code: "INTERNAL_SERVER_ERROR", requestId: expect.any(String) } },
      ]);
      expect(t.logs.some((line) => line.includes("unexpected error in GraphQL operation"))).toBe(true);

      for (const path of ["/health", "/health/ready"]) {
        const health = await fetch(`${t.gateway.url}${path}`);
        expect(health.status).toBe(503);
        expect(await health.json()).toEqual({ status: "unavailable", database: "down", cache: "up" });
      }
      const live = await fetch(`${t.gateway.url}/health/live`);
      expect([live.status, await live.json()]).toEqual([200, { status: "ok" }]);

      // The provider's answer was kept: the client's retry succeeds without presenting the spent code again.
      await t.allowDatabaseConnections();
      const retried = await t.graphql<{ verifyTruecaller: Record<string, unknown> }>(VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
      expect(retried.data?.verifyTruecaller).toMatchObject({ __typename: "LoginSuccess" });
      expect(t.emulator.requestCount("token")).toBe(tokenRequestsBefore + 1);
    } finally {
      await t.allowDatabaseConnections();
    }
  });
});

describe("GraphQL over HTTP without any provider configured", () => {
  let t: TestGateway;
  beforeAll(async () => {
    // Empty counts as unset.
    t = await startTestGateway({
      env: { TRUECALLER_CLIENT_ID: "", TRUECALLER_SIGNED_PROFILES: "", WGTWO_CLIENT_ID: "", WGTWO_CLIENT_SECRET: "", WGTWO_REDIRECT_URI: "", OIDC_ISSUER: "", OIDC_CLIENT_ID: "", OIDC_REDIRECT_URI: "" },
    });
  });
  afterAll(async () => t?.close());

  it("answers PROVIDER_MISCONFIGURED without a network call and lists no provider", async () => {
    const minted = t.emulator.mintCode();
    expect(await t.verify(minted.code, minted.codeVerifier ?? "")).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    expect(t.emulator.requests).toEqual([]);
    expect(await t.graphql("{ providers { id } }")).toEqual({ data: { providers: [] } });
  });
});
