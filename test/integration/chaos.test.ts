/**
 * Chaos under load: the gateway's connections to PostgreSQL and Redis are cut for real (the test gateway's TCP
 * proxies drop every open connection and refuse new ones) while virtual clients log in concurrently. Each client
 * logs in with fresh codes for phone numbers of its own, one after another, and answers SERVICE_UNAVAILABLE as a
 * mobile app does: it sends the same code and verifier again. The contract, checked over real HTTP:
 * - PostgreSQL away: logins answer the union member ServiceUnavailableError (never an HTTP 5xx or a masked
 *   INTERNAL_SERVER_ERROR), the provider's answer is kept, so the retry succeeds once the database is back without
 *   a second token call; /health/ready is 503 meanwhile and /health/live 200.
 * - Redis away: logins go on (cache, replay and limits degrade) and the gateway goes back to Redis by itself.
 * Phases are driven by counting answers, never by sleeping; no login may be lost, no number stored twice.
 */
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

/** Virtual clients logging in at once. */
const CLIENTS = 8;
/** Logins each client makes in the cut-and-restore tests: 96 in all. */
const LOGINS_PER_CLIENT = 12;
/** Logins that succeed before anything is cut. */
const WARM_UP_LOGINS = 30;
/**
 * How long a client waits before retrying a SERVICE_UNAVAILABLE. A real app waits `retryAfterSeconds`
 * (5 s); the test shortens it so that the retries land both during the outage and right after it.
 */
const RETRY_PAUSE_MS = 50;
/** A login still refused after this many tries (at least 10 s of retrying) is a lost login. */
const MAX_ATTEMPTS_PER_LOGIN = 200;
/** Cut-and-restore cycles of each dependency in the flapping test. */
const FLAPS = 2;
/** Each test's limit: a gateway start, ~150 logins and the outages, with room for a busy machine. */
const TEST_TIMEOUT_MS = 30_000;
/** How long an outage or a recovery may take to show. */
const CONDITION_TIMEOUT_MS = 10_000;
/** Log lines of faults that GraphQL would answer as INTERNAL_SERVER_ERROR. */
const UNEXPECTED_ERROR_LOGS = /unexpected error in (GraphQL operation|HTTP request)/;

type Result = Record<string, unknown> & { __typename?: string };

/** One HTTP exchange with the gateway, as the client saw it. */
interface Answer {
  readonly status: number;
  /** The parsed body, or the raw text when it was no JSON. */
  readonly body: { data?: { verifyTruecaller?: Result | null } | null; errors?: unknown[] } | string;
  /** The chaos epoch the request was sent in (see {@link Load.epoch}). */
  readonly epoch: number;
}

/** One login: a code minted for one phone number, and every answer its tries got. */
interface Login {
  readonly client: number;
  /** E.164. */
  readonly phoneNumber: string;
  /** The epoch its first try was sent in. */
  readonly startedIn: number;
  readonly attempts: Answer[];
  done: boolean;
}

function resultOf(answer: Answer): Result | undefined {
  return typeof answer.body === "string" ? undefined : (answer.body.data?.verifyTruecaller ?? undefined);
}

function typenameOf(answer: Answer): string | undefined {
  return resultOf(answer)?.__typename;
}

function lastAnswer(login: Login): Answer | undefined {
  return login.attempts[login.attempts.length - 1];
}

/** The n-th phone number of a test: +91 98 then eight digits, a valid Indian mobile. */
function phoneNumber(index: number): string {
  return `+9198${String(index).padStart(8, "0")}`;
}

/** One verifyTruecaller over HTTP, keeping the status and whatever the body was. */
async function sendVerify(baseUrl: string, code: string, verifier: string, epoch: number): Promise<Answer> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: VERIFY_MUTATION, variables: { code, verifier } }),
  });
  const text = await response.text();
  let body: Answer["body"];
  try {
    body = JSON.parse(text) as Answer["body"];
  } catch {
    body = text;
  }
  return { status: response.status, body, epoch };
}

/**
 * `CLIENTS` virtual clients making `target` logins in all, each client one login after another. A client retries
 * a SERVICE_UNAVAILABLE with the same code and verifier; any other answer ends that login (the assertions judge it).
 */
