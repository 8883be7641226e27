/**
 * `npm run bench`: issue 6's benchmark harness. Starts, each in its own process, the Truecaller
 * emulator (with a bench-only bulk-mint API), the gateway as production runs it (`dist/main.js`,
 * NODE_ENV=production, on a fresh PostgreSQL database and its own Redis key space) and a bare
 * Apollo Server anchor; drives each scenario with autocannon after an unmeasured warm-up; prints
 * one table with the ratios against the anchors and the issue's targets; writes a JSON record and
 * an SVG chart. `--soak <minutes>` instead runs returning-user logins for that long and judges the
 * gateway's memory. Everything it started or created is removed at the end, on Ctrl+C and on errors.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { generateSigningKeySetText } from "../../src/auth/signing-keys.js";
import { gatewayEnvironmentFor } from "../../src/emulator/emulators.js";
import { freePort, readCpuSeconds, readRssKb, ROOT, RssSampler, startGateway, startTsChild, type Child } from "./children.js";
import { EmulatorControl } from "./emulator-control.js";
import { Meter, runLoad, stopCurrentLoad, type LoadSpec, type MeterWindow } from "./load.js";
import { parseBenchOptions, USAGE, UsageError, type BenchOptions } from "./options.js";
import { chartSvg, formatReport, kbToMb, ms, rate, ratios, rssSvg, summarizeLog, table, targetChecks, type ScenarioResult } from "./report.js";
import { SIZED_SCENARIOS } from "./scenario-ids.js";
import { buildScenario, cyclingSource, drawSeededUsers, freshSource, loginAll, type Rig, type Scenario, type SessionTokens, type Target } from "./scenarios.js";
import { seedUsers } from "./seed-users.js";
import { benchKeyPrefix, createBenchDatabase, DEFAULT_ADMIN_DATABASE_URL, DEFAULT_REDIS_URL, deleteRedisKeys, withClient } from "./stores.js";

const HOST = "127.0.0.1";
const SESSION_ISSUER = "https://bench.phonegate.test";
/** RSS sampling: every 100 ms during the scenarios, every second in the soak. */
const RSS_INTERVAL_MS = 100;
const SOAK_RSS_INTERVAL_MS = 1_000;
/** Codes minted before a warm-up, per second of it: above what this machine class serves, so the warm-up never runs dry. */
const WARMUP_CODES_PER_S = 4_000;
/** Codes minted before the measured run: the warm-up's rate times this (at least the floor), plus a margin. */
const CODE_HEADROOM = 2;
const CODE_FLOOR_PER_S = 2_000;
const CODE_MARGIN = 5_000;
/**
 * After a run, requests autocannon abandoned at its end are still being served; the next step (an emulator
 * reset above all) waits for them: twice the run's p99, within these bounds (the upper one is LOGIN_TIMEOUT_MS).
 */
const SETTLE_MIN_MS = 250;
const SETTLE_MAX_MS = 12_000;
const MS_PER_MINUTE = 60_000;
/** The soak compares the gateway's RSS at this point with its RSS at the end. */
const SOAK_REFERENCE_MS = MS_PER_MINUTE;
/** "No memory growth": the end within this share of the reference. */
const SOAK_RSS_TOLERANCE = 0.1;
/** Gateway log lines kept per scenario in the JSON record. */
const GATEWAY_LOG_SAMPLE_LINES = 5;
/** Load average above this share of the cores at the start: the figures will be noisy, say so. */
const BUSY_LOAD_PER_CORE = 0.5;

/** Steps that undo what the run created, run last-in first-out, once, whatever happened. */
class Cleanup {
  readonly #steps: Array<{ name: string; run: () => Promise<unknown> }> = [];
  #running: Promise<void> | undefined;

  add(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          console.error(`cleanup: ${step.name} failed: ${(error as Error).message}`);
        }
      }
    })();
    return this.#running;
  }
}

class Aborted extends Error {
  constructor() {
    super("stopped");
  }
}

const cleanup = new Cleanup();
let aborted = false;
/** What a second Ctrl+C would leave behind, for its message. */
const leftovers: string[] = [];

