import type { ProviderFailure, ProviderResult } from "./provider.js";

/**
 * A provider document read over HTTP and kept (OIDC discovery, Truecaller's
 * public keys). A stale value is served at once while it is re-read in the
 * background; a failed read — the first one included — is not tried again for
 * `retryAfterFailureMs`, so an outage of the document's endpoint, or a wrong
 * setting, costs one request per interval, not one per login.
 */
export interface RefreshingValue<T> {
  /** The current value: read first only when there has never been one. */
  get(signal: AbortSignal): Promise<ProviderResult<T>>;
  /** Reads the value again now; the answer is this read's (a failure keeps the last good value for `get`). */
  reload(signal: AbortSignal): Promise<ProviderResult<T>>;
}

export interface RefreshingValueOptions<T> {
  /** One read; `signal` is the read's own deadline, not any caller's. */
  load(signal: AbortSignal): Promise<ProviderResult<T>>;
  readonly maxAgeMs: number;
  readonly retryAfterFailureMs: number;
  /** Deadline of one read, retries included. */
  readonly loadTimeoutMs: number;
  readonly now: () => number;
  /** Called when a read failed while a good value exists, which is then kept (for the log). */
  onStaleKept(failure: ProviderFailure): void;
}

/** How long after its deadline a load that ignores its signal is given up. */
const LOAD_CUTOFF_GRACE_MS = 1_000;

export function createRefreshingValue<T>(options: RefreshingValueOptions<T>): RefreshingValue<T> {
  let current: { value: T; freshUntil: number } | undefined;
  let lastFailure: { failure: ProviderFailure; retryAt: number } | undefined;
  let pending: Promise<ProviderResult<T>> | undefined;

  /** One read at a time; callers arriving meanwhile share it. */
  function read(): Promise<ProviderResult<T>> {
    pending ??= startLoad()
      .catch((error: unknown): ProviderResult<T> => {
        // A bug in the reader must not leave callers waiting or escape as an unhandled rejection.
        const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        return { ok: false, failure: { kind: "Unavailable", detail: `reading failed: ${detail}`, retryAfterSeconds: undefined } };
      })
      .then((result) => {
        const at = options.now();
        if (result.ok) {
          current = { value: result.value, freshUntil: at + options.maxAgeMs };
          lastFailure = undefined;
        } else {
          lastFailure = { failure: result.failure, retryAt: at + options.retryAfterFailureMs };
          if (current) {
            try {
              options.onStaleKept(result.failure);
            } catch {
              // Only a log line was lost; the value stands.
            }
          }
        }
        return result;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  }

  /**
   * The load, given its deadline, and cut off shortly after it should it ignore
   * it: a read that never ends would hold every later one back.
   */
  function startLoad(): Promise<ProviderResult<T>> {
    try {
      const load = options.load(AbortSignal.timeout(options.loadTimeoutMs));
      return withinDeadline(load, AbortSignal.timeout(options.loadTimeoutMs + LOAD_CUTOFF_GRACE_MS));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  const mayRead = () => lastFailure === undefined || options.now() >= lastFailure.retryAt;

  return {
    async get(signal) {
      if (current) {
        if (options.now() >= current.freshUntil && mayRead()) void read();
        return { ok: true, value: current.value };
      }
      if (!mayRead() && lastFailure) return { ok: false, failure: lastFailure.failure };
      return withinDeadline(read(), signal);
    },
    reload: (signal) => withinDeadline(read(), signal),
  };
}

/** The result of work that may outlive one caller (a shared read), or a timeout failure when the caller's deadline passes first. */
export function withinDeadline<T>(shared: Promise<ProviderResult<T>>, signal: AbortSignal): Promise<ProviderResult<T>> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(timedOut());
    // Handlers first: the shared work is awaited (and its failure handled) whether or not this caller still waits.
    shared.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

function timedOut<T>(): ProviderResult<T> {
  return { ok: false, failure: { kind: "Unavailable", detail: "deadline passed while a shared provider read was running", retryAfterSeconds: undefined } };
}
