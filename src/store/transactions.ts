import { Prisma } from "../generated/prisma/client.js";

/** Attempts of a login transaction that PostgreSQL chose as a deadlock's victim. */
const DEADLOCK_ATTEMPTS = 3;
/** SQLSTATE `deadlock_detected`. */
const DEADLOCK_DETECTED = "40P01";

/**
 * Runs a transaction again when PostgreSQL broke a deadlock by aborting it (e.g.
 * two accounts swapping numbers at once each release the other's user and then
 * wait for each other's identity row); the loser's rollback left nothing
 * behind, so running it again is safe.
 */
export async function retriedOnDeadlock<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= DEADLOCK_ATTEMPTS || !isDeadlock(error)) throw error;
    }
  }
}

/** The driver adapter reports PostgreSQL's SQLSTATE under `meta.driverAdapterError.cause.originalCode`. */
export function isDeadlock(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const cause = (error.meta as { driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined)?.driverAdapterError?.cause;
  return error.code === "P2034" || cause?.originalCode === DEADLOCK_DETECTED;
}
