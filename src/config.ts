import { z } from "zod";
import type { DatabaseSettings } from "./store/database.js";
import { parseSigningKeys, type SigningKeySet } from "./auth/signing-keys.js";
import { DEFAULT_GRAPHQL_LIMITS, type GraphqlLimits } from "./graphql/armor.js";
import type { RateLimitSettings } from "./store/rate-limits.js";
import type { TracingSettings } from "./telemetry/tracing.js";
import { parseKeyring, type EncryptionKey } from "./store/token-cipher.js";

/** Truecaller's production OAuth host outside the EU (Truecaller docs, "Fetching User Token"). */
export const TRUECALLER_DEFAULT_BASE_URL = "https://oauth-account-noneu.truecaller.com";
/** Truecaller's host for the app-less (drop call / OTP) verification. */
export const TRUECALLER_DEFAULT_VERIFICATION_BASE_URL = "https://sdk-otp-verification-noneu.truecaller.com";
/** Truecaller's public keys for signed profiles ("Server Side Response Validation"). */
export const TRUECALLER_DEFAULT_KEYS_URL = "https://api4.truecaller.com/v1/key";
export const WGTWO_DEFAULT_BASE_URL = "https://id.wgtwo.com";

/**
 * Settings without a safe default for a deployment: generated keys, and the issuer every
 * verifier of our tokens checks (and finds our JWKS under).
 */
const REQUIRED_IN_PRODUCTION = ["TOKEN_ENCRYPTION_KEYS", "SESSION_SIGNING_KEYS", "SESSION_ISSUER"] as const;
/** A deployment needs at least one of these: the settings that turn a provider on. */
const PROVIDER_SETTINGS = ["TRUECALLER_CLIENT_ID", "WGTWO_CLIENT_ID", "OIDC_ISSUER"] as const;
/** The router secret is compared with what every `_entities` request carries; short ones are guessable. */
const MIN_ROUTER_SECRET_LENGTH = 16;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const MAX_TIMEOUT_MS = 60_000;
/** Longer than any orchestrator waits between SIGTERM and SIGKILL by default. */
const MAX_SHUTDOWN_GRACE_MS = 300_000;

