import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { generateSigningKeySetText } from "../../src/auth/signing-keys.js";
import { loadConfig } from "../../src/config.js";
import { gatewayEnvironmentFor } from "../../src/emulator/emulators.js";
import { createOidcEmulator, type OidcEmulator, type OidcMintOptions } from "../../src/emulator/oidc-emulator.js";
import { createTruecallerEmulator, type TruecallerEmulator, type TruecallerEmulatorOptions } from "../../src/emulator/truecaller-emulator.js";
import { startGateway, type Gateway } from "../../src/gateway.js";
import { ProviderTokenCache } from "../../src/store/provider-token-cache.js";
import { parseKeyring, TokenCipher } from "../../src/store/token-cipher.js";
import { createRedisCache } from "../../src/store/ttl-cache.js";
import { captureLogs } from "./log-capture.js";
import { startTcpProxy, throughProxy, type TcpProxy } from "./tcp-proxy.js";
import { createTestDatabase } from "./database.js";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestGateway {
  /** The running gateway; replaced by {@link TestGateway.restartGateway}. */
  readonly gateway: Gateway;
  readonly emulator: TruecallerEmulator;
  /** The OIDC provider (OIDC_ISSUER), behaving as Auth0. */
  readonly oidc: OidcEmulator;
  /** wgtwo's operator login (WGTWO_BASE_URL). */
  readonly wgtwo: OidcEmulator;
  /** Every log line the gateway wrote, as JSON text. */
  readonly logs: string[];
  /** A separate connection to the Redis key space of this gateway (keys without the prefix). */
  readonly redis: Redis;
  /** Reads the provider tokens the gateway cached, with the gateway's keyring. */
  readonly providerTokens: ProviderTokenCache;
  readonly databaseUrl: string;
  /** A connection of the test's own to the gateway's database, for reading and arranging rows directly (ended by refuseDatabaseConnections). */
  readonly db: pg.Client;
  /** Cuts the gateway off its database: open connections end, new ones are refused. */
  refuseDatabaseConnections(): Promise<void>;
  /** Lets the gateway reach its database again. */
  allowDatabaseConnections(): Promise<void>;
  /** With `throughProxies`: the TCP proxies the gateway reaches PostgreSQL and Redis through, to cut mid-conversation. */
  readonly proxies?: { readonly database: TcpProxy; readonly redis: TcpProxy };
  /** The environment the gateway was started with (keys included). */
  readonly env: Readonly<Record<string, string>>;
  /** Sends a GraphQL operation over HTTP and returns the parsed response body. */
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphqlResponse<T>>;
  /** Runs verifyTruecaller and returns its result object. */
  verify(code: string, verifier: string): Promise<Record<string, unknown>>;
  /** Mints a code at the emulator (a generated verifier) and verifies it. */
  login(profile?: Parameters<TruecallerEmulator["mintCode"]>[0]): Promise<Record<string, unknown>>;
  /** Runs verifyPhoneLogin and returns its result object. */
  verifyPhoneLogin(input: { provider: "TRUECALLER" | "WGTWO" | "OIDC"; code: string; verifier?: string; redirectUri?: string; nonce?: string }): Promise<Record<string, unknown>>;
  /** Mints a code at the OIDC or wgtwo emulator and logs in with it through verifyPhoneLogin (verifier and nonce passed on). */
  loginWith(provider: "WGTWO" | "OIDC", mint?: OidcMintOptions): Promise<Record<string, unknown>>;
  /** Stops the gateway and starts a new one on the same database, Redis key space and emulator, with `env` changed. */
  restartGateway(env?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export interface GraphqlResponse<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** Sends a GraphQL operation to the gateway at `baseUrl` over HTTP and returns the parsed response body. */
export async function postGraphql<T = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  headers?: Record<string, string>,
): Promise<GraphqlResponse<T>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlResponse<T>;
}

/** The selection of a LoginResult that tests read. */
export const LOGIN_RESULT_FIELDS = /* GraphQL */ `
  __typename
  ... on LoginSuccess {
    isNewUser
    session { accessToken tokenType expiresAt refreshToken refreshTokenExpiresAt }
    user {
      id phoneNumber phoneNumberVerified countryCode givenName familyName email picture gender address { locality postalCode } createdAt updatedAt
      identities { provider linkedAt lastLoginAt }
    }
  }
  ... on UserError { code message }
  ... on InvalidInputError { field }
  ... on RateLimitedError { retryAfterSeconds }
  ... on ProviderUnavailableError { retryAfterSeconds }
  ... on ServiceUnavailableError { retryAfterSeconds }
  ... on InvalidSignedProfileError { reason }
`;

export const VERIFY_MUTATION = /* GraphQL */ `
  mutation Verify($code: String!, $verifier: String!, $state: String) {
    verifyTruecaller(code: $code, verifier: $verifier, state: $state) { ${LOGIN_RESULT_FIELDS} }
  }
`;

export const START_LOGIN_MUTATION = /* GraphQL */ `
  mutation StartLogin($provider: LoginProvider!) {
    startLogin(provider: $provider) { state nonce expiresAt }
  }
`;

export const VERIFY_PHONE_LOGIN_MUTATION = /* GraphQL */ `
  mutation VerifyPhoneLogin($input: PhoneLoginInput!) {
    verifyPhoneLogin(input: $input) { ${LOGIN_RESULT_FIELDS} }
  }
`;

