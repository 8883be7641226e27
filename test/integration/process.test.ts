import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generateSigningKeySetText, parseSigningKeys } from "../../src/auth/signing-keys.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { spawnMain, startGatewayProcess } from "../helpers/gateway-process.js";
import { postGraphql, startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("the gateway process", () => {
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses to start in production without a provider, keys or issuer, naming them", async () => {
    const child = spawnMain({ NODE_ENV: "production", DATABASE_URL: "postgresql://nobody:s3cret-pw@127.0.0.1:1/none", TOKEN_ENCRYPTION_KEYS: "k1:s3cret-key" });
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
    const gateway = await startGatewayProcess({
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
    const ready = gateway.logLines().find((line) => line.msg === "database ready") as { appliedMigrations?: string[] } | undefined;
    expect(ready?.appliedMigrations?.length).toBeGreaterThan(0);
    const health = await fetch(`${gateway.url}/health`);
    expect(health.status).toBe(200);

    // Express's default error handler would print body-parser's error, which holds the raw body.
    const secret = "secret-code-in-broken-json";
    const broken = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"query":"mutation { verifyTruecaller(code: \\"${secret}\\"`,
    });
    expect(broken.status).toBe(400);

    expect(await gateway.stop("SIGTERM")).toBe(0);
    expect(gateway.output()).not.toContain(secret);
    expect(gateway.output()).toContain("request refused before GraphQL");
  });
});

describe("stopping on SIGTERM (dist/main.js on PostgreSQL, Redis and the emulators)", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => t?.close());

  /** One connection per request, so "refused" means the listener is gone, not a reused keep-alive socket. */
  function connectionRefused(url: string): Promise<boolean> {
    return new Promise((resolve) => {
      const request = httpRequest(`${url}/health/live`, { agent: false }, (response) => {
        response.resume();
        resolve(false);
      });
      request.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
      request.end();
    });
  }

  it("stops accepting, lets an in-flight login finish and record its audit row, closes its pools and exits 0", async () => {
    const gateway = await startGatewayProcess({ ...t.env, SHUTDOWN_GRACE_MS: "12000" });
    const minted = t.emulator.mintCode();
    t.emulator.injectFault({ endpoint: "token", delayMs: 1_500 });
    const tokenCalls = t.emulator.requestCount("token");
    const login = postGraphql<{ verifyTruecaller: Record<string, unknown> }>(gateway.url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
    await vi.waitFor(() => expect(t.emulator.requestCount("token")).toBe(tokenCalls + 1), { interval: 10 });

    const exited = gateway.stop("SIGTERM");
    await vi.waitFor(async () => expect(await connectionRefused(gateway.url)).toBe(true), { interval: 20 });
    const answer = (await login).data!.verifyTruecaller as { __typename: string; user: { id: string } };
    expect(answer).toMatchObject({ __typename: "LoginSuccess", isNewUser: true });
    expect(await exited).toBe(0);

    const events = await t.db.query("SELECT outcome FROM login_events WHERE user_id = $1", [answer.user.id]);
    expect(events.rows).toEqual([{ outcome: "LOGIN_SUCCEEDED" }]);
    const messages = gateway.logLines().map((line) => line.msg);
    expect(messages).toContain("shutting down: finishing in-flight requests");
    expect(messages.at(-1)).toBe("stopped");
  });

  it("answers a login still waiting for its provider when its budget ends within the grace; the retry elsewhere resumes with the same code", async () => {
    const gateway = await startGatewayProcess({ ...t.env, SHUTDOWN_GRACE_MS: "5000", LOGIN_TIMEOUT_MS: "1500", PROVIDER_TIMEOUT_MS: "1500" });
    const minted = t.emulator.mintCode();
    t.emulator.injectFault({ endpoint: "userinfo", hang: true });
    const profileReads = t.emulator.requestCount("userinfo");
    const login = postGraphql<{ verifyTruecaller: Record<string, unknown> }>(gateway.url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
    await vi.waitFor(() => expect(t.emulator.requestCount("userinfo")).toBe(profileReads + 1), { interval: 10 });

    const exited = gateway.stop("SIGTERM");
    // Not cut off: the client learns to retry.
    expect((await login).data?.verifyTruecaller).toMatchObject({ __typename: "ProviderUnavailableError" });
    expect(await exited).toBe(0);
    // The code was spent at the token endpoint; the tokens kept in Redis let another instance finish the login.
    t.emulator.clearFaults();
    const tokenCalls = t.emulator.requestCount("token");
    expect(await t.verify(minted.code, minted.codeVerifier!)).toMatchObject({ __typename: "LoginSuccess", isNewUser: true });
    expect(t.emulator.requestCount("token")).toBe(tokenCalls);
  });

  it("refuses to start with a grace shorter than a login, naming both settings", async () => {
    const failed = await startGatewayProcess({ ...t.env, SHUTDOWN_GRACE_MS: "200" }).catch((error: Error) => error);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toContain("SHUTDOWN_GRACE_MS must be at least LOGIN_TIMEOUT_MS");
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
