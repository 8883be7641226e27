import { z } from "zod";

/** Truecaller's production OAuth host outside the EU (Truecaller docs, "Fetching User Token"). */
export const TRUECALLER_DEFAULT_BASE_URL = "https://oauth-account-noneu.truecaller.com";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Empty strings count as unset, as in most process managers' env files. */
const optionalString = z.preprocess((value) => (value === "" ? undefined : value), z.string().optional());

const port = z.coerce
  .number({ error: "must be a port number" })
  .int({ error: "must be a whole number" })
  .min(0, { error: "must be between 0 and 65535" })
  .max(65_535, { error: "must be between 0 and 65535" });

const milliseconds = z.coerce
  .number({ error: "must be a number of milliseconds" })
  .int({ error: "must be a whole number of milliseconds" })
  .min(1, { error: "must be at least 1" })
  .max(600_000, { error: "must be at most 600000" });

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform((url) => url.replace(/\/+$/, ""));

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"], { error: "must be development, production or test" }).default("development"),
    PORT: port.default(4000),
    HOST: z.string().min(1).default("0.0.0.0"),
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    DATABASE_URL: optionalString.pipe(
      z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// URL" }).optional(),
    ),
    DATABASE_POOL_SIZE: z.coerce.number({ error: "must be a number" }).int().min(1).max(200).default(10),
    DATA_DIR: z.string().min(1).default(".data"),
    REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }).optional()),
    REDIS_KEY_PREFIX: z.string().default("phonegate:"),
    TRUECALLER_CLIENT_ID: optionalString,
    TRUECALLER_BASE_URL: httpUrl.default(TRUECALLER_DEFAULT_BASE_URL),
    PROVIDER_TIMEOUT_MS: milliseconds.default(5_000),
    LOGIN_TIMEOUT_MS: milliseconds.default(12_000),
  })
  .superRefine((env, context) => {
    if (env.NODE_ENV === "production" && env.TRUECALLER_CLIENT_ID === undefined) {
      context.addIssue({ code: "custom", path: ["TRUECALLER_CLIENT_ID"], message: "is required in production" });
    }
  });

type Environment = z.infer<typeof environmentSchema>;

/** The gateway's settings, parsed once at start-up from the environment. */
export interface Config {
  readonly environment: Environment["NODE_ENV"];
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly logLevel: Environment["LOG_LEVEL"];
  /** PostgreSQL server, or the embedded PGlite database under `dataDir` when unset. */
  readonly database: { kind: "postgres"; url: string; poolSize: number } | { kind: "embedded"; directory: string };
  /** Redis server, or an in-process TTL cache when unset. */
  readonly cache: { kind: "redis"; url: string; keyPrefix: string } | { kind: "memory" };
  readonly dataDir: string;
  /** Absent when no client id is set: the provider then answers PROVIDER_MISCONFIGURED. */
  readonly truecaller: { clientId: string; baseUrl: string } | undefined;
  readonly providerTimeoutMs: number;
  /** Budget for all provider calls of one login, retries included. */
  readonly loginTimeoutMs: number;
}

/** A setting is missing or malformed; the message names settings, never their values. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Parses the environment into a {@link Config}, or throws a {@link ConfigError}
 * listing every bad setting by name. Values are never echoed: a misplaced secret
 * must not end up in a crash log.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${describeIssue(issue)}`);
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  return {
    environment: e.NODE_ENV,
    production: e.NODE_ENV === "production",
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    database:
      e.DATABASE_URL === undefined
        ? { kind: "embedded", directory: `${e.DATA_DIR}/pglite` }
        : { kind: "postgres", url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    cache: e.REDIS_URL === undefined ? { kind: "memory" } : { kind: "redis", url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    dataDir: e.DATA_DIR,
    truecaller:
      e.TRUECALLER_CLIENT_ID === undefined ? undefined : { clientId: e.TRUECALLER_CLIENT_ID, baseUrl: e.TRUECALLER_BASE_URL },
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    loginTimeoutMs: e.LOGIN_TIMEOUT_MS,
  };
}

/** zod's default texts can quote the input ("received 'x'"); keep only our own words. */
function describeIssue(issue: z.core.$ZodIssue): string {
  return issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
}