function checkAborted(): void {
  if (aborted) throw new Aborted();
}

function onSignal(signal: NodeJS.Signals): void {
  if (aborted) {
    console.error(`\n${signal} again: exiting without finishing the cleanup${leftovers.length ? ` (may be left: ${leftovers.join(", ")})` : ""}`);
    process.exit(130);
  }
  aborted = true;
  console.error(`\n${signal}: stopping the load and cleaning up (again to exit at once)`);
  stopCurrentLoad();
  void cleanup.run().finally(() => process.exit(130));
}

/** The processes and stores of one run. */
interface System {
  readonly gateway: Child;
  readonly control: EmulatorControl;
  readonly urls: Record<Target, string>;
  readonly samplers: Partial<Record<Target, RssSampler>>;
  readonly databaseUrl: string;
}

async function startSystem(options: BenchOptions, needsAnchor: boolean): Promise<System> {
  const database = await createBenchDatabase(process.env.BENCH_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_DATABASE_URL);
  leftovers.push(`database ${database.name}`);
  cleanup.add(`drop database ${database.name}`, () => database.drop());
  console.log(`database ${database.name} created and migrated`);
  checkAborted();
  await seed(database.url, 0, options.userCounts[0]);
  checkAborted();

  const stopOnCleanup = (child: Child) => cleanup.add(`stop the ${child.name}`, () => child.stop());
  const { child: emulator, ready: emulatorReady } = await startTsChild<{ url: string; controlUrl: string }>(
    "emulator",
    "test/bench/emulator-process.ts",
    stopOnCleanup,
  );
  checkAborted();
  const anchor = needsAnchor ? await startTsChild<{ url: string }>("anchor", "test/bench/anchor-process.ts", stopOnCleanup) : undefined;
  checkAborted();

  const redisUrl = process.env.BENCH_REDIS_URL ?? DEFAULT_REDIS_URL;
  const keyPrefix = benchKeyPrefix();
  leftovers.push(`Redis keys ${keyPrefix}*`);
  cleanup.add(`delete Redis keys ${keyPrefix}*`, async () => {
    const deleted = await deleteRedisKeys(redisUrl, keyPrefix);
    console.log(`deleted ${deleted.toLocaleString("en")} Redis keys under ${keyPrefix}`);
  });
  const port = await freePort(HOST);
  const gatewayUrl = `http://${HOST}:${port}`;
  const env = gatewayEnvironment({ port, databaseUrl: database.url, redisUrl, keyPrefix, emulatorUrl: emulatorReady.url, overrides: options.gatewayEnv });
  // Its stop is registered after the Redis and database steps, so it runs before them: nothing writes while they are removed.
  const gateway = await startGateway(env, gatewayUrl, options.gatewayNodeArgs, stopOnCleanup);
  checkAborted();
  console.log(`gateway ${gatewayUrl} (pid ${gateway.pid}), emulator ${emulatorReady.url}${anchor ? `, anchor ${anchor.ready.url}` : ""}`);

  const interval = options.soakMinutes === undefined ? RSS_INTERVAL_MS : SOAK_RSS_INTERVAL_MS;
  const samplers: System["samplers"] = {
    gateway: new RssSampler(gateway.pid, interval),
    emulator: new RssSampler(emulator.pid, interval),
    ...(anchor ? { anchor: new RssSampler(anchor.child.pid, interval) } : {}),
  };
  cleanup.add("stop sampling", async () => Object.values(samplers).forEach((sampler) => sampler.stop()));
  return {
    gateway,
    control: new EmulatorControl(emulatorReady.controlUrl),
    urls: { gateway: gatewayUrl, emulator: emulatorReady.url, anchor: anchor?.ready.url ?? "" },
    samplers,
    databaseUrl: database.url,
  };
}

