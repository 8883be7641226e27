import { ConfigError, loadConfig, type Config } from "./config.js";

/** The configuration, or exit 1 with the message naming each bad setting (never a value). */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT, then exits 0 (1 when stopping
 * failed). Registered before start-up completes, so a stop then is orderly too.
 * A second signal, or a stop still running after `forceExitAfterMs`, exits 1
 * at once (an orchestrator's SIGKILL would come anyway, without a word).
 */
export function stopOnSignals(
  stop: (signal: NodeJS.Signals) => Promise<void>,
  options: { forceExitAfterMs?: number; onForcedExit?: (reason: string) => void } = {},
): void {
  let stopping = false;
  const { forceExitAfterMs, onForcedExit = (reason) => process.stderr.write(`exiting without finishing the stop: ${reason}\n`) } = options;
  const forceExit = (reason: string) => {
    onForcedExit(reason);
    process.exit(1);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) return forceExit(`${signal} while stopping`);
      stopping = true;
      if (forceExitAfterMs !== undefined) setTimeout(() => forceExit(`still stopping after ${forceExitAfterMs} ms`), forceExitAfterMs).unref();
      stop(signal).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}
