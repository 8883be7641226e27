/**
 * The HTTP machinery every provider emulator shares, so that each emulator module holds only its
 * provider's contract: fault injection (validation, planning, a queue per endpoint, cancellable
 * delays), the provider request pipeline (record, body, fault, answer, one log line), JSON answers,
 * the control API's common routes, a router with the emulators' error answers, and the server's
 * listen and close; and the OAuth pieces every emulated authorization server needs (PKCE, bearer
 * credentials, random secrets).
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { UnreachableCaseError } from "../unreachable.js";

export const JSON_MEDIA_TYPE = "application/json";
export const FORM_MEDIA_TYPE = "application/x-www-form-urlencoded";
export const AUTHORIZATION_CODE_GRANT = "authorization_code";
export const OPENID_SCOPE = "openid";
export const MS_PER_SECOND = 1000;
/** Largest request body read; a token request is a few hundred bytes, control JSON a few kilobytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** A call of the control API (in process or under `/emulator/`) that cannot be honoured; over HTTP it is a 400. */
export class EmulatorUsageError extends Error {
  override name = "EmulatorUsageError";
}

/** Parses control-API input, turning a schema failure into an {@link EmulatorUsageError} that names `what`. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new EmulatorUsageError(`Invalid ${what}:\n${z.prettifyError(result.error)}`);
  return result.data;
}

/** An answer with a JSON body. */
export interface JsonAnswer {
  status: number;
  /** An object, or an array (Truecaller's `GET /v1/key`). */
  body: Record<string, unknown> | unknown[];
  headers?: Record<string, string>;
}

/** RFC 6749 §5.2 error body: `error`, and `error_description` when given. */
export function oauthError(status: number, error: string, description?: string): JsonAnswer {
  return { status, body: description === undefined ? { error } : { error, error_description: description } };
}

/** Sends `answer` with its JSON body, `Content-Type` and `Content-Length` (the answer's own headers win). */
export function sendJson(res: ServerResponse, answer: JsonAnswer): void {
  const payload = JSON.stringify(answer.body);
  res.writeHead(answer.status, { "Content-Type": JSON_MEDIA_TYPE, "Content-Length": Buffer.byteLength(payload), ...answer.headers });
  res.end(payload);
}

/** Sends a status without a body (the control API's 204). */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Sends a 200 plain-text page (the help at `GET /`). */
export function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(text);
}

/** The unread remainder of an oversized body is still arriving: close rather than reuse the connection. */
const TOO_LARGE: JsonAnswer = {
  ...oauthError(413, "invalid_request", `Request body larger than ${MAX_BODY_BYTES} bytes`),
  headers: { Connection: "close" },
};

/** Thrown by control endpoints whose body is over {@link MAX_BODY_BYTES}; answered 413. */
class BodyTooLargeError extends Error {}

/**
 * Reads a body of at most {@link MAX_BODY_BYTES}; `null` when it is larger. The rest of an oversized
 * body is drained unread so the 413 can still be delivered.
 */
function readBody(req: IncomingMessage): Promise<string | null> {
  if (Number(req.headers["content-length"]) > MAX_BODY_BYTES) {
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) resolve(null);
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * The JSON body of a control call; an empty body reads as `{}`. Throws {@link EmulatorUsageError}
 * (400) for anything else that is not JSON, and a 413 error for an oversized body.
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text === null) throw new BodyTooLargeError();
  // Any content type is accepted: `curl -d` labels JSON as a form, and humans use this API.
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new EmulatorUsageError("The body is not valid JSON");
  }
}

/**
 * A forced answer for the next request(s) to one endpoint. Faults are queued per endpoint, first in
 * first out, and take effect before the request is processed, so a faulted token call does not
 * spend its code.
 */
export interface EndpointFault<E extends string> {
  endpoint: E;
  status?: number;
  /** A string is sent verbatim (to fake malformed JSON); anything else is serialised as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Sets `Retry-After` on the answer. */
  retryAfterSeconds?: number;
  /** Wait before answering; with nothing to answer, wait and then process normally. */
  delayMs?: number;
  /** Never answer, until the client gives up or the emulator closes. */
  hang?: boolean;
  /** Reset the TCP connection without answering. */
  resetConnection?: boolean;
  /** How many requests the fault applies to; default 1. */
  times?: number;
}

/** A fault that may name a contract error instead of a status; see {@link FaultRules.faultOnlyErrors}. */
export interface NamedErrorFault<E extends string> extends EndpointFault<E> {
  error?: string;
}

