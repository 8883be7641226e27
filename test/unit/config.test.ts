import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateSigningKeySetText } from "../../src/auth/signing-keys.js";
import { ConfigError, loadConfig, TRUECALLER_DEFAULT_BASE_URL, WGTWO_DEFAULT_BASE_URL } from "../../src/config.js";

const KEY = randomBytes(32).toString("base64");
const SIGNING_KEYS = generateSigningKeySetText();
const PRODUCTION = {
  NODE_ENV: "production",
  TRUECALLER_CLIENT_ID: "client-1",
  TOKEN_ENCRYPTION_KEYS: `k1:${KEY}`,
  SESSION_SIGNING_KEYS: SIGNING_KEYS,
  SESSION_ISSUER: "https://id.example.com/",
};

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
  it("runs with nothing set: embedded database, in-process cache, generated keys, Truecaller off", () => {
    expect(loadConfig({})).toEqual({
      production: false,
      port: 4000,
      host: "0.0.0.0",
      logLevel: "info",
      database: { kind: "embedded", directory: ".data/pglite" },
      cache: { kind: "memory" },
      tokenEncryption: { kind: "generated", file: ".data/token-encryption.key" },
      sessions: {
        signingKeys: { kind: "generated", file: ".data/session-signing-keys.json" },
        issuer: "http://localhost:4000",
        audience: "phonegate",
        accessTokenTtlSeconds: 900,
        refreshTokenTtlSeconds: 2_592_000,
        reuseGraceSeconds: 10,
        revokedSessionRetentionDays: 7,
        pruneIntervalSeconds: 3600,
      },
      routerSecret: undefined,
      truecaller: undefined,
      providerTimeoutMs: 5000,
      loginTimeoutMs: 12000,
      shutdownGraceMs: 15000,
      tracing: undefined,
      numberRecycledAfterDays: 90,
      logins: { replayTtlSeconds: 600, stateTtlSeconds: 600, requireState: false, eventRetentionDays: 90 },
      trustProxy: false,
      rateLimits: {
        perClient: { points: 60, windowSeconds: 60 },
        perNumber: { points: 10, windowSeconds: 3600 },
        failuresPerClient: { points: 20, windowSeconds: 900 },
      },
      graphqlLimits: { maxDepth: 8, maxAliases: 10, maxTokens: 1000, maxCost: 1000 },
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
    expect(config.truecaller).toMatchObject({ clientId: "client-1", baseUrl: "http://127.0.0.1:4010" });
    expect(config.port).toBe(8080);
    expect(config.providerTimeoutMs).toBe(2500);
    expect(config.sessions.issuer).toBe("https://id.example.com");
    expect(config.sessions.signingKeys.kind === "keyset" && config.sessions.signingKeys.keys.map((key) => key.alg)).toEqual(["ES256"]);
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

  it("requires the provider client, the keys and the token issuer in production, naming them", () => {
    expect(messageOf({ NODE_ENV: "production" })).toBe(
      "Invalid configuration: one of TRUECALLER_CLIENT_ID, WGTWO_CLIENT_ID, OIDC_ISSUER is required in production; " +
        "TOKEN_ENCRYPTION_KEYS is required in production; SESSION_SIGNING_KEYS is required in production; SESSION_ISSUER is required in production",
    );
    const { SESSION_SIGNING_KEYS: _keys, ...withoutSigningKeys } = PRODUCTION;
    expect(messageOf(withoutSigningKeys)).toBe("Invalid configuration: SESSION_SIGNING_KEYS is required in production");
    expect(messageOf({ NODE_ENV: "production", TRUECALLER_CLIENT_ID: "   ", TOKEN_ENCRYPTION_KEYS: `k1:${KEY}` })).toContain("TRUECALLER_CLIENT_ID");
  });

  it.each(["0x50", "1e3", "80.5", "-1", "70000"])("rejects PORT=%s", (port) => {
    expect(messageOf({ PORT: port })).toMatch(/^Invalid configuration: PORT /);
  });

  it("exports spans to OTEL_EXPORTER_OTLP_ENDPOINT as OTEL_SERVICE_NAME, and refuses an endpoint that is no http(s) URL", () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).tracing).toEqual({ endpoint: "http://collector:4318", serviceName: "phonegate" });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example", OTEL_SERVICE_NAME: "login" }).tracing).toEqual({ endpoint: "https://otel.example", serviceName: "login" });
    expect(messageOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toMatch(/^Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT /);
  });

  it.each(["-1", "300001", "15s", "11999"])("rejects SHUTDOWN_GRACE_MS=%s, naming it", (grace) => {
    expect(messageOf({ SHUTDOWN_GRACE_MS: grace })).toMatch(/^Invalid configuration: SHUTDOWN_GRACE_MS /);
  });

  it("serves /metrics on METRICS_PORT when set, which must not be PORT", () => {
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: "9464" }).metricsPort).toBe(9464);
    expect(messageOf({ PORT: "4000", METRICS_PORT: "4000" })).toBe("Invalid configuration: METRICS_PORT must differ from PORT (leave it unset to serve /metrics on PORT)");
    expect(messageOf({ METRICS_PORT: "70000" })).toMatch(/^Invalid configuration: METRICS_PORT /);
  });

  it("gives every login running at SIGTERM its whole budget: SHUTDOWN_GRACE_MS at least LOGIN_TIMEOUT_MS", () => {
    expect(messageOf({ LOGIN_TIMEOUT_MS: "20000" })).toBe("Invalid configuration: SHUTDOWN_GRACE_MS must be at least LOGIN_TIMEOUT_MS");
    expect(loadConfig({ LOGIN_TIMEOUT_MS: "20000", SHUTDOWN_GRACE_MS: "20000" }).shutdownGraceMs).toBe(20_000);
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

  it.each([
    ["text that is not JSON", "hunter2", 'must be a JSON Web Key Set: {"keys": [...]}'],
    ["an empty set", '{"keys": []}', 'must be a JSON Web Key Set with at least one key: {"keys": [...]}'],
    ["a public key only", publicOnly(), "key 1 must be a private key (with d)"],
    ["a symmetric key", JSON.stringify({ keys: [{ kty: "oct", k: "aHVudGVyMg", kid: "s" }] }), "key 1 must be an EC P-256 (ES256) or OKP Ed25519 (EdDSA) key"],
    ["a key without kid", withoutKid(), "key 1 must have a kid"],
    ["two keys with one kid", twoWithOneKid(), "key 2 repeats the kid of an earlier key"],
  ])("rejects SESSION_SIGNING_KEYS with %s, without echoing it", (_name, value, problem) => {
    const message = messageOf({ SESSION_SIGNING_KEYS: value });
    expect(message).toBe(`Invalid configuration: SESSION_SIGNING_KEYS ${problem}`);
    expect(message).not.toContain("hunter2");
  });

  it("accepts Ed25519 keys and keeps the order: the first key signs", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const ed = { ...privateKey.export({ format: "jwk" }), kid: "ed-1" };
    const es = JSON.parse(SIGNING_KEYS).keys[0];
    const config = loadConfig({ SESSION_SIGNING_KEYS: JSON.stringify({ keys: [ed, es] }) });
    const { signingKeys } = config.sessions;
    expect(signingKeys.kind === "keyset" && signingKeys.keys.map((key) => [key.kid, key.alg])).toEqual([
      ["ed-1", "EdDSA"],
      [es.kid, "ES256"],
    ]);
    expect(signingKeys.kind === "keyset" && signingKeys.keys.every((key) => !("d" in key.publicJwk))).toBe(true);
  });

  it("refuses refresh tokens that expire before the access tokens issued with them", () => {
    expect(messageOf({ SESSION_TTL_S: "3600", REFRESH_TOKEN_TTL_S: "600" })).toBe("Invalid configuration: REFRESH_TOKEN_TTL_S must be at least SESSION_TTL_S");
  });

  it("reads the session lifetimes and refuses a short router secret", () => {
    const config = loadConfig({ SESSION_TTL_S: "300", REFRESH_TOKEN_TTL_S: "86400", REFRESH_REUSE_GRACE_S: "0", ROUTER_SECRET: "a-long-enough-secret" });
    expect(config.sessions).toMatchObject({ accessTokenTtlSeconds: 300, refreshTokenTtlSeconds: 86_400, reuseGraceSeconds: 0 });
    expect(config.routerSecret).toBe("a-long-enough-secret");
    expect(messageOf({ ROUTER_SECRET: "hunter2" })).toBe("Invalid configuration: ROUTER_SECRET must be at least 16 characters");
  });
});