class Load {
  readonly logins: Login[] = [];
  /** Bumped by the test at each cut and restore, so answers can be told apart by when they were sent. */
  epoch = 0;
  /** Set once every client has finished. */
  ended = false;
  /** Set by {@link abort}: clients stop at once, retries included. */
  private aborted = false;
  /** Resolves when every client has finished; rejects when one failed (a connection refused by a crashed gateway, say). */
  readonly finished: Promise<void>;

  constructor(
    private readonly t: TestGateway,
    /** Logins to make in all; the flapping test lowers it to stop the load. */
    public target: number,
  ) {
    this.finished = Promise.all(Array.from({ length: CLIENTS }, (_, client) => this.client(client))).then(() => {
      this.ended = true;
    });
    // Awaited by every test; until then a failing client must not count as an unhandled rejection.
    this.finished.catch(() => {});
  }

  /** No new logins; the ones under way go on until they are answered. */
  drain(): void {
    this.target = this.logins.length;
  }

  /** Stops every client after its current request (a failed test must not leave a load running into the next). */
  abort(): Promise<void> {
    this.aborted = true;
    this.target = 0;
    return this.finished.catch(() => {});
  }

  /** Every answer every client got. */
  answers(): Answer[] {
    return this.logins.flatMap((login) => login.attempts);
  }

  /** Answers of `typename` to requests sent in epoch `since` or later (or exactly in it). */
  count(typename: string, since: number, only = false): number {
    return this.answers().filter((answer) => (only ? answer.epoch === since : answer.epoch >= since) && typenameOf(answer) === typename).length;
  }

  /** Whether every client has been answered SERVICE_UNAVAILABLE to a request it sent in `epoch` or later: all are retrying. */
  allRefused(epoch: number): boolean {
    const refused = this.logins.filter((login) => login.attempts.some((answer) => answer.epoch >= epoch && typenameOf(answer) === "ServiceUnavailableError"));
    return new Set(refused.map((login) => login.client)).size === CLIENTS;
  }

  /** Whether every client has finished a login it started in `epoch` or later: nothing it sent before is in flight. */
  caughtUp(epoch: number): boolean {
    return Array.from({ length: CLIENTS }, (_, client) => client).every((client) =>
      this.logins.some((login) => login.client === client && login.done && login.startedIn >= epoch),
    );
  }