/** How a request was handled by a fault: answered, slowed down, left hanging or reset. */
export type FaultKind = "answer" | "delay" | "hang" | "reset";

/** Which faults an emulator takes. */
export interface FaultRules<E extends string> {
  endpoints: readonly [E, ...E[]];
  /** The fault's type as validation messages name it, e.g. "Fault". */
  typeName: string;
  /**
   * Per endpoint, the contract errors no request can trigger on its own, with their statuses: a fault
   * names one as `error` and is answered `{"error": <name>}`. Absent: faults take no `error`.
   */
  faultOnlyErrors?: Readonly<Record<E, Readonly<Record<string, number>>>>;
}

/** What a queued fault does to the request it meets. */
type FaultPlan =
  | {
      kind: "answer";
      delayMs: number;
      status: number;
      error: string | undefined;
      body: string | undefined;
      /** Lower-cased names, so a caller's `content-type` replaces the default one. */
      headers: Record<string, string>;
    }
  | { kind: "delay"; delayMs: number }
  | { kind: "hang" }
  | { kind: "reset"; delayMs: number };

/** Why a fault cannot be carried out as written, or undefined when it can. */
function faultContradiction<E extends string>(rules: FaultRules<E>, fault: NamedErrorFault<E>): string | undefined {
  const named = rules.faultOnlyErrors;
  // Without fault-only errors the schema refuses the key; its value is not judged here.
  const error = named === undefined ? undefined : fault.error;
  const answerFields = named === undefined ? "status" : "status, error";
  const answers = fault.status !== undefined || error !== undefined;
  const shapesAnswer = fault.body !== undefined || fault.headers !== undefined || fault.retryAfterSeconds !== undefined;
  if (fault.hang === true && (answers || shapesAnswer || fault.resetConnection === true || fault.delayMs !== undefined)) {
    return `hang never answers: it takes no ${answerFields}, body, headers, retryAfterSeconds, delayMs or resetConnection`;
  }
  if (fault.resetConnection === true && (answers || shapesAnswer)) {
    return `resetConnection sends no answer: it takes no ${answerFields}, body, headers or retryAfterSeconds`;
  }
  if (fault.status !== undefined && error !== undefined) {
    return "give either status (with an optional body) or error (which sets both), not both";
  }
  if (error !== undefined && fault.body !== undefined) return "error sets the body; use status and body instead";
  if (shapesAnswer && !answers) return `body, headers and retryAfterSeconds need a status${named === undefined ? "" : " or an error"}`;
  if (named !== undefined && error !== undefined && !Object.hasOwn(named[fault.endpoint], error)) {
    const known = Object.keys(named[fault.endpoint]).join(", ");
    return `error "${error}" is not a fault of the ${fault.endpoint} endpoint (known: ${known})`;
  }
  if (!answers && fault.hang !== true && fault.resetConnection !== true && fault.delayMs === undefined) {
    return `the fault does nothing: give ${answerFields}, delayMs, hang or resetConnection`;
  }
  return undefined;
}

function faultSchema<E extends string>(rules: FaultRules<E>): z.ZodType<NamedErrorFault<E>> {
  return z
    .strictObject({
      endpoint: z.enum(rules.endpoints),
      status: z.int().min(200).max(599).optional(),
      body: z.unknown().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      ...(rules.faultOnlyErrors === undefined ? {} : { error: z.string().optional() }),
      retryAfterSeconds: z.int().nonnegative().optional(),
      delayMs: z.int().nonnegative().optional(),
      hang: z.boolean().optional(),
      resetConnection: z.boolean().optional(),
      times: z.int().positive().optional(),
    })
    .superRefine((fault, ctx) => {
      const problem = faultContradiction(rules, fault as NamedErrorFault<E>);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    }) as z.ZodType<NamedErrorFault<E>>;
}

function planFault<E extends string>(rules: FaultRules<E>, fault: NamedErrorFault<E>): FaultPlan {
  if (fault.hang === true) return { kind: "hang" };
  const delayMs = fault.delayMs ?? 0;
  if (fault.resetConnection === true) return { kind: "reset", delayMs };
  const status = fault.error === undefined ? fault.status : rules.faultOnlyErrors?.[fault.endpoint][fault.error];
  if (status === undefined) return { kind: "delay", delayMs };
  const body = fault.error === undefined ? fault.body : { error: fault.error };
  const headers: Record<string, string> = body === undefined ? {} : { "content-type": JSON_MEDIA_TYPE };
  if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds);
  for (const [name, value] of Object.entries(fault.headers ?? {})) headers[name.toLowerCase()] = value;
  return {
    kind: "answer",
    delayMs,
    status,
    error: fault.error,
    body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
    headers,
  };
}

