import { spawn, type ChildProcessByStdio } from "node:child_process";
import { once } from "node:events";
import type { Readable } from "node:stream";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface GatewayProcess {
  /** Base URL, e.g. http://127.0.0.1:41234 (from the "gateway listening" log line). */
  readonly url: string;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines so far, parsed. */
  logLines(): Array<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and resolves the exit code once it exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves the exit code when the process exits by itself. */
  readonly exited: Promise<number | null>;
}

/** What `npm start` runs (the build: `npm test` builds before running the suite), with exactly `env` plus PATH. */
export function spawnMain(env: Record<string, string>): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ["dist/main.js"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * Starts `dist/main.js` as a process of its own and resolves once it logged
 * "gateway listening" (rejects with its output if it exits first). Set
 * PORT=0 and HOST in `env` to get a free port.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawnMain(env);
  let output = "";
  let pending = "";
  const lines: Array<Record<string, unknown>> = [];
  const exited = once(child, "exit").then(([code]) => code as number | null);
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const complete = pending.split("\n");
      pending = complete.pop() ?? "";
      for (const line of complete) {
        if (line.trim() === "") continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === "gateway listening" && typeof entry.url === "string") resolve(new URL(entry.url).origin);
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code} before listening:\n${output}`)));
  });
  const url = await listening;
  return {
    url,
    pid: child.pid!,
    output: () => output,
    logLines: () => [...lines],
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Starts two gateway processes with `env`; when one fails to start, stops the other before rethrowing. */
export async function startTwoGatewayProcesses(env: Record<string, string>): Promise<[GatewayProcess, GatewayProcess]> {
  const started = await Promise.allSettled([startGatewayProcess(env), startGatewayProcess(env)]);
  const running = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await Promise.all(running.map((gateway) => gateway.stop()));
    throw failed.reason;
  }
  return running as [GatewayProcess, GatewayProcess];
}
