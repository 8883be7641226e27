import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import type { Tracer } from "@opentelemetry/api";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";
import type { GraphQLSchema } from "graphql";
import type { ContainerType } from "type-graphql";
import { AccessTokens } from "./auth/access-tokens.js";
import { IdempotentExchange } from "./auth/idempotent-exchange.js";
import { LoginAudit } from "./auth/login-audit.js";
import { LoginLimits } from "./auth/login-limits.js";
import { LoginService, type TruecallerAppLessPaths } from "./auth/login.service.js";
import { ProfileService } from "./auth/profile.service.js";
import { RefreshTokenSuccession } from "./auth/refresh-tokens.js";
import { SessionService } from "./auth/session.service.js";
import { loadOrCreateSigningKeyFile, type SigningKeySet } from "./auth/signing-keys.js";
import { UserDirectory } from "./auth/user-directory.js";
import type { Config } from "./config.js";
import { createContextFactory, type GatewayContext } from "./graphql/context.js";
import { operationLimits } from "./graphql/armor.js";
import { createErrorFormatter, MASKED_ERROR_MESSAGE } from "./graphql/format-error.js";
import { LoginResolver } from "./graphql/login.resolver.js";
import { operationSpanNames, operationSpans } from "./graphql/operation-span.js";
import { ProfileResolver } from "./graphql/profile.resolver.js";
import { UserResolver } from "./graphql/user.resolver.js";
import { requestScopes } from "./graphql/request-scope.js";
import { buildGatewaySchema } from "./graphql/schema.js";
import { SessionResolver } from "./graphql/session.resolver.js";
import { errorSummary, type Logger } from "./logger.js";
import { runPeriodically } from "./periodic.js";
import { GatewayTelemetry, type Telemetry } from "./telemetry/telemetry.js";
import { startTracing } from "./telemetry/tracing.js";
import { currentRequestId } from "./request-context.js";
import { numberVerificationWithCircuitBreaker, withCircuitBreaker } from "./providers/circuit-breaker.js";
import { createOidcProvider } from "./providers/oidc/oidc.js";
import type { PhoneLoginProvider, ProviderId } from "./providers/provider.js";
import { createTruecallerNumberVerification } from "./providers/truecaller/phone-number-detail.js";
import { createTruecallerSignedProfiles, SIGNED_PAYLOAD_CLOCK_SKEW_S } from "./providers/truecaller/signed-profile.js";
import { createTruecallerProvider } from "./providers/truecaller/truecaller.js";
import { createWgtwoProvider } from "./providers/wgtwo/wgtwo.js";
import { openDatabase, type Database } from "./store/database.js";
import { KeyedHash } from "./store/keyed-hash.js";
import { LoginChallenges } from "./store/login-challenges.js";
import { LoginEventRepository } from "./store/login-events.js";
import { LoginReplays } from "./store/login-replays.js";
import { LoginRateLimits } from "./store/rate-limits.js";
import { ProviderTokenCache } from "./store/provider-token-cache.js";
import { connectRedis } from "./store/redis.js";
import { SessionRepository } from "./store/session.repository.js";
import { loadOrCreateKeyFile, TokenCipher, type EncryptionKey } from "./store/token-cipher.js";
import { createMemoryCache, createRedisCache, type TtlCache } from "./store/ttl-cache.js";
import { UsedPayloads } from "./store/used-payloads.js";
import { UserRepository } from "./store/user.repository.js";

/** GraphQL requests are small; anything larger is refused before parsing. */
const REQUEST_BODY_LIMIT = "64kb";
/**
 * How long verifiers may cache our keys. A new signing key must be published
 * (second in SESSION_SIGNING_KEYS) this long before it goes first.
 */
const JWKS_MAX_AGE_S = 300;
/** The first pruning of expired sessions runs this soon after start; then every SESSION_PRUNE_INTERVAL_S. */
const FIRST_SESSION_PRUNE_DELAY_MS = 60_000;
/** A health probe answers within this even when a dependency hangs. */
const HEALTH_CHECK_TIMEOUT_MS = 2_000;

export interface Gateway {
  /** Base URL, e.g. http://127.0.0.1:4000 (the port is the real one when 0 was asked for). */
  readonly url: string;
  /** Base URL of `/metrics`: `url`, or the METRICS_PORT listener's. */
  readonly metricsUrl: string;
  /** Stops accepting, lets in-flight requests finish (up to SHUTDOWN_GRACE_MS), then closes every pool. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  readonly logger: Logger;
  /** Outbound HTTP to providers; tests may inject one. */
  readonly fetch?: typeof fetch;
}