/** The queued faults of every endpoint, and the delays they hold requests in. */
export class FaultQueue<E extends string> {
  readonly #rules: FaultRules<E>;
  readonly #schema: z.ZodType<NamedErrorFault<E>>;
  readonly #queues = new Map<E, { plan: FaultPlan; remaining: number }[]>();
  readonly #pendingDelays = new Set<NodeJS.Timeout>();

  constructor(rules: FaultRules<E>) {
    this.#rules = rules;
    this.#schema = faultSchema(rules);
  }

  /** Queues a fault; throws {@link EmulatorUsageError} for a fault that contradicts itself. */
  inject(fault: NamedErrorFault<E>): void {
    const parsed = parseOrThrow(this.#schema, fault, this.#rules.typeName);
    const queue = this.#queues.get(parsed.endpoint) ?? [];
    queue.push({ plan: planFault(this.#rules, parsed), remaining: parsed.times ?? 1 });
    this.#queues.set(parsed.endpoint, queue);
  }

  /** The plan of the fault a request to `endpoint` meets now, counting it as used once. */
  take(endpoint: E): FaultPlan | undefined {
    const queue = this.#queues.get(endpoint) ?? [];
    const head = queue[0];
    if (head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining === 0) queue.shift();
    return head.plan;
  }

  /** Drops every queued fault. */
  clear(): void {
    this.#queues.clear();
  }

  /** A delay that {@link cancelPauses} cancels (the request it holds is then dropped with its socket). */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pendingDelays.delete(timer);
        resolve();
      }, ms);
      this.#pendingDelays.add(timer);
    });
  }

  /** Cancels every pending delay; called when the emulator closes. */
  cancelPauses(): void {
    for (const timer of this.#pendingDelays) clearTimeout(timer);
    this.#pendingDelays.clear();
  }
}

/** One provider request as the emulator saw it; deliberately without codes, verifiers, secrets or tokens. */
export interface RequestRecord<E extends string> {
  endpoint: E;
  method: string;
  /** ISO 8601, from the emulator's clock. */
  time: string;
  /** `null` until answered, and forever for hanging or reset requests. */
  status: number | null;
  /** The `error` field of a JSON error answer. */
  error?: string;
  fault?: FaultKind;
}

/** How an emulator serves its provider endpoints; see {@link ProviderEndpoints}. */
export interface ProviderEndpointsOptions<E extends string, R extends RequestRecord<E>, P> {
  faults: FaultRules<E>;
  /** The endpoints whose requests carry a body to read (the others' is drained unread). */
  bodyEndpoints: readonly E[];
  now: () => number;
  log: (line: string) => void;
  /** What the log line names after the method: the endpoint's path (never a secret in it), and any detail. */
  describe(record: R): string;
  /** Reads the request (its body when read) before any fault, noting in `record` what the log should show. */
  prepare(endpoint: E, req: IncomingMessage, body: string | undefined, record: R): P;
  /** The contract's answer to a request no fault intercepted. */
  respond(endpoint: E, req: IncomingMessage, prepared: P): JsonAnswer | Promise<JsonAnswer>;
  /** Notes more of an answer in `record`; returns what the log line adds after the status and error. */
  annotate?(record: R, reply: JsonAnswer): string | undefined;
}

/**
 * The provider side of an emulator: records each request, reads its body, carries out a queued
 * fault or answers by the contract, and logs one line per request.
 */
export class ProviderEndpoints<E extends string, R extends RequestRecord<E>, P> {
  readonly faults: FaultQueue<E>;
  /** The emulator methods over faults and the request log, to spread into the emulator object. */
  readonly controls = {
    injectFault: (fault: NamedErrorFault<E>): void => this.faults.inject(fault),
    clearFaults: (): void => this.faults.clear(),
    requestCount: (endpoint: E): number => this.requestCount(endpoint),
  };
  readonly #options: ProviderEndpointsOptions<E, R, P>;
  #records: R[] = [];

  constructor(options: ProviderEndpointsOptions<E, R, P>) {
    this.#options = options;
    this.faults = new FaultQueue(options.faults);
  }

