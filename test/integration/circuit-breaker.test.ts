import { randomInt } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONSECUTIVE_OUTAGES_TO_OPEN, HALF_OPEN_AFTER_MS } from "../../src/providers/circuit-breaker.js";
import { LOGIN_RESULT_FIELDS, startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

/** A 503 token answer is tried this often per login (http.ts CODE_EXCHANGE_RETRY: the first attempt and two retries). */
const TOKEN_ATTEMPTS_PER_LOGIN = 3;

const ACCESS_TOKEN_LOGIN = /* GraphQL */ `
  mutation AccessTokenLogin($accessToken: String!) {
    verifyTruecallerAccessToken(accessToken: $accessToken) { ${LOGIN_RESULT_FIELDS} }
  }
`;

// The half-open trial needs 30 s of real time here; it is a unit test (test/unit/circuit-breaker.test.ts).
describe("per-provider circuit breaker, through the gateway", () => {
  let t: TestGateway;

  // A fresh gateway each: a breaker's state lives in the gateway process.
  beforeEach(async () => {
    t = await startTestGateway();
  });
  afterEach(async () => {
    await t?.close();
  });

  /** Truecaller's token endpoint answers 503 (without Retry-After delays) until `logins` logins have given up on it. */
  async function failTruecallerLogins(logins: number): Promise<void> {
    t.emulator.injectFault({ endpoint: "token", status: 503, retryAfterSeconds: 0, body: { error: "temporarily_unavailable" }, times: logins * TOKEN_ATTEMPTS_PER_LOGIN });
    for (let i = 0; i < logins; i += 1) {
      expect(await t.login()).toMatchObject({ __typename: "ProviderUnavailableError", code: "PROVIDER_UNAVAILABLE" });
    }
  }

  it(`answers PROVIDER_UNAVAILABLE without calling Truecaller after ${CONSECUTIVE_OUTAGES_TO_OPEN} outage answers`, async () => {
    await failTruecallerLogins(CONSECUTIVE_OUTAGES_TO_OPEN);
    const tokenRequests = CONSECUTIVE_OUTAGES_TO_OPEN * TOKEN_ATTEMPTS_PER_LOGIN;
    expect(t.emulator.requestCount("token")).toBe(tokenRequests);

    // The emulator would answer now; the open circuit does not ask it.
    const started = performance.now();
    const result = await t.login();
    expect(result).toMatchObject({ __typename: "ProviderUnavailableError", code: "PROVIDER_UNAVAILABLE" });
    expect(result.retryAfterSeconds).toBeGreaterThan(0);
    expect(result.retryAfterSeconds).toBeLessThanOrEqual(HALF_OPEN_AFTER_MS / 1000);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(t.emulator.requestCount("token")).toBe(tokenRequests);
    expect(t.emulator.requestCount("userinfo")).toBe(0);

    const opened = t.logs.filter((line) => line.includes("provider circuit opened"));
    expect(opened).toHaveLength(1);
    expect(JSON.parse(opened[0]!)).toMatchObject({ level: 40, provider: "truecaller" });
  });

  it("does not open one outage short of the threshold", async () => {
    await failTruecallerLogins(CONSECUTIVE_OUTAGES_TO_OPEN - 1);
    expect(await t.login()).toMatchObject({ __typename: "LoginSuccess" });
  });

  it("leaves the other providers, and Truecaller's app-less path, working while Truecaller's circuit is open", async () => {
    await failTruecallerLogins(CONSECUTIVE_OUTAGES_TO_OPEN);
    expect(await t.login()).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });

    expect(await t.loginWith("OIDC")).toMatchObject({ __typename: "LoginSuccess" });
    expect(await t.loginWith("WGTWO")).toMatchObject({ __typename: "LoginSuccess" });
    expect(t.oidc.requestCount("token")).toBe(1);

    // Another Truecaller host (phoneNumberDetail), another breaker.
    const minted = t.emulator.mintVerificationToken({ phoneNumber: `919${String(randomInt(0, 1_000_000_000)).padStart(9, "0")}` });
    const body = await t.graphql<{ verifyTruecallerAccessToken: Record<string, unknown> }>(ACCESS_TOKEN_LOGIN, { accessToken: minted.accessToken });
    expect(body.data?.verifyTruecallerAccessToken).toMatchObject({ __typename: "LoginSuccess" });
  });

  it("does not open on rate limits (429) or refused codes, however many", async () => {
    t.emulator.injectFault({ endpoint: "token", error: "too_many_requests", retryAfterSeconds: 30, times: 2 * CONSECUTIVE_OUTAGES_TO_OPEN });
    for (let i = 0; i < 2 * CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) expect(await t.login()).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 30 });
    for (let i = 0; i < 2 * CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) expect(await t.verify(`not-a-code-${i}`, "v".repeat(43))).toMatchObject({ code: "INVALID_CODE" });
    expect(await t.login()).toMatchObject({ __typename: "LoginSuccess" });
    expect(t.logs.some((line) => line.includes("provider circuit opened"))).toBe(false);
  });
});
