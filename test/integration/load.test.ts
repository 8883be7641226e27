/**
 * A load test: well over a thousand Truecaller logins through two gateway processes (`dist/main.js`) on one
 * PostgreSQL database and one Redis key space, by concurrent clients over keep-alive connections. Every
 * user logs in once with a number of its own; a share of them retry the same request (at the same time
 * on the other process, or after the answer), and a share come back later with a new code. Nothing may be
 * lost or doubled: every answer is a LoginSuccess over HTTP 200 without GraphQL errors, the users table
 * holds exactly the numbers that logged in, returning users get their user, and the provider sees each
 * code once. The figures are printed on one line (logins, seconds, logins/s, p50, p99).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTwoGatewayProcesses, type GatewayProcess } from "../helpers/gateway-process.js";
import { startTestGateway, VERIFY_MUTATION, type GraphqlResponse, type TestGateway } from "../helpers/test-gateway.js";

/**
 * Distinct phone numbers, one user each. With the shares below, 1.45 logins per user: 1,015 logins, ~12 s on an idle
 * 2-core machine (~85 logins/s; ~25 ms of CPU per login over gateways, database, Redis, emulator and client), sized
 * for the suite's 3-minute budget. `npm run bench` drives tens of thousands.
 */
const USERS = 700;
/** Concurrent clients, each running one user's logins after another. */
const CLIENTS = 16;
/** Every 10th user's app sends its first login twice at once, once to each process (a retry racing the original). */
const CONCURRENT_DUPLICATE_EVERY = 10;
/** Every 10th user's app (others than the above) retries its first login once it was answered, on the other process. */
const LATE_RETRY_EVERY = 10;
/** Every 4th user logs in again later with a new code (a returning user). */
const RETURNING_EVERY = 4;
/** How long the test may take on a 2-core machine busy with other work (it took up to 65 s at a load average of 8). */
const TEST_TIMEOUT_MS = 120_000;
/** pino's level numbers: error and fatal. */
const PINO_ERROR_LEVEL = 50;

type Kind = "first" | "concurrent duplicate" | "late retry" | "returning";
interface Answer {
  kind: Kind;
  user: number;
  status: number;
  latencyMs: number;
  body: GraphqlResponse<{ verifyTruecaller: Record<string, unknown> }>;
}
interface Success {
  __typename: "LoginSuccess";
  isNewUser: boolean;
  session: { accessToken: string };
  user: { id: string; phoneNumber: string };
}

/** The digits Truecaller sends for user `index` (an Indian mobile number: 91, then 98 and 8 digits). */
function phoneDigits(index: number): string {
  return `9198${String(index).padStart(8, "0")}`;
}