  /** A copy of the provider requests received so far, oldest first. */
  requests(): R[] {
    return this.#records.map((record) => ({ ...record }));
  }

  /** How many requests an endpoint has received. */
  requestCount(endpoint: E): number {
    return this.#records.filter((record) => record.endpoint === endpoint).length;
  }

  /** Forgets faults and the request log. */
  reset(): void {
    this.faults.clear();
    this.#records = [];
  }

  /** Serves one request to a provider endpoint. */
  async serve(endpoint: E, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { now, bodyEndpoints, prepare, respond } = this.#options;
    // Every field a record may gain later is optional.
    const record = { endpoint, method: req.method ?? "", time: new Date(now()).toISOString(), status: null } as R;
    this.#records.push(record);
    // The body is read before any fault so a delayed request is processed from what it sent,
    // even when its client has given up meanwhile (as a real server would).
    let body: string | undefined;
    if (bodyEndpoints.includes(endpoint)) {
      const read = await readBody(req);
      if (read === null) {
        record.status = TOO_LARGE.status;
        sendJson(res, TOO_LARGE);
        this.#summary(record, `${TOO_LARGE.status} body too large`);
        return;
      }
      body = read;
    } else {
      req.resume();
    }
    const prepared = prepare(endpoint, req, body, record);
    if (await this.#applyFault(endpoint, record, req, res)) return;
    const reply = await respond(endpoint, req, prepared);
    record.status = reply.status;
    if (!Array.isArray(reply.body) && typeof reply.body.error === "string") record.error = reply.body.error;
    const detail = this.#options.annotate?.(record, reply);
    sendJson(res, reply);
    this.#summary(record, [reply.status, record.error, detail].filter((part) => part !== undefined).join(" "));
  }

  #summary(record: R, outcome: string): void {
    const fault = record.fault === undefined ? "" : ` (fault: ${record.fault})`;
    this.#options.log(`${record.method} ${this.#options.describe(record)} -> ${outcome}${fault}`);
  }

  /** Carries out a queued fault; true when it has answered (or refused to), false to process the request. */
  async #applyFault(endpoint: E, record: R, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const fault = this.faults.take(endpoint);
    if (fault === undefined) return false;
    record.fault = fault.kind;
    switch (fault.kind) {
      case "hang":
        this.#summary(record, "no answer");
        return true;
      case "reset":
        await this.faults.pause(fault.delayMs);
        req.socket.resetAndDestroy();
        this.#summary(record, "connection reset");
        return true;
      case "answer":
        await this.faults.pause(fault.delayMs);
        record.status = fault.status;
        if (fault.error !== undefined) record.error = fault.error;
        res.writeHead(fault.status, fault.headers);
        res.end(fault.body);
        this.#summary(record, [fault.status, fault.error].filter((part) => part !== undefined).join(" "));
        return true;
      case "delay":
        await this.faults.pause(fault.delayMs);
        return false;
      default:
        throw new UnreachableCaseError(fault);
    }
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
/** Handlers by path, then by method. */
export type Routes = Record<string, Record<string, Handler>>;

/** The part of an emulator the common control routes drive. */
interface Controllable<F> {
  injectFault(fault: F): void;
  clearFaults(): void;
  readonly requests: readonly unknown[];
  reset(): void;
}

/** `/emulator/faults` (POST, DELETE), `/emulator/requests` and `/emulator/reset`, as every emulator serves them. */
export function controlRoutes<F>(emulator: Controllable<F>): Routes {
  return {
    "/emulator/faults": {
      POST: async (req, res) => {
        // injectFault validates what the JSON holds.
        emulator.injectFault((await readJson(req)) as F);
        sendEmpty(res, 204);
      },
      DELETE: (_req, res) => {
        emulator.clearFaults();
        sendEmpty(res, 204);
      },
    },
    "/emulator/requests": { GET: (_req, res) => sendJson(res, { status: 200, body: { requests: emulator.requests } }) },
    "/emulator/reset": {
      POST: (_req, res) => {
        emulator.reset();
        sendEmpty(res, 204);
      },
    },
  };
}

/** How {@link createRouter} routes, and words the answers of its own. */
export interface RouterOptions {
  routes: Routes;
  log: (line: string) => void;
  /** The route a request path takes, also logged for a 500 (e.g. a template hiding a secret segment). Default: the path. */
  routeOf?: (pathname: string) => string;
  /** `error_description` of a 405, given the allowed methods; default none. */
  describeMethodNotAllowed?: (allowed: string) => string;
  /** `error_description` of a 500; default none. */
  serverErrorDescription?: string;
}

/**
 * A request handler that picks the route by path and method: 404 for an unknown path, 405 (with
 * `Allow`) for an unknown method; a handler's {@link EmulatorUsageError} becomes a 400, an oversized
 * control body a 413, and anything else a logged 500.
 */
export function createRouter(options: RouterOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { routes, log, routeOf = (pathname: string) => pathname } = options;
  return async (req, res) => {
    // Only the path is used; the base is a placeholder required by the URL parser.
    const routePath = routeOf(new URL(req.url ?? "/", "http://emulator.invalid").pathname);
    const methods = routes[routePath];
    if (methods === undefined) return sendJson(res, oauthError(404, "not_found", `No route ${routePath}`));
    const handler = methods[req.method ?? ""];
    if (handler === undefined) {
      const allowed = Object.keys(methods).join(", ");
      return sendJson(res, { ...oauthError(405, "method_not_allowed", options.describeMethodNotAllowed?.(allowed)), headers: { Allow: allowed } });
    }
    try {
      await handler(req, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof EmulatorUsageError) return sendJson(res, oauthError(400, "invalid_request", error.message));
      if (error instanceof BodyTooLargeError) return sendJson(res, TOO_LARGE);
      log(`${req.method} ${routePath} -> 500 (emulator bug: ${error instanceof Error ? error.stack : String(error)})`);
      sendJson(res, oauthError(500, "server_error", options.serverErrorDescription));
    }
  };
}

/** An HTTP server that can be started once and closed promptly, hanging requests included. */
export class EmulatorServer {
  readonly #server: Server;
  readonly #beforeClose: () => void;

