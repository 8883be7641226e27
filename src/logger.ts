import { pino, type DestinationStream, type Logger } from "pino";
import { currentRequestId } from "./request-context.js";

export type { Logger };

const SECRET_FIELDS = [
  "verifier",
  "codeVerifier",
  "code_verifier",
  "authorizationCode",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "idToken",
  "id_token",
  "token",
  "authorization",
  "password",
  "secret",
  "clientSecret",
  "client_secret",
  "nonce",
  "requestNonce",
  // A signed Truecaller profile: personal data, and proof that logs in once.
  "payload",
  "signature",
];

/**
 * Paths pino censors wherever they appear. Our code never logs these values;
 * redaction is the second line of defence for a log call added later. `code`
 * is censored at the top level and under request-shaped objects only: `*.code`
 * would also hide error codes (ECONNREFUSED, SQLSTATEs) that operators need.
 */
export const REDACTED_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  "code",
  "grant.code",
  "input.code",
  "args.code",
  "body.code",
  "variables",
  "*.variables",
  "req.headers.authorization",
  "req.headers.cookie",
];

/**
 * Structured JSON logger with secret paths censored, and the request's id on
 * every line written while handling one; `destination` lets tests capture lines.
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      base: { service: "phonegate" },
      // A new object per line: pino merges the line's own fields into what the mixin returns.
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { requestId };
      },
    },
    options.destination,
  );
}

/** Name, message and code of an error, for a log line (our own errors never carry secrets). */
export function errorSummary(error: unknown): { name: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { name: "NonError", message: String(error) };
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? { name: error.name, message: error.message, code } : { name: error.name, message: error.message };
}
