import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, TRUECALLER_DEFAULT_BASE_URL } from "../../src/config.js";

const KEY = randomBytes(32).toString("base64");
const PRODUCTION = { NODE_ENV: "production", TRUECALLER_CLIENT_ID: "client-1", TOKEN_ENCRYPTION_KEYS: `k1:${KEY}` };

function messageOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("runs with nothing set: embedded database, in-process cache, generated token key, Truecaller off", () => {
    expect(loadConfig({})).toEqual({
      production: false,
      port: 4000,
      host: "0.0.0.0",
      logLevel: "info",
      database: { kind: "embedded", directory: ".data/pglite" },
      cache: { kind: "memory" },
      tokenEncryption: { kind: "generated", file: ".data/token-encryption.key" },
      truecaller: undefined,
      providerTimeoutMs: 5000,
      loginTimeoutMs: 12000,
    });
  });

  it("reads servers, keys and the Truecaller client", () => {
    const config = loadConfig({
      ...PRODUCTION,
      DATABASE_URL: "postgresql://postgres@db:5432/phonegate",
      REDIS_URL: "redis://cache:6379",
      TRUECALLER_BASE_URL: "http://127.0.0.1:4010/",
      PORT: "8080",
      PROVIDER_TIMEOUT_MS: "2500",
    });
    expect(config.production).toBe(true);
    expect(config.database).toEqual({ kind: "postgres", url: "postgresql://postgres@db:5432/phonegate", poolSize: 10 });
    expect(config.cache).toEqual({ kind: "redis", url: "redis://cache:6379", keyPrefix: "phonegate:" });
    expect(config.tokenEncryption).toEqual({ kind: "keyring", keys: [{ id: "k1", key: Buffer.from(KEY, "base64") }] });
    expect(config.truecaller).toEqual({ clientId: "client-1", baseUrl: "http://127.0.0.1:4010" });
    expect(config.port).toBe(8080);
    expect(config.providerTimeoutMs).toBe(2500);
  });

  it("defaults the Truecaller host to the documented non-EU endpoint", () => {
    expect(loadConfig({ TRUECALLER_CLIENT_ID: "c" }).truecaller?.baseUrl).toBe(TRUECALLER_DEFAULT_BASE_URL);
  });

  it("treats empty and blank values as unset", () => {
    const config = loadConfig({ DATABASE_URL: "", REDIS_URL: " ", TRUECALLER_CLIENT_ID: "  ", PORT: "" });
    expect(config.database.kind).toBe("embedded");
    expect(config.cache.kind).toBe("memory");
    expect(config.truecaller).toBeUndefined();
    expect(config.port).toBe(4000);
  });

  it("requires TRUECALLER_CLIENT_ID and TOKEN_ENCRYPTION_KEYS in production, naming them", () => {
    expect(messageOf({ NODE_ENV: "production" })).toBe(
      "Invalid configuration: TRUECALLER_CLIENT_ID is required in production; TOKEN_ENCRYPTION_KEYS is required in production",
    );
    expect(messageOf({ NODE_ENV: "production", TRUECALLER_CLIENT_ID: "   ", TOKEN_ENCRYPTION_KEYS: `k1:${KEY}` })).toContain("TRUECALLER_CLIENT_ID");
  });

  it.each(["0x50", "1e3", "80.5", "-1", "70000"])("rejects PORT=%s", (port) => {
    expect(messageOf({ PORT: port })).toMatch(/^Invalid configuration: PORT /);
  });

  it("rejects a login budget shorter than one provider attempt", () => {
    expect(messageOf({ PROVIDER_TIMEOUT_MS: "5000", LOGIN_TIMEOUT_MS: "1000" })).toBe(
      "Invalid configuration: LOGIN_TIMEOUT_MS must be at least PROVIDER_TIMEOUT_MS",
    );
  });

  it.each([
    ["a key that is not 32 bytes", `k1:${randomBytes(16).toString("base64")}`],
    ["a key without id", KEY],
    ["two keys with one id", `k1:${KEY},k1:${KEY}`],
  ])("rejects TOKEN_ENCRYPTION_KEYS with %s, without echoing it", (_name, value) => {
    const message = messageOf({ TOKEN_ENCRYPTION_KEYS: value });
    expect(message).toBe("Invalid configuration: TOKEN_ENCRYPTION_KEYS must be comma-separated id:key entries, each key 32 bytes in base64");
    expect(message).not.toContain(KEY.slice(0, 10));
  });

  it("names every bad setting and never echoes a value", () => {
    const message = messageOf({
      DATABASE_URL: "postgresql-ish:hunter2@db",
      PORT: "hunter2",
      REDIS_URL: "http://hunter2",
      LOG_LEVEL: "hunter2",
      PROVIDER_TIMEOUT_MS: "-hunter2",
    });
    for (const name of ["DATABASE_URL", "PORT", "REDIS_URL", "LOG_LEVEL", "PROVIDER_TIMEOUT_MS"]) expect(message).toContain(name);
    expect(message).not.toContain("hunter2");
  });
});
