/**
 * The bench's child processes (emulator, anchor) stop on SIGTERM/SIGINT and when the harness goes away: it holds
 * their stdin open, so its end (a crash, kill -9) ends them too. `close` runs once, then the process exits 0.
 */
export function exitWhenAskedOrOrphaned(close: () => Promise<unknown>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    void close()
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
}
