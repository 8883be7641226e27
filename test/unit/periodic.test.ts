import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runPeriodically } from "../../src/periodic.js";

describe("runPeriodically", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs after the first delay, then an interval after each run ends, never overlapping", async () => {
    const runs: number[] = [];
    let finish: (() => void) | undefined;
    const periodic = runPeriodically(1_000, 5_000, () => {
      runs.push(Date.now());
      return new Promise<void>((resolve) => (finish = resolve));
    });
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([start + 1_000]);
    // The run takes 20 s; no second run starts meanwhile.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(runs).toHaveLength(1);
    finish!();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toEqual([start + 1_000, start + 26_000]);
    finish!();
    await periodic.stop();
  });

  it("stops: waits for the run in progress and starts no other", async () => {
    let finish: (() => void) | undefined;
    let runs = 0;
    const periodic = runPeriodically(10, 10, () => {
      runs++;
      return new Promise<void>((resolve) => (finish = resolve));
    });
    await vi.advanceTimersByTimeAsync(10);
    let stopped = false;
    const stopping = periodic.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    finish!();
    await stopping;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(1);
  });

  it("keeps running after a failed run", async () => {
    let runs = 0;
    const periodic = runPeriodically(10, 10, async () => {
      runs++;
      throw new Error("database down");
    });
    await vi.advanceTimersByTimeAsync(35);
    expect(runs).toBe(3);
    await periodic.stop();
  });
});
