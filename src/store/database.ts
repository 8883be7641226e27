import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client.js";
import { UNOBSERVED, type Telemetry } from "../telemetry/telemetry.js";
import { applyMigrations } from "./migrations.js";

/** A pool waiting longer than this for a connection reports the database as down. */
const CONNECTION_TIMEOUT_MS = 5_000;
/**
 * No query waits longer than this for an answer: a network path that drops
 * packets without resetting the connection would otherwise hold a request (and
 * a pooled connection) for ever. Our statements take milliseconds.
 */
const QUERY_TIMEOUT_MS = 10_000;
/**
 * The server gives up on a statement before the client stops waiting for it:
 * a login is one statement, and one the client had given up on could otherwise
 * still commit after the client was told SERVICE_UNAVAILABLE. Cancelled, it
 * rolls back.
 */
const STATEMENT_TIMEOUT_MS = QUERY_TIMEOUT_MS - 1_000;

/**
 * What every database session of the gateway must run with, whatever the
 * server, database or URL says (a URL's own `options` would override startup
 * parameters of ours, so each connection is set before its first query, and
 * start-up checks that it took):
 * - UTC: Prisma's driver adapters send a `Date` as UTC wall time without an
 *   offset and read a timestamptz by replacing its offset with +00:00, both
 *   right only in UTC. In, say, Asia/Kolkata every instant would be 5½ h off.
 * - READ COMMITTED: the login and refresh statements rely on each statement
 *   seeing what committed before it (after waiting for a lock); under
 *   REPEATABLE READ or SERIALIZABLE they would fail with serialization errors.
 */
const SESSION_SETTINGS = { TimeZone: "UTC", default_transaction_isolation: "read committed" } as const;
const APPLY_SESSION_SETTINGS = Object.entries(SESSION_SETTINGS)
  .map(([name, value]) => `SET ${name} = '${value}'`)
  .join("; ");

/** Where the users live: a PostgreSQL server, or PGlite embedded in the process. */
export type DatabaseSettings = { kind: "postgres"; url: string; poolSize: number } | { kind: "embedded"; directory: string };

export interface Database {
  readonly kind: DatabaseSettings["kind"];
  readonly prisma: PrismaClient;
  /** Resolves when the database answers a query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the database and applies pending migrations from `prisma/migrations`
 * before anything queries it, so a fresh machine needs no separate migrate step.
 * Returns the applied migrations' names for the start-up log.
 */
export async function openDatabase(
  settings: DatabaseSettings,
  telemetry: Telemetry = UNOBSERVED,
): Promise<{ database: Database; appliedMigrations: string[] }> {
  if (settings.kind === "postgres") {
    const { applied } = await applyMigrations({ kind: "postgres", url: settings.url });
    const pool = new pg.Pool({
      connectionString: settings.url,
      max: settings.poolSize,
      connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      // Dead peers are noticed by TCP keepalive, not only when a query times out.
      keepAlive: true,
      // Awaited before the pool hands the connection out; a failure fails that checkout.
      onConnect: async (client) => {
        await client.query(`${APPLY_SESSION_SETTINGS}; SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
        observeQueries(client, telemetry);
      },
    });
    observeQueries(pool, telemetry);
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
    await requireSessionSettings(prisma).catch(async (error: unknown) => {
      await prisma.$disconnect();
      throw error;
    });
    // Health probes get a connection of their own: a pool busy with logins is not a database that is down.
    const probes = new pg.Pool({ connectionString: settings.url, max: 1, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS });
    probes.on("error", () => {}); // an idle probe connection dropping is reported by the next probe
    return {
      database: databaseHandle("postgres", prisma, () => probes.query("SELECT 1"), () => probes.end()),
      appliedMigrations: applied,
    };
  }
  // PGlite needs the parent of its data directory to exist.
  await mkdir(dirname(settings.directory), { recursive: true });
  const pglite = await PGlite.create(settings.directory);
  try {
    await pglite.exec(APPLY_SESSION_SETTINGS); // PGlite has a single session: once is enough
    const { applied } = await applyMigrations({ kind: "pglite", db: pglite });
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    return {
      database: databaseHandle("embedded", prisma, () => pglite.query("SELECT 1"), () => pglite.close()),
      appliedMigrations: applied,
    };
  } catch (error) {
    await pglite.close();
    throw error;
  }
}

/** Refuses a database whose sessions did not take SESSION_SETTINGS (a pooler may drop them, for one). */
async function requireSessionSettings(prisma: PrismaClient): Promise<void> {
  const [row] = await prisma.$queryRaw<Array<Record<keyof typeof SESSION_SETTINGS, string>>>`
    SELECT current_setting('TimeZone') AS "TimeZone", current_setting('default_transaction_isolation') AS "default_transaction_isolation"`;
  for (const [name, value] of Object.entries(SESSION_SETTINGS) as Array<[keyof typeof SESSION_SETTINGS, string]>) {
    if (row?.[name] !== value) throw new Error(`database sessions run with ${name} = ${row?.[name] ?? "unknown"}, not ${value}`);
  }
}

function databaseHandle(
  kind: Database["kind"],
  prisma: PrismaClient,
  probe: () => Promise<unknown>,
  closeDriver: () => Promise<void>,
): Database {
  return {
    kind,
    prisma,
    async ping() {
      await probe();
    },
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}

/**
 * Routes the promise form of `query` — what Prisma's adapter sends, on the pool
 * and on the clients it checks out for transactions — through telemetry, one
 * span and one timing per round trip. The callback form (the pool's own call
 * on a client) passes untouched, so nothing is counted twice.
 */
function observeQueries(queryable: pg.Pool | pg.ClientBase, telemetry: Telemetry): void {
  const query = queryable.query.bind(queryable) as (...args: unknown[]) => unknown;
  (queryable as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const [first] = args;
    const config = typeof first === "object" && first !== null ? (first as { text?: unknown; submit?: unknown; callback?: unknown }) : undefined;
    const text = typeof first === "string" ? first : config?.text;
    const promised = typeof args.at(-1) !== "function" && typeof config?.submit !== "function" && typeof config?.callback !== "function";
    return typeof text === "string" && promised ? telemetry.databaseQuery(text, () => query(...args) as Promise<unknown>) : query(...args);
  };
}
