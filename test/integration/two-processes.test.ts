/**
 * Two gateway processes (`dist/main.js`, each its own Node process) on one PostgreSQL database, one Redis
 * key space and the same provider emulators: replay protection, the abuse limits and session revocation
 * hold across them, since they live in Redis and PostgreSQL, never in a process's memory. The in-process
 * gateway of the test gateway only provides the database, key space and emulators; the processes get its
 * environment. Duplicates are made to overlap with emulator delays, never with sleeps.
 */
import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTwoGatewayProcesses, type GatewayProcess } from "../helpers/gateway-process.js";
import { postGraphql, startTestGateway, VERIFY_MUTATION, type GraphqlResponse, type TestGateway } from "../helpers/test-gateway.js";
import { freshIndianNumber, otherVerifier, succeeded as asLoginSuccess } from "../helpers/fixtures.js";

/** How long the emulator holds the token and userinfo requests, so that duplicates sent together overlap them. */
const HOLD_MS = 400;
const ME = "{ me { id phoneNumber } }";
const SIGN_OUT = "mutation SignOut($all: Boolean!) { signOut(allSessions: $all) { revokedSessions } }";
const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      __typename
      ... on SessionRefreshed { session { accessToken refreshToken } }
      ... on UserError { code message }
    }
  }
`;

type Result = Record<string, unknown>;
interface Success {
  __typename: "LoginSuccess";
  isNewUser: boolean;
  session: { accessToken: string; refreshToken: string };
  user: { id: string; phoneNumber: string };
}

async function verifyAt(gateway: GatewayProcess, code: string, verifier: string, headers: Record<string, string> = {}): Promise<Result> {
  const body = await postGraphql<{ verifyTruecaller: Result }>(gateway.url, VERIFY_MUTATION, { code, verifier }, headers);
  if (!body.data) throw new Error(`verifyTruecaller failed: ${JSON.stringify(body.errors)}`);
  return body.data.verifyTruecaller;
}





function expectUnauthenticated(body: GraphqlResponse<unknown>): void {
  expect(body.errors?.map((error) => error.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
}

describe("two gateway processes on one database and Redis", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => t?.close());

  /** Starts processes A and B with the test gateway's environment and `env` on top; stops them after the block. */
  function twoProcesses(env: Record<string, string> = {}): { a: GatewayProcess; b: GatewayProcess } {
    const pair = {} as { a: GatewayProcess; b: GatewayProcess };
    beforeAll(async () => {
      [pair.a, pair.b] = await startTwoGatewayProcesses({ ...t.env, ...env });
    });
    afterAll(async () => {
      if (!pair.a || !pair.b) return;
      // Both stop cleanly after all that.
      expect(await Promise.all([pair.a.stop(), pair.b.stop()])).toEqual([0, 0]);
    });
    return pair;
  }

  function mintTruecaller(profile: { phone_number?: string; sub?: string } = {}) {
    const minted = t.emulator.mintCode({ profile });
    return { code: minted.code, verifier: minted.codeVerifier! };
  }

  describe("replays and revocation", () => {
    const processes = twoProcesses();

    it("makes one provider call for 3 concurrent duplicates on each process, refuses the code with another verifier, and answers a later retry from the other process", async () => {
      const { a, b } = processes;
      const { code, verifier } = mintTruecaller();
      const tokenCalls = t.emulator.requestCount("token");
      const profileReads = t.emulator.requestCount("userinfo");
      t.emulator.injectFault({ endpoint: "token", delayMs: HOLD_MS });
      t.emulator.injectFault({ endpoint: "userinfo", delayMs: HOLD_MS });

      const results = (await Promise.all([a, b, a, b, a, b].map((gateway) => verifyAt(gateway, code, verifier)))).map((result) => asLoginSuccess<Success>(result));
      const userId = results[0]!.user.id;
      expect(results.map((result) => result.user.id)).toEqual(Array(6).fill(userId));
      expect(results.filter((result) => result.isNewUser)).toHaveLength(1);
      expect(new Set(results.map((result) => result.session.accessToken)).size).toBe(6);
      expect(t.emulator.requestCount("token")).toBe(tokenCalls + 1);
      expect(t.emulator.requestCount("userinfo")).toBe(profileReads + 1);

      // A stolen code without its verifier, on either process.
      for (const gateway of [a, b]) {
        expect(await verifyAt(gateway, code, otherVerifier())).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
      }
      // The client's own retry, after all that, on each process: the same user, a fresh session, no provider call.
      for (const gateway of [b, a]) {
        const retry = asLoginSuccess<Success>(await verifyAt(gateway, code, verifier));
        expect(retry).toMatchObject({ isNewUser: false, user: { id: userId } });
        expect(results.map((result) => result.session.accessToken)).not.toContain(retry.session.accessToken);
        const me = await postGraphql(gateway === a ? b.url : a.url, ME, {}, { authorization: `Bearer ${retry.session.accessToken}` });
        expect(me).toEqual({ data: { me: { id: userId, phoneNumber: results[0]!.user.phoneNumber } } });
      }
      expect(t.emulator.requestCount("token")).toBe(tokenCalls + 1);
      expect(t.emulator.requestCount("userinfo")).toBe(profileReads + 1);

      const users = await t.db.query("SELECT id FROM users WHERE phone_number = $1", [results[0]!.user.phoneNumber]);
      expect(users.rows).toEqual([{ id: userId }]);
      const sessions = await t.db.query("SELECT count(*)::int AS count FROM sessions WHERE user_id = $1", [userId]);
      expect(sessions.rows).toEqual([{ count: 8 }]);
    });

    it("revokes on one process what the other issued: after signOut(allSessions) on B, A refuses the access tokens and the refresh tokens", async () => {
      const { a, b } = processes;
      const profile = { phone_number: freshIndianNumber(), sub: `two-devices-${randomInt(1e9)}` };
      const first = mintTruecaller(profile);
      const onA = asLoginSuccess<Success>(await verifyAt(a, first.code, first.verifier));
      const second = mintTruecaller(profile);
      const onB = asLoginSuccess<Success>(await verifyAt(b, second.code, second.verifier));
      expect(onB.user.id).toBe(onA.user.id);
      const me = (gateway: GatewayProcess, accessToken: string) => postGraphql(gateway.url, ME, {}, { authorization: `Bearer ${accessToken}` });
      const refresh = async (gateway: GatewayProcess, refreshToken: string) =>
        (await postGraphql<{ refreshSession: Result }>(gateway.url, REFRESH, { refreshToken })).data?.refreshSession;

      // Each process accepts the other's tokens, and rotates the other's refresh token.
      expect(await me(b, onA.session.accessToken)).toEqual({ data: { me: { id: onA.user.id, phoneNumber: onA.user.phoneNumber } } });
      expect(await me(a, onB.session.accessToken)).toMatchObject({ data: { me: { id: onA.user.id } } });
      const rotated = await refresh(b, onA.session.refreshToken);
      expect(rotated).toMatchObject({ __typename: "SessionRefreshed" });
      const rotatedSession = (rotated as { session: { accessToken: string; refreshToken: string } }).session;
      expect(await me(a, rotatedSession.accessToken)).toMatchObject({ data: { me: { id: onA.user.id } } });

      expect(await postGraphql(b.url, SIGN_OUT, { all: true }, { authorization: `Bearer ${onB.session.accessToken}` })).toEqual({
        data: { signOut: { revokedSessions: 2 } },
      });
      for (const accessToken of [onA.session.accessToken, rotatedSession.accessToken, onB.session.accessToken]) {
        expectUnauthenticated(await me(a, accessToken));
      }
      for (const refreshToken of [rotatedSession.refreshToken, onB.session.refreshToken]) {
        expect(await refresh(a, refreshToken)).toMatchObject({ __typename: "InvalidRefreshTokenError", code: "INVALID_REFRESH_TOKEN" });
      }
      // Signing out again from A with a revoked token is refused as well.
      expectUnauthenticated(await postGraphql(a.url, SIGN_OUT, { all: true }, { authorization: `Bearer ${onA.session.accessToken}` }));
    });
  });

  describe("abuse limits", () => {
    /** Short enough that the test can wait for it to pass, long enough for a login on a loaded machine. */
    const WINDOW_S = 5;
    const PER_IP = 4;
    const PER_NUMBER = 2;
    const processes = twoProcesses({
      TRUST_PROXY: "loopback",
      LOGIN_RATE_PER_IP: String(PER_IP),
      LOGIN_RATE_PER_IP_WINDOW_S: String(WINDOW_S),
      LOGIN_RATE_PER_NUMBER: String(PER_NUMBER),
      LOGIN_RATE_PER_NUMBER_WINDOW_S: "3600",
    });
    const from = (ip: string) => ({ "x-forwarded-for": ip });

    it("counts a client's attempts on both processes together: the fifth is refused on either with an honest retryAfterSeconds, other clients go on", async () => {
      const { a, b } = processes;
      const client = from("203.0.113.40");
      const firstAttemptAt = Date.now();
      // At once, so that they surely fall in one window however slow the machine is.
      const admitted = await Promise.all(
        [a, b, a, b].map((gateway) => {
          const { code, verifier } = mintTruecaller();
          return verifyAt(gateway, code, verifier, client);
        }),
      );
      admitted.forEach((result) => asLoginSuccess<Success>(result));
      const tokenCalls = t.emulator.requestCount("token");
      const { code, verifier } = mintTruecaller();
      const refusals = [await verifyAt(a, code, verifier, client), await verifyAt(b, code, verifier, client)];
      const elapsedS = (Date.now() - firstAttemptAt) / 1000;
      for (const refused of refusals) {
        expect(refused).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED" });
        // The time until the window that opened with the first attempt ends.
        expect(refused.retryAfterSeconds).toBeLessThanOrEqual(WINDOW_S);
        expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(Math.max(1, Math.floor(WINDOW_S - elapsedS)));
      }
      expect(t.emulator.requestCount("token")).toBe(tokenCalls);

      // Another client is not affected, on either process; the refused code was not spent.
      asLoginSuccess<Success>(await verifyAt(b, code, verifier, from("198.51.100.40")));
      const another = mintTruecaller();
      asLoginSuccess<Success>(await verifyAt(a, another.code, another.verifier, from("198.51.100.40")));

      // Once the advertised wait is over, the client is admitted again.
      await sleep((refusals[1]!.retryAfterSeconds as number) * 1000);
      const later = mintTruecaller();
      asLoginSuccess<Success>(await verifyAt(a, later.code, later.verifier, client));
    });

    it("counts a number's logins on both processes together, storing nothing for the refused one", async () => {
      const { a, b } = processes;
      const profile = { phone_number: freshIndianNumber(), sub: `limited-number-${randomInt(1e9)}` };
      const logins: Success[] = [];
      for (const [index, gateway] of [a, b].entries()) {
        const { code, verifier } = mintTruecaller(profile);
        logins.push(asLoginSuccess<Success>(await verifyAt(gateway, code, verifier, from(`203.0.113.${50 + index}`))));
      }
      const userId = logins[0]!.user.id;
      expect(logins[1]!.user.id).toBe(userId);

      for (const [index, gateway] of [a, b].entries()) {
        const { code, verifier } = mintTruecaller(profile);
        const refused = await verifyAt(gateway, code, verifier, from(`203.0.113.${60 + index}`));
        expect(refused).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED" });
        expect(refused.retryAfterSeconds).toBeGreaterThan(3600 - 60);
        expect(refused.retryAfterSeconds).toBeLessThanOrEqual(3600);
      }
      const sessions = await t.db.query("SELECT count(*)::int AS count FROM sessions WHERE user_id = $1", [userId]);
      expect(sessions.rows).toEqual([{ count: PER_NUMBER }]);
      // Other numbers log in as usual.
      const other = mintTruecaller({ phone_number: freshIndianNumber() });
      asLoginSuccess<Success>(await verifyAt(b, other.code, other.verifier, from("203.0.113.70")));
    });

    // Each login takes its slot before storing: a check first and a count after storing let all eight through.
    it("holds a number's budget for concurrent logins of it on both processes", async () => {
      const { a, b } = processes;
      const profile = { phone_number: freshIndianNumber(), sub: `concurrent-number-${randomInt(1e9)}` };
      const devices = Array.from({ length: 8 }, (_, index) => ({ gateway: index % 2 === 0 ? a : b, ...mintTruecaller(profile) }));
      const results = await Promise.all(
        devices.map(({ gateway, code, verifier }, index) => verifyAt(gateway, code, verifier, from(`203.0.113.${80 + index}`))),
      );
      expect(results.filter((result) => result.__typename === "LoginSuccess")).toHaveLength(PER_NUMBER);
      expect(results.filter((result) => result.code === "RATE_LIMITED")).toHaveLength(devices.length - PER_NUMBER);
    });
  });
});