  /** `beforeClose` runs first in every {@link close}, e.g. to cancel the delays of faults. */
  constructor(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, beforeClose: () => void = () => {}) {
    this.#server = createServer((req, res) => void handle(req, res));
    this.#beforeClose = beforeClose;
  }

  /** Starts serving; port 0 picks a free port. Resolves with the base URL, named by `publicHost`. */
  listen(port: number, host: string, publicHost = host): Promise<string> {
    const server = this.#server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const { port: boundPort } = server.address() as AddressInfo;
        resolve(`http://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${boundPort}`);
      });
    });
  }

  /** Stops serving, destroying open connections; harmless when not listening. */
  async close(): Promise<void> {
    this.#beforeClose();
    const server = this.#server;
    if (!server.listening) return;
    await new Promise<void>((resolve, reject) => {
      server.close((error) => (error === undefined ? resolve() : reject(error)));
      // close() alone waits for in-flight requests, and a hanging one never ends.
      server.closeAllConnections();
    });
  }
}

/** 32 random bytes give 43 base64url characters: a valid RFC 7636 §4.1 verifier, and 256 bits for codes and tokens. */
const SECRET_BYTES = 32;
/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
const CODE_VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding is always 43 characters. */
const S256_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1). */
export const BEARER_PATTERN = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** A `codeChallenge` of the control API: an RFC 7636 §4.2 S256 challenge. */
export const codeChallengeSchema = z
  .string()
  .regex(S256_CHALLENGE_PATTERN, "must be an S256 challenge: BASE64URL(SHA256(verifier)), 43 characters");

/** A code, token or generated verifier: {@link SECRET_BYTES} random bytes in base64url. */
export function randomSecret(): string {
  return randomBytes(SECRET_BYTES).toString("base64url");
}

/** RFC 7636 §4.2, S256. */
export function s256(codeVerifier: string): string {
  return createHash("sha256").update(codeVerifier, "ascii").digest("base64url");
}

/** RFC 7636 §4.6, compared in constant time so the check leaks nothing about the challenge. */
export function verifierMatches(codeVerifier: string, codeChallenge: string): boolean {
  if (!CODE_VERIFIER_PATTERN.test(codeVerifier)) return false;
  const computed = Buffer.from(s256(codeVerifier));
  const expected = Buffer.from(codeChallenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/** `count` random decimal digits, for generated numbers and ids. */
export function randomDigits(count: number): string {
  return Array.from({ length: count }, () => randomInt(10)).join("");
}

/** A random item of a non-empty list. */
export function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T;
}

/** The media type of a `Content-Type` header, lower case without parameters; "" when absent. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}