/**
 * The composition root: opens the database (applying migrations) and the
 * cache, builds providers, services and the schema, and serves `/graphql`
 * and `/health`. Nothing connects before this is called.
 */
export async function startGateway(config: Config, options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const tracing = config.tracing ? startTracing(config.tracing) : undefined;
  const telemetry = new GatewayTelemetry(tracing?.tracer);
  const { database, appliedMigrations } = await openDatabase(config.database, telemetry).catch(async (error: unknown) => {
    await tracing?.shutdown();
    throw error;
  });
  logger.info({ database: database.kind, appliedMigrations }, "database ready");
  let cache: TtlCache | undefined;
  try {
    const redis = config.cache.kind === "redis" ? await connectRedis(config.cache.url, config.cache.keyPrefix, logger, telemetry) : undefined;
    cache = redis ? createRedisCache(redis) : createMemoryCache();
    if (database.kind === "embedded" || cache.kind === "memory") {
      logger.warn(
        { database: database.kind, cache: cache.kind },
        "single-instance mode: set DATABASE_URL and REDIS_URL before running more than one gateway",
      );
    }

    const providers = configuredProviders(config, options, logger, telemetry);
    if (config.production && config.routerSecret === undefined) {
      logger.warn("ROUTER_SECRET is not set: _entities reads users by id for anyone who can reach this gateway");
    }
    const encryptionKeyring = await encryptionKeys(config);
    const cipher = new TokenCipher(encryptionKeyring);
    const users = new UserRepository(database.prisma, cipher, config.numberRecycledAfterDays);
    const providerTokens = new ProviderTokenCache(cache, cipher, telemetry);
    const accessTokens = new AccessTokens({
      keys: await signingKeys(config),
      issuer: config.sessions.issuer,
      audience: config.sessions.audience,
      ttlSeconds: config.sessions.accessTokenTtlSeconds,
    });
    const sessionRepository = new SessionRepository(database.prisma);
    telemetry.countActiveSessionsWith(() => sessionRepository.countActive());
    const sessions = new SessionService({
      sessions: sessionRepository,
      accessTokens,
      successors: new RefreshTokenSuccession(encryptionKeyring),
      logger,
      refreshTokenTtlSeconds: config.sessions.refreshTokenTtlSeconds,
      reuseGraceSeconds: config.sessions.reuseGraceSeconds,
      revokedSessionRetentionDays: config.sessions.revokedSessionRetentionDays,
    });
    const loginEvents = new LoginEventRepository(database.prisma);
    const clientHash = new KeyedHash(encryptionKeyring, "client ip");
    const audit = new LoginAudit(loginEvents, clientHash, logger);
    const challenges = new LoginChallenges(cache, new KeyedHash(encryptionKeyring, "login state"), config.logins.stateTtlSeconds * 1000);
    const logins = new LoginService({
      providers,
      exchanges: new IdempotentExchange({
        replays: new LoginReplays(cache, cipher, new KeyedHash(encryptionKeyring, "login replay")),
        challenges,
        logger,
        telemetry,
        replayTtlMs: config.logins.replayTtlSeconds * 1000,
        loginTimeoutMs: config.loginTimeoutMs,
        requireLoginState: config.logins.requireState,
      }),
      challenges,
      requireLoginState: config.logins.requireState,
      audit,
      limits: new LoginLimits(new LoginRateLimits(config.rateLimits, redis, telemetry), clientHash),
      truecaller: truecallerAppLessPaths(config, options, logger, telemetry, cache),
      users,
      providerTokens,
      sessions,
      logger,
      telemetry,
      loginTimeoutMs: config.loginTimeoutMs,
    });
    const profiles = new ProfileService({ providers, users, providerTokens, logger, timeoutMs: config.loginTimeoutMs });

    const container = resolverContainer([
      [LoginResolver, new LoginResolver(logins)],
      [ProfileResolver, new ProfileResolver(profiles)],
      [SessionResolver, new SessionResolver(sessions)],
      [UserResolver, new UserResolver()],
    ]);
    const httpServer = await serve(config, logger, {
      schema: await buildGatewaySchema(container),
      context: createContextFactory({ sessions, directory: new UserDirectory(users), routerSecret: config.routerSecret }),
      accessTokens,
      database,
      cache,
      telemetry,
      tracer: tracing?.tracer,
    });
    const pruning = runPeriodically(FIRST_SESSION_PRUNE_DELAY_MS, config.sessions.pruneIntervalSeconds * 1000, async () => {
      await sessions.prune().catch((error: unknown) => logger.warn({ error: errorSummary(error) }, "pruning sessions failed"));
      await loginEvents.prune(config.logins.eventRetentionDays).catch((error: unknown) => logger.warn({ error: errorSummary(error) }, "pruning login events failed"));
    });
    const baseUrl = (server: Server) => `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${(server.address() as AddressInfo).port}`;
    const url = baseUrl(httpServer.server);
    const metricsUrl = httpServer.metricsServer ? baseUrl(httpServer.metricsServer) : url;
    logger.info({ url: `${url}/graphql`, metrics: `${metricsUrl}/metrics` }, "gateway listening");

    const openCache = cache;
    return {
      url,
      metricsUrl,
      async close() {
        await Promise.all([httpServer.stop(), pruning.stop()]);
        // Past the grace: logins still waiting for a provider give up (their retries resume elsewhere); the audit
        // rows of the answers may still be on their way to the database.
        await logins.abandonRunning();
        await audit.settled();
        await Promise.allSettled([database.close(), openCache.close(), tracing?.shutdown()]);
      },
    };
  } catch (error) {
    await Promise.allSettled([database.close(), cache?.close(), tracing?.shutdown()]);
    throw error;
  }
}

