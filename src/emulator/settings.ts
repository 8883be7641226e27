import { z } from "zod";

const DEFAULT_PORT = 4010;
const MAX_PORT = 65_535;

const environment = z.object({
  EMULATOR_PORT: z.coerce.number().int().min(0).max(MAX_PORT).default(DEFAULT_PORT),
  // Loopback by default: the emulator hands out working tokens to anyone who asks.
  EMULATOR_HOST: z.string().min(1).default("127.0.0.1"),
});

/** Where the emulator listens: `EMULATOR_PORT` (default 4010) and `EMULATOR_HOST` (default 127.0.0.1). */
export function emulatorSettings(env: NodeJS.ProcessEnv): { port: number; host: string } {
  const parsed = environment.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid emulator environment:\n${z.prettifyError(parsed.error)}`);
  return { port: parsed.data.EMULATOR_PORT, host: parsed.data.EMULATOR_HOST };
}
