import { GraphQLError } from "graphql";
import { describe, expect, it } from "vitest";
import { createErrorFormatter, MASKED_ERROR_MESSAGE } from "../../src/graphql/format-error.js";
import { currentRequestId, runWithRequestId } from "../../src/request-context.js";
import { captureLogs } from "../helpers/log-capture.js";

describe("GraphQL error formatting", () => {
  it("masks unexpected errors in production and logs them in full", () => {
    const logs = captureLogs();
    const format = createErrorFormatter({ production: true, logger: logs.logger });
    const original = new Error("connection to 10.0.0.5 refused");
    const formatted = format({ message: original.message, path: ["verifyTruecaller"], extensions: { code: "INTERNAL_SERVER_ERROR", stacktrace: ["..."] } }, original);
    expect(formatted).toEqual({ message: MASKED_ERROR_MESSAGE, path: ["verifyTruecaller"], extensions: { code: "INTERNAL_SERVER_ERROR" } });
    expect(logs.entries()).toMatchObject([{ level: 50, error: { message: "connection to 10.0.0.5 refused" }, msg: "unexpected error in GraphQL operation" }]);
  });

  it("shows unexpected errors outside production", () => {
    const format = createErrorFormatter({ production: false, logger: captureLogs().logger });
    const formatted = { message: "boom", extensions: { code: "INTERNAL_SERVER_ERROR" } };
    expect(format(formatted, new Error("boom"))).toEqual(formatted);
  });

  it.each([true, false])("answers an unexpected error with the request's id and logs it with that id (production: %s)", (production) => {
    const logs = captureLogs();
    const format = createErrorFormatter({ production, logger: logs.logger, currentRequestId });
    const formatted = runWithRequestId("req-1", () => format({ message: "boom", path: ["me"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, new Error("boom")));
    expect(formatted).toMatchObject({ message: production ? MASKED_ERROR_MESSAGE : "boom", extensions: { code: "INTERNAL_SERVER_ERROR", requestId: "req-1" } });
    expect(logs.entries()).toMatchObject([{ requestId: "req-1", error: { message: "boom" }, path: ["me"], msg: "unexpected error in GraphQL operation" }]);
  });

  it("gives a request error no request id: the client can fix it without support", () => {
    const logs = captureLogs();
    const format = createErrorFormatter({ production: true, logger: logs.logger, currentRequestId: () => "req-2" });
    const formatted = { message: 'Cannot query field "nope" on type "Query".', extensions: { code: "GRAPHQL_VALIDATION_FAILED" } };
    expect(format(formatted, new GraphQLError(formatted.message))).toEqual(formatted);
  });

  it("passes request errors through in production", () => {
    const logs = captureLogs();
    const format = createErrorFormatter({ production: true, logger: logs.logger });
    const formatted = { message: 'Cannot query field "nope" on type "Query".', extensions: { code: "GRAPHQL_VALIDATION_FAILED" } };
    expect(format(formatted, new GraphQLError(formatted.message))).toEqual(formatted);
    expect(logs.lines).toEqual([]);
  });

  it.each(["UNAUTHENTICATED", "FORBIDDEN"])("passes %s through in production without logging it as a fault", (code) => {
    const logs = captureLogs();
    const format = createErrorFormatter({ production: true, logger: logs.logger });
    const formatted = { message: "The access token has expired; refresh the session.", path: ["me"], extensions: { code, stacktrace: ["GraphQLError: ..."] } };
    expect(format(formatted, new GraphQLError(formatted.message))).toEqual({ message: formatted.message, path: ["me"], extensions: { code } });
    expect(logs.lines).toEqual([]);
  });

  it.each([
    ["String cannot represent a non string value: SECRET", "String cannot represent a non string value."],
    ['Int cannot represent non-integer value: "SECRET"', "Int cannot represent non-integer value."],
    ['Expected value of type "String!", found SECRET; String cannot represent a non string value: SECRET', 'Expected value of type "String!".'],
    ['Value "SECRET" does not exist in "LoginProvider" enum. Did you mean the enum value "TRUECALLER"?', 'Value does not exist in "LoginProvider" enum.'],
    ['Syntax Error: Invalid character escape sequence: "\\qSECRET".', "Syntax Error: Invalid character escape sequence."],
    ['Syntax Error: Expected Name, found String "SECRET".', "Syntax Error: Expected Name, found String."],
    ['Syntax Error: Unterminated string.', "Syntax Error: Unterminated string."],
  ])("cuts submitted values out of %j", (message, expected) => {
    const format = createErrorFormatter({ production: true, logger: captureLogs().logger });
    expect(format({ message, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }, new GraphQLError(message)).message).toBe(expected);
  });

  it("drops the stack trace of a request error: its first line repeats the unscrubbed message", () => {
    const format = createErrorFormatter({ production: false, logger: captureLogs().logger });
    const message = "String cannot represent a non string value: SECRET";
    const formatted = { message, extensions: { code: "GRAPHQL_VALIDATION_FAILED", stacktrace: [`GraphQLError: ${message}`] } };
    expect(format(formatted, new GraphQLError(message))).toEqual({
      message: "String cannot represent a non string value.",
      extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
    });
  });

  it("cuts a rejected variable's value out of the message", () => {
    const format = createErrorFormatter({ production: true, logger: captureLogs().logger });
    const formatted = {
      message: 'Variable "$verifier" got invalid value ["secret-verifier"]; String cannot represent a non string value: ["secret-verifier"]',
      extensions: { code: "BAD_USER_INPUT" },
    };
    expect(format(formatted, new GraphQLError(formatted.message)).message).toBe('Variable "$verifier" got invalid value.');
  });
});