/** What every provider module is built with: its HTTP timeouts, the test's fetch, the log, the telemetry. */
function providerCommons(config: Config, options: GatewayOptions, logger: Logger, telemetry: Telemetry) {
  return { timeoutMs: config.providerTimeoutMs, ...(options.fetch ? { fetch: options.fetch } : {}), logger, telemetry, documentTimeoutMs: config.loginTimeoutMs };
}

/** The code-flow providers whose settings are present, by id, each behind its own circuit breaker. */
function configuredProviders(config: Config, options: GatewayOptions, logger: Logger, telemetry: Telemetry): Map<ProviderId, PhoneLoginProvider> {
  const { documentTimeoutMs, ...common } = providerCommons(config, options, logger, telemetry);
  const providers: PhoneLoginProvider[] = [];
  if (config.truecaller) providers.push(createTruecallerProvider({ ...common, clientId: config.truecaller.clientId, baseUrl: config.truecaller.baseUrl }));
  if (config.wgtwo) providers.push(createWgtwoProvider({ ...common, ...config.wgtwo }));
  if (config.oidc) providers.push(createOidcProvider({ ...common, ...config.oidc, discoveryTimeoutMs: documentTimeoutMs }));
  if (providers.length === 0) logger.warn("no login provider is configured (TRUECALLER_CLIENT_ID, WGTWO_CLIENT_ID, OIDC_ISSUER): every login answers PROVIDER_MISCONFIGURED");
  else if (!config.truecaller) logger.info("TRUECALLER_CLIENT_ID is not set: Truecaller logins answer PROVIDER_MISCONFIGURED");
  return new Map(providers.map((provider) => [provider.id, withCircuitBreaker(provider, { logger })]));
}

/** Truecaller's drop-call/OTP path wherever Truecaller is configured, and signed profiles where also switched on. */
function truecallerAppLessPaths(
  config: Config,
  options: GatewayOptions,
  logger: Logger,
  telemetry: Telemetry,
  cache: TtlCache,
): TruecallerAppLessPaths | undefined {
  const { truecaller } = config;
  if (!truecaller) return undefined;
  const { documentTimeoutMs, ...common } = providerCommons(config, options, logger, telemetry);
  return {
    numbers: numberVerificationWithCircuitBreaker(
      createTruecallerNumberVerification({ ...common, clientId: truecaller.clientId, baseUrl: truecaller.verificationBaseUrl }),
      { logger },
    ),
    // The key fetch has its own back-off (signed-profile.ts): it re-reads at most once a minute.
    signedProfiles: truecaller.signedProfiles
      ? createTruecallerSignedProfiles({ ...common, keysUrl: truecaller.keysUrl, maxAgeSeconds: truecaller.payloadMaxAgeSeconds, keysTimeoutMs: documentTimeoutMs })
      : undefined,
    usedPayloads: new UsedPayloads(cache),
    payloadLifetimeMs: (truecaller.payloadMaxAgeSeconds + SIGNED_PAYLOAD_CLOCK_SKEW_S) * 1000,
  };
}

