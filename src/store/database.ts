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
 * which PostgreSQL reads in the session's TimeZone: a server or database set
 * to, say, Asia/Kolkata would store every instant we write 5½ hours off and
 * disagree with its own `now()`. Our sessions therefore always run in UTC.
 */
const UTC_SESSION = "-c TimeZone=UTC";

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
    const prisma = new PrismaClient({
      adapter: new PrismaPg({ connectionString: settings.url, max: settings.poolSize, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS, options: UTC_SESSION }),
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
  await pglite.exec("SET TIME ZONE 'UTC'"); // see UTC_SESSION: PGlite has one session, set here once
  try {
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