/**
 * A gateway on port 0 against a fresh PostgreSQL database, its own Redis key
 * space and an in-process Truecaller emulator, all over real connections.
 */
export async function startTestGateway(
  options: { env?: Record<string, string>; emulator?: TruecallerEmulatorOptions; fetch?: typeof fetch; throughProxies?: boolean } = {},
): Promise<TestGateway> {
  const emulator = createTruecallerEmulator(options.emulator);
  const oidc = createOidcEmulator({ flavor: "auth0" });
  const wgtwo = createOidcEmulator({ flavor: "wgtwo" });
  const [{ url: emulatorUrl }, , { url: wgtwoUrl }] = await Promise.all([emulator.listen(), oidc.listen(), wgtwo.listen()]);
  const database = await createTestDatabase();
  const keyPrefix = `phonegate-test:${randomUUID()}:`;
  const redis = new Redis(TEST_REDIS_URL, { keyPrefix, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const db = new pg.Client({ connectionString: database.url });
  // Cutting the database (refuseDatabaseConnections) ends this connection too; that is the test's doing, not a failure.
  db.on("error", () => {});
  await db.connect();
  const proxies = options.throughProxies
    ? { database: await startTcpProxy(hostAndPort(database.url, 5432)), redis: await startTcpProxy(hostAndPort(TEST_REDIS_URL, 6379)) }
    : undefined;
  const logs = captureLogs();
  const keyring = `test:${randomBytes(32).toString("base64")}`;
  let environment: Record<string, string> = {
    TOKEN_ENCRYPTION_KEYS: keyring,
    SESSION_SIGNING_KEYS: generateSigningKeySetText(),
    SESSION_ISSUER: "https://phonegate.test",
    SESSION_AUDIENCE: "phonegate-test-api",
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "debug",
    DATABASE_URL: proxies ? throughProxy(database.url, proxies.database) : database.url,
    REDIS_URL: proxies ? throughProxy(TEST_REDIS_URL, proxies.redis) : TEST_REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    ...gatewayEnvironmentFor({ truecaller: emulatorUrl, oidcIssuer: oidc.issuer, wgtwo: wgtwoUrl }),
    // Every test logs in from 127.0.0.1, far beyond any sane limit; the rate-limit tests set their own.
    LOGIN_RATE_PER_IP: "0",
    LOGIN_RATE_PER_NUMBER: "0",
    LOGIN_FAILURES_PER_IP: "0",
    ...options.env,
  };
  const closeTestServers = () => Promise.allSettled([emulator.close(), oidc.close(), wgtwo.close(), proxies?.database.close(), proxies?.redis.close()]);
  const start = () => startGateway(loadConfig(environment), { logger: logs.logger, ...(options.fetch ? { fetch: options.fetch } : {}) });
  let gateway: Gateway;
  try {
    gateway = await start();
  } catch (error) {
    await db.end().catch(() => {});
    await Promise.allSettled([closeTestServers(), database.drop()]);
    redis.disconnect();
    throw error;
  }

  const graphql: TestGateway["graphql"] = (query, variables, headers) => postGraphql(gateway.url, query, variables, headers);
  const verify: TestGateway["verify"] = async (code, verifier) => {
    const body = await graphql<{ verifyTruecaller: Record<string, unknown> }>(VERIFY_MUTATION, { code, verifier });
    if (!body.data) throw new Error(`verifyTruecaller failed: ${JSON.stringify(body.errors)}`);
    return body.data.verifyTruecaller;
  };
  const verifyPhoneLogin: TestGateway["verifyPhoneLogin"] = async (input) => {
    const body = await graphql<{ verifyPhoneLogin: Record<string, unknown> }>(VERIFY_PHONE_LOGIN_MUTATION, { input });
    if (!body.data) throw new Error(`verifyPhoneLogin failed: ${JSON.stringify(body.errors)}`);
    return body.data.verifyPhoneLogin;
  };
  return {
    get gateway() {
      return gateway;
    },
    emulator,
    oidc,
    wgtwo,
    get env() {
      return environment;
    },
    logs: logs.lines,
    redis,
    providerTokens: new ProviderTokenCache(createRedisCache(redis), new TokenCipher(parseKeyring(keyring)!)),
    databaseUrl: database.url,
    db,
    refuseDatabaseConnections: () => database.refuseConnections(),
    ...(proxies ? { proxies } : {}),
    allowDatabaseConnections: () => database.allowConnections(),
    graphql,
    verify,
    async login(mint) {
      const minted = emulator.mintCode(mint);
      return verify(minted.code, minted.codeVerifier ?? "");
    },
    verifyPhoneLogin,
    async loginWith(provider, mint) {
      const minted = (provider === "OIDC" ? oidc : wgtwo).mintCode(mint);
      return verifyPhoneLogin({
        provider,
        code: minted.code,
        ...(minted.codeVerifier === undefined ? {} : { verifier: minted.codeVerifier }),
        ...(mint?.nonce === undefined ? {} : { nonce: mint.nonce }),
      });
    },
    async restartGateway(env) {
      environment = { ...environment, ...env };
      await gateway.close();
      gateway = await start();
    },
    async close() {
      await gateway.close();
      await closeTestServers();
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys.map((key) => key.slice(keyPrefix.length)));
      redis.disconnect();
      await db.end().catch(() => {});
      await database.drop();
    },
  };
}

function hostAndPort(url: string, defaultPort: number): { host: string; port: number } {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port || defaultPort) };
}
