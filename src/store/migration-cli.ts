/**
 * `npm run db:migration -- <name>`: writes the next migration from the changes in
 * prisma/schema.prisma, laid out as `prisma migrate dev --create-only` does.
 * `npm run db:migration -- --check`: exits 1, printing the SQL, when schema and migrations drift.
 * Both work offline: the Prisma CLI's migrate commands need a schema-engine binary download.
 */
import { access, mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { defaultMigrationsDir, diffMigrationsToSchema, MIGRATION_LOCK } from "./migrations.js";

const USAGE = "usage: npm run db:migration -- <name>    create the next migration\n       npm run db:migration -- --check     exit 1 if prisma/schema.prisma has changes no migration covers";

/** Prisma rejects longer migration names. */
const MAX_NAME_LENGTH = 200;

async function main(args: string[]): Promise<number> {
  const [arg, ...rest] = args;
  if (arg === undefined || rest.length > 0 || arg === "--help" || arg === "-h") {
    console.error(USAGE);
    return 2;
  }
  return arg === "--check" ? check() : create(arg);
}

async function check(): Promise<number> {
  const diff = await diffMigrationsToSchema();
  if (diff === "") {
    console.log("Migrations are in sync with prisma/schema.prisma.");
    return 0;
  }
  console.error("prisma/schema.prisma has changes no migration covers; create one with `npm run db:migration -- <name>`. Missing SQL:\n");
  process.stdout.write(diff);
  return 1;
}

async function create(name: string): Promise<number> {
  const slug = migrationSlug(name);
  if (slug === "") {
    console.error(`"${name}" is not a usable migration name.\n${USAGE}`);
    return 2;
  }
  const diff = await diffMigrationsToSchema();
  if (diff === "") {
    console.log("no changes");
    return 0;
  }
  const migrationsDir = defaultMigrationsDir();
  const directory = join(migrationsDir, `${utcTimestamp(new Date())}_${slug}`);
  await mkdir(migrationsDir, { recursive: true });
  await mkdir(directory); // fails rather than overwrite a migration made in the same second
  await writeFile(join(directory, "migration.sql"), diff);
  const lockfile = join(migrationsDir, MIGRATION_LOCK.fileName);
  if (!(await access(lockfile).then(() => true, () => false))) {
    await writeFile(lockfile, MIGRATION_LOCK.content);
  }
  console.log(`Created ${relative(process.cwd(), join(directory, "migration.sql"))}`);
  return 0;
}

/** `prisma migrate dev` names the directory after the UTC time, yyyyMMddHHmmss. */
function utcTimestamp(date: Date): string {
  return date.toISOString().replace(/\D/g, "").slice(0, 14);
}

/** The snake_case slug `prisma migrate dev` makes of a name: "Add userEmail!" → "add_user_email". */
function migrationSlug(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/\p{M}/gu, "") // é → e
    .replace(/([a-z\d])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z\d])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z\d]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, MAX_NAME_LENGTH);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
