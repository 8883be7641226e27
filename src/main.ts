/** `npm start`: reads the configuration, starts the gateway, stops it on SIGTERM/SIGINT. */
import "reflect-metadata";
import { startGateway } from "./gateway.js";
import { createLogger, errorSummary } from "./logger.js";
import { loadConfigOrExit, stopOnSignals } from "./process-lifecycle.js";

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel });
const starting = startGateway(config, { logger });

stopOnSignals(async (signal) => {
  logger.info({ signal }, "shutting down");
  const gateway = await starting.catch(() => undefined);
  await gateway?.close();
});

try {
  await starting;
} catch (error) {
  logger.fatal({ error: errorSummary(error) }, "gateway failed to start");
  process.exit(1);
}
