import { Prisma } from "../generated/prisma/client.js";

/** Driver-adapter error kinds that mean the database could not be reached or used, not that a query is wrong. */
const UNAVAILABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "DatabaseDoesNotExist"]);
/**
 * SQLSTATE classes of connection trouble (08), exhausted resources (53) and shutdowns (57P), and a statement
 * cancelled by statement_timeout (57014: locks or load held it past the timeout; nothing of it was kept).
 */
const UNAVAILABLE_SQLSTATE_PREFIXES = ["08", "53", "57P", "57014"];
/** Prisma's own codes for "cannot reach the database" and "no connection from the pool in time". */
const UNAVAILABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1017", "P2024", "P2028"]);
/** Socket errors of node's `net`, as pg raises them when it cannot connect. */
const UNAVAILABLE_SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"]);
/** pg's own errors for a connection that could not be made or was lost; they carry no code, only these messages. */
const PG_CONNECTION_MESSAGES = [
  /^timeout exceeded when trying to connect/i,
  /^Connection terminated/i,
  /^Query read timeout/i,
  // A query on a pooled client whose connection already failed (Prisma's ROLLBACK after the failed statement, say).
  /^Client has encountered a connection error and is not queryable/i,
  /^Client was closed and is not queryable/i,
];

function isDriverAdapterError(error: unknown): error is { cause: AdapterCause } {
  return error instanceof Error && error.name === "DriverAdapterError" && typeof (error as { cause?: unknown }).cause === "object";
}

function isUnavailableCause(cause: AdapterCause | undefined): boolean {
  if (typeof cause?.kind === "string" && UNAVAILABLE_KINDS.has(cause.kind)) return true;
  const sqlState = cause?.originalCode;
  const originalMessage = (cause as { originalMessage?: unknown } | undefined)?.originalMessage;
  if (typeof originalMessage === "string" && PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(originalMessage))) return true;
  // A FATAL error ends the connection: the database refused or dropped it.
  if (cause?.severity === "FATAL") return true;
  return typeof sqlState === "string" && UNAVAILABLE_SQLSTATE_PREFIXES.some((prefix) => sqlState.startsWith(prefix));
}

interface AdapterCause {
  readonly kind?: unknown;
  readonly originalCode?: unknown;
  readonly severity?: unknown;
}

/**
 * Whether `error` says the database is unavailable (down, unreachable,
 * refusing connections, out of connections) rather than that our query is
 * wrong: the first is an outage to answer SERVICE_UNAVAILABLE to, the second a
 * bug to mask.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  // Prisma's transaction manager passes the adapter's error through unwrapped when COMMIT (or ROLLBACK) fails.
  if (isDriverAdapterError(error)) return isUnavailableCause(error.cause);
  if (error instanceof Prisma.PrismaClientKnownRequestError || error instanceof Prisma.PrismaClientUnknownRequestError) {
    if ("code" in error && typeof error.code === "string" && UNAVAILABLE_PRISMA_CODES.has(error.code)) return true;
    const meta = "meta" in error ? (error.meta as { driverAdapterError?: { cause?: AdapterCause } } | undefined) : undefined;
    return isUnavailableCause(meta?.driverAdapterError?.cause);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && UNAVAILABLE_SOCKET_CODES.has(code)) return true;
  return error instanceof Error && PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(error.message));
}