  /**
   * Waits, while the load runs, until `check` holds; fails at once when the load ended first (the phase the test
   * wanted to observe never happened under load), and after `CONDITION_TIMEOUT_MS`.
   */
  async until(description: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + CONDITION_TIMEOUT_MS;
    while (!check()) {
      if (this.ended) throw new Error(`the load ended before ${description}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
      await Promise.race([delay(10), this.finished]);
    }
  }

  private async client(client: number): Promise<void> {
    while (this.logins.length < this.target) {
      const number = phoneNumber(this.logins.length);
      const minted = this.t.emulator.mintCode({ profile: { phone_number: number.slice(1) } });
      const login: Login = { client, phoneNumber: number, startedIn: this.epoch, attempts: [], done: false };
      this.logins.push(login);
      for (;;) {
        const answer = await sendVerify(this.t.gateway.url, minted.code, minted.codeVerifier!, this.epoch);
        login.attempts.push(answer);
        if (this.aborted || typenameOf(answer) !== "ServiceUnavailableError" || login.attempts.length >= MAX_ATTEMPTS_PER_LOGIN) break;
        await delay(RETRY_PAUSE_MS);
      }
      login.done = true;
    }
  }
}

async function status(t: TestGateway, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${t.gateway.url}${path}`);
  return { status: response.status, body: await response.json() };
}

/** What every chaos run must show, whatever was cut: HTTP 200 only, no GraphQL errors, no fault logged. */
function expectNoFaults(t: TestGateway, load: Load, allowed: ReadonlySet<string>): void {
  const answers = load.answers();
  expect(answers.filter((answer) => answer.status !== 200 || typeof answer.body === "string" || answer.body.errors !== undefined)).toEqual([]);
  expect(answers.filter((answer) => !allowed.has(typenameOf(answer) ?? "no result"))).toEqual([]);
  for (const answer of answers.filter((each) => typenameOf(each) === "ServiceUnavailableError")) {
    expect(resultOf(answer)).toMatchObject({ code: "SERVICE_UNAVAILABLE", retryAfterSeconds: expect.any(Number) });
    expect(resultOf(answer)!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  }
  expect(t.logs.filter((line) => UNEXPECTED_ERROR_LOGS.test(line))).toEqual([]);
}

/**
 * Every login of the load ended in a LoginSuccess, and the database holds exactly one user per phone number
 * logged in, the one its client was given; the provider saw each code exchanged and read once.
 */
async function expectEveryLoginStoredOnce(t: TestGateway, load: Load): Promise<void> {
  const unfinished = load.logins.filter((login) => typenameOf(lastAnswer(login)!) !== "LoginSuccess");
  expect(unfinished.map((login) => ({ phoneNumber: login.phoneNumber, answers: login.attempts.map(typenameOf) }))).toEqual([]);

  const { rows } = await t.db.query<{ id: string; phone_number: string }>("SELECT id::text AS id, phone_number FROM users ORDER BY phone_number");
  const intended = load.logins.map((login) => login.phoneNumber).sort();
  expect(new Set(intended).size).toBe(load.logins.length);
  expect(rows.map((row) => row.phone_number)).toEqual(intended);
  const stored = new Map(rows.map((row) => [row.phone_number, row.id]));
  for (const login of load.logins) {
    expect(resultOf(lastAnswer(login)!)).toMatchObject({ user: { id: stored.get(login.phoneNumber), phoneNumber: login.phoneNumber } });
  }
  // Retries were answered from the kept exchange: one token call and one profile read per code.
  expect(t.emulator.requestCount("token")).toBe(load.logins.length);
  expect(t.emulator.requestCount("userinfo")).toBe(load.logins.length);
}

const READY_OK = { status: 200, body: { status: "ok", database: "up", cache: "up" } };

describe("chaos: connections cut under load", () => {
  let t: TestGateway | undefined;
  let running: Load | undefined;
  afterEach(async () => {
    await running?.abort();
    running = undefined;
    await t?.close();
    t = undefined;
  });

  function startLoad(gateway: TestGateway, target: number): Load {
    running = new Load(gateway, target);
    return running;
  }

  it("answers SERVICE_UNAVAILABLE while PostgreSQL is cut, and every retry with the same code logs in once it is back", async () => {
    t = await startTestGateway({ throughProxies: true });
    const gateway = t;
    const load = startLoad(gateway, CLIENTS * LOGINS_PER_CLIENT);
    await load.until(`${WARM_UP_LOGINS} logins`, () => load.count("LoginSuccess", 0) >= WARM_UP_LOGINS);

    await gateway.proxies!.database.cut();
    const cutAt = ++load.epoch;
    // Every client ends up retrying until the database is back: the load cannot run out meanwhile.
    await load.until("every client refused during the outage", () => load.allRefused(cutAt) && load.count("ServiceUnavailableError", cutAt) >= 3 * CLIENTS);
    await vi.waitFor(
      async () => expect(await status(gateway, "/health/ready")).toMatchObject({ status: 503, body: { status: "unavailable", database: "down" } }),
      { timeout: CONDITION_TIMEOUT_MS, interval: 50 },
    );
    expect(await status(gateway, "/health/live")).toEqual({ status: 200, body: { status: "ok" } });
    // Nothing sent after the cut got through: the cut was real.
    expect(load.count("LoginSuccess", cutAt, true)).toBe(0);

    gateway.proxies!.database.restore();
    const restoredAt = ++load.epoch;
    await vi.waitFor(async () => expect(await status(gateway, "/health/ready")).toEqual(READY_OK), { timeout: CONDITION_TIMEOUT_MS, interval: 50 });
    await load.finished;

    expect(load.count("LoginSuccess", restoredAt)).toBeGreaterThan(0);
    expectNoFaults(gateway, load, new Set(["LoginSuccess", "ServiceUnavailableError"]));
    // The logins the outage refused (one per client at least) were retried with the same code until they succeeded.
    await expectEveryLoginStoredOnce(gateway, load);
  }, TEST_TIMEOUT_MS);

  it("keeps logging in while Redis is cut, and goes back to it (replay included) once it returns", async () => {
    // Limits switched on, high enough never to refuse: with Redis away they are counted in this instance's memory.
    t = await startTestGateway({
      throughProxies: true,
      env: { LOGIN_RATE_PER_IP: "100000", LOGIN_FAILURES_PER_IP: "100000", LOGIN_RATE_PER_NUMBER: "100" },
    });
    const gateway = t;
    const load = startLoad(gateway, CLIENTS * LOGINS_PER_CLIENT);
    await load.until(`${WARM_UP_LOGINS} logins`, () => load.count("LoginSuccess", 0) >= WARM_UP_LOGINS);

    await gateway.proxies!.redis.cut();
    const cutAt = ++load.epoch;
    // Every client logs in at least once entirely without Redis.
    await load.until("logins during the Redis outage", () => gateway.logs.some((line) => line.includes("redis unreachable")) && load.caughtUp(cutAt));
    // Degraded, not out of the load balancer: logins go on without Redis.
    expect(await status(gateway, "/health/ready")).toEqual({ status: 200, body: { status: "degraded", database: "up", cache: "down" } });
    expect(await status(gateway, "/health/live")).toEqual({ status: 200, body: { status: "ok" } });

    gateway.proxies!.redis.restore();
    await vi.waitFor(() => expect(gateway.logs.some((line) => line.includes("redis reachable again"))).toBe(true), {
      timeout: CONDITION_TIMEOUT_MS,
      interval: 50,
    });
    await load.finished;

    expectNoFaults(gateway, load, new Set(["LoginSuccess"]));
    // No client had to retry: one answer per login.
    expect(load.logins.filter((login) => login.attempts.length !== 1)).toEqual([]);
    await expectEveryLoginStoredOnce(gateway, load);
    const unreachable = gateway.logs.findIndex((line) => line.includes("redis unreachable"));
    expect(gateway.logs.findIndex((line, index) => index > unreachable && line.includes("redis reachable again"))).toBeGreaterThan(unreachable);

    // Back to Redis without a restart: a retried code is answered from the replay store.
    expect(await status(gateway, "/health/ready")).toEqual(READY_OK);
    const minted = gateway.emulator.mintCode({ profile: { phone_number: phoneNumber(load.logins.length).slice(1) } });
    const tokenCalls = gateway.emulator.requestCount("token");
    const first = await gateway.verify(minted.code, minted.codeVerifier!);
    const retry = await gateway.verify(minted.code, minted.codeVerifier!);
    expect(first).toMatchObject({ __typename: "LoginSuccess", isNewUser: true });
    expect(retry).toMatchObject({ __typename: "LoginSuccess", isNewUser: false, user: { id: (first.user as { id: string }).id } });
    expect(gateway.emulator.requestCount("token")).toBe(tokenCalls + 1);
  }, TEST_TIMEOUT_MS);

  it("loses no login while PostgreSQL, then Redis, flap under load", async () => {
    t = await startTestGateway({ throughProxies: true });
    const gateway = t;
    const { database, redis } = gateway.proxies!;
    const logged = (message: string) => gateway.logs.filter((line) => line.includes(message)).length;
    const load = startLoad(gateway, Number.POSITIVE_INFINITY);
    await load.until("the first logins", () => load.count("LoginSuccess", 0) >= CLIENTS);

    for (let flap = 1; flap <= FLAPS; flap += 1) {
      // Cut until the clients are refused, back until every client has logged in anew: each refused login completed.
      await database.cut();
      const cutAt = ++load.epoch;
      await load.until(`every client refused in database outage ${flap}`, () => load.allRefused(cutAt));
      database.restore();
      const backAt = ++load.epoch;
      await load.until(`recovery from database outage ${flap}`, () => load.caughtUp(backAt));
    }
    // Redis flaps with the database up: both away at once would leave a refused login nothing to resume from
    // (README, "When Redis is down"), which is why the refused logins above have all completed by now.
    for (let flap = 1; flap <= FLAPS; flap += 1) {
      await redis.cut();
      const cutAt = ++load.epoch;
      await load.until(`logins in Redis outage ${flap}`, () => logged("redis unreachable") >= flap && load.count("LoginSuccess", cutAt, true) > 0);
      redis.restore();
      await load.until(`Redis back ${flap}`, () => logged("redis reachable again") >= flap);
    }
    const lastEpoch = ++load.epoch;
    await load.until("logins after the last Redis outage", () => load.caughtUp(lastEpoch));
    load.drain();
    await load.finished;

    expect(load.count("ServiceUnavailableError", 0)).toBeGreaterThanOrEqual(FLAPS * CLIENTS);
    expectNoFaults(gateway, load, new Set(["LoginSuccess", "ServiceUnavailableError"]));
    await vi.waitFor(async () => expect(await status(gateway, "/health/ready")).toEqual(READY_OK), { timeout: CONDITION_TIMEOUT_MS, interval: 50 });
    await expectEveryLoginStoredOnce(gateway, load);
  }, TEST_TIMEOUT_MS);
});