/** The gateway's settings: production, this run's stores and keys, Truecaller at the emulator, no abuse limits. */
function gatewayEnvironment(settings: {
  port: number;
  databaseUrl: string;
  redisUrl: string;
  keyPrefix: string;
  emulatorUrl: string;
  overrides: Readonly<Record<string, string>>;
}): Record<string, string> {
  const emulators = gatewayEnvironmentFor({ truecaller: settings.emulatorUrl, oidcIssuer: "", wgtwo: "" });
  const truecaller = ["TRUECALLER_CLIENT_ID", "TRUECALLER_BASE_URL", "TRUECALLER_VERIFICATION_BASE_URL", "TRUECALLER_KEYS_URL"] as const;
  return {
    NODE_ENV: "production",
    HOST,
    PORT: String(settings.port),
    LOG_LEVEL: "warn",
    DATABASE_URL: settings.databaseUrl,
    REDIS_URL: settings.redisUrl,
    REDIS_KEY_PREFIX: settings.keyPrefix,
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    SESSION_SIGNING_KEYS: generateSigningKeySetText(),
    SESSION_ISSUER,
    // One client, one address, thousands of logins a second: the limits would measure themselves.
    LOGIN_RATE_PER_IP: "0",
    LOGIN_RATE_PER_NUMBER: "0",
    LOGIN_FAILURES_PER_IP: "0",
    ...Object.fromEntries(truecaller.map((name) => [name, emulators[name]!])),
    ...settings.overrides,
  };
}