/** Whole decimal numbers only: `z.coerce` would also take "0x50", "1e3" and " ". */
function integer(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, { error: "must be a whole number" })
    .transform(Number)
    .pipe(z.number().min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }));
}

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform((url) => url.replace(/\/+$/, ""));
/** An issuer is compared character for character with `iss`: kept exactly as written, trailing slash and all. */
const exactHttpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
/** Apps' redirect URIs often use their own scheme (com.example.app://callback). */
const absoluteUri = z.string().refine((value) => URL.canParse(value), { error: "must be an absolute URI" });

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"], { error: "must be development, production or test" }).default("development"),
    PORT: integer(0, 65_535).default(4000),
    HOST: z.string().default("0.0.0.0"),
    METRICS_PORT: integer(0, 65_535).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// URL" }).optional(),
    DATABASE_POOL_SIZE: integer(1, 200).default(10),
    DATA_DIR: z.string().default(".data"),
    REDIS_URL: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }).optional(),
    REDIS_KEY_PREFIX: z.string().default("phonegate:"),
    TOKEN_ENCRYPTION_KEYS: z
      .string()
      .transform((value, context) => {
        const keyring = parseKeyring(value);
        if (!keyring) context.addIssue({ code: "custom", message: "must be comma-separated id:key entries, each key 32 bytes in base64" });
        return keyring ?? z.NEVER;
      })
      .optional(),
    SESSION_SIGNING_KEYS: z
      .string()
      .transform((value, context) => {
        const parsed = parseSigningKeys(value);
        if (!parsed.ok) context.addIssue({ code: "custom", message: parsed.problem });
        return parsed.ok ? parsed.keys : z.NEVER;
      })
      .optional(),
    SESSION_ISSUER: httpUrl.optional(),
    SESSION_AUDIENCE: z.string().default("phonegate"),
    SESSION_TTL_S: integer(60, 86_400).default(900),
    REFRESH_TOKEN_TTL_S: integer(300, 31_622_400).default(2_592_000),
    REFRESH_REUSE_GRACE_S: integer(0, 300).default(10),
    REVOKED_SESSION_RETENTION_DAYS: integer(0, 3_650).default(7),
    SESSION_PRUNE_INTERVAL_S: integer(60, 86_400).default(3_600),
    NUMBER_RECYCLED_AFTER_DAYS: integer(7, 3_650).default(90),
    LOGIN_REPLAY_TTL_S: integer(30, 3_600).default(600),
    LOGIN_STATE_TTL_S: integer(30, 3_600).default(600),
    REQUIRE_LOGIN_STATE: z.enum(["true", "false"], { error: "must be true or false" }).default("false"),
    LOGIN_EVENT_RETENTION_DAYS: integer(1, 3_650).default(90),
    LOGIN_RATE_PER_IP: integer(0, 100_000).default(60),
    LOGIN_RATE_PER_IP_WINDOW_S: integer(1, 86_400).default(60),
    LOGIN_RATE_PER_NUMBER: integer(0, 100_000).default(10),
    LOGIN_RATE_PER_NUMBER_WINDOW_S: integer(1, 86_400).default(3_600),
    LOGIN_FAILURES_PER_IP: integer(0, 100_000).default(20),
    LOGIN_FAILURES_PER_IP_WINDOW_S: integer(1, 86_400).default(900),
    GRAPHQL_MAX_DEPTH: integer(4, 64).default(DEFAULT_GRAPHQL_LIMITS.maxDepth),
    GRAPHQL_MAX_ALIASES: integer(0, 100).default(DEFAULT_GRAPHQL_LIMITS.maxAliases),
    GRAPHQL_MAX_TOKENS: integer(300, 20_000).default(DEFAULT_GRAPHQL_LIMITS.maxTokens),
    GRAPHQL_MAX_COST: integer(100, 1_000_000).default(DEFAULT_GRAPHQL_LIMITS.maxCost),
    TRUST_PROXY: z
      .string()
      .regex(/^(false|true|\d{1,2}|[A-Za-z0-9.:/, ]+)$/, {
        error: "must be false, true, a hop count, or addresses/subnets (comma-separated)",
      })
      .default("false"),
    ROUTER_SECRET: z.string().min(MIN_ROUTER_SECRET_LENGTH, { error: `must be at least ${MIN_ROUTER_SECRET_LENGTH} characters` }).optional(),
    TRUECALLER_CLIENT_ID: z.string().optional(),
    TRUECALLER_BASE_URL: httpUrl.default(TRUECALLER_DEFAULT_BASE_URL),
    TRUECALLER_VERIFICATION_BASE_URL: httpUrl.default(TRUECALLER_DEFAULT_VERIFICATION_BASE_URL),
    TRUECALLER_KEYS_URL: httpUrl.default(TRUECALLER_DEFAULT_KEYS_URL),
    TRUECALLER_PAYLOAD_MAX_AGE_S: integer(30, 86_400).default(600),
    TRUECALLER_SIGNED_PROFILES: z.enum(["true", "false"], { error: "must be true or false" }).default("false"),
    WGTWO_CLIENT_ID: z.string().optional(),
    WGTWO_CLIENT_SECRET: z.string().optional(),
    WGTWO_BASE_URL: httpUrl.default(WGTWO_DEFAULT_BASE_URL),
    WGTWO_ISSUER: exactHttpUrl.optional(),
    WGTWO_REDIRECT_URI: absoluteUri.optional(),
    OIDC_ISSUER: exactHttpUrl.optional(),
    OIDC_CLIENT_ID: z.string().optional(),
    OIDC_REDIRECT_URI: absoluteUri.optional(),
    PROVIDER_TIMEOUT_MS: integer(1, MAX_TIMEOUT_MS).default(5_000),
    LOGIN_TIMEOUT_MS: integer(1, MAX_TIMEOUT_MS).default(12_000),
    // Under Kubernetes' default 30 s termination grace, and past a whole login (12 s) with its database write.
    SHUTDOWN_GRACE_MS: integer(1, MAX_SHUTDOWN_GRACE_MS).default(15_000),
    // OpenTelemetry's own names, so a deployment's usual settings apply.
    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
    OTEL_SERVICE_NAME: z.string().min(1, { error: "must not be empty" }).default("phonegate"),
  })
  .superRefine((env, context) => {
    if (env.LOGIN_TIMEOUT_MS < env.PROVIDER_TIMEOUT_MS) {
      context.addIssue({ code: "custom", path: ["LOGIN_TIMEOUT_MS"], message: "must be at least PROVIDER_TIMEOUT_MS" });
    }
    // A login cut off during its code exchange is lost for good (the provider may have spent the code): every login
    // running at SIGTERM gets its whole budget.
    if (env.SHUTDOWN_GRACE_MS < env.LOGIN_TIMEOUT_MS) {
      context.addIssue({ code: "custom", path: ["SHUTDOWN_GRACE_MS"], message: "must be at least LOGIN_TIMEOUT_MS" });
    }
    if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
      context.addIssue({ code: "custom", path: ["METRICS_PORT"], message: "must differ from PORT (leave it unset to serve /metrics on PORT)" });
    }
    // A session ends with its last refresh token; an access token must not outlive it.
    if (env.REFRESH_TOKEN_TTL_S < env.SESSION_TTL_S) {
      context.addIssue({ code: "custom", path: ["REFRESH_TOKEN_TTL_S"], message: "must be at least SESSION_TTL_S" });
    }
    // Half a provider's settings is a typo, not a choice: say so rather than silently leave it off.
    for (const [present, missing] of [
      ["WGTWO_CLIENT_ID", "WGTWO_CLIENT_SECRET"],
      ["WGTWO_CLIENT_SECRET", "WGTWO_CLIENT_ID"],
      ["OIDC_ISSUER", "OIDC_CLIENT_ID"],
      ["OIDC_CLIENT_ID", "OIDC_ISSUER"],
    ] as const) {
      if (env[present] !== undefined && env[missing] === undefined) {
        context.addIssue({ code: "custom", path: [missing], message: `is required when ${present} is set` });
      }
    }
    if (env.TRUECALLER_SIGNED_PROFILES === "true" && env.TRUECALLER_CLIENT_ID === undefined) {
      context.addIssue({ code: "custom", path: ["TRUECALLER_SIGNED_PROFILES"], message: "has no effect without TRUECALLER_CLIENT_ID" });
    }
    for (const [orphan, owner] of [
      ["WGTWO_ISSUER", "WGTWO_CLIENT_ID"],
      ["WGTWO_REDIRECT_URI", "WGTWO_CLIENT_ID"],
      ["OIDC_REDIRECT_URI", "OIDC_ISSUER"],
    ] as const) {
      if (env[orphan] !== undefined && env[owner] === undefined) {
        context.addIssue({ code: "custom", path: [orphan], message: `has no effect without ${owner}` });
      }
    }
    if (env.NODE_ENV === "production") {
      // Client secrets, codes and tokens travel to these URLs, and the keys and ID tokens read from them decide who
      // logs in: plain http is for a provider emulator on this machine only.
      const providerUrls = [
        ...(env.TRUECALLER_CLIENT_ID === undefined ? [] : (["TRUECALLER_BASE_URL", "TRUECALLER_VERIFICATION_BASE_URL", "TRUECALLER_KEYS_URL"] as const)),
        ...(env.WGTWO_CLIENT_ID === undefined ? [] : (["WGTWO_BASE_URL", "WGTWO_ISSUER"] as const)),
        "OIDC_ISSUER",
      ] as const;
      for (const name of providerUrls) {
        const url = env[name];
        if (url !== undefined && !secureOrLoopback(url)) context.addIssue({ code: "custom", path: [name], message: "must be an https URL in production" });
      }
    }
  });

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

function secureOrLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === "https:" || LOOPBACK_HOSTS.has(hostname);
}

/** The gateway's settings, parsed once at start-up from the environment. */
export interface Config {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  /** Where `/metrics` is served: a port of its own on HOST, or the API's port when undefined. */
  readonly metricsPort: number | undefined;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** PostgreSQL server, or the embedded PGlite database under DATA_DIR when unset. */
  readonly database: DatabaseSettings;
  /** Redis server, or an in-process TTL cache when unset. */
  readonly cache: { kind: "redis"; url: string; keyPrefix: string } | { kind: "memory" };
  /** Keys sealing provider tokens at rest; outside production a generated key kept under DATA_DIR. */
  readonly tokenEncryption: { kind: "keyring"; keys: [EncryptionKey, ...EncryptionKey[]] } | { kind: "generated"; file: string };
  readonly sessions: SessionSettings;
  /** A number nobody logged in with for this many days may belong to someone new. */
  readonly numberRecycledAfterDays: number;
  readonly logins: LoginSettings;
  /** Login abuse limits (0 points: no limit). */
  readonly rateLimits: RateLimitSettings;
  /** Depth, alias, token and cost limits of every operation. */
  readonly graphqlLimits: GraphqlLimits;
  /** Express's `trust proxy`: which hops' X-Forwarded-For names the client (false: none, the socket's address counts). */
  readonly trustProxy: boolean | number | string;
  /** When set, `_entities` answers only requests whose `router-secret` header carries it. */
  readonly routerSecret: string | undefined;
  /** Absent when no client id is set: Truecaller's three paths then answer PROVIDER_MISCONFIGURED. */
  readonly truecaller: TruecallerSettings | undefined;
  /** Absent unless WGTWO_CLIENT_ID and WGTWO_CLIENT_SECRET are set. */
  readonly wgtwo: { clientId: string; clientSecret: string; baseUrl: string; issuer: string; redirectUri: string | undefined } | undefined;
  /** Absent unless OIDC_ISSUER and OIDC_CLIENT_ID are set. */
  readonly oidc: { issuer: string; clientId: string; redirectUri: string | undefined } | undefined;
  /** Timeout of each provider HTTP attempt. */
  readonly providerTimeoutMs: number;
  /** Budget for all provider calls of one login, retries included. */
  readonly loginTimeoutMs: number;
  /** On SIGTERM, how long in-flight requests may take before their connections are closed. */
  readonly shutdownGraceMs: number;
  /** Spans are exported over OTLP/HTTP when set; off otherwise. */
  readonly tracing: TracingSettings | undefined;
}

