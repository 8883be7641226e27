import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { generateSigningKeySetText, parseSigningKeys } from "../../src/auth/signing-keys.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const ROOT = new URL("../..", import.meta.url).pathname;

/** What `npm start` runs: the build (`npm test` builds before running the suite). */
function startMain(env: Record<string, string>) {
  return spawn(process.execPath, ["dist/main.js"], {
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

  it("refuses to start in production without a provider, keys or issuer, naming them", async () => {
    const child = startMain({ NODE_ENV: "production", DATABASE_URL: "postgresql://nobody:s3cret-pw@127.0.0.1:1/none", TOKEN_ENCRYPTION_KEYS: "k1:s3cret-key" });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [exitCode] = (await once(child, "exit")) as [number];
    expect(exitCode).toBe(1);
    expect(stderr).toContain("one of TRUECALLER_CLIENT_ID, WGTWO_CLIENT_ID, OIDC_ISSUER is required in production");
    expect(stderr).toContain("SESSION_SIGNING_KEYS is required in production");
    expect(stderr).toContain("SESSION_ISSUER is required in production");
    expect(stderr).toContain("TOKEN_ENCRYPTION_KEYS must be");
    expect(stderr).not.toContain("s3cret");
  });

  it("applies migrations, serves /health, keeps request bodies out of its output, and exits 0 on SIGTERM", async () => {
    database = await createTestDatabase({ migrate: false });
    dataDir = await mkdtemp(join(tmpdir(), "phonegate-process-"));
    const child = startMain({
      NODE_ENV: "production",
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      TRUECALLER_CLIENT_ID: "x",
      TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
      SESSION_SIGNING_KEYS: generateSigningKeySetText(),
      SESSION_ISSUER: "https://id.example.test",
    });
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    // Watch the JSON log lines for start-up; keep everything for the secret check at the end.
    const started = new Promise<{ url: string; appliedMigrations: string[] }>((resolve, reject) => {
      let appliedMigrations: string[] = [];
      let pending = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const entry = JSON.parse(line) as { msg: string; url?: string; appliedMigrations?: string[] };
          if (entry.msg === "database ready") appliedMigrations = entry.appliedMigrations ?? [];
          if (entry.msg === "gateway listening" && entry.url) resolve({ url: entry.url, appliedMigrations });
        }
      });
      child.once("exit", (code) => reject(new Error(`gateway exited with ${code} before listening: ${output}`)));
    });
    const { url, appliedMigrations } = await started;
    expect(appliedMigrations.length).toBeGreaterThan(0);
    expect(url).toMatch(/\/graphql$/);
    const health = await fetch(new URL("/health", url));
    expect(health.status).toBe(200);

    // Express's default error handler would print body-parser's error, which holds the raw body.
    const secret = "secret-code-in-broken-json";
    const broken = await fetch(new URL("/graphql", url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"query":"mutation { verifyTruecaller(code: \\"${secret}\\"`,
    });
    expect(broken.status).toBe(400);

    child.kill("SIGTERM");
    const [exitCode] = (await once(child, "exit")) as [number];
    expect(exitCode).toBe(0);
    expect(output).not.toContain(secret);
    expect(output).toContain("request refused before GraphQL");
  });
});

describe("npm run signing-key (dist/signing-key-cli.js)", () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    promisify(execFile)(process.execPath, ["dist/signing-key-cli.js", ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env } });
  const kids = (text: string) => {
    const parsed = parseSigningKeys(text);
    if (!parsed.ok) throw new Error(parsed.problem);
    return parsed.keys.map((key) => key.kid);
  };

  it("prints a new key set the gateway accepts, and the three rotation steps: add, promote, retire", async () => {
    const refuse = (args: string[], keys: string) => run(args, { SESSION_SIGNING_KEYS: keys }).catch((error: { code: number; stderr: string }) => error);
    const { stdout: first } = await run([]);
    const [oldKid] = kids(first);
    const { stdout: added } = await run(["--add"], { SESSION_SIGNING_KEYS: first });
    const [stillSigning, newKid] = kids(added);
    expect(stillSigning).toBe(oldKid);
    expect(newKid).not.toBe(oldKid);
    const { stdout: promoted } = await run(["--promote", newKid!], { SESSION_SIGNING_KEYS: added });
    expect(kids(promoted)).toEqual([newKid, oldKid]);
    const { stdout: retired } = await run(["--retire", oldKid!], { SESSION_SIGNING_KEYS: promoted });
    expect(kids(retired)).toEqual([newKid]);
    expect(await refuse(["--retire", newKid!], retired)).toMatchObject({ code: 1, stderr: `${newKid} is the only key; --add another and promote it first\n` });
    // Skipping the publish step, or promoting twice, is refused.
    expect(await refuse(["--retire", oldKid!], added)).toMatchObject({ code: 1, stderr: `${oldKid} signs; promote another key first\n` });
    expect(await refuse(["--promote", newKid!], promoted)).toMatchObject({ code: 1, stderr: `${newKid} already signs\n` });
    expect(await refuse(["--retire", "nope"], promoted)).toMatchObject({ code: 1, stderr: "SESSION_SIGNING_KEYS has no key with kid nope\n" });
  });

  it("refuses to change keys it cannot read, without echoing them", async () => {
    const failure = await run(["--add"], { SESSION_SIGNING_KEYS: "hunter2" }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1, stderr: 'SESSION_SIGNING_KEYS must be a JSON Web Key Set: {"keys": [...]}\n' });
  });
});
