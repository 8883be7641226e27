/**
 * `npm run bench:seed -- --users 1000000 --database-url postgresql://…`: stores N users with their
 * Truecaller identities in a migrated phonegate database, the way `npm run bench -- --users N`
 * seeds its own. `--start K` continues after an earlier seed (users K … K+N-1).
 */
import { parseArgs } from "node:util";
import { MAX_USERS } from "./options.js";
import { countUsers, seedUsers } from "./seed-users.js";
import { withClient } from "./stores.js";

const USAGE = "npm run bench:seed -- --users <n> --database-url <postgresql://…> [--start <k>]";

function integerFlag(name: string, text: string | undefined, fallback: number | undefined): number {
  if (text === undefined) {
    if (fallback === undefined) throw new Error(`${name} is required\n${USAGE}`);
    return fallback;
  }
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < 0 || value > MAX_USERS) throw new Error(`${name} must be an integer from 0 to ${MAX_USERS}\n${USAGE}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { users: { type: "string" }, "database-url": { type: "string" }, start: { type: "string" } },
    strict: true,
  });
  const count = integerFlag("--users", values.users, undefined);
  const start = integerFlag("--start", values.start, 0);
  if (start + count > MAX_USERS) throw new Error(`bench numbers run out at ${MAX_USERS} users (--start + --users)`);
  const url = values["database-url"];
  if (url === undefined) throw new Error(`--database-url is required\n${USAGE}`);

  const started = performance.now();
  await withClient(url, async (client) => {
    const inserted = await seedUsers(client, {
      start,
      count,
      onProgress: (done, total) => process.stderr.write(`\rseeding: ${done.toLocaleString("en")} / ${total.toLocaleString("en")}`),
    });
    process.stderr.write("\n");
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `inserted ${inserted.toLocaleString("en")} users (${count - inserted} already there) in ${seconds.toFixed(1)} s; ` +
        `the database holds ${(await countUsers(client)).toLocaleString("en")} users`,
    );
  });
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
