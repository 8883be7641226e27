import { Redis } from "ioredis";
import { errorSummary, type Logger } from "../logger.js";
import { UNOBSERVED, type Telemetry } from "../telemetry/telemetry.js";

/** Bounds on every Redis failure: with ioredis defaults a dead server stalls a command for ~73 s. */
const CONNECT_TIMEOUT_MS = 2_000;
const COMMAND_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Opens a Redis connection whose commands fail fast while the server is away
 * and which reconnects by itself when it returns. Keys get `keyPrefix`.
 * Rejects when the first connection cannot be made.
 */
export async function connectRedis(url: string, keyPrefix: string, logger: Logger, telemetry: Telemetry = UNOBSERVED): Promise<Redis> {
  const redis = new Redis(url, {
    keyPrefix,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    // CLIENT SETINFO (ioredis' handshake) fails on Redis before 7.2: an error on every connect, for nothing.
    disableClientInfo: true,
    // Commands issued in one tick (concurrent logins' cache writes, a limiter's calls) share one write and one read.
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  });
  // Log transitions, not every reconnect attempt; the message carries host and port, never the URL's password.
  let reachable = true;
  const lost = (error: { name: string; message: string }) => {
    if (!reachable) return;
    reachable = false;
    logger.warn({ error }, "redis unreachable");
  };
  redis.on("error", (error: NodeJS.ErrnoException) => lost(errorSummary(error)));
  // A connection that closes without an error (a proxy or a failover dropping it) only says so by reconnecting.
  redis.on("reconnecting", () => lost({ name: "ConnectionClosed", message: "connection closed; reconnecting" }));
  redis.on("ready", () => {
    if (reachable) return;
    reachable = true;
    logger.info("redis reachable again");
  });
  // Every command (the cache's, the rate limiter's, ioredis' own) in a span, timed. ioredis' callers wait for
  // `command.promise`, not for what sendCommand returns, so that is observed on the side and returned unchanged.
  // A command sent again (offline queue flushed, resent after a reconnect) is observed once.
  const sendCommand = redis.sendCommand.bind(redis);
  const observed = new WeakSet<object>();
  redis.sendCommand = (command, stream) => {
    if (!observed.has(command)) {
      observed.add(command);
      telemetry.redisCommand(command.name, () => command.promise).catch(() => {});
    }
    return sendCommand(command, stream);
  };
  try {
    await redis.connect();
  } catch (error) {
    // A failed first connect still retries in the background; stop it.
    redis.disconnect();
    const { hostname, port } = new URL(url);
    throw new Error(`Redis is not reachable at ${hostname}:${port || 6379} (REDIS_URL): ${errorSummary(error).message}`, { cause: error });
  }
  return redis;
}
