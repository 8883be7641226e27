import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Paths pino censors wherever they appear. Our code never logs these values;
 * redaction is the second line of defence for a log call added later.
 */
export const REDACTED_PATHS = [
  "code",
  "verifier",
  "codeVerifier",
  "code_verifier",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "token",
  "authorization",
  "password",
  "*.code",
  "*.verifier",
  "*.codeVerifier",
  "*.code_verifier",
  "*.accessToken",
  "*.access_token",
  "*.refreshToken",
  "*.refresh_token",
  "*.token",
  "*.authorization",
  "*.password",
  "req.headers.authorization",
  "req.headers.cookie",
  "variables",
  "*.variables",
];

/** Structured JSON logger with secret paths censored; `destination` lets tests capture lines. */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      base: { service: "phonegate" },
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
