import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client.js";
import { applyMigrations } from "./migrations.js";

/** A pool waiting longer than this for a connection reports the database as down. */
const CONNECTION_TIMEOUT_MS = 5_000;

/**
 * Prisma's driver adapters send a `Date` as UTC wall time without an offset,
 * and read a timestamptz by replacing its offset with +00:00: both are right
 * only in a UTC session. A server or database set to, say, Asia/Kolkata would
 * otherwise store and read every instant 5½ hours off. So each connection is
 * switched to UTC before its first query (a `TimeZone` in the URL's own
 * `options` would override a startup parameter of ours), and start-up checks it.
 */
const SET_UTC = "SET TIME ZONE 'UTC'";

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
export async function openDatabase(settings: DatabaseSettings): Promise<{ database: Database; appliedMigrations: string[] }> {
  if (settings.kind === "postgres") {
    const { applied } = await applyMigrations({ kind: "postgres", url: settings.url });
    const pool = new pg.Pool({
      connectionString: settings.url,
      max: settings.poolSize,
      connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
      // Awaited before the pool hands the connection out; a failure fails that checkout.
      onConnect: async (client) => {
        await client.query(SET_UTC);
      },
    });
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
    await requireUtc(prisma).catch(async (error: unknown) => {
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
    await pglite.exec(SET_UTC); // PGlite has a single session: once is enough
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

/** Refuses a database whose sessions the pool could not switch to UTC (see SET_UTC). */
async function requireUtc(prisma: PrismaClient): Promise<void> {
  const [row] = await prisma.$queryRaw<Array<{ timeZone: string }>>`SELECT current_setting('TimeZone') AS "timeZone"`;
  if (row?.timeZone !== "UTC") {
    throw new Error(`database sessions run in time zone ${row?.timeZone ?? "unknown"}, not UTC; timestamps would be shifted`);
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
