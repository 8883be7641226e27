/**
 * `npm run emulator`: serves the Truecaller emulator for local development until SIGINT/SIGTERM.
 * Environment: `EMULATOR_PORT` (default 4010) and `EMULATOR_HOST` (default 127.0.0.1).
 */
import { stopOnSignals } from "../process-lifecycle.js";
import { emulatorSettings } from "./settings.js";
import { createTruecallerEmulator, emulatorHelp } from "./truecaller-emulator.js";

let settings: { port: number; host: string };
try {
  settings = emulatorSettings(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const emulator = createTruecallerEmulator({ log: (line) => console.log(line) });
const { url } = await emulator.listen(settings.port, settings.host);
console.log(`Truecaller emulator listening on ${url}\n`);
console.log(emulatorHelp(url));

stopOnSignals(async (signal) => {
  await emulator.close();
  console.log(`Truecaller emulator stopped (${signal})`);
});
