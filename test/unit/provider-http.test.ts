import { describe, expect, it } from "vitest";
import {
  CODE_EXCHANGE_RETRY,
  createProviderHttp,
  IDEMPOTENT_READ_RETRY,
  MAX_RESPONSE_BYTES,
  networkErrorCode,
  retryAfterSeconds,
  sendWithRetry,
  type RetryRule,
} from "../../src/providers/http.js";

type Step = Response | { networkError: string } | "stall-body";

/** A fetch that plays `steps` in order and records when each call came. */
function scriptedFetch(steps: Step[]) {
  const calls: number[] = [];
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    calls.push(performance.now());
    init?.signal?.throwIfAborted();
    const step = steps.shift();
    if (!step) throw new Error("no scripted answer left");
    if (step === "stall-body") {
      // Headers arrive, then the body never ends; like undici's, the stream errors when the request is aborted.
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("{"));
          init?.signal?.addEventListener("abort", () => controller.error(init.signal?.reason));
        },
      });
      return new Response(body, { status: 200 });
    }
    if ("networkError" in step) throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect"), { code: step.networkError }) });
    return step;
  };
  return { fetch, calls };
}

function send(steps: Step[], rule: RetryRule, options: { timeoutMs?: number; signal?: AbortSignal } = {}) {
  const script = scriptedFetch(steps);
  const http = createProviderHttp({ provider: "test", baseUrl: "http://provider.test", timeoutMs: options.timeoutMs ?? 2_000, fetch: script.fetch });
  const method = rule === CODE_EXCHANGE_RETRY ? "post" : "get";
  const outcome = sendWithRetry(http, "token", "v1/token", { method, signal: options.signal ?? AbortSignal.timeout(10_000) }, rule);
  return { outcome, calls: script.calls };
}

const status = (code: number, headers: Record<string, string> = {}, body = `{"error":"e${code}"}`) => new Response(body, { status: code, headers });

describe("sendWithRetry: code exchange (POST)", () => {
  it("retries 503 (answered before the code was looked at) and returns the final answer", async () => {
    const { outcome, calls } = send([status(503), status(503), status(200, {}, '{"ok":true}')], CODE_EXCHANGE_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: 200, body: '{"ok":true}' } });
    expect(calls).toHaveLength(3);
  });

  it("gives the parser the last 503 with its body once retries run out", async () => {
    const { outcome, calls } = send([status(503), status(503), status(503, { "retry-after": "1" }, '{"error":"temporarily_unavailable"}')], CODE_EXCHANGE_RETRY);
    const result = await outcome;
    expect(result).toMatchObject({ kind: "response", response: { status: 503, body: '{"error":"temporarily_unavailable"}' } });
    expect(result.kind === "response" && result.response.headers.get("retry-after")).toBe("1");
    expect(calls).toHaveLength(3);
  });

  it("waits as long as Retry-After asks before retrying", async () => {
    const { outcome, calls } = send([status(503, { "retry-after": "1" }), status(200, {}, "{}")], CODE_EXCHANGE_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: 200 } });
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(990);
  });

  it("does not retry a 503 that asks for a wait longer than 2 s", async () => {
    const { outcome, calls } = send([status(503, { "retry-after": "3" })], CODE_EXCHANGE_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: 503 } });
    expect(calls).toHaveLength(1);
  });

  it.each([400, 403, 429, 500, 502])("never retries HTTP %i: the code may be spent", async (code) => {
    const { outcome, calls } = send([status(code)], CODE_EXCHANGE_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: code } });
    expect(calls).toHaveLength(1);
  });

  it("retries a refused connection: the request never left", async () => {
    const { outcome, calls } = send([{ networkError: "ECONNREFUSED" }, { networkError: "ECONNREFUSED" }, status(200, {}, "{}")], CODE_EXCHANGE_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: 200 } });
    expect(calls).toHaveLength(3);
  });

  it.each(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"])("does not retry %s: the provider may have read the code", async (code) => {
    const { outcome, calls } = send([{ networkError: code }], CODE_EXCHANGE_RETRY);
    expect(await outcome).toEqual({ kind: "failed", detail: code });
    expect(calls).toHaveLength(1);
  });
});

describe("sendWithRetry: idempotent read (GET)", () => {
  it.each([502, 503, 504])("retries HTTP %i", async (code) => {
    const { outcome, calls } = send([status(code), status(200, {}, "{}")], IDEMPOTENT_READ_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: 200 } });
    expect(calls).toHaveLength(2);
  });

  it("retries a reset connection", async () => {
    const { outcome, calls } = send([{ networkError: "ECONNRESET" }, status(200, {}, "{}")], IDEMPOTENT_READ_RETRY);
    expect(await outcome).toMatchObject({ kind: "response", response: { status: 200 } });
    expect(calls).toHaveLength(2);
  });
});

describe("sendWithRetry: reading the answer", () => {
  it("times out a body that stalls after the headers, within the per-attempt timeout", async () => {
    const started = performance.now();
    const { outcome } = send(["stall-body"], CODE_EXCHANGE_RETRY, { timeoutMs: 200 });
    expect(await outcome).toEqual({ kind: "timeout" });
    // The attempt's timer, not the 10 s login deadline, ended it.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("ends at the login deadline", async () => {
    const deadline = new AbortController();
    const { outcome } = send(["stall-body"], IDEMPOTENT_READ_RETRY, { timeoutMs: 60_000, signal: deadline.signal });
    setTimeout(() => deadline.abort(), 50);
    expect(await outcome).toEqual({ kind: "timeout" });
  });

  it("refuses a body over the size limit", async () => {
    const { outcome } = send([status(200, {}, "x".repeat(MAX_RESPONSE_BYTES + 1))], CODE_EXCHANGE_RETRY);
    expect(await outcome).toEqual({ kind: "failed", detail: `response body larger than ${MAX_RESPONSE_BYTES} bytes` });
  });
});

describe("retryAfterSeconds", () => {
  const now = new Date("2026-11-21T10:00:00Z");
  it.each([
    ["delay-seconds", "120", 120],
    ["an HTTP-date", "Sat, 21 Nov 2026 10:00:30 GMT", 30],
    ["an HTTP-date in the past", "Sat, 21 Nov 2026 09:00:00 GMT", 0],
    ["garbage", "soon", undefined],
    ["a negative number", "-5", undefined],
    ["more than a day", "9999999999", 86_400],
    ["a far-future HTTP-date", "Fri, 31 Dec 9999 23:59:59 GMT", 86_400],
  ])("reads %s", (_name, value, expected) => {
    expect(retryAfterSeconds(new Headers({ "retry-after": value }), now)).toBe(expected);
  });

  it("is undefined without the header", () => {
    expect(retryAfterSeconds(new Headers(), now)).toBeUndefined();
  });
});

describe("networkErrorCode", () => {
  it("finds the code under undici's 'fetch failed'", () => {
    const error = new Error("wrapped", { cause: new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) }) });
    expect(networkErrorCode(error)).toBe("ECONNREFUSED");
  });

  it("finds the code inside happy-eyeballs' AggregateError", () => {
    const aggregate = new AggregateError([Object.assign(new Error("v6"), { code: "ECONNREFUSED" })], "all failed");
    expect(networkErrorCode(new Error("wrapped", { cause: new TypeError("fetch failed", { cause: aggregate }) }))).toBe("ECONNREFUSED");
  });
});
