/**
 * `npm run emulator`: serves every provider emulator for local development until SIGINT/SIGTERM:
 * Truecaller on `EMULATOR_PORT` (default 4010), the Auth0-style OIDC provider on the next port and
 * wgtwo on the one after. `EMULATOR_HOST` defaults to 127.0.0.1.
 */
import { stopOnSignals } from "../process-lifecycle.js";
import { startEmulators } from "./emulators.js";
import { emulatorSettings, type EmulatorSettings } from "./settings.js";

let settings: EmulatorSettings;
try {
  settings = emulatorSettings(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const emulators = await startEmulators(settings, (line) => console.log(line));
const { gatewayEnvironment: urls } = emulators;
console.log(`Truecaller emulator listening on ${urls.TRUECALLER_BASE_URL}`);
console.log(`OIDC (Auth0-style) emulator listening on ${urls.OIDC_ISSUER}`);
console.log(`wgtwo emulator listening on ${urls.WGTWO_BASE_URL}\n`);
console.log(emulators.help);
console.log("Gateway settings for these emulators:");
for (const [name, value] of Object.entries(emulators.gatewayEnvironment)) console.log(`  ${name}=${value}`);

stopOnSignals(async (signal) => {
  await emulators.close();
  console.log(`Emulators stopped (${signal})`);
});
