/**
 * `npm run dev`: the Truecaller emulator and the gateway in one process, on the
 * embedded defaults unless DATABASE_URL / REDIS_URL are set. Any variable of
 * the gateway's configuration may still be set to override these defaults.
 */
import "reflect-metadata";
import { emulatorSettings } from "./emulator/settings.js";
import { DEFAULT_CLIENT_ID, createTruecallerEmulator } from "./emulator/truecaller-emulator.js";
import { startGateway } from "./gateway.js";
import { createLogger } from "./logger.js";
import { loadConfigOrExit, stopOnSignals } from "./process-lifecycle.js";

// The emulator logs through the gateway's logger, which exists once the config (and its LOG_LEVEL) is read.
const emulator = createTruecallerEmulator({ log: (line) => logger.info({ emulator: line }, "emulator request") });
const { port, host } = emulatorSettings(process.env);
const { url: emulatorUrl } = await emulator.listen(port, host);
const config = loadConfigOrExit({ TRUECALLER_CLIENT_ID: DEFAULT_CLIENT_ID, TRUECALLER_BASE_URL: emulatorUrl, ...process.env });
const logger = createLogger({ level: config.logLevel });
const gateway = await startGateway(config, { logger });
stopOnSignals(async () => {
  await Promise.all([gateway.close(), emulator.close()]);
});

logger.info(
  {
    sandbox: `${gateway.url}/graphql`,
    mintCode: `curl -s -X POST ${emulatorUrl}/emulator/codes -H 'Content-Type: application/json' -d '{}'`,
    emulatorHelp: emulatorUrl,
  },
  "dev mode: mint a code, then run verifyTruecaller(code, verifier) with its code and codeVerifier in Sandbox",
);