/** The value at quantile `q` of ascending `sorted` (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

describe("load: two gateway processes on one database and Redis", () => {
  let t: TestGateway;
  let processes: GatewayProcess[] = [];
  beforeAll(async () => {
    t = await startTestGateway();
    // Info, not the test gateway's debug: the helper keeps every line, and debug doubles them.
    const env = { ...t.env, LOG_LEVEL: "info" };
    processes = await startTwoGatewayProcesses(env);
  });
  afterAll(async () => {
    await Promise.all(processes.map((gateway) => gateway.stop()));
    await t?.close();
  });

  async function verify(gateway: GatewayProcess, kind: Kind, user: number, code: string, verifier: string): Promise<Answer> {
    const started = performance.now();
    const response = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: VERIFY_MUTATION, variables: { code, verifier } }),
    });
    const body = (await response.json()) as Answer["body"];
    return { kind, user, status: response.status, latencyMs: performance.now() - started, body };
  }

  /** One user's logins, in the order its app would send them. */
  async function journey(user: number): Promise<Answer[]> {
    // By tens, so that each process is home to as many retrying and returning users as the other.
    const [home, other] = Math.floor(user / 10) % 2 === 0 ? [processes[0]!, processes[1]!] : [processes[1]!, processes[0]!];
    const profile = { phone_number: phoneDigits(user), sub: `load-user-${user}` };
    const first = t.emulator.mintCode({ profile });
    const answers: Answer[] = [];
    if (user % CONCURRENT_DUPLICATE_EVERY === 3) {
      answers.push(
        ...(await Promise.all([
          verify(home, "first", user, first.code, first.codeVerifier!),
          verify(other, "concurrent duplicate", user, first.code, first.codeVerifier!),
        ])),
      );
    } else {
      answers.push(await verify(home, "first", user, first.code, first.codeVerifier!));
      if (user % LATE_RETRY_EVERY === 7) answers.push(await verify(other, "late retry", user, first.code, first.codeVerifier!));
    }
    if (user % RETURNING_EVERY === 1) {
      const again = t.emulator.mintCode({ profile });
      answers.push(await verify(other, "returning", user, again.code, again.codeVerifier!));
    }
    return answers;
  }

  it(
    `logs in ${USERS} users (${CLIENTS} concurrent clients, with retries and returning users) with zero lost users and zero 5xx`,
    async () => {
      const tokenCalls = t.emulator.requestCount("token");
      const profileReads = t.emulator.requestCount("userinfo");
      let next = 0;
      const answers: Answer[] = [];
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < USERS) answers.push(...(await journey(next++)));
        }),
      );
      const seconds = (performance.now() - started) / 1000;

      const serverErrors = answers.filter((answer) => answer.status >= 500).length;
      const graphqlErrors = answers.filter((answer) => answer.body.errors !== undefined).length;
      const latencies = answers.map((answer) => answer.latencyMs).sort((x, y) => x - y);
      console.log(
        `load: ${answers.length} logins of ${USERS} users by ${CLIENTS} clients on 2 processes in ${seconds.toFixed(1)} s: ` +
          `${Math.round(answers.length / seconds)} logins/s, p50 ${quantile(latencies, 0.5).toFixed(0)} ms, ` +
          `p99 ${quantile(latencies, 0.99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms; ${serverErrors} 5xx, ${graphqlErrors} GraphQL errors`,
      );

      expect(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status)).toEqual([]);
      expect(answers.filter((answer) => answer.body.errors !== undefined).map((answer) => answer.body.errors)).toEqual([]);
      const refused = answers.map((answer) => answer.body.data?.verifyTruecaller).filter((result) => result?.__typename !== "LoginSuccess");
      expect(refused).toEqual([]);

      // Every user's logins name one user, of its number; exactly one of them made it.
      const byUser = new Map<number, Answer[]>();
      for (const answer of answers) byUser.set(answer.user, [...(byUser.get(answer.user) ?? []), answer]);
      const userIds = new Map<string, string>();
      for (const [user, logins] of byUser) {
        const results = logins.map((login) => login.body.data!.verifyTruecaller as unknown as Success);
        expect(new Set(results.map((result) => result.user.id)).size, `user ${user}`).toBe(1);
        expect(results[0]!.user.phoneNumber).toBe(`+${phoneDigits(user)}`);
        expect(results.filter((result) => result.isNewUser), `user ${user}`).toHaveLength(1);
        userIds.set(results[0]!.user.phoneNumber, results[0]!.user.id);
      }
      expect(byUser.size).toBe(USERS);

      const stored = await t.db.query<{ phone_number: string; id: string }>("SELECT phone_number, id FROM users");
      expect(stored.rows).toHaveLength(USERS);
      expect(new Map(stored.rows.map((row) => [row.phone_number, row.id]))).toEqual(userIds);
      const identities = await t.db.query<{ count: number }>("SELECT count(*)::int AS count FROM identities");
      expect(identities.rows[0]!.count).toBe(USERS);
      // A fresh session for every login, retries included.
      const sessions = await t.db.query<{ count: number }>("SELECT count(*)::int AS count FROM sessions");
      expect(sessions.rows[0]!.count).toBe(answers.length);
      const accessTokens = answers.map((answer) => (answer.body.data!.verifyTruecaller as unknown as Success).session.accessToken);
      expect(new Set(accessTokens).size).toBe(answers.length);
      // The audit rows settle after the answers.
      await vi.waitFor(
        async () => {
          const events = await t.db.query<{ count: number }>("SELECT count(*)::int AS count FROM login_events WHERE outcome = 'LOGIN_SUCCEEDED'");
          expect(events.rows[0]!.count).toBe(answers.length);
        },
        { timeout: 10_000, interval: 100 },
      );

      // Each code once at the provider: one per user's first login and one per return, every one answered 200.
      const codes = USERS + answers.filter((answer) => answer.kind === "returning").length;
      expect(t.emulator.requestCount("token") - tokenCalls).toBe(codes);
      expect(t.emulator.requestCount("userinfo") - profileReads).toBe(codes);
      expect(t.emulator.requests.filter((request) => request.status !== 200)).toEqual([]);

      for (const gateway of processes) {
        expect(gateway.logLines().filter((line) => (line.level as number) >= PINO_ERROR_LEVEL)).toEqual([]);
      }
    },
    TEST_TIMEOUT_MS,
  );
});
