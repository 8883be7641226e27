import { describe, expect, it } from "vitest";
import type { ProviderFailure, ProviderResult } from "../../src/providers/provider.js";
import { createRefreshingValue, withinDeadline, type RefreshingValueOptions } from "../../src/providers/refreshing-value.js";

const MAX_AGE_MS = 60_000;
const RETRY_AFTER_FAILURE_MS = 5_000;
const OUTAGE: ProviderFailure = { kind: "Unavailable", detail: "keys: HTTP 503", retryAfterSeconds: undefined };
const TIMED_OUT: ProviderResult<never> = {
  ok: false,
  failure: { kind: "Unavailable", detail: "deadline passed while a shared provider read was running", retryAfterSeconds: undefined },
};
/** What every caller gets from a read whose load rejected instead of answering. */
const READ_CRASHED: ProviderResult<never> = {
  ok: false,
  failure: { kind: "Unavailable", detail: expect.stringContaining("bug in the reader") as string, retryAfterSeconds: undefined },
};

/** A caller's deadline far enough away never to be the reason a read ends. */
const deadline = () => AbortSignal.timeout(5_000);

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/**
 * Lets every pending promise reaction run, and Node report any rejection left
 * unhandled: a macrotask runs only after the microtask queue has drained. Not a sleep.
 */
const settle = () => new Promise<void>((done) => setImmediate(done));

/** The rejections `run` left unhandled, seen by a listener that lives only as long as the run. */
async function unhandledRejectionsDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", listener);
  try {
    await run();
    await settle();
  } finally {
    process.off("unhandledRejection", listener);
  }
  return seen;
}

/** An abort signal that counts the "abort" listeners added to and removed from it. */
function countedSignal() {
  const controller = new AbortController();
  const { signal } = controller;
  const added: unknown[] = [];
  const removed: unknown[] = [];
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<AbortSignal["addEventListener"]>) => {
    if (args[0] === "abort") added.push(args[1]);
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<AbortSignal["removeEventListener"]>) => {
    if (args[0] === "abort") removed.push(args[1]);
    remove(...args);
  };
  return { controller, signal, added, removed };
}

/**
 * A document endpoint under the test's control: each load answers with the
 * next queued result, or (with `hold`) waits until the test settles it. The
 * clock is moved by hand.
 */
function harness(overrides: Partial<RefreshingValueOptions<string>> = {}) {
  const state = {
    clock: 1_000_000,
    loads: 0,
    signals: [] as AbortSignal[],
    answers: [] as ProviderResult<string>[],
    held: [] as Deferred<ProviderResult<string>>[],
    hold: false,
    staleKept: [] as ProviderFailure[],
  };
  const value = createRefreshingValue<string>({
    load(signal) {
      state.loads += 1;
      state.signals.push(signal);
      if (state.hold) {
        const answer = deferred<ProviderResult<string>>();
        state.held.push(answer);
        return answer.promise;
      }
      const next = state.answers.shift();
      if (!next) throw new Error("unexpected load");
      return Promise.resolve(next);
    },
    maxAgeMs: MAX_AGE_MS,
    retryAfterFailureMs: RETRY_AFTER_FAILURE_MS,
    loadTimeoutMs: 10_000,
    now: () => state.clock,
    onStaleKept: (failure) => state.staleKept.push(failure),
    ...overrides,
  });
  return { state, value };
}

const ok = (value: string): ProviderResult<string> => ({ ok: true, value });
const failed = (failure: ProviderFailure = OUTAGE): ProviderResult<string> => ({ ok: false, failure });

