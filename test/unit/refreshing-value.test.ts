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

/** A caller's deadline far enough away never to be the reason a read ends. */
const deadline = () => AbortSignal.timeout(5_000);

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
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

  it("loads again once the value is maxAge old and serves the new value", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"), ok("v2"));
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.loads).toBe(2);
    state.clock += MAX_AGE_MS - 1;
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.loads).toBe(2);
  });

  it("keeps the last good value when a re-read fails, and does not try again before retryAfterFailure", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"), failed());
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
    expect(state.staleKept).toEqual([OUTAGE]);

    state.clock += RETRY_AFTER_FAILURE_MS - 1;
    for (let i = 0; i < 3; i += 1) expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);

    state.answers.push(ok("v2"));
    state.clock += 1;
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.loads).toBe(3);
    expect(state.staleKept).toEqual([OUTAGE]);
  });

  it("after repeated failed re-reads keeps the value and tries once per interval", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"), failed(), failed());
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    await value.get(deadline());
    state.clock += RETRY_AFTER_FAILURE_MS;
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(3);
    expect(state.staleKept).toEqual([OUTAGE, OUTAGE]);
  });

  it("returns the failure of the first-ever load, without calling onStaleKept, and tries again on the next get", async () => {
    const { state, value } = harness();
    const misconfigured: ProviderFailure = { kind: "Misconfigured", detail: "oidc discovery: HTTP 404 (is OIDC_ISSUER right?)" };
    state.answers.push(failed(misconfigured), ok("v1"));
    expect(await value.get(deadline())).toEqual(failed(misconfigured));
    expect(state.staleKept).toEqual([]);
    // Nothing to keep: there is no interval to wait, the next caller reads again.
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(2);
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
    expect(await withinDeadline(new Promise<ProviderResult<string>>(() => {}), AbortSignal.abort())).toEqual(TIMED_OUT);
    expect(await value.get(AbortSignal.abort())).toEqual(TIMED_OUT);
    expect(state.loads).toBe(1);
    state.held[0]!.resolve(ok("v1"));
    expect(await value.get(deadline())).toEqual(ok("v1"));
    expect(state.loads).toBe(1);
  });

  it("serves the stale value to a caller whose deadline passes during a slow re-read", async () => {
    const { state, value } = harness();
    state.answers.push(ok("v1"));
    await value.get(deadline());
    state.clock += MAX_AGE_MS;
    state.hold = true;
    const impatient = new AbortController();
    const waiting = value.get(impatient.signal);
    impatient.abort();
    expect(await waiting).toEqual(ok("v1"));
    state.held[0]!.resolve(ok("v2"));
    expect(await value.get(deadline())).toEqual(ok("v2"));
    expect(state.loads).toBe(2);
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

  it("gives each load its own signal, aborted after loadTimeoutMs whatever the callers' deadlines", async () => {
    let loadSawAbort = false;
    let loads = 0;
    const value = createRefreshingValue<string>({
      load(signal) {
        loads += 1;
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
    const result = await value.get(AbortSignal.timeout(60_000));
    expect(loadSawAbort).toBe(true);
    expect(result).toEqual(failed({ kind: "Unavailable", detail: "keys: timed out", retryAfterSeconds: undefined }));
    expect(loads).toBe(1);
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

  it("passes a rejection of the shared work on to the caller", async () => {
    await expect(withinDeadline(Promise.reject(new Error("bug")), deadline())).rejects.toThrow("bug");
  });
});
