import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.js";
import { isDeadlock, retriedOnDeadlock } from "../../src/store/transactions.js";
import { createTestDatabase } from "../helpers/database.js";

/**
 * The deadlock retry against the errors the driver adapter really raises:
 * PostgreSQL is made to report SQLSTATE 40P01 (as it does for a deadlock's
 * victim) or another error from inside a transaction.
 */
describe("retriedOnDeadlock on PostgreSQL", () => {
  let database: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const testDatabase = await createTestDatabase();
    ({ database } = await openDatabase({ kind: "postgres", url: testDatabase.url, poolSize: 2 }));
    drop = testDatabase.drop;
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  /** A transaction that fails with `sqlState` for its first `failures` runs, then answers. */
  function transactionFailing(sqlState: string, failures: number) {
    let runs = 0;
    const transaction = async () => {
      runs += 1;
      const raise = runs <= failures;
      const [, answer] = await database.prisma.$transaction([
        database.prisma.$executeRawUnsafe(
          raise ? `DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '${sqlState}'; END $$` : "SELECT 1",
        ),
        database.prisma.$queryRaw<Array<{ answer: number }>>`SELECT 42 AS answer`,
      ]);
      return answer[0]!.answer;
    };
    return { transaction, runs: () => runs };
  }

  it("runs a transaction chosen as a deadlock's victim again", async () => {
    const subject = transactionFailing("40P01", 2);
    expect(await retriedOnDeadlock(subject.transaction)).toBe(42);
    expect(subject.runs()).toBe(3);
  });

  it("gives up after three deadlocks in a row, with PostgreSQL's error", async () => {
    const subject = transactionFailing("40P01", 3);
    const failure = await retriedOnDeadlock(subject.transaction).catch((error: unknown) => error);
    expect(isDeadlock(failure)).toBe(true);
    expect(subject.runs()).toBe(3);
  });

  it("does not run again on other errors", async () => {
    const subject = transactionFailing("23505", 1);
    const failure = await retriedOnDeadlock(subject.transaction).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(isDeadlock(failure)).toBe(false);
    expect(subject.runs()).toBe(1);
  });
});
