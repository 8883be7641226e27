import { describe, expect, it } from "vitest";
import { DriverAdapterError } from "@prisma/driver-adapter-utils";
import { Prisma } from "../../src/generated/prisma/client.js";
import { isDatabaseUnavailable } from "../../src/store/database-errors.js";

/** A raw-query failure as Prisma's driver adapter reports it. */
function adapterError(cause: Record<string, unknown>, code = "P2010") {
  return new Prisma.PrismaClientKnownRequestError("Raw query failed.", { code, clientVersion: "7", meta: { driverAdapterError: { name: "DriverAdapterError", cause } } });
}

describe("isDatabaseUnavailable", () => {
  it.each([
    ["a database refusing connections (FATAL 55000)", adapterError({ originalCode: "55000", severity: "FATAL", kind: "postgres" })],
    ["a connection failure (class 08)", adapterError({ originalCode: "08006", severity: "ERROR", kind: "postgres" })],
    ["too many connections (53300)", adapterError({ originalCode: "53300", kind: "postgres" })],
    ["an administrator shutdown (57P01)", adapterError({ originalCode: "57P01", kind: "postgres" })],
    ["a statement cancelled by statement_timeout (57014)", adapterError({ originalCode: "57014", kind: "postgres" })],
    ["an unreachable database", adapterError({ kind: "DatabaseNotReachable" })],
    ["a closed connection", adapterError({ kind: "ConnectionClosed" })],
    ["no pooled connection in time (P2024)", new Prisma.PrismaClientKnownRequestError("Timed out", { code: "P2024", clientVersion: "7" })],
    ["a refused socket", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })],
    // pg: a query (Prisma's ROLLBACK after the failed statement) on a pooled client whose connection already failed.
    ["a client whose connection failed", new Error("Client has encountered a connection error and is not queryable")],
    // @prisma/adapter-pg: COMMIT on a closed socket, passed through unwrapped by Prisma's transaction manager.
    ["an unwrapped adapter error on a closed connection", new DriverAdapterError({ kind: "ConnectionClosed" })],
  ])("is true for %s", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a syntax error in our SQL (42601)", adapterError({ originalCode: "42601", severity: "ERROR", kind: "postgres" })],
    ["a unique violation (23505)", adapterError({ originalCode: "23505", severity: "ERROR", kind: "postgres" })],
    ["a deadlock (40P01), which is retried, not an outage", adapterError({ originalCode: "40P01", kind: "TransactionWriteConflict" })],
    ["an unwrapped adapter error of a unique violation", new DriverAdapterError({ kind: "postgres", code: "23505", severity: "ERROR", message: "duplicate key", detail: undefined, column: undefined, hint: undefined, originalCode: "23505", originalMessage: "duplicate key" })],
    ["a plain bug", new TypeError("undefined is not a function")],
    ["a non-error", "oops"],
  ])("is false for %s", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
