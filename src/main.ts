/** `npm start`: reads the configuration, starts the gateway, stops it on SIGTERM/SIGINT. */
import "reflect-metadata";
import { startGateway } from "./gateway.js";
import { createLogger, errorSummary } from "./logger.js";
import { loadConfigOrExit, stopOnSignals } from "./process-lifecycle.js";

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel });
const starting = startGateway(config, { logger });
/** After the grace for requests: time for the audit rows and the pools to close. */
const POOL_CLOSE_MARGIN_MS = 5_000;

stopOnSignals(
  async (signal) => {
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down: finishing in-flight requests");
    const gateway = await starting.catch(() => undefined);
    await gateway?.close();
    logger.info("stopped");
  },
  {
    forceExitAfterMs: config.shutdownGraceMs + POOL_CLOSE_MARGIN_MS,
    onForcedExit: (reason) => logger.error({ reason }, "exiting without finishing the stop"),
  },
);

try {
  await starting;
} catch (error) {
  logger.fatal({ error: errorSummary(error) }, "gateway failed to start");
  process.exit(1);
}
