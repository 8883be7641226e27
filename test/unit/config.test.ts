import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, TRUECALLER_DEFAULT_BASE_URL } from "../../src/config.js";

describe("loadConfig", () => {
  it("runs with nothing set: embedded database, in-process cache, Truecaller off", () => {
    expect(loadConfig({})).toEqual({
      environment: "development",
      production: false,
      port: 4000,
      host: "0.0.0.0",
      logLevel: "info",
      database: { kind: "embedded", directory: ".data/pglite" },
      cache: { kind: "memory" },
      dataDir: ".data",
      truecaller: undefined,
      providerTimeoutMs: 5000,
      loginTimeoutMs: 12000,
    });
  });

  it("reads servers and the Truecaller client", () => {
    const config = loadConfig({
      DATABASE_URL: "postgresql://postgres@db:5432/phonegate",
      REDIS_URL: "redis://cache:6379",
      TRUECALLER_CLIENT_ID: "client-1",
      TRUECALLER_BASE_URL: "http://127.0.0.1:4010/",
      PORT: "8080",
      PROVIDER_TIMEOUT_MS: "2500",
    });
    expect(config.database).toEqual({ kind: "postgres", url: "postgresql://postgres@db:5432/phonegate", poolSize: 10 });
    expect(config.cache).toEqual({ kind: "redis", url: "redis://cache:6379", keyPrefix: "phonegate:" });
    expect(config.truecaller).toEqual({ clientId: "client-1", baseUrl: "http://127.0.0.1:4010" });
    expect(config.port).toBe(8080);
    expect(config.providerTimeoutMs).toBe(2500);
  });

  it("defaults the Truecaller host to the documented non-EU endpoint", () => {
    expect(loadConfig({ TRUECALLER_CLIENT_ID: "c" }).truecaller?.baseUrl).toBe(TRUECALLER_DEFAULT_BASE_URL);
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", REDIS_URL: "", TRUECALLER_CLIENT_ID: "" }).database.kind).toBe("embedded");
  });

  it("requires TRUECALLER_CLIENT_ID in production, naming it", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(new ConfigError("Invalid configuration: TRUECALLER_CLIENT_ID is required in production"));
  });

  it("names every bad setting and never echoes a value", () => {
    const secret = "postgresql-ish:hunter2@db";
    let message = "";
    try {
      loadConfig({ DATABASE_URL: secret, PORT: "hunter2", REDIS_URL: "http://hunter2", LOG_LEVEL: "hunter2", PROVIDER_TIMEOUT_MS: "-hunter2" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("DATABASE_URL");
    expect(message).toContain("PORT");
    expect(message).toContain("REDIS_URL");
    expect(message).toContain("LOG_LEVEL");
    expect(message).toContain("PROVIDER_TIMEOUT_MS");
    expect(message).not.toContain("hunter2");
  });
});