export interface LoginSettings {
  /** A retry of a code login within this many seconds gets the same user without a second provider call. */
  readonly replayTtlSeconds: number;
  /** How long a state from startLogin stays usable. */
  readonly stateTtlSeconds: number;
  /** Every code login (and signed profile) must bring a state (nonce) from startLogin. */
  readonly requireState: boolean;
  /** LoginEvent rows are kept this long. */
  readonly eventRetentionDays: number;
}

export interface TruecallerSettings {
  readonly clientId: string;
  /** OAuth SDK 3.x token and user-info endpoints. */
  readonly baseUrl: string;
  /** The app-less verification's phoneNumberDetail endpoint. */
  readonly verificationBaseUrl: string;
  /** Public keys of signed profiles. */
  readonly keysUrl: string;
  /** How old a signed profile may be. */
  readonly payloadMaxAgeSeconds: number;
  /**
   * Whether verifyTruecallerSignedProfile is on. Off by default: a signed profile
   * carries nothing that binds it to this deployment's app, and its nonce is the
   * client's, so whoever holds a fresh one (another app's backend) could present it.
   */
  readonly signedProfiles: boolean;
}

export interface SessionSettings {
  /** Keys signing access tokens (first signs, all verify); outside production one generated key kept under DATA_DIR. */
  readonly signingKeys: { kind: "keyset"; keys: SigningKeySet } | { kind: "generated"; file: string };
  /** `iss` of access tokens and base of `jwks_uri`: the gateway's public URL. */
  readonly issuer: string;
  readonly audience: string;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /** A concurrent duplicate refresh within this window gets the same tokens; a later reuse revokes the session. */
  readonly reuseGraceSeconds: number;
  /** Revoked sessions are kept this long (for operators), then pruned with expired refresh tokens. */
  readonly revokedSessionRetentionDays: number;
  /** How often each instance prunes expired refresh tokens and ended sessions. */
  readonly pruneIntervalSeconds: number;
}

