import { createLogger, type Logger } from "../../src/logger.js";

/** A real logger whose JSON lines are kept for assertions. */
export function captureLogs(level = "debug"): { logger: Logger; lines: string[]; entries(): Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
