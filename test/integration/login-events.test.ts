import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { LoginEventRepository, type LoginEventRecord } from "../../src/store/login-events.js";
import { currentRequestId, runWithRequestId } from "../../src/request-context.js";
import { UNOBSERVED, type Telemetry } from "../../src/telemetry/telemetry.js";
import { postGraphql, startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

interface EventRow {
  provider: string;
  outcome: string;
  user_id: string | null;
  ip_hash: string | null;
  user_agent: string | null;
  created_at: Date;
}

/** The audit trail: one LoginEvent per verification attempt, with the client's IP only as a keyed hash. */
describe("login events", () => {
  let t: TestGateway;
  let db: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway();
    db = t.db;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function events(): Promise<EventRow[]> {
    return (await db.query<EventRow>("SELECT provider, outcome, user_id::text, ip_hash, user_agent, created_at FROM login_events ORDER BY id")).rows;
  }

  async function verifyFrom(headers: Record<string, string>, code: string, verifier: string) {
    const body = await postGraphql<{ verifyTruecaller: Record<string, unknown> }>(t.gateway.url, VERIFY_MUTATION, { code, verifier }, headers);
    return body.data!.verifyTruecaller;
  }

  it("records each attempt with its provider, the code the client got, the user when known, a hashed IP and the user agent", async () => {
    await db.query("DELETE FROM login_events");
    const minted = t.emulator.mintCode();
    const success = (await verifyFrom({ "user-agent": "phonegate-test/1.0" }, minted.code, minted.codeVerifier!)) as { user: { id: string } };
    await verifyFrom({ "user-agent": "phonegate-test/1.0" }, "no-such-code", "v".repeat(43));
    await verifyFrom({}, "", "v".repeat(43));
    const otp = await t.graphql("mutation { verifyTruecallerAccessToken(accessToken: \"unknown-token\") { __typename } }");
    expect(otp).toMatchObject({ data: { verifyTruecallerAccessToken: { __typename: "InvalidCodeError" } } });

    const rows = await events();
    expect(rows.map(({ provider, outcome, user_id }) => ({ provider, outcome, user_id }))).toEqual([
      { provider: "truecaller", outcome: "LOGIN_SUCCEEDED", user_id: success.user.id },
      { provider: "truecaller", outcome: "INVALID_CODE", user_id: null },
      { provider: "truecaller", outcome: "INVALID_INPUT", user_id: null },
      { provider: "truecaller_otp", outcome: "INVALID_CODE", user_id: null },
    ]);
    expect(rows[0]!.user_agent).toBe("phonegate-test/1.0");
    // The loopback client's address, hashed: the same for every request from it, and not the address.
    expect(new Set(rows.map((row) => row.ip_hash)).size).toBe(1);
    expect(rows[0]!.ip_hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(rows)).not.toMatch(/127\.0\.0\.1|::1/);
  });

  it("ignores X-Forwarded-For unless TRUST_PROXY says a proxy is in front", async () => {
    await db.query("DELETE FROM login_events");
    await verifyFrom({ "x-forwarded-for": "203.0.113.7" }, "no-such-code", "v".repeat(43));
    await verifyFrom({ "x-forwarded-for": "198.51.100.9" }, "no-such-code", "v".repeat(43));
    const untrusted = await events();
    expect(untrusted[0]!.ip_hash).toBe(untrusted[1]!.ip_hash);

    await t.restartGateway({ TRUST_PROXY: "loopback" });
    await db.query("DELETE FROM login_events");
    await verifyFrom({ "x-forwarded-for": "203.0.113.7" }, "no-such-code", "v".repeat(43));
    await verifyFrom({ "x-forwarded-for": "198.51.100.9" }, "no-such-code", "v".repeat(43));
    await verifyFrom({ "x-forwarded-for": "203.0.113.7" }, "no-such-code", "v".repeat(43));
    const trusted = (await events()).map((row) => row.ip_hash);
    expect(trusted[0]).not.toBe(trusted[1]);
    expect(trusted[2]).toBe(trusted[0]);
    expect(trusted).not.toContain(untrusted[0]!.ip_hash);
  });

  it("cuts an oversized user agent", async () => {
    await db.query("DELETE FROM login_events");
    await verifyFrom({ "user-agent": "x".repeat(1_000) }, "no-such-code", "v".repeat(43));
    expect((await events())[0]!.user_agent).toHaveLength(256);
  });

  it("prunes events older than the retention", async () => {
    await db.query("DELETE FROM login_events");
    await verifyFrom({}, "no-such-code", "v".repeat(43));
    await verifyFrom({}, "no-such-code", "v".repeat(43));
    await db.query("UPDATE login_events SET created_at = now() - interval '91 days' WHERE id = (SELECT id FROM login_events ORDER BY id LIMIT 1)");
    const { database } = await openDatabase({ kind: "postgres", url: t.databaseUrl, poolSize: 1 });
    try {
      expect(await new LoginEventRepository(database.prisma).prune(90)).toBe(1);
    } finally {
      await database.close();
    }
    expect(await events()).toHaveLength(1);
  });

  it("writes the events that arrive while an INSERT runs together in the next, and a bad row costs only itself", async () => {
    await db.query("DELETE FROM login_events");
    const statements: string[] = [];
    const counting: Telemetry = {
      ...UNOBSERVED,
      // With the request it ran for, if any: a batch is nobody's, whoever queued first.
      databaseQuery: (statement, run) => (statements.push(`${statement.trimStart().split(/\s/, 1)[0]!} ${currentRequestId() ?? "-"}`), run()),
    };
    const { database } = await openDatabase({ kind: "postgres", url: t.databaseUrl, poolSize: 4 }, counting);
    try {
      const repository = new LoginEventRepository(database.prisma);
      const event = (userAgent: string): LoginEventRecord => ({ provider: "truecaller", outcome: "INVALID_CODE", userId: undefined, ipHash: undefined, userAgent, at: new Date() });
      statements.length = 0;

      await Promise.all(Array.from({ length: 200 }, (_, index) => runWithRequestId(`request-${index}`, () => repository.record(event(`agent-${index}`)))));

      // The first alone, at once; the 199 that came meanwhile in one more.
      expect(statements).toEqual(["INSERT -", "INSERT -"]);
      expect((await events()).map((row) => row.user_agent).sort()).toEqual(Array.from({ length: 200 }, (_, index) => `agent-${index}`).sort());

      await db.query("DELETE FROM login_events");
      // PostgreSQL's text refuses NUL: that row fails, the rows batched with it are stored.
      const results = await Promise.allSettled([repository.record(event("first")), repository.record(event("good")), repository.record(event("bad\u0000")), repository.record(event("also good"))]);
      expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((await events()).map((row) => row.user_agent).sort()).toEqual(["also good", "first", "good"]);
    } finally {
      await database.close();
    }
  });
});