describe("loadConfig: code-flow providers", () => {
  const SECRET = "wg-hunter2-secret";

  it("leaves wgtwo and OIDC off when none of their settings is set", () => {
    const config = loadConfig({});
    expect(config.wgtwo).toBeUndefined();
    expect(config.oidc).toBeUndefined();
  });

  it("reads wgtwo with the documented host and its issuer with a trailing slash", () => {
    expect(loadConfig({ WGTWO_CLIENT_ID: "wg-client", WGTWO_CLIENT_SECRET: SECRET }).wgtwo).toEqual({
      clientId: "wg-client",
      clientSecret: SECRET,
      baseUrl: WGTWO_DEFAULT_BASE_URL,
      issuer: `${WGTWO_DEFAULT_BASE_URL}/`,
      redirectUri: undefined,
    });
  });

  it("derives the wgtwo issuer from WGTWO_BASE_URL, however many slashes it ends in", () => {
    for (const base of ["http://127.0.0.1:4011", "http://127.0.0.1:4011/", "http://127.0.0.1:4011//"]) {
      const wgtwo = loadConfig({ WGTWO_CLIENT_ID: "c", WGTWO_CLIENT_SECRET: SECRET, WGTWO_BASE_URL: base }).wgtwo;
      expect(wgtwo).toMatchObject({ baseUrl: "http://127.0.0.1:4011", issuer: "http://127.0.0.1:4011/" });
    }
  });

  it("keeps WGTWO_ISSUER exactly as written, and takes a redirect URI with the app's own scheme", () => {
    const config = loadConfig({
      WGTWO_CLIENT_ID: "c",
      WGTWO_CLIENT_SECRET: SECRET,
      WGTWO_ISSUER: "https://issuer.example.com",
      WGTWO_REDIRECT_URI: "com.example.app://oauth/callback",
    });
    expect(config.wgtwo).toMatchObject({ issuer: "https://issuer.example.com", redirectUri: "com.example.app://oauth/callback" });
  });

  it.each(["https://tenant.auth0.com/", "https://tenant.auth0.com", "https://login.example.com/realms/app"])("keeps OIDC_ISSUER=%s exactly", (issuer) => {
    expect(loadConfig({ OIDC_ISSUER: issuer, OIDC_CLIENT_ID: "oidc-client" }).oidc).toEqual({ issuer, clientId: "oidc-client", redirectUri: undefined });
  });

  it.each(["com.example.app:/oauth2redirect", "com.example.app://callback", "https://app.example.com/callback"])(
    "accepts OIDC_REDIRECT_URI=%s",
    (redirectUri) => {
      expect(loadConfig({ OIDC_ISSUER: "https://tenant.auth0.com/", OIDC_CLIENT_ID: "c", OIDC_REDIRECT_URI: redirectUri }).oidc?.redirectUri).toBe(redirectUri);
    },
  );

  it("accepts an http OIDC issuer outside production (local emulation), and in production only on loopback", () => {
    expect(loadConfig({ OIDC_ISSUER: "http://tenant.example.com/", OIDC_CLIENT_ID: "c" }).oidc?.issuer).toBe("http://tenant.example.com/");
    expect(messageOf({ ...PRODUCTION, OIDC_ISSUER: "http://tenant.example.com/", OIDC_CLIENT_ID: "c" })).toBe(
      "Invalid configuration: OIDC_ISSUER must be an https URL in production",
    );
    expect(loadConfig({ ...PRODUCTION, OIDC_ISSUER: "http://127.0.0.1:4012/", OIDC_CLIENT_ID: "c" }).oidc?.issuer).toBe("http://127.0.0.1:4012/");
    expect(loadConfig({ ...PRODUCTION, OIDC_ISSUER: "https://tenant.example.com/", OIDC_CLIENT_ID: "c" }).oidc?.issuer).toBe("https://tenant.example.com/");
  });

  it("runs in production with any one provider instead of Truecaller", () => {
    const { TRUECALLER_CLIENT_ID: _truecaller, ...withoutTruecaller } = PRODUCTION;
    const wgtwo = loadConfig({ ...withoutTruecaller, WGTWO_CLIENT_ID: "c", WGTWO_CLIENT_SECRET: SECRET });
    expect([wgtwo.truecaller, wgtwo.wgtwo?.clientId]).toEqual([undefined, "c"]);
    const oidc = loadConfig({ ...withoutTruecaller, OIDC_ISSUER: "https://tenant.auth0.com/", OIDC_CLIENT_ID: "c" });
    expect([oidc.truecaller, oidc.oidc?.issuer]).toEqual([undefined, "https://tenant.auth0.com/"]);
    expect(messageOf(withoutTruecaller)).toBe("Invalid configuration: one of TRUECALLER_CLIENT_ID, WGTWO_CLIENT_ID, OIDC_ISSUER is required in production");
  });

  it.each([
    [{ WGTWO_CLIENT_ID: "c" }, "WGTWO_CLIENT_SECRET is required when WGTWO_CLIENT_ID is set"],
    [{ WGTWO_CLIENT_SECRET: SECRET }, "WGTWO_CLIENT_ID is required when WGTWO_CLIENT_SECRET is set"],
    [{ WGTWO_CLIENT_ID: "c", WGTWO_CLIENT_SECRET: "   " }, "WGTWO_CLIENT_SECRET is required when WGTWO_CLIENT_ID is set"],
    [{ OIDC_ISSUER: "https://tenant.auth0.com/" }, "OIDC_CLIENT_ID is required when OIDC_ISSUER is set"],
    [{ OIDC_CLIENT_ID: "c" }, "OIDC_ISSUER is required when OIDC_CLIENT_ID is set"],
  ])("names the missing half of a provider: %j", (env, problem) => {
    const message = messageOf(env);
    expect(message).toBe(`Invalid configuration: ${problem}`);
    expect(message).not.toContain(SECRET);
  });

  it.each([
    ["WGTWO_BASE_URL", "ftp://id.wgtwo.com"],
    ["WGTWO_ISSUER", "not a url"],
    ["WGTWO_REDIRECT_URI", "callback"],
    ["OIDC_ISSUER", "tenant.auth0.com"],
    ["OIDC_REDIRECT_URI", "/relative"],
  ])("refuses a malformed %s, naming it", (name, value) => {
    const message = messageOf({ WGTWO_CLIENT_ID: "c", WGTWO_CLIENT_SECRET: SECRET, OIDC_ISSUER: "https://tenant.auth0.com/", OIDC_CLIENT_ID: "c", [name]: value });
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${name} must be`));
    expect(message).not.toContain(value);
  });

  it("never echoes a secret or a malformed URL carrying one", () => {
    const message = messageOf({
      WGTWO_CLIENT_SECRET: SECRET,
      WGTWO_BASE_URL: "ftp://user:hunter2@id.example.com",
      OIDC_ISSUER: "ftp://hunter2@tenant.example.com/",
      OIDC_REDIRECT_URI: "hunter2",
      TRUECALLER_KEYS_URL: "hunter2://x",
    });
    for (const name of ["WGTWO_CLIENT_ID", "WGTWO_BASE_URL", "OIDC_ISSUER", "OIDC_REDIRECT_URI", "TRUECALLER_KEYS_URL"]) expect(message).toContain(name);
    expect(message).not.toContain("hunter2");
  });
});

describe("loadConfig: TRUECALLER_PAYLOAD_MAX_AGE_S", () => {
  const maxAge = (value?: string) => loadConfig({ TRUECALLER_CLIENT_ID: "c", ...(value === undefined ? {} : { TRUECALLER_PAYLOAD_MAX_AGE_S: value }) }).truecaller?.payloadMaxAgeSeconds;

  it("defaults to 600 s and takes the bounds 30 and 86400", () => {
    expect(maxAge()).toBe(600);
    expect(maxAge("30")).toBe(30);
    expect(maxAge("86400")).toBe(86_400);
  });

  it.each([
    ["29", "must be at least 30"],
    ["0", "must be at least 30"],
    ["86401", "must be at most 86400"],
    ["-60", "must be a whole number"],
    ["1e3", "must be a whole number"],
    ["600s", "must be a whole number"],
  ])("refuses %s: %s", (value, problem) => {
    expect(messageOf({ TRUECALLER_PAYLOAD_MAX_AGE_S: value })).toBe(`Invalid configuration: TRUECALLER_PAYLOAD_MAX_AGE_S ${problem}`);
  });

  it("reads the app-less endpoints with their documented defaults", () => {
    expect(loadConfig({ TRUECALLER_CLIENT_ID: "c" }).truecaller).toEqual({
      clientId: "c",
      baseUrl: TRUECALLER_DEFAULT_BASE_URL,
      verificationBaseUrl: "https://sdk-otp-verification-noneu.truecaller.com",
      keysUrl: "https://api4.truecaller.com/v1/key",
      payloadMaxAgeSeconds: 600,
      signedProfiles: false,
    });
    expect(loadConfig({ TRUECALLER_CLIENT_ID: "c", TRUECALLER_SIGNED_PROFILES: "true" }).truecaller?.signedProfiles).toBe(true);
    expect(messageOf({ TRUECALLER_SIGNED_PROFILES: "yes" })).toBe("Invalid configuration: TRUECALLER_SIGNED_PROFILES must be true or false");
  });

  it("refuses plain http to any configured provider in production, except on loopback", () => {
    const plain = {
      ...PRODUCTION,
      TRUECALLER_KEYS_URL: "http://keys.example.com/v1/key",
      WGTWO_CLIENT_ID: "c",
      WGTWO_CLIENT_SECRET: "wg-secret-value",
      WGTWO_BASE_URL: "http://id.example.com",
    };
    expect(messageOf(plain)).toBe(
      "Invalid configuration: TRUECALLER_KEYS_URL must be an https URL in production; WGTWO_BASE_URL must be an https URL in production",
    );
    expect(loadConfig({ ...plain, TRUECALLER_KEYS_URL: "http://localhost:4010/v1/key", WGTWO_BASE_URL: "http://[::1]:4012" }).wgtwo?.issuer).toBe(
      "http://[::1]:4012/",
    );
    // Settings of a provider that is off are not its URLs to check.
    const { TRUECALLER_CLIENT_ID: _truecaller, ...withoutTruecaller } = PRODUCTION;
    expect(loadConfig({ ...withoutTruecaller, TRUECALLER_KEYS_URL: "http://keys.example.com/v1/key", OIDC_ISSUER: "https://a.example.com/", OIDC_CLIENT_ID: "c" }).truecaller).toBeUndefined();
  });

  it("reads the login replay and state settings", () => {
    expect(loadConfig({ LOGIN_REPLAY_TTL_S: "120", LOGIN_STATE_TTL_S: "300", REQUIRE_LOGIN_STATE: "true", LOGIN_EVENT_RETENTION_DAYS: "30" }).logins).toEqual({
      replayTtlSeconds: 120,
      stateTtlSeconds: 300,
      requireState: true,
      eventRetentionDays: 30,
    });
    expect(messageOf({ LOGIN_REPLAY_TTL_S: "3601", REQUIRE_LOGIN_STATE: "yes" })).toBe(
      "Invalid configuration: LOGIN_REPLAY_TTL_S must be at most 3600; REQUIRE_LOGIN_STATE must be true or false",
    );
  });

  it.each([
    ["false", false],
    ["true", true],
    ["2", 2],
    ["loopback", "loopback"],
    ["10.0.0.0/8, 192.168.1.1", "10.0.0.0/8, 192.168.1.1"],
  ])("reads TRUST_PROXY=%s as Express's trust proxy setting", (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it("reads the GraphQL operation limits within their ranges", () => {
    expect(loadConfig({ GRAPHQL_MAX_DEPTH: "12", GRAPHQL_MAX_ALIASES: "0", GRAPHQL_MAX_TOKENS: "5000", GRAPHQL_MAX_COST: "20000" }).graphqlLimits).toEqual({
      maxDepth: 12,
      maxAliases: 0,
      maxTokens: 5000,
      maxCost: 20000,
    });
    expect(messageOf({ GRAPHQL_MAX_DEPTH: "3", GRAPHQL_MAX_TOKENS: "20001" })).toBe(
      "Invalid configuration: GRAPHQL_MAX_DEPTH must be at least 4; GRAPHQL_MAX_TOKENS must be at most 20000",
    );
  });

  it("refuses a TRUST_PROXY Express would misread, without echoing it", () => {
    expect(messageOf({ TRUST_PROXY: "everyone; DROP" })).toBe(
      "Invalid configuration: TRUST_PROXY must be false, true, a hop count, or addresses/subnets (comma-separated)",
    );
  });

  it("reads NUMBER_RECYCLED_AFTER_DAYS within 7 to 3650 days, 90 by default", () => {
    expect(loadConfig({}).numberRecycledAfterDays).toBe(90);
    expect(loadConfig({ NUMBER_RECYCLED_AFTER_DAYS: "180" }).numberRecycledAfterDays).toBe(180);
    expect(messageOf({ NUMBER_RECYCLED_AFTER_DAYS: "6" })).toBe("Invalid configuration: NUMBER_RECYCLED_AFTER_DAYS must be at least 7");
  });

  it("names settings that have no effect without their provider", () => {
    expect(messageOf({ TRUECALLER_SIGNED_PROFILES: "true" })).toBe("Invalid configuration: TRUECALLER_SIGNED_PROFILES has no effect without TRUECALLER_CLIENT_ID");
    expect(messageOf({ WGTWO_REDIRECT_URI: "com.example.app://callback", OIDC_REDIRECT_URI: "com.example.app://callback", WGTWO_ISSUER: "https://id.example.com/" })).toBe(
      "Invalid configuration: WGTWO_ISSUER has no effect without WGTWO_CLIENT_ID; WGTWO_REDIRECT_URI has no effect without WGTWO_CLIENT_ID; " +
        "OIDC_REDIRECT_URI has no effect without OIDC_ISSUER",
    );
  });
});

function signingKey(): Record<string, unknown> {
  return JSON.parse(SIGNING_KEYS).keys[0];
}

function publicOnly(): string {
  const { d: _d, ...key } = signingKey();
  return JSON.stringify({ keys: [key] });
}

function withoutKid(): string {
  const { kid: _kid, ...key } = signingKey();
  return JSON.stringify({ keys: [key] });
}

function twoWithOneKid(): string {
  return JSON.stringify({ keys: [signingKey(), JSON.parse(generateSigningKeySetText()).keys.map((key: object) => ({ ...key, kid: signingKey().kid }))[0]] });
}
