import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import { runWithRequestId } from "../request-context.js";

/** The header that carries a request's id both ways (a proxy's id is kept, ours is returned). */
export const REQUEST_ID_HEADER = "x-request-id";

/** An incoming id is kept only when it cannot smuggle anything into a log line or a header. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The caller's `x-request-id` when it is a safe token (≤ 64 chars of `[A-Za-z0-9._-]`), else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === "string" && SAFE_REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * First middleware of the app: gives the request its id, returns it in the
 * `x-request-id` header (error responses included) and runs the rest of the
 * request with it (see request-context.ts), so that every log line, and
 * Apollo's `formatError`, which gets no request, carry the id.
 */
export function requestScopes(): RequestHandler {
  return (request, response, next) => {
    const requestId = requestIdFrom(request.headers[REQUEST_ID_HEADER]);
    response.setHeader(REQUEST_ID_HEADER, requestId);
    runWithRequestId(requestId, next);
  };
}