/** The configured keyring, or outside production one generated once and kept under DATA_DIR. */
function encryptionKeys(config: Config): Promise<[EncryptionKey, ...EncryptionKey[]]> {
  const { tokenEncryption } = config;
  return tokenEncryption.kind === "keyring" ? Promise.resolve(tokenEncryption.keys) : loadOrCreateKeyFile(tokenEncryption.file);
}

/** The configured signing keys, or outside production one generated once and kept under DATA_DIR. */
function signingKeys(config: Config): Promise<SigningKeySet> {
  const { signingKeys } = config.sessions;
  return signingKeys.kind === "keyset" ? Promise.resolve(signingKeys.keys) : loadOrCreateSigningKeyFile(signingKeys.file);
}

/** type-graphql asks the container for resolver instances; ours are built up front. */
function resolverContainer(instances: Array<[Function, object]>): ContainerType {
  const byClass = new Map(instances);
  return {
    get(resolverClass) {
      const instance = byClass.get(resolverClass);
      if (!instance) throw new Error(`no instance registered for resolver ${resolverClass.name}`);
      return instance;
    },
  };
}

interface Served {
  readonly schema: GraphQLSchema;
  readonly context: (request: { req: express.Request }) => Promise<GatewayContext>;
  readonly accessTokens: AccessTokens;
  readonly database: Database;
  readonly cache: TtlCache;
  readonly telemetry: GatewayTelemetry;
  /** Absent when tracing is off: no span is started at all. */
  readonly tracer: Tracer | undefined;
}