/** A setting is missing or malformed; the message names settings, never their values. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Parses the environment into a {@link Config}, or throws a {@link ConfigError}
 * listing every bad setting by name. Values are never echoed: a misplaced secret
 * must not end up in a crash log. Empty and blank values count as unset.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env)
      .map(([name, value]) => [name, value?.trim()] as const)
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = environmentSchema.safeParse(present);
  // Checked beside the schema so a production start names every missing setting at once.
  const production = present.NODE_ENV === "production";
  const missing = production ? REQUIRED_IN_PRODUCTION.filter((name) => present[name] === undefined) : [];
  const noProvider = production && PROVIDER_SETTINGS.every((name) => present[name] === undefined);
  if (!parsed.success || missing.length > 0 || noProvider) {
    const problems = [
      ...(noProvider ? [`one of ${PROVIDER_SETTINGS.join(", ")} is required in production`] : []),
      ...missing.map((name) => `${name} is required in production`),
      ...(parsed.error?.issues ?? []).map((issue) => `${issue.path.join(".")} ${describeIssue(issue)}`),
    ];
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  return {
    production: e.NODE_ENV === "production",
    port: e.PORT,
    host: e.HOST,
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
    database:
      e.DATABASE_URL === undefined
        ? { kind: "embedded", directory: `${e.DATA_DIR}/pglite` }
        : { kind: "postgres", url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    cache: e.REDIS_URL === undefined ? { kind: "memory" } : { kind: "redis", url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    tokenEncryption:
      e.TOKEN_ENCRYPTION_KEYS === undefined
        ? { kind: "generated", file: `${e.DATA_DIR}/token-encryption.key` }
        : { kind: "keyring", keys: e.TOKEN_ENCRYPTION_KEYS },
    sessions: {
      signingKeys:
        e.SESSION_SIGNING_KEYS === undefined
          ? { kind: "generated", file: `${e.DATA_DIR}/session-signing-keys.json` }
          : { kind: "keyset", keys: e.SESSION_SIGNING_KEYS },
      issuer: e.SESSION_ISSUER ?? `http://localhost:${e.PORT}`,
      audience: e.SESSION_AUDIENCE,
      accessTokenTtlSeconds: e.SESSION_TTL_S,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_S,
      reuseGraceSeconds: e.REFRESH_REUSE_GRACE_S,
      revokedSessionRetentionDays: e.REVOKED_SESSION_RETENTION_DAYS,
      pruneIntervalSeconds: e.SESSION_PRUNE_INTERVAL_S,
    },
    numberRecycledAfterDays: e.NUMBER_RECYCLED_AFTER_DAYS,
    logins: {
      replayTtlSeconds: e.LOGIN_REPLAY_TTL_S,
      stateTtlSeconds: e.LOGIN_STATE_TTL_S,
      requireState: e.REQUIRE_LOGIN_STATE === "true",
      eventRetentionDays: e.LOGIN_EVENT_RETENTION_DAYS,
    },
    trustProxy: trustProxySetting(e.TRUST_PROXY),
    rateLimits: {
      perClient: { points: e.LOGIN_RATE_PER_IP, windowSeconds: e.LOGIN_RATE_PER_IP_WINDOW_S },
      perNumber: { points: e.LOGIN_RATE_PER_NUMBER, windowSeconds: e.LOGIN_RATE_PER_NUMBER_WINDOW_S },
      failuresPerClient: { points: e.LOGIN_FAILURES_PER_IP, windowSeconds: e.LOGIN_FAILURES_PER_IP_WINDOW_S },
    },
    graphqlLimits: { maxDepth: e.GRAPHQL_MAX_DEPTH, maxAliases: e.GRAPHQL_MAX_ALIASES, maxTokens: e.GRAPHQL_MAX_TOKENS, maxCost: e.GRAPHQL_MAX_COST },
    routerSecret: e.ROUTER_SECRET,
    truecaller:
      e.TRUECALLER_CLIENT_ID === undefined
        ? undefined
        : {
            clientId: e.TRUECALLER_CLIENT_ID,
            baseUrl: e.TRUECALLER_BASE_URL,
            verificationBaseUrl: e.TRUECALLER_VERIFICATION_BASE_URL,
            keysUrl: e.TRUECALLER_KEYS_URL,
            payloadMaxAgeSeconds: e.TRUECALLER_PAYLOAD_MAX_AGE_S,
            signedProfiles: e.TRUECALLER_SIGNED_PROFILES === "true",
          },
    wgtwo:
      e.WGTWO_CLIENT_ID === undefined || e.WGTWO_CLIENT_SECRET === undefined
        ? undefined
        : {
            clientId: e.WGTWO_CLIENT_ID,
            clientSecret: e.WGTWO_CLIENT_SECRET,
            baseUrl: e.WGTWO_BASE_URL,
            // Hydra's issuer is its public URL with a trailing slash (https://id.wgtwo.com/).
            issuer: e.WGTWO_ISSUER ?? `${e.WGTWO_BASE_URL}/`,
            redirectUri: e.WGTWO_REDIRECT_URI,
          },
    oidc:
      e.OIDC_ISSUER === undefined || e.OIDC_CLIENT_ID === undefined
        ? undefined
        : { issuer: e.OIDC_ISSUER, clientId: e.OIDC_CLIENT_ID, redirectUri: e.OIDC_REDIRECT_URI },
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    loginTimeoutMs: e.LOGIN_TIMEOUT_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    tracing: e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? undefined : { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME },
  };
}

/** TRUST_PROXY as Express takes it: a boolean, a hop count, or a list of trusted addresses and subnets. */
function trustProxySetting(value: string): boolean | number | string {
  if (value === "true" || value === "false") return value === "true";
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** zod's default texts can quote the input ("received 'x'"); keep only our own words. */
function describeIssue(issue: z.core.$ZodIssue): string {
  return issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
}