describe("createRefreshingValue", () => {
  it("loads on the first get and serves that value without loading again while it is fresh", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"));
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(1);
    state.clock += MAX_AGE_MS - 1;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(1);
  });

  it("serves a value maxAge old at once while re-reading it in the background; the next get after the re-read serves the new value", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"));
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    state.hold = true;
    // Answered while the re-read is still held: the caller did not wait for it.
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
    // Callers meanwhile get the stale value too, and join the running re-read rather than start one.
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);

    state.held[0]!.resolve(ok("v2"));
    await settle();
    expect(await value.get(deadline())).toEqual(ok("v2"));
    // The new value is fresh for maxAge from when it was read.
    state.clock += MAX_AGE_MS - 1;
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.loads).toBe(2);
    expect(state.staleKept).toEqual([]);
  });

  it("keeps serving the last good value when a background re-read fails, and does not re-read before retryAfterFailure", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"), failed());
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    await settle();
    expect(state.loads).toBe(2);
    expect(state.staleKept).toEqual([OUTAGE]);

    // Stale, but the failure's backoff runs: no read.
    state.clock += RETRY_AFTER_FAILURE_MS - 1;
    for (let i = 0; i < 3; i += 1) expect(await value.get(deadline())).toEqual(ok("v1"));
    await settle();
    expect(state.loads).toBe(2);

    // Backoff over: still the stale value at once, the re-read in the background.
    state.answers.push(ok("v2"));
    state.clock += 1;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    await settle();
    expect(state.loads).toBe(3);
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.staleKept).toEqual([OUTAGE]);
  });

  it("after repeated failed re-reads keeps the value and tries once per interval", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"), failed(), failed());
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    await value.get(deadline());
    await settle();
    state.clock += RETRY_AFTER_FAILURE_MS;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    await settle();
    expect(await value.get(deadline())).toEqual(ok("v1"));
    await settle();
    expect(state.loads).toBe(3);
    expect(state.staleKept).toEqual([OUTAGE, OUTAGE]);
  });

  it("returns the failure of the first-ever load, without calling onStaleKept, and answers it again without reading until retryAfterFailure", async () => {
    const { state, value } = harness();
    const misconfigured: ProviderFailure = { kind: "Misconfigured", detail: "oidc discovery: HTTP 404 (is OIDC_ISSUER right?)" };
    state.answers.push(failed(misconfigured));
    expect(await value.get(deadline())).toEqual(failed(misconfigured));
    expect(state.loads).toBe(1);

    // A wrong setting costs one request per interval, not one per login.
    state.clock += RETRY_AFTER_FAILURE_MS - 1;
    for (let i = 0; i < 3; i += 1) expect(await value.get(deadline())).toEqual(failed(misconfigured));
    expect(state.loads).toBe(1);

    state.answers.push(ok("v1"));
    state.clock += 1;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
    expect(state.staleKept).toEqual([]);
  });

  it("lets concurrent gets share one load", async () => {
    const { state, value } = harness();
    state.hold = true;
    const gets = [value.get(deadline()), value.get(deadline()), value.get(deadline())];
    expect(state.loads).toBe(1);
    state.held[0]!.resolve(ok("v1"));
    expect(await Promise.all(gets)).toEqual([ok("v1"), ok("v1"), ok("v1")]);
    expect(state.loads).toBe(1);
  });

  it("ends a caller's wait with a timeout when its deadline passes, while the shared load goes on for later callers", async () => {
    const { state, value } = harness();
    state.hold = true;
    const impatient = new AbortController();
    const first = value.get(impatient.signal);
    const second = value.get(deadline());
    impatient.abort();
    expect(await first).toEqual(TIMED_OUT);
    // The load was not cancelled with the caller.
    expect(state.signals[0]!.aborted).toBe(false);
    const third = value.get(deadline());
    expect(state.loads).toBe(1);
    state.held[0]!.resolve(ok("v1"));
    expect(await Promise.all([second, third])).toEqual([ok("v1"), ok("v1")]);
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(1);
  });

  it("answers a timeout at once to a caller whose deadline has already passed; the read it started serves later callers", async () => {
    const { state, value } = harness();
    state.hold = true;
    expect(await value.get(AbortSignal.abort())).toEqual(TIMED_OUT);
    expect(state.loads).toBe(1);
    state.held[0]!.resolve(ok("v1"));
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(1);
  });

  it("removes a caller's abort listener once the read it waited for has answered", async () => {
    const { state, value } = harness();
    state.hold = true;
    const caller = countedSignal();
    const waiting = value.get(caller.signal);
    expect(caller.added).toHaveLength(1);
    state.held[0]!.resolve(ok("v1"));
    expect(await waiting).toEqual(ok("v1"));
    await settle();
    expect(caller.removed).toEqual(caller.added);
  });

  it("reload reads now and returns that read's failure, while get keeps serving the last good value", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"), failed(), ok("v2"));
    await value.get(deadline());
    expect(await value.reload(deadline())).toEqual(failed());
    expect(state.loads).toBe(2);
    expect(state.staleKept).toEqual([OUTAGE]);
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
    // reload does not wait for the retry interval: it is the caller's explicit wish (e.g. an unknown key id).
    expect(await value.reload(deadline())).toEqual(ok("v2"));
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.loads).toBe(3);
  });

  it("reload reads during the backoff of a failed first load, and get then serves what it read", async () => {
    const { state, value } = harness();
    state.answers.push(failed(), ok("v1"));
    expect(await value.get(deadline())).toEqual(failed());
    expect(await value.reload(deadline())).toEqual(ok("v1"));
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
    expect(state.staleKept).toEqual([]);
  });

  it("turns a load that rejects (a bug) into an Unavailable failure for every caller, and backs off from it", async () => {
    const { state, value } = harness();
    state.hold = true;
    const seen = await unhandledRejectionsDuring(async () => {
      const gets = [value.get(deadline()), value.get(deadline())];
      state.held[0]!.reject(new Error("bug in the reader"));
      expect(await Promise.all(gets)).toEqual([READ_CRASHED, READ_CRASHED]);
    });
    expect(seen).toEqual([]);
    expect(await value.get(deadline())).toEqual(READ_CRASHED);
    expect(state.loads).toBe(1);
  });

  it("does not let a load that rejects escape as an unhandled rejection when its only caller had already given up", async () => {
    const { state, value } = harness();
    state.hold = true;
    const seen = await unhandledRejectionsDuring(async () => {
      expect(await value.get(AbortSignal.abort())).toEqual(TIMED_OUT);
      expect(state.loads).toBe(1);
      // Rejected after the caller has its answer; `unhandledRejectionsDuring` lets Node report it, if it would.
      state.held[0]!.reject(new Error("bug in the reader"));
    });
    expect(seen).toEqual([]);
    // The read still ended, as a failure, and its backoff runs.
    expect(await value.get(deadline())).toEqual(READ_CRASHED);
    expect(state.loads).toBe(1);
  });

  it("does not let a background re-read whose load rejects escape as an unhandled rejection; the value is kept", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"));
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    state.hold = true;
    const seen = await unhandledRejectionsDuring(async () => {
      expect(await value.get(deadline())).toEqual(ok("v1"));
      state.held[0]!.reject(new Error("bug in the reader"));
    });
    expect(seen).toEqual([]);
    expect(state.staleKept).toEqual([READ_CRASHED.failure]);
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
  });

  it("gives each load its own signal, aborted after loadTimeoutMs whatever the callers' deadlines", async () => {
    let loadSawAbort = false;
    let loads = 0;
    const loadSignals: AbortSignal[] = [];
    const value = createRefreshingValue<string>({
      load(signal) {
        loads += 1;
        loadSignals.push(signal);
        // A read that never answers by itself: it ends when its own deadline passes.
        return new Promise((resolve) => {
          signal.addEventListener(
            "abort",
            () => {
              loadSawAbort = true;
              resolve(failed({ kind: "Unavailable", detail: "keys: timed out", retryAfterSeconds: undefined }));
            },
            { once: true },
          );
        });
      },
      maxAgeMs: MAX_AGE_MS,
      retryAfterFailureMs: RETRY_AFTER_FAILURE_MS,
      loadTimeoutMs: 5,
      now: () => 0,
      onStaleKept: () => {},
    });
    // The caller's deadline (40 ms) bounds the load's (5 ms): were the load's longer, the caller would get a timeout instead.
    const caller = AbortSignal.timeout(40);
    const result = await value.get(caller);
    expect(loadSawAbort).toBe(true);
    expect(result).toEqual(failed({ kind: "Unavailable", detail: "keys: timed out", retryAfterSeconds: undefined }));
    expect(loads).toBe(1);
    expect(loadSignals[0]).not.toBe(caller);
    expect((loadSignals[0]!.reason as Error).name).toBe("TimeoutError");
    expect(caller.aborted).toBe(false);
  });
});

