import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createTruecallerEmulator } from "../../src/emulator/truecaller-emulator.js";
import { startGateway, type Gateway } from "../../src/gateway.js";
import { captureLogs } from "../helpers/log-capture.js";
import { postGraphql, startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

describe("restart persistence (PostgreSQL + Redis)", () => {
  let t: TestGateway;
  afterAll(async () => t?.close());

  it("recognises a user after the gateway restarts, and the cached token survives", async () => {
    t = await startTestGateway();
    const first = await t.login({ profile: { phone_number: "919811111111", sub: "restart-sub" } });
    const userId = (first.user as { id: string }).id;
    await t.restartGateway();
    expect(await t.providerTokens.get("truecaller", userId)).toBeDefined();
    const again = await t.login({ profile: { phone_number: "919811111111", sub: "restart-sub" } });
    expect(again).toMatchObject({ isNewUser: false, user: { id: userId } });
  });
});

describe("embedded mode (no DATABASE_URL, no REDIS_URL)", () => {
  const emulator = createTruecallerEmulator();
  let dataDir: string;
  let gateway: Gateway | undefined;
  afterAll(async () => {
    await gateway?.close();
    await emulator.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const post = (url: string, query: string, variables: Record<string, unknown>, accessToken?: string) =>
    postGraphql(url, query, variables, accessToken ? { authorization: `Bearer ${accessToken}` } : {});

  async function verify(url: string, phone: string): Promise<Record<string, unknown>> {
    const minted = emulator.mintCode({ profile: { phone_number: phone, sub: `sub-${phone}` } });
    const body = await post(url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
    return (body as { data: { verifyTruecaller: Record<string, unknown> } }).data.verifyTruecaller;
  }

  it("stores users in PGlite under DATA_DIR, caches tokens in process, says so, and keeps users and sessions across restarts", async () => {
    const { url: emulatorUrl } = await emulator.listen();
    dataDir = await mkdtemp(join(tmpdir(), "phonegate-embedded-"));
    const config = loadConfig({ NODE_ENV: "test", HOST: "127.0.0.1", PORT: "0", DATA_DIR: dataDir, TRUECALLER_CLIENT_ID: "emulator-client", TRUECALLER_BASE_URL: emulatorUrl });
    const logs = captureLogs();
    gateway = await startGateway(config, { logger: logs.logger });
    expect(logs.entries()).toContainEqual(expect.objectContaining({ database: "embedded", cache: "memory", msg: expect.stringContaining("single-instance mode") }));

    const first = await verify(gateway.url, "919822222222");
    expect(first).toMatchObject({ __typename: "LoginSuccess", isNewUser: true, user: { phoneNumber: "+919822222222" } });
    const userId = (first.user as { id: string }).id;
    // Outside production the token key is generated once and kept, readable by the owner only.
    expect((await stat(join(dataDir, "token-encryption.key"))).mode & 0o777).toBe(0o600);
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);

    // So is the session signing key: a session opened before a restart still works after it.
    expect((await stat(join(dataDir, "session-signing-keys.json"))).mode & 0o777).toBe(0o600);
    const { accessToken, refreshToken } = first.session as { accessToken: string; refreshToken: string };

    await gateway.close();
    gateway = await startGateway(config, { logger: captureLogs().logger });
    expect(await verify(gateway.url, "919822222222")).toMatchObject({ isNewUser: false, user: { id: userId } });
    expect(await post(gateway.url, "{ me { id } }", {}, accessToken)).toEqual({ data: { me: { id: userId } } });
    const refreshed = await post(gateway.url, "mutation ($token: String!) { refreshSession(refreshToken: $token) { __typename } }", { token: refreshToken });
    expect(refreshed).toEqual({ data: { refreshSession: { __typename: "SessionRefreshed" } } });
  });
});
