import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const ROOT = new URL("../..", import.meta.url).pathname;

/** `npm start`'s program, run from source so the test needs no build. */
function startMain(env: Record<string, string>) {
  return spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("the gateway process", () => {
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses to start in production without TRUECALLER_CLIENT_ID, naming it", async () => {
    const child = startMain({ NODE_ENV: "production", DATABASE_URL: "postgresql://nobody:s3cret-pw@127.0.0.1:1/none" });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [exitCode] = (await once(child, "exit")) as [number];
    expect(exitCode).toBe(1);
    expect(stderr).toContain("TRUECALLER_CLIENT_ID is required in production");
    expect(stderr).not.toContain("s3cret-pw");
  });

  it("applies migrations, serves /health, and exits 0 on SIGTERM", async () => {
    database = await createTestDatabase({ migrate: false });
    dataDir = await mkdtemp(join(tmpdir(), "phonegate-process-"));
    const child = startMain({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: database.url, DATA_DIR: dataDir, TRUECALLER_CLIENT_ID: "x" });
    const lines = createInterface({ input: child.stdout });
    let url: string | undefined;
    let appliedMigrations: string[] = [];
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; url?: string; appliedMigrations?: string[] };
      if (entry.msg === "database ready") appliedMigrations = entry.appliedMigrations ?? [];
      if (entry.msg === "gateway listening") {
        url = entry.url;
        break;
      }
    }
    expect(appliedMigrations.length).toBeGreaterThan(0);
    expect(url).toMatch(/\/graphql$/);
    const health = await fetch(new URL("/health", url));
    expect(health.status).toBe(200);

    child.kill("SIGTERM");
    const [exitCode] = (await once(child, "exit")) as [number];
    expect(exitCode).toBe(0);
  });
});