describe("withinDeadline", () => {
  it("passes the shared result through when it comes first", async () => {
    expect(await withinDeadline(Promise.resolve(ok("v1")), deadline())).toEqual(ok("v1"));
    expect(await withinDeadline(Promise.resolve(failed()), deadline())).toEqual(failed());
  });

  it("answers a timeout when the signal aborts first, and ignores the shared result that comes later", async () => {
    const shared = deferred<ProviderResult<string>>();
    const caller = new AbortController();
    const waiting = withinDeadline(shared.promise, caller.signal);
    caller.abort();
    expect(await waiting).toEqual(TIMED_OUT);
    shared.resolve(ok("late"));
    expect(await shared.promise).toEqual(ok("late"));
  });

  it("answers a timeout at once when the signal has already aborted, even if the shared work never settles", async () => {
    expect(await withinDeadline(new Promise<ProviderResult<string>>(() => {}), AbortSignal.abort())).toEqual(TIMED_OUT);
  });

  it("still awaits the shared work for a caller that had already given up, so its later rejection is not unhandled", async () => {
    const shared = deferred<ProviderResult<string>>();
    const seen = await unhandledRejectionsDuring(async () => {
      expect(await withinDeadline(shared.promise, AbortSignal.abort())).toEqual(TIMED_OUT);
      shared.reject(new Error("bug"));
    });
    expect(seen).toEqual([]);
  });

  it("passes a rejection of the shared work on to the caller", async () => {
    await expect(withinDeadline(Promise.reject(new Error("bug")), deadline())).rejects.toThrow("bug");
  });

  it("removes its abort listener when the shared work answers", async () => {
    const shared = deferred<ProviderResult<string>>();
    const caller = countedSignal();
    const waiting = withinDeadline(shared.promise, caller.signal);
    expect(caller.added).toHaveLength(1);
    expect(caller.removed).toEqual([]);
    shared.resolve(ok("v1"));
    expect(await waiting).toEqual(ok("v1"));
    await settle();
    expect(caller.removed).toEqual(caller.added);
  });

  it("removes its abort listener when the shared work rejects", async () => {
    const shared = deferred<ProviderResult<string>>();
    const caller = countedSignal();
    const waiting = withinDeadline(shared.promise, caller.signal);
    shared.reject(new Error("bug"));
    await expect(waiting).rejects.toThrow("bug");
    await settle();
    expect(caller.added).toHaveLength(1);
    expect(caller.removed).toEqual(caller.added);
  });

  it("gives up a load that ignores its signal shortly after its deadline, so later reads are not held back", async () => {
    let clock = 0;
    let loads = 0;
    const value = createRefreshingValue<string>({
      load() {
        loads += 1;
        // A loader bug: it never settles and does not listen to its signal.
        return new Promise<ProviderResult<string>>(() => {});
      },
      maxAgeMs: MAX_AGE_MS,
      retryAfterFailureMs: RETRY_AFTER_FAILURE_MS,
      loadTimeoutMs: 5,
      now: () => clock,
      onStaleKept: () => {},
    });
    expect(await value.get(deadline())).toEqual(TIMED_OUT);
    clock += RETRY_AFTER_FAILURE_MS;
    const second = value.get(deadline());
    expect(loads).toBe(2);
    expect(await second).toEqual(TIMED_OUT);
  });
});
