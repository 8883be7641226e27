import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "../logger.js";

/** The header that carries a request's id both ways (a proxy's id is kept, ours is returned). */
export const REQUEST_ID_HEADER = "x-request-id";

/** An incoming id is kept only when it cannot smuggle anything into a log line or a header. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** What the code handling one HTTP request can ask for wherever it runs. */
export interface RequestScope {
  /** Matches a support ticket (the `x-request-id` response header, `extensions.requestId`) to the log. */
  readonly requestId: string;
  /** The gateway's logger with `requestId` on every line. */
  readonly logger: Logger;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** The scope of the HTTP request whose handling is running now, if any. */
export function currentRequest(): RequestScope | undefined {
  return scopes.getStore();
}

/** The caller's `x-request-id` when it is a safe token (≤ 64 chars of `[A-Za-z0-9._-]`), else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === "string" && SAFE_REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * First middleware of the app: gives the request its id, returns it in the
 * `x-request-id` header (error responses included) and runs the rest of the
 * request in its {@link RequestScope}, so that Apollo's `formatError`, which
 * gets no request, can still log and answer with the id.
 */
export function requestScopes(logger: Logger): RequestHandler {
  return (request, response, next) => {
    const requestId = requestIdFrom(request.headers[REQUEST_ID_HEADER]);
    response.setHeader(REQUEST_ID_HEADER, requestId);
    scopes.run({ requestId, logger: logger.child({ requestId }) }, next);
  };
}
