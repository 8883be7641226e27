import { ApolloServerErrorCode, unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { errorSummary, type Logger } from "../logger.js";
import { ErrorCode } from "./user-error.js";

/** Codes of the errors our resolvers raise about the caller's credentials (see graphql/context.ts). */
export const AuthErrorCode = { UNAUTHENTICATED: "UNAUTHENTICATED", FORBIDDEN: "FORBIDDEN" } as const;

/** Errors about the request itself, or refusals the client is to retry; the client needs their text. */
const CLIENT_ERROR_CODES = new Set<string>([
  AuthErrorCode.UNAUTHENTICATED,
  AuthErrorCode.FORBIDDEN,
  // startLogin's refusal (its field is a LoginChallenge, not a union).
  ErrorCode.RATE_LIMITED,
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.BAD_USER_INPUT,
  ApolloServerErrorCode.BAD_REQUEST,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
]);

export const MASKED_ERROR_MESSAGE = "Unexpected error.";

/**
 * graphql-js quotes rejected values and tokens in its messages; the value may be
 * a code or verifier. Each rule keeps the message up to the quote.
 */
const VALUE_QUOTES: ReadonlyArray<[RegExp, string]> = [
  [/^(Variable "\$[^"]+" got invalid value)[\s\S]*$/, "$1."],
  [/^(Expected value of type "[^"]+"), found[\s\S]*$/, "$1."],
  [/^(\w+ cannot represent [\w -]+? value)[:;][\s\S]*$/, "$1."],
  [/^Value "[\s\S]*" does not exist in ("[^"]+" enum)[\s\S]*$/, "Value does not exist in $1."],
  [/^(Syntax Error: [^"]*?)[\s:]*"[\s\S]*$/, "$1."],
];

function withoutValues(message: string): string {
  for (const [pattern, replacement] of VALUE_QUOTES) {
    if (pattern.test(message)) return message.replace(pattern, replacement);
  }
  return message;
}

/**
 * Apollo's `formatError`: request errors pass through (with submitted values
 * cut out); anything else is a fault, logged in full and shown as "Unexpected
 * error." in production. Login failures never get here: they are union members.
 *
 * Apollo hands the formatter no request, so `currentRequestId` supplies the
 * one being answered: a fault's log line and its `extensions.requestId` carry
 * the same id, which the client also got in the `x-request-id` header.
 */
export function createErrorFormatter(options: { production: boolean; logger: Logger; currentRequestId?: () => string | undefined }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    const clientError = typeof code === "string" && CLIENT_ERROR_CODES.has(code);
    if (clientError || isRefusedRequest(error)) {
      // The stack trace's first line repeats the original message, values included.
      const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, message: withoutValues(formatted.message), extensions: clientError ? extensions : { ...extensions, code: ApolloServerErrorCode.BAD_REQUEST } };
    }
    options.logger.error({ error: errorSummary(unwrapResolverError(error)), path: formatted.path }, "unexpected error in GraphQL operation");
    const id = options.currentRequestId?.();
    const requestId = id === undefined ? {} : { requestId: id };
    if (!options.production) return { ...formatted, extensions: { ...formatted.extensions, ...requestId } };
    return {
      message: MASKED_ERROR_MESSAGE,
      ...(formatted.path ? { path: formatted.path } : {}),
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { code: ApolloServerErrorCode.INTERNAL_SERVER_ERROR, ...requestId },
    };
  };
}

/** An error Apollo raised about the request without a code (a malformed persisted-query extension, say): its HTTP status says 4xx. */
function isRefusedRequest(error: unknown): boolean {
  const status = error instanceof GraphQLError ? (error.extensions.http as { status?: unknown } | undefined)?.status : undefined;
  return typeof status === "number" && status >= 400 && status < 500;
}
