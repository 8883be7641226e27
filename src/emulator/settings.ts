import { z } from "zod";

const DEFAULT_PORT = 4010;
const MAX_PORT = 65_535;

const environment = z.object({
  EMULATOR_PORT: z.coerce.number().int().min(0).max(MAX_PORT).default(DEFAULT_PORT),
  // Loopback by default: the emulator hands out working tokens to anyone who asks.
  EMULATOR_HOST: z.string().min(1).default("127.0.0.1"),
  // The name the gateway reaches the emulators by: OpenID issuers and discovered endpoints carry it.
  EMULATOR_PUBLIC_HOST: z.string().min(1).optional(),
});

export interface EmulatorSettings {
  readonly port: number;
  readonly host: string;
  /** How clients name the emulators' host; the listening host unless EMULATOR_PUBLIC_HOST says otherwise. */
  readonly publicHost: string;
}

/**
 * Where the emulators listen: `EMULATOR_PORT` (default 4010, then the next two ports) and
 * `EMULATOR_HOST` (default 127.0.0.1); `EMULATOR_PUBLIC_HOST` is the name the gateway reaches them by.
 */
export function emulatorSettings(env: NodeJS.ProcessEnv): EmulatorSettings {
  const parsed = environment.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid emulator environment:\n${z.prettifyError(parsed.error)}`);
  const { EMULATOR_PORT: port, EMULATOR_HOST: host, EMULATOR_PUBLIC_HOST: publicHost } = parsed.data;
  return { port, host, publicHost: publicHost ?? (host === "0.0.0.0" ? "127.0.0.1" : host) };
}
