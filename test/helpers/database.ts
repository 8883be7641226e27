import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase, type Database } from "../../src/store/database.js";
import { applyMigrations } from "../../src/store/migrations.js";

/** Server whose `postgres` database the tests may create and drop databases from. */
const DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
/** A local server answers in milliseconds; waiting longer only delays the "not reachable" message. */
const CONNECT_TIMEOUT_MS = 3_000;

export interface TestDatabase {
  /** Connection string of the new database. */
  url: string;
  /** Drops the database, closing whatever connections are still open to it. */
  drop(): Promise<void>;
  /** Makes the database refuse connections and ends the open ones, as an outage would. */
  refuseConnections(): Promise<void>;
  /** Lets connections in again after {@link TestDatabase.refuseConnections}. */
  allowConnections(): Promise<void>;
}

/**
 * Creates a fresh, uniquely named PostgreSQL database with the repository's migrations applied
 * (unless `migrate: false`), optionally with session defaults of its own, on the server of
 * `TEST_DATABASE_URL` (default: local, user postgres).
 * Each test file gets a database of its own, so files run in parallel without sharing rows.
 * An unreachable server fails loudly: a skipped database test would pass for the wrong reason.
 */
export async function createTestDatabase(options: { migrate?: boolean; settings?: Record<string, string> } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const name = `phonegate_test_${randomBytes(6).toString("hex")}`;
  await withAdminClient(adminUrl, async (client) => {
    await client.query(`CREATE DATABASE "${name}"`);
    // Defaults a server may have (a local time zone, a stricter isolation level) that the gateway must not depend on.
    for (const [setting, value] of Object.entries(options.settings ?? {})) {
      await client.query(`ALTER DATABASE "${name}" SET ${setting} = '${value}'`);
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database: TestDatabase = {
    url: url.href,
    drop: async () => {
      await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
    refuseConnections: async () => {
      await withAdminClient(adminUrl, async (client) => {
        // ALLOW_CONNECTIONS binds superusers too, unlike CONNECTION LIMIT.
        await client.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
        await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
      });
    },
    allowConnections: async () => {
      await withAdminClient(adminUrl, async (client) => {
        await client.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
      });
    },
  };
  if (options.migrate ?? true) {
    try {
      await applyMigrations({ kind: "postgres", url: database.url });
    } catch (error) {
      await database.drop();
      throw error;
    }
  }
  return database;
}

async function withAdminClient<T>(adminUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } catch (error) {
    // A server that answered (bad role, say) gives its own message; no answer gets the hint.
    if (error instanceof pg.DatabaseError) throw error;
    const { hostname, port } = new URL(adminUrl);
    throw new Error(
      `PostgreSQL is not reachable at ${hostname}:${port || 5432} — start it (e.g. \`docker run --rm -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:17\`) or point TEST_DATABASE_URL at a server where the user may create databases.`,
      { cause: error },
    );
  }
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The embedded database (PGlite) as the gateway opens it, in a temporary directory of its own. */
export async function openEmbeddedTestDatabase(): Promise<{ database: Database; close(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), "phonegate-pglite-"));
  const { database } = await openDatabase({ kind: "embedded", directory: join(directory, "pglite") });
  return {
    database,
    async close() {
      await database.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
