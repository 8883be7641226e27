/**
 * `npm run emulator`: serves the Truecaller emulator for local development until SIGINT/SIGTERM.
 *
 * Environment: `EMULATOR_PORT` (default 4010) and `EMULATOR_HOST` (default 127.0.0.1: the emulator
 * hands out working tokens to anyone who asks, so it is not exposed beyond this machine unless asked).
 */
import { z } from "zod";
import { createTruecallerEmulator, emulatorHelp } from "./truecaller-emulator.js";

const DEFAULT_PORT = 4010;
const MAX_PORT = 65_535;

const environment = z
  .object({
    EMULATOR_PORT: z.coerce.number().int().min(0).max(MAX_PORT).default(DEFAULT_PORT),
    EMULATOR_HOST: z.string().min(1).default("127.0.0.1"),
  })
  .safeParse(process.env);
if (!environment.success) {
  console.error(`Invalid emulator environment:\n${z.prettifyError(environment.error)}`);
  process.exit(1);
}

const emulator = createTruecallerEmulator({ log: (line) => console.log(line) });
const { url } = await emulator.listen(environment.data.EMULATOR_PORT, environment.data.EMULATOR_HOST);
console.log(`Truecaller emulator listening on ${url}\n`);
console.log(emulatorHelp(url));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => console.log(`Truecaller emulator stopped (${signal})`));
  });
}
