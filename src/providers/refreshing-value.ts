import type { ProviderFailure, ProviderResult } from "./provider.js";

/**
 * A provider document read over HTTP and kept (OIDC discovery, Truecaller's
 * public keys): re-read when it is older than `maxAgeMs`; a failed re-read
 * keeps the last good value, and is not tried again for `retryAfterFailureMs`,
 * so an outage of the provider's document endpoint costs one request per
 * interval, not one per login.
 */
export interface RefreshingValue<T> {
  /** The current value, read first when there is none or it is stale. */
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
  /** Called when a re-read failed and the last good value is kept (for the log). */
  onStaleKept(failure: ProviderFailure): void;
}

export function createRefreshingValue<T>(options: RefreshingValueOptions<T>): RefreshingValue<T> {
  let current: { value: T; freshUntil: number } | undefined;
  let pending: Promise<ProviderResult<T>> | undefined;

  /** One read at a time; callers arriving meanwhile share it, each bounded by its own deadline. */
  function read(signal: AbortSignal): Promise<ProviderResult<T>> {
    pending ??= options
      .load(AbortSignal.timeout(options.loadTimeoutMs))
      .then((result) => {
        const at = options.now();
        if (result.ok) {
          current = { value: result.value, freshUntil: at + options.maxAgeMs };
        } else if (current) {
          current = { value: current.value, freshUntil: at + options.retryAfterFailureMs };
          options.onStaleKept(result.failure);
        }
        return result;
      })
      .finally(() => {
        pending = undefined;
      });
    return withinDeadline(pending, signal);
  }

  return {
    async get(signal) {
      if (current && options.now() < current.freshUntil) return { ok: true, value: current.value };
      const result = await read(signal);
      return !result.ok && current ? { ok: true, value: current.value } : result;
    },
    reload: read,
  };
}

/** The result of work that may outlive one caller (a shared read), or a timeout failure when the caller's deadline passes first. */
export function withinDeadline<T>(shared: Promise<ProviderResult<T>>, signal: AbortSignal): Promise<ProviderResult<T>> {
  if (signal.aborted) return Promise.resolve(timedOut());
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(timedOut());
    signal.addEventListener("abort", onAbort, { once: true });
    shared.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function timedOut<T>(): ProviderResult<T> {
  return { ok: false, failure: { kind: "Unavailable", detail: "deadline passed while a shared provider read was running", retryAfterSeconds: undefined } };
}
