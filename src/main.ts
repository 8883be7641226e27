/** `npm start`: reads the configuration, starts the gateway, stops it on SIGTERM/SIGINT. */
import "reflect-metadata";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { startGateway } from "./gateway.js";
import { createLogger, errorSummary } from "./logger.js";

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger({ level: config.logLevel });
const starting = startGateway(config, { logger });

// Listen for signals before start-up finishes, so a stop during start-up is orderly too.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    logger.info({ signal }, "shutting down");
    const gateway = await starting.catch(() => undefined);
    await gateway?.close();
    process.exit(0);
  });
}

try {
  await starting;
} catch (error) {
  logger.fatal({ err: errorSummary(error) }, "gateway failed to start");
  process.exit(1);
}
