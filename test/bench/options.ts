/**
 * The command line of `npm run bench`, read once; contradictions are refused before anything starts.
 */
import { parseArgs } from "node:util";
import { SCENARIO_IDS, type ScenarioId } from "./scenario-ids.js";

/** The connections the latency target is stated for. */
export const TARGET_CONNECTIONS = 32;
const DEFAULT_DURATION_S = 10;
const DEFAULT_WARMUP_S = 2;
/** Users stored before the verify scenarios; the baseline of the "flat with size" target. */
const DEFAULT_USERS = 1_000;
/** Returning users are drawn from this many stored users (all of them when fewer are stored). */
const DEFAULT_RETURNING_POOL = 1_000;
const DEFAULT_OUT_DIR = "bench-results";
/** Seeded numbers are `+9198` and 8 digits; more would run into the new users' range. */
export const MAX_USERS = 100_000_000;
/** Bounds that catch typos (a duration in milliseconds, a connection count of a million). */
const MAX_CONNECTIONS = 10_000;
const MAX_DURATION_S = 3_600;
const MAX_SOAK_MINUTES = 24 * 60;

export interface BenchOptions {
  readonly connections: number;
  /** Measured seconds per scenario. */
  readonly durationSeconds: number;
  /** Unmeasured seconds before each scenario (0: none). */
  readonly warmupSeconds: number;
  /** In the order they run. */
  readonly scenarios: readonly ScenarioId[];
  /**
   * Users stored before the verify scenarios, ascending. The first size runs every scenario; each
   * further size adds users and runs the verify scenarios again (the "flat with size" comparison).
   */
  readonly userCounts: readonly [number, ...number[]];
  readonly returningPool: number;
  /** `--soak <minutes>`: returning-user verify for this long instead of the scenarios. */
  readonly soakMinutes: number | undefined;
  readonly outDir: string;
  /** Extra gateway settings (`--env KEY=VALUE`), over the harness's own. */
  readonly gatewayEnv: Readonly<Record<string, string>>;
  /** Node options for the gateway process (`--node-arg`), e.g. `--cpu-prof`, which NODE_OPTIONS refuses. */
  readonly gatewayNodeArgs: readonly string[];
}

export class UsageError extends Error {}

export const USAGE = `npm run bench -- [options]

  --connections <n>      concurrent connections per scenario (default ${TARGET_CONNECTIONS})
  --duration <s>         measured seconds per scenario (default ${DEFAULT_DURATION_S})
  --warmup <s>           unmeasured seconds before each scenario (default ${DEFAULT_WARMUP_S}; 0 for none)
  --only <ids>           comma-separated scenarios, from: ${SCENARIO_IDS.join(", ")}
  --users <n>[,<n>...]   users stored before the verify scenarios (default ${DEFAULT_USERS}); with several sizes,
                         e.g. 1000,1000000, the verify scenarios run again at each larger size
  --returning-pool <n>   returning users are drawn from this many stored users (default ${DEFAULT_RETURNING_POOL})
  --soak <minutes>       returning-user verify for that long, sampling the gateway's RSS every second
  --env KEY=VALUE        extra gateway setting (repeatable), e.g. --env DATABASE_POOL_SIZE=20
  --node-arg <arg>       node option for the gateway process (repeatable), e.g. --node-arg=--cpu-prof
  --out <dir>            where the JSON and SVG go (default ${DEFAULT_OUT_DIR})
  --help
`;

/** Parses `argv` (without node and the script); throws {@link UsageError} on anything it cannot use. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        connections: { type: "string" },
        duration: { type: "string" },
        warmup: { type: "string" },
        only: { type: "string" },
        users: { type: "string" },
        "returning-pool": { type: "string" },
        soak: { type: "string" },
        env: { type: "string", multiple: true },
        "node-arg": { type: "string", multiple: true },
        out: { type: "string" },
        help: { type: "boolean" },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.help) return "help";

  const userCounts = (parsed.users ?? String(DEFAULT_USERS)).split(",").map((text) => integer("--users", text, 1, MAX_USERS));
  for (let i = 1; i < userCounts.length; i += 1) {
    if (userCounts[i]! <= userCounts[i - 1]!) throw new UsageError("--users sizes must ascend (each size adds users to the previous one)");
  }
  const soakMinutes = parsed.soak === undefined ? undefined : positiveNumber("--soak", parsed.soak, MAX_SOAK_MINUTES);
  if (soakMinutes !== undefined && parsed.only !== undefined) throw new UsageError("--soak runs returning-user verify only; drop --only");
  if (soakMinutes !== undefined && userCounts.length > 1) throw new UsageError("--soak runs at one size; give --users a single number");

  return {
    connections: integer("--connections", parsed.connections ?? String(TARGET_CONNECTIONS), 1, MAX_CONNECTIONS),
    durationSeconds: positiveNumber("--duration", parsed.duration ?? String(DEFAULT_DURATION_S), MAX_DURATION_S),
    warmupSeconds: parsed.warmup === "0" ? 0 : positiveNumber("--warmup", parsed.warmup ?? String(DEFAULT_WARMUP_S), MAX_DURATION_S),
    scenarios: parsed.only === undefined ? SCENARIO_IDS : scenarioList(parsed.only),
    userCounts: userCounts as [number, ...number[]],
    returningPool: integer("--returning-pool", parsed["returning-pool"] ?? String(DEFAULT_RETURNING_POOL), 1, MAX_USERS),
    soakMinutes,
    outDir: parsed.out ?? DEFAULT_OUT_DIR,
    gatewayEnv: Object.fromEntries((parsed.env ?? []).map(setting)),
    gatewayNodeArgs: (parsed["node-arg"] ?? []).map(nodeArg),
  };
}

function scenarioList(text: string): ScenarioId[] {
  const wanted = new Set(text.split(",").map((id) => id.trim()).filter((id) => id !== ""));
  for (const id of wanted) {
    if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new UsageError(`--only: unknown scenario "${id}" (known: ${SCENARIO_IDS.join(", ")})`);
  }
  if (wanted.size === 0) throw new UsageError("--only names no scenario");
  // Always in the canonical order: the anchors first, `me` and `refresh` after the logins.
  return SCENARIO_IDS.filter((id) => wanted.has(id));
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not "${text}"`);
  return value;
}

function positiveNumber(flag: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new UsageError(`${flag} must be a number above 0 and at most ${max}, not "${text}"`);
  return value;
}

function nodeArg(text: string): string {
  if (!text.startsWith("-")) throw new UsageError(`--node-arg takes a node option such as --cpu-prof, not "${text}" (write --node-arg=--option)`);
  return text;
}

function setting(text: string): [string, string] {
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(text);
  if (!match) throw new UsageError(`--env must be KEY=VALUE with an upper-case key, not "${text}"`);
  return [match[1]!, match[2]!];
}