async function serve(
  config: Config,
  logger: Logger,
  { schema, context, accessTokens, database, cache, telemetry, tracer }: Served,
): Promise<{ server: Server; metricsServer: Server | undefined; stop(): Promise<void> }> {
  const app = express();
  app.disable("x-powered-by");
  // Which X-Forwarded-For hops name the client (request.ip): none unless TRUST_PROXY says a proxy is in front.
  app.set("trust proxy", config.trustProxy);
  // Before anything that can answer: every response, refusals included, carries the request's id.
  app.use(requestScopes());
  const server = createServer(app);
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: !config.production,
    // Without introspection, "Did you mean …?" would still spell out the schema.
    hideSchemaDetailsFromClientErrors: config.production,
    // Depth, aliases, directives, tokens and cost of one operation (see graphql/armor.ts).
    ...operationLimits(config.graphqlLimits),
    // Apollo's bound on selections expanded through fragments; the limits above run after it.
    maxRecursiveSelections: true,
    // Apollo's defaults, stated: one operation per request (an array body is a 400), and no GET or
    // simple POST without a header a browser cannot send cross-site unpreflighted.
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // Automatic persisted queries belong to the router in front; here they would only be one more cache to fill.
    persistedQueries: false,
    // main.ts owns shutdown; Apollo's own handlers would re-raise the signal and kill the process mid-close.
    stopOnTerminationSignals: false,
    formatError: createErrorFormatter({ production: config.production, logger, currentRequestId }),
    // Decided by our config, not Apollo's reading of NODE_ENV.
    includeStacktraceInErrorResponses: !config.production,
    plugins: [
      ...(tracer ? [operationSpanNames()] : []),
      // On stop: no new connections, idle ones closed, in-flight requests given SHUTDOWN_GRACE_MS (a login cut off
      // after its exchange is not lost: its retry, on any instance, resumes from the tokens kept in Redis).
      ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: config.shutdownGraceMs }),
      // Outside production Apollo serves Sandbox at /graphql; in production no landing page at all.
      ...(config.production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
    logger,
  });
  await apollo.start();

  // Readiness: whether this instance can serve logins now (a load balancer takes it out while not). Logins need the
  // database; without Redis they go on, degraded (no replay, limits per instance), so a shared Redis outage must not
  // take every instance out.
  const ready: express.RequestHandler = async (_request, response) => {
    const [databaseCheck, cacheCheck] = await Promise.all([probe(() => database.ping()), probe(() => cache.ping())]);
    const status = databaseCheck === "down" ? "unavailable" : cacheCheck === "down" ? "degraded" : "ok";
    response.status(databaseCheck === "up" ? 200 : 503).json({ status, database: databaseCheck, cache: cacheCheck });
  };
  app.get("/health", ready);
  app.get("/health/ready", ready);
  // Liveness: the process answers; an outage of a dependency is no reason to restart it.
  app.get("/health/live", (_request, response) => {
    response.status(200).json({ status: "ok" });
  });
  // What any service needs to verify our access tokens with a stock JOSE/OIDC library.
  const jwks = accessTokens.jwks();
  app.get("/.well-known/jwks.json", (_request, response) => {
    response.set("cache-control", `public, max-age=${JWKS_MAX_AGE_S}`).json(jwks);
  });
  const discovery = { issuer: accessTokens.issuer, jwks_uri: `${accessTokens.issuer}/.well-known/jwks.json` };
  app.get("/.well-known/openid-configuration", (_request, response) => {
    response.set("cache-control", `public, max-age=${JWKS_MAX_AGE_S}`).json(discovery);
  });
  // Prometheus' text format: on a port of its own with METRICS_PORT (kept off the ingress), else here (see README, Operating).
  const metrics: express.RequestHandler = async (_request, response) => {
    response.set("content-type", telemetry.registry.contentType).send(await telemetry.registry.metrics());
  };
  const metricsApp = config.metricsPort === undefined ? app : express().disable("x-powered-by");
  metricsApp.get("/metrics", metrics);
  // A failing scrape is logged as any request's error is (Express's default handler would print the stack to stderr).
  if (metricsApp !== app) metricsApp.use(requestErrorHandler(logger));
  app.use("/graphql", ...(tracer ? [operationSpans(tracer)] : []), express.json({ limit: REQUEST_BODY_LIMIT }), expressMiddleware(apollo, { context }));
  app.use(requestErrorHandler(logger));

  await listen(server, config.port, config.host);
  const metricsServer = metricsApp === app ? undefined : createServer(metricsApp);
  if (metricsServer) {
    await listen(metricsServer, config.metricsPort ?? 0, config.host).catch(async (error: unknown) => {
      await apollo.stop();
      throw error;
    });
  }
  return {
    server,
    metricsServer,
    // Scrapes are answered through the grace; the metrics port closes with the rest.
    stop: async () => {
      await apollo.stop();
      if (!metricsServer) return;
      metricsServer.closeAllConnections();
      await new Promise((resolve) => metricsServer.close(resolve));
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
}

/** Client-facing text per body-parser error type; its own messages can quote the body. */
const BODY_ERROR_MESSAGES: Record<string, string> = {
  "entity.parse.failed": "The request body is not valid JSON.",
  "entity.too.large": `The request body is larger than ${REQUEST_BODY_LIMIT}.`,
  "encoding.unsupported": "The request body's content encoding is not supported.",
  "charset.unsupported": "The request body's charset is not supported.",
};

/**
 * Answers errors raised before GraphQL runs (mostly body parsing) as GraphQL
 * errors. Express's default handler would print the error, and body-parser's
 * errors carry the raw body — the caller's code and verifier — to stderr.
 */
function requestErrorHandler(logger: Logger): express.ErrorRequestHandler {
  return (error: { status?: unknown; type?: unknown }, _request, response, _next) => {
    const status = typeof error.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500;
    const type = typeof error.type === "string" ? error.type : undefined;
    if (status === 500) {
      logger.error({ error: errorSummary(error) }, "unexpected error in HTTP request");
      const requestId = currentRequestId();
      const extensions = { code: "INTERNAL_SERVER_ERROR", ...(requestId === undefined ? {} : { requestId }) };
      response.status(status).json({ errors: [{ message: MASKED_ERROR_MESSAGE, extensions }] });
      return;
    }
    logger.info({ status, type }, "request refused before GraphQL");
    response.status(status).json({ errors: [{ message: (type && BODY_ERROR_MESSAGES[type]) ?? "Bad request.", extensions: { code: "BAD_REQUEST" } }] });
  };
}

async function probe(check: () => Promise<void>): Promise<"up" | "down"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"down">((resolve) => {
    timer = setTimeout(() => resolve("down"), HEALTH_CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check().then(() => "up" as const, () => "down" as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
