import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "../../src/generated/prisma/client.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { UserRepository } from "../../src/store/user.repository.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { newSessionRecord, testTokenCipher, verifiedLogin } from "../helpers/sessions.js";

/** Active sessions of other users already stored: far more than a login of someone else may read. */
const OTHER_SESSIONS = 10_000;
const OTHER_USERS = 1_000;
/** PostgreSQL switches a PL/pgSQL statement to its generic plan after five runs; these logins run past that. */
const LOGINS = 12;

/** Rows of `sessions` read so far (index fetches and sequential reads), as PostgreSQL's statistics count them. */
async function sessionRowsRead(prisma: PrismaClient): Promise<number> {
  // The backend that ran the logins (a pool of one) reports its counts now rather than within the second.
  await prisma.$executeRaw`SELECT pg_stat_force_next_flush()`;
  await prisma.$queryRaw`SELECT 1`;
  const [row] = await prisma.$queryRaw<Array<{ read: bigint }>>`
    SELECT COALESCE(idx_tup_fetch, 0) + seq_tup_read AS read FROM pg_stat_user_tables WHERE relname = 'sessions'`;
  await prisma.$executeRaw`SELECT pg_stat_clear_snapshot()`;
  return Number(row!.read);
}

/**
 * A returning login reads no sessions, however many are stored: the steps that revoke sessions (a number that
 * changed hands, an identity that moved) run only when needed. Run on every login, they read the user's
 * sessions each time — and with plans PostgreSQL had made while the table was small, every active session:
 * a login's cost grew with the table (found in a five-minute soak).
 */
describe("a login's statement on PostgreSQL", () => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    ({ database } = await openDatabase({ kind: "postgres", url: testDatabase.url, poolSize: 1 }));
    // Other users with a few active sessions each, and their identities, as a busy deployment has them.
    await database.prisma.$executeRaw`
      INSERT INTO users (id, phone_number, phone_number_verified, created_at, updated_at)
      SELECT gen_random_uuid(), '+9197' || lpad(n::text, 8, '0'), true, now(), now() FROM generate_series(1, ${OTHER_USERS}::int) n`;
    await database.prisma.$executeRaw`
      INSERT INTO identities (provider, subject, user_id, linked_at, last_login_at) SELECT 'truecaller', id::text, id, now(), now() FROM users`;
    // The user logging in has sessions of earlier logins too.
    const users = new UserRepository(database.prisma, testTokenCipher(), 90);
    for (let attempt = 0; attempt < LOGINS; attempt += 1) await users.upsertVerifiedUser(verifiedLogin("+919800001001", "returning"), newSessionRecord());
    await database.prisma.$executeRaw`
      INSERT INTO sessions (id, user_id, created_at)
      SELECT gen_random_uuid(), u.id, now() FROM users u, generate_series(1, ${OTHER_SESSIONS / OTHER_USERS}::int)`;
    // As autovacuum would: plans made while the table was small are made again.
    await database.prisma.$executeRaw`ANALYZE`;
  });
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  it("reads no session rows of its user's earlier logins, nor of other users", async () => {
    const users = new UserRepository(database.prisma, testTokenCipher(), 90);
    const before = await sessionRowsRead(database.prisma);

    for (let attempt = 0; attempt < LOGINS; attempt += 1) await users.upsertVerifiedUser(verifiedLogin("+919800001001", "returning"), newSessionRecord());

    const perLogin = ((await sessionRowsRead(database.prisma)) - before) / LOGINS;
    // The new refresh token's foreign-key check reads its session; nothing else reads sessions on a returning login.
    expect(perLogin).toBeLessThanOrEqual(2);
  });

  it("runs statements under a server-side timeout shorter than the client's (10 s), so one the client gave up on rolls back", async () => {
    const [setting] = await database.prisma.$queryRaw<Array<{ statement_timeout: string }>>`SHOW statement_timeout`;
    expect(setting?.statement_timeout).toBe("9s");
  });
});
