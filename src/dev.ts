/**
 * `npm run dev`: every provider emulator and the gateway in one process, on the
 * embedded defaults unless DATABASE_URL / REDIS_URL are set. Any variable of
 * the gateway's configuration may still be set to override these defaults.
 */
import "reflect-metadata";
import { startEmulators } from "./emulator/emulators.js";
import { emulatorSettings } from "./emulator/settings.js";
import { startGateway } from "./gateway.js";
import { createLogger } from "./logger.js";
import { loadConfigOrExit, stopOnSignals } from "./process-lifecycle.js";

// The emulators log through the gateway's logger, which exists once the config (and its LOG_LEVEL) is read.
const emulators = await startEmulators(emulatorSettings(process.env), (line) => logger.info({ emulator: line }, "emulator request"));
const config = loadConfigOrExit({ ...emulators.gatewayEnvironment, ...process.env });
const logger = createLogger({ level: config.logLevel });
const gateway = await startGateway(config, { logger });
stopOnSignals(async () => {
  await Promise.all([gateway.close(), emulators.close()]);
});

const truecallerUrl = emulators.gatewayEnvironment.TRUECALLER_BASE_URL;
const oidcUrl = emulators.oidc.issuer.replace(/\/$/, "");
logger.info(
  {
    sandbox: `${gateway.url}/graphql`,
    mintTruecallerCode: `curl -s -X POST ${truecallerUrl}/emulator/codes -H 'Content-Type: application/json' -d '{}'`,
    mintOidcCode: `curl -s -X POST ${oidcUrl}/emulator/codes -H 'Content-Type: application/json' -d '{}'`,
    emulatorHelp: [truecallerUrl, oidcUrl, emulators.gatewayEnvironment.WGTWO_BASE_URL],
  },
  "dev mode: mint a code, then run verifyTruecaller(code, verifier) or verifyPhoneLogin(input: {provider, code, verifier}) in Sandbox",
);
