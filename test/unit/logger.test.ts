import { describe, expect, it } from "vitest";
import { runWithRequestId } from "../../src/request-context.js";
import { captureLogs } from "../helpers/log-capture.js";

describe("the logger", () => {
  it("puts the request's id on lines written while handling it, and only there", () => {
    const logs = captureLogs();
    runWithRequestId("req-7", () => logs.logger.info({ userId: "u-1" }, "inside"));
    logs.logger.info("outside");
    expect(logs.entries()).toMatchObject([
      { msg: "inside", requestId: "req-7", userId: "u-1" },
      { msg: "outside" },
    ]);
    expect(logs.entries()[1]).not.toHaveProperty("requestId");
  });

  it("writes each line with its own fields only: none carried over from an earlier line", () => {
    const logs = captureLogs();
    logs.logger.warn({ error: { message: "boom" }, userId: "u-1" }, "first");
    logs.logger.info("second");
    runWithRequestId("req-8", () => logs.logger.info({ outcome: "x" }, "third"));
    runWithRequestId("req-9", () => logs.logger.info("fourth"));
    const [, second, , fourth] = logs.entries();
    expect(Object.keys(second!).filter((key) => !["level", "time", "pid", "hostname", "service", "msg"].includes(key))).toEqual([]);
    expect(fourth).not.toHaveProperty("outcome");
    expect(fourth).toMatchObject({ requestId: "req-9" });
  });

  it("censors secret fields by path, wherever they appear", () => {
    const logs = captureLogs();
    logs.logger.info({ verifier: "v-secret", grant: { code: "c-secret" }, provider: { accessToken: "t-secret" }, error: { code: "ECONNREFUSED" } }, "paths");
    const [line] = logs.lines;
    expect(line).not.toMatch(/secret/);
    expect(logs.entries()[0]).toMatchObject({ error: { code: "ECONNREFUSED" } });
  });
});
