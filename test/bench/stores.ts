/**
 * The benchmark's own PostgreSQL database and Redis key space: created fresh for one run, removed
 * at its end (test/helpers/database.ts does the same for the test suite).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { applyMigrations } from "../../src/store/migrations.js";

/** A server on which the `postgres` user may create databases (as the test suite assumes). */
export const DEFAULT_ADMIN_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const SCAN_BATCH = 1_000;

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops it, ending whatever connections are still open. Idempotent. */
  drop(): Promise<void>;
}

/** Creates `phonegate_bench_<random>` on the server of `adminUrl` and applies the repository's migrations. */
export async function createBenchDatabase(adminUrl = DEFAULT_ADMIN_DATABASE_URL): Promise<BenchDatabase> {
  const name = `phonegate_bench_${randomBytes(6).toString("hex")}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  const database: BenchDatabase = {
    name,
    url: url.href,
    drop: () => (dropped ??= withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {})),
  };
  try {
    await applyMigrations({ kind: "postgres", url: database.url });
  } catch (error) {
    await database.drop();
    throw error;
  }
  return database;
}

export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A Redis key prefix of one run, e.g. `phonegate-bench:1a2b3c4d5e6f:`. */
export function benchKeyPrefix(): string {
  return `phonegate-bench:${randomBytes(6).toString("hex")}:`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK); returns how many. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${escapeGlob(prefix)}*`, "COUNT", SCAN_BATCH);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A Redis glob matching `text` literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}
