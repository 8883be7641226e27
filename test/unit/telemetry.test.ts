import { afterEach, describe, expect, it, vi } from "vitest";
import { GatewayTelemetry } from "../../src/telemetry/telemetry.js";

describe("the active-sessions gauge", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("never fails a scrape: without a count every other metric still answers, and the last count stands", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-11-22T00:00:00Z") });
    const telemetry = new GatewayTelemetry();
    let answer: () => Promise<number> = async () => 7;
    telemetry.countActiveSessionsWith(() => answer());
    telemetry.login("truecaller", "LOGIN_SUCCEEDED");
    expect(await telemetry.registry.metrics()).toMatch(/^phonegate_active_sessions 7$/m);

    // Half a minute later the database is away: the next count fails.
    answer = () => Promise.reject(new Error("database unavailable"));
    vi.setSystemTime(new Date("2026-11-22T00:00:31Z"));
    const metrics = await telemetry.registry.metrics();
    expect(metrics).toMatch(/^phonegate_logins_total\{provider="truecaller",outcome="LOGIN_SUCCEEDED"\} 1$/m);
    expect(metrics).toMatch(/^phonegate_active_sessions 7$/m);
    expect(metrics).toMatch(/^phonegate_active_sessions_counted_at_seconds 1795305600$/m);
  });

  it("counts once for concurrent scrapes, and answers them without waiting for a count that hangs", async () => {
    const telemetry = new GatewayTelemetry();
    let counts = 0;
    telemetry.countActiveSessionsWith(() => {
      counts += 1;
      return new Promise<number>(() => {});
    });
    const scrapes = await Promise.all([telemetry.registry.metrics(), telemetry.registry.metrics(), telemetry.registry.metrics()]);
    expect(counts).toBe(1);
    for (const metrics of scrapes) expect(metrics).toContain("phonegate_logins_total");
  });
});
