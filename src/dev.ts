/**
 * `npm run dev`: the Truecaller emulator and the gateway in one process, on the
 * embedded defaults unless DATABASE_URL / REDIS_URL are set. Any variable of
 * the gateway's configuration may still be set to override these defaults.
 */
import "reflect-metadata";
import { loadConfig } from "./config.js";
import { DEFAULT_CLIENT_ID, createTruecallerEmulator } from "./emulator/truecaller-emulator.js";
import { startGateway } from "./gateway.js";
import { createLogger } from "./logger.js";

const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 4010);

const emulator = createTruecallerEmulator({ log: (line) => logger.info({ emulator: line }, "emulator request") });
const { url: emulatorUrl } = await emulator.listen(EMULATOR_PORT, "127.0.0.1");
const config = loadConfig({ TRUECALLER_CLIENT_ID: DEFAULT_CLIENT_ID, TRUECALLER_BASE_URL: emulatorUrl, ...process.env });
const logger = createLogger({ level: config.logLevel });
const gateway = await startGateway(config, { logger });

logger.info(
  {
    sandbox: `${gateway.url}/graphql`,
    mintCode: `curl -s -X POST ${emulatorUrl}/emulator/codes -H 'Content-Type: application/json' -d '{}'`,
    emulatorHelp: emulatorUrl,
  },
  "dev mode: mint a code, then run verifyTruecaller(code, verifier) with its code and codeVerifier in Sandbox",
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void Promise.all([gateway.close(), emulator.close()]).then(() => process.exit(0));
  });
}
