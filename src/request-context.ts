import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The id of the HTTP request whose handling is running now, wherever that
 * code runs: every log line and every masked error carries it.
 */
const requestIds = new AsyncLocalStorage<string>();

/** Runs `handle` (and everything it starts) as the handling of request `requestId`. */
export function runWithRequestId<T>(requestId: string, handle: () => T): T {
  return requestIds.run(requestId, handle);
}

/** The id of the request being handled, if any. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
