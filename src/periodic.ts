/**
 * Runs `task` after `firstDelayMs`, then `intervalMs` after each run ends, so
 * runs never overlap. The timers do not keep the process alive; `stop` cancels
 * the next run and waits for one in progress.
 */
export function runPeriodically(firstDelayMs: number, intervalMs: number, task: () => Promise<void>): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer = setTimeout(function run() {
    // The task reports its own failures; a rejection here must not crash the process.
    running = task()
      .catch(() => {})
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(run, intervalMs).unref();
      });
  }, firstDelayMs).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