/** Waits for the requests a run left in flight (see {@link SETTLE_MIN_MS}). */
function settle(p99Ms: number): Promise<void> {
  const ms = Number.isFinite(p99Ms) ? Math.min(SETTLE_MAX_MS, Math.max(SETTLE_MIN_MS, 2 * p99Ms)) : SETTLE_MAX_MS;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seeds users `from` … `to - 1`, reporting how long it took. */
async function seed(databaseUrl: string, from: number, to: number): Promise<void> {
  const started = performance.now();
  await withClient(databaseUrl, (client) =>
    seedUsers(client, {
      start: from,
      count: to - from,
      onProgress: (done, total) => {
        if (process.stdout.isTTY) process.stdout.write(`\rseeding users: ${done.toLocaleString("en")} / ${total.toLocaleString("en")}`);
      },
    }),
  );
  if (process.stdout.isTTY) process.stdout.write("\n");
  console.log(`stored users: ${to.toLocaleString("en")} (seeded ${(to - from).toLocaleString("en")} in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

function rigFor(system: System, options: BenchOptions, storedUsers: number, fresh: Rig["fresh"]): Rig {
  return {
    urls: system.urls,
    control: system.control,
    connections: options.connections,
    returning: cyclingSource(drawSeededUsers(storedUsers, options.returningPool)),
    fresh,
  };
}

/**
 * An unmeasured run of `seconds` (none when 0), its code pool topped up first; resolves the rate it reached, from
 * which the measured run's codes are counted.
 */
async function warmUp(scenario: Scenario, spec: Omit<LoadSpec, "requests" | "durationSeconds">, seconds: number): Promise<number> {
  if (seconds <= 0) return WARMUP_CODES_PER_S;
  await scenario.pool?.topUp(Math.ceil(seconds * WARMUP_CODES_PER_S));
  await scenario.beforeRun?.();
  const meter = new Meter();
  const warm = await runLoad({ ...spec, durationSeconds: seconds, requests: scenario.requests(meter) }, meter);
  meter.destroy();
  await settle(warm.p99Ms);
  checkAborted();
  return (warm.ok + warm.errors) / warm.seconds;
}

/** Warm-up (unmeasured), then the measured run; the code pool is topped up before each. */
async function runScenario(scenario: Scenario, system: System, options: BenchOptions, users: number, label: string): Promise<ScenarioResult> {
  const duration = options.durationSeconds;
  console.log(`→ ${label}: ${scenario.title} (${options.connections} connections, warm-up ${options.warmupSeconds} s, ${duration} s)`);
  // Codes of earlier scenarios, tokens and the request log go: the emulator starts each scenario small.
  await system.control.reset();
  await scenario.prepare?.();
  checkAborted();
  const sampler = system.samplers[scenario.target];
  const gatewaySampler = system.samplers.gateway;
  const fromMs = sampler?.now() ?? 0;
  const gatewayFromMs = gatewaySampler?.now() ?? 0;
  const logLinesBefore = system.gateway.lineCount();
  const spec = { url: system.urls[scenario.target], connections: options.connections, durationSeconds: duration };

  const unitsPerSecond = await warmUp(scenario, spec, options.warmupSeconds);
  await scenario.beforeRun?.();
  await scenario.pool?.topUp(Math.ceil(Math.max(unitsPerSecond * CODE_HEADROOM, CODE_FLOOR_PER_S) * duration) + CODE_MARGIN);
  scenario.pool?.resetCounters();

  const meter = new Meter();
  const cpuBefore = sampler ? await readCpuSeconds(sampler.pid) : undefined;
  const measured = await runLoad({ ...spec, requests: scenario.requests(meter) }, meter);
  const cpuAfter = sampler ? await readCpuSeconds(sampler.pid) : undefined;
  meter.destroy();
  await settle(measured.p99Ms);
  checkAborted();
  const peakKb = sampler?.peakKb(fromMs, sampler.now());
  const result: ScenarioResult = {
    id: scenario.id,
    label,
    title: scenario.title,
    target: scenario.target,
    unit: scenario.unit,
    users,
    connections: options.connections,
    seconds: measured.seconds,
    okPerSecond: measured.okPerSecond,
    ok: measured.ok,
    errors: measured.errors,
    timeouts: measured.timeouts,
    p50Ms: measured.p50Ms,
    p99Ms: measured.p99Ms,
    reasons: measured.reasons,
    peakRssMb: kbToMb(peakKb),
    cpuMsPerUnit: cpuBefore === undefined || cpuAfter === undefined || measured.ok === 0 ? undefined : ((cpuAfter - cpuBefore) * 1000) / measured.ok,
    gatewayPeakRssMb: kbToMb(gatewaySampler?.peakKb(gatewayFromMs, gatewaySampler.now())),
    codeRefills: scenario.pool?.refills ?? 0,
    codeMisses: scenario.pool?.misses ?? 0,
    gatewayLogLines: system.gateway.lineCount() - logLinesBefore,
    gatewayLogMessages: summarizeLog(system.gateway.linesAfter(logLinesBefore)),
    gatewayLogSample: system.gateway.linesAfter(logLinesBefore).slice(0, GATEWAY_LOG_SAMPLE_LINES),
  };
  console.log(
    `  ${rate(result.okPerSecond)} ${result.unit === "pair" ? "pairs" : "req"}/s, p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms, ` +
      `${result.errors} errors, CPU ${result.cpuMsPerUnit?.toFixed(2) ?? "?"} ms/${result.unit === "pair" ? "pair" : "req"}, peak RSS ${result.peakRssMb?.toFixed(0) ?? "?"} MB (${result.target})`,
  );
  return result;
}

async function runScenarios(options: BenchOptions): Promise<void> {
  const startedAt = new Date();
  const system = await startSystem(options, options.scenarios.includes("apollo"));
  const fresh = freshSource();
  const results: ScenarioResult[] = [];

  const [firstSize, ...furtherSizes] = options.userCounts;
  const firstRig = rigFor(system, options, firstSize, fresh);
  // Sessions for `me`: logged in once, on first use.
  let sessions: Promise<SessionTokens[]> | undefined;
  const sessionsOf = (count: number) =>
    (sessions ??= firstRig.control.mint({ users: firstRig.returning.next(count) }).then((grants) => loginAll(system.urls.gateway, grants)));
  for (const id of options.scenarios) {
    checkAborted();
    results.push(await runScenario(buildScenario(id, firstRig, sessionsOf), system, options, firstSize, id));
  }

  let stored = firstSize;
  const sized = options.scenarios.filter((id) => SIZED_SCENARIOS.includes(id));
  for (const size of furtherSizes) {
    if (sized.length === 0) break;
    checkAborted();
    await seed(system.databaseUrl, stored, size);
    stored = size;
    const rig = rigFor(system, options, size, fresh);
    for (const id of sized) {
      checkAborted();
      results.push(await runScenario(buildScenario(id, rig, sessionsOf), system, options, size, `${id}@${compact(size)}`));
    }
  }

  const ratioList = ratios(results);
  const checks = targetChecks(results, options.connections);
  console.log(`\n${formatReport(results, ratioList, checks)}\n`);
  const stamp = fileStamp(startedAt);
  await writeOutputs(options.outDir, `bench-${stamp}`, {
    kind: "bench",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...runRecord(options),
    results,
    ratios: ratioList,
    targets: checks,
  }, chartSvg(results, `phonegate bench ${startedAt.toISOString()} — ${options.connections} connections, ${options.durationSeconds} s per scenario`));
}

async function runSoak(options: BenchOptions, minutes: number): Promise<void> {
  const startedAt = new Date();
  const system = await startSystem(options, false);
  const rig = rigFor(system, options, options.userCounts[0], freshSource());
  const scenario = buildScenario("verify-returning", rig, () => Promise.reject(new Error("the soak logs in only")));
  const pool = scenario.pool!;
  const spec = { url: system.urls.gateway, connections: options.connections };
  const durationSeconds = minutes * 60;
  console.log(`→ soak: ${scenario.title} for ${minutes} min (${options.connections} connections), RSS every second`);
  await system.control.reset();

  const unitsPerSecond = await warmUp(scenario, spec, options.warmupSeconds);
  // A minute's codes up front; the pool refills itself in the background after that (the soak judges memory, not latency).
  await pool.topUp(Math.ceil(Math.max(unitsPerSecond * CODE_HEADROOM, CODE_FLOOR_PER_S) * Math.min(durationSeconds, 60)) + CODE_MARGIN);
  pool.resetCounters();

  const sampler = new RssSampler(system.gateway.pid, SOAK_RSS_INTERVAL_MS);
  cleanup.add("stop the soak sampler", async () => sampler.stop());
  const meter = new Meter();
  const minutesSeen: Array<MeterWindow & { minute: string; seconds: number; rssMb: number | undefined }> = [];
  let windowStartedMs = sampler.now();
  const closeWindow = () => {
    const window = meter.takeWindow();
    const seconds = (sampler.now() - windowStartedMs) / 1000;
    windowStartedMs = sampler.now();
    const rssMb = kbToMb(sampler.samples.at(-1)?.rssKb);
    const row = { minute: (sampler.now() / MS_PER_MINUTE).toFixed(1), seconds, rssMb, ...window };
    minutesSeen.push(row);
    console.log(
      `  at ${row.minute} min: ${rate(window.ok / seconds)} req/s, ${window.failed} errors, p50 ${ms(window.p50Ms)} ms, p99 ${ms(window.p99Ms)} ms, RSS ${rssMb?.toFixed(0) ?? "?"} MB`,
    );
  };
  const perMinute = setInterval(closeWindow, MS_PER_MINUTE);
  const measured = await runLoad({ ...spec, durationSeconds, requests: scenario.requests(meter) }, meter).finally(() => clearInterval(perMinute));
  // The last part-minute, when there is one worth a line.
  if (sampler.now() - windowStartedMs >= 1000) closeWindow();
  meter.destroy();
  checkAborted();
  await sampler.sample();
  sampler.stop();

  const reference = sampler.samples.length > 0 && sampler.now() >= SOAK_REFERENCE_MS ? sampler.at(SOAK_REFERENCE_MS) : undefined;
  const end = sampler.samples.at(-1);
  const growth = reference && end ? (end.rssKb - reference.rssKb) / reference.rssKb : undefined;
  const verdict = growth === undefined ? "N/A" : Math.abs(growth) <= SOAK_RSS_TOLERANCE ? "PASS" : "FAIL";
  const emulatorRssMb = kbToMb(await readRssKb(system.samplers.emulator!.pid));
  const lines = [
    table(
      ["at min", "ok/s", "errors", "p50 ms", "p99 ms", "RSS MB"],
      minutesSeen.map((row) => [row.minute, rate(row.ok / row.seconds), String(row.failed), ms(row.p50Ms), ms(row.p99Ms), row.rssMb?.toFixed(0) ?? "?"]),
    ),
    "",
    `whole soak: ${rate(measured.okPerSecond)} req/s, ${measured.errors} errors, p50 ${ms(measured.p50Ms)} ms, p99 ${ms(measured.p99Ms)} ms` +
      (pool.refills > 0 || pool.misses > 0 ? ` (${pool.refills} background code refills, pool ran dry ${pool.misses} times)` : ""),
    `gateway RSS at 1 min: ${reference ? `${kbToMb(reference.rssKb)!.toFixed(1)} MB` : "– (the soak was shorter than a minute)"}; at the end: ${end ? `${kbToMb(end.rssKb)!.toFixed(1)} MB` : "?"}` +
      (growth === undefined ? "" : ` (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} %)`),
    `[${verdict}] RSS at the end within ${SOAK_RSS_TOLERANCE * 100} % of RSS at 1 min${minutes < 5 ? ` (the issue states it for 5 minutes; this soak ran ${minutes})` : ""}`,
    `emulator RSS at the end: ${emulatorRssMb?.toFixed(0) ?? "?"} MB (it keeps every token it issued during the soak)`,
  ];
  if (Object.keys(measured.reasons).length > 0) lines.push(`errors: ${Object.entries(measured.reasons).map(([reason, count]) => `${reason} ×${count}`).join(", ")}`);
  console.log(`\n${lines.join("\n")}\n`);

  const stamp = fileStamp(startedAt);
  await writeOutputs(options.outDir, `soak-${stamp}`, {
    kind: "soak",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...runRecord(options),
    soakMinutes: minutes,
    whole: measured,
    minutes: minutesSeen,
    rss: {
      atOneMinuteMb: kbToMb(reference?.rssKb),
      atEndMb: kbToMb(end?.rssKb),
      growth,
      verdict,
      samples: sampler.samples.map((sample) => ({ atS: Math.round(sample.atMs / 100) / 10, mb: Math.round(kbToMb(sample.rssKb)! * 10) / 10 })),
    },
    emulatorRssMbAtEnd: emulatorRssMb,
    gatewayLogLines: system.gateway.lineCount(),
  }, rssSvg(sampler.samples, `phonegate soak ${startedAt.toISOString()}: gateway RSS under returning-user verify, ${options.connections} connections`, [
    ...(reference ? [{ atMs: reference.atMs, label: "1 min" }] : []),
  ]));
}

/** What every record says about the run itself. */
function runRecord(options: BenchOptions): Record<string, unknown> {
  return {
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryMb: Math.round(totalmem() / 1024 / 1024),
      loadAverageAtStart: loadavg(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    git: gitState(),
    options: {
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      scenarios: options.scenarios,
      userCounts: options.userCounts,
      returningPool: options.returningPool,
      gatewayEnvOverrides: options.gatewayEnv,
      gatewayNodeArgs: options.gatewayNodeArgs,
    },
  };
}

function gitState(): { commit: string; dirty: boolean } | undefined {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

async function writeOutputs(outDir: string, name: string, record: unknown, svg: string): Promise<void> {
  const dir = resolve(ROOT, outDir);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(join(dir, `${name}.svg`), svg);
  console.log(`wrote ${join(dir, `${name}.json`)} and ${join(dir, `${name}.svg`)}`);
}

function fileStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "").replace(/:/g, "-");
}

/** 1000 → "1k", 1000000 → "1M". */
function compact(count: number): string {
  if (count % 1_000_000 === 0) return `${count / 1_000_000}M`;
  if (count % 1_000 === 0) return `${count / 1_000}k`;
  return String(count);
}

function warnIfBusy(): void {
  const [oneMinute] = loadavg();
  const cores = cpus().length;
  if (oneMinute !== undefined && oneMinute > cores * BUSY_LOAD_PER_CORE) {
    console.log(`note: load average ${oneMinute.toFixed(2)} on ${cores} cores before the run: absolute figures will be noisy; the ratios less so`);
  }
}

async function main(): Promise<void> {
  let options: BenchOptions | "help";
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  warnIfBusy();
  try {
    if (options.soakMinutes !== undefined) await runSoak(options, options.soakMinutes);
    else await runScenarios(options);
  } catch (error) {
    if (!(error instanceof Aborted)) {
      console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
      process.exitCode = 1;
    }
  } finally {
    await cleanup.run();
  }
  if (aborted) process.exit(130);
  process.exit();
}

await main();
