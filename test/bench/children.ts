/**
 * The benchmark's processes: the bench emulator and the Apollo anchor (TypeScript entry points run
 * as `npm run emulator` runs its entry), the gateway as `npm start` runs it (`node dist/main.js`),
 * and a sampler of a process's resident set size.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The build `npm run build` makes and `npm start` runs. */
export const GATEWAY_ENTRY = "dist/main.js";
/** Loads TypeScript the way package.json's scripts do. */
const TS_LOADER = ["--import", "@swc-node/register/esm-register"];
/** How long a child may take to say it is ready (the gateway's start includes its migrations check). */
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;
/** After SIGTERM: the gateway finishes in-flight requests (none once the load stopped), closes its pools, exits. */
const STOP_TIMEOUT_MS = 20_000;
/** Kept of a child's output for the error message when it fails. */
const OUTPUT_TAIL_CHARS = 8_000;
/** Lines kept for {@link Child.linesAfter}. */
const KEPT_LINES = 200;

/** A process the harness started and must stop. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  /** The last few KB it wrote to stdout and stderr. */
  outputTail(): string;
  /** Lines it wrote to stdout and stderr since it started (for the gateway: warnings and errors at LOG_LEVEL=warn). */
  lineCount(): number;
  /** The lines after the first `count` (at most {@link KEPT_LINES}, the most recent). */
  linesAfter(count: number): string[];
  /** SIGTERM, then SIGKILL after {@link STOP_TIMEOUT_MS}; resolves once it exited. Harmless when it already has. */
  stop(): Promise<void>;
  readonly exited: Promise<number | null>;
}

function track(name: string, child: ChildProcess): Child & { readonly lines: (listener: (line: string) => void) => void } {
  let tail = "";
  let lines = 0;
  const kept: string[] = [];
  let pending = "";
  const listeners: Array<(line: string) => void> = [];
  const take = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
    pending += text;
    const complete = pending.split("\n");
    pending = complete.pop() ?? "";
    for (const line of complete) {
      if (line.trim() === "") continue;
      lines += 1;
      kept.push(line);
      if (kept.length > KEPT_LINES) kept.shift();
      for (const listener of listeners) listener(line);
    }
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return {
    name,
    pid: child.pid!,
    outputTail: () => tail,
    lineCount: () => lines,
    linesAfter: (count) => kept.slice(Math.max(0, kept.length - Math.max(0, lines - count))),
    exited,
    lines: (listener) => listeners.push(listener),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Runs a TypeScript entry of test/bench as a process of its own and resolves with what it printed
 * as `{"ready": …}` on stdout. Its stdin stays open: the child exits when the harness goes away.
 * `onSpawn` gets the child at once (to stop it should the harness be stopped while it starts).
 */
export async function startTsChild<T>(name: string, entry: string, onSpawn: (child: Child) => void): Promise<{ child: Child; ready: T }> {
  const child = spawn(process.execPath, [...TS_LOADER, entry], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const tracked = track(name, child);
  onSpawn(tracked);
  const ready = new Promise<T>((resolve, reject) => {
    tracked.lines((line) => {
      if (!line.startsWith("{")) return;
      const message = JSON.parse(line) as { ready?: T };
      if (message.ready !== undefined) resolve(message.ready);
    });
    void tracked.exited.then((code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${tracked.outputTail()}`)));
    setTimeout(() => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms:\n${tracked.outputTail()}`)), READY_TIMEOUT_MS).unref();
  });
  try {
    return { child: tracked, ready: await ready };
  } catch (error) {
    await tracked.stop();
    throw error;
  }
}

/**
 * Starts the built gateway with exactly `env` (plus PATH) and resolves once `GET /health/ready`
 * answers 200 — at LOG_LEVEL=warn it logs nothing when it starts listening. `onSpawn` as for
 * {@link startTsChild}.
 */
export async function startGateway(
  env: Record<string, string>,
  baseUrl: string,
  nodeArgs: readonly string[],
  onSpawn: (child: Child) => void,
): Promise<Child> {
  if (!existsSync(`${ROOT}/${GATEWAY_ENTRY}`)) throw new Error(`${GATEWAY_ENTRY} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [...nodeArgs, GATEWAY_ENTRY], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tracked = track("gateway", child);
  onSpawn(tracked);
  let exitCode: number | null | undefined;
  void tracked.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (exitCode !== undefined) throw new Error(`the gateway exited with ${exitCode} before it was ready:\n${tracked.outputTail()}`);
      if (Date.now() > deadline) throw new Error(`the gateway was not ready after ${READY_TIMEOUT_MS} ms:\n${tracked.outputTail()}`);
      const status = await fetch(`${baseUrl}/health/ready`).then(
        (response) => response.status,
        () => undefined,
      );
      if (status === 200) return tracked;
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  } catch (error) {
    await tracked.stop();
    throw error;
  }
}

/** A TCP port nobody listens on right now (the gateway needs one named in PORT). */
export async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface RssSample {
  /** Milliseconds since the sampler started. */
  readonly atMs: number;
  readonly rssKb: number;
}

/** Reads `/proc/<pid>/status` VmRSS every `intervalMs`. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  readonly startedAt = performance.now();
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    intervalMs: number,
  ) {
    this.#timer = setInterval(() => void this.sample(), intervalMs);
    this.#timer.unref();
    void this.sample();
  }

  /** Milliseconds since the sampler started: the clock of {@link RssSample.atMs}. */
  now(): number {
    return performance.now() - this.startedAt;
  }

  async sample(): Promise<number | undefined> {
    const rssKb = await readRssKb(this.pid);
    if (rssKb !== undefined) this.samples.push({ atMs: this.now(), rssKb });
    return rssKb;
  }

  /** The largest sample taken in [fromMs, toMs]. */
  peakKb(fromMs: number, toMs: number): number | undefined {
    let peak: number | undefined;
    for (const { atMs, rssKb } of this.samples) {
      if (atMs >= fromMs && atMs <= toMs && (peak === undefined || rssKb > peak)) peak = rssKb;
    }
    return peak;
  }

  /** The sample closest to `atMs`. */
  at(atMs: number): RssSample | undefined {
    let best: RssSample | undefined;
    for (const sample of this.samples) {
      if (best === undefined || Math.abs(sample.atMs - atMs) < Math.abs(best.atMs - atMs)) best = sample;
    }
    return best;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Linux's clock tick for /proc times (USER_HZ), 100 on every mainstream architecture. */
const USER_HZ = 100;

/** CPU time a Linux process used so far, all its threads, user and system, in seconds; undefined once it is gone. */
export async function readCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** VmRSS of a Linux process in kB; undefined once it is gone. */
export async function readRssKb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
