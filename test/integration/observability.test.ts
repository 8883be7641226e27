import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postGraphql, startTestGateway, VERIFY_MUTATION, type TestGateway } from "../helpers/test-gateway.js";

/** `name{labels} value` lines of a Prometheus text exposition, by series (name and labels as written). */
async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${baseUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  const series = new Map<string, number>();
  for (const line of (await response.text()).split("\n")) {
    const match = /^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) series.set(match[1]!, Number(match[2]));
  }
  return series;
}

describe("GET /metrics", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: { LOGIN_RATE_PER_IP: "3", TRUST_PROXY: "loopback" } });
  });
  afterAll(async () => t?.close());

  it("counts logins by outcome, times provider calls, database and Redis round trips, and counts cache lookups, limits and sessions", async () => {
    const minted = t.emulator.mintCode();
    expect(await t.verify(minted.code, minted.codeVerifier!)).toMatchObject({ __typename: "LoginSuccess" });
    expect(await t.verify(minted.code, minted.codeVerifier!)).toMatchObject({ __typename: "LoginSuccess" }); // a replay
    expect(await t.verify("no-such-code", "v".repeat(43))).toMatchObject({ code: "INVALID_CODE" });
    const client = { "x-forwarded-for": "203.0.113.9" };
    for (let attempt = 0; attempt < 4; attempt += 1) await postGraphql(t.gateway.url, VERIFY_MUTATION, { code: `c-${attempt}`, verifier: "v".repeat(43) }, client);

    const metrics = await scrape(t.gateway.url);
    expect(metrics.get('phonegate_logins_total{provider="truecaller",outcome="LOGIN_SUCCEEDED"}')).toBe(2);
    expect(metrics.get('phonegate_logins_total{provider="truecaller",outcome="INVALID_CODE"}')).toBe(4);
    expect(metrics.get('phonegate_logins_total{provider="truecaller",outcome="RATE_LIMITED"}')).toBe(1);
    expect(metrics.get('phonegate_rate_limit_rejections_total{limit="client"}')).toBe(1);
    expect(metrics.get('phonegate_provider_request_duration_seconds_count{provider="truecaller",endpoint="token",outcome="200"}')).toBe(1);
    expect(metrics.get('phonegate_provider_request_duration_seconds_count{provider="truecaller",endpoint="token",outcome="403"}')).toBe(4);
    expect(metrics.get('phonegate_provider_request_duration_seconds_count{provider="truecaller",endpoint="userinfo",outcome="200"}')).toBe(1);
    expect(metrics.get('phonegate_cache_lookups_total{cache="login_replay",result="hit"}')).toBe(1);
    expect(metrics.get('phonegate_cache_lookups_total{cache="login_replay",result="miss"}')).toBe(5);
    for (const operation of ["INSERT", "SELECT"]) {
      expect(metrics.get(`phonegate_database_query_duration_seconds_count{operation="${operation}",outcome="ok"}`)).toBeGreaterThan(0);
    }
    for (const command of ["set", "get", "evalsha"]) {
      expect(metrics.get(`phonegate_redis_command_duration_seconds_count{command="${command}",outcome="ok"}`), command).toBeGreaterThan(0);
    }
    expect(metrics.get("phonegate_active_sessions")).toBe(2);
    // Node's own, from prom-client's default metrics.
    expect(metrics.get("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect([...metrics.keys()].some((series) => series.startsWith("nodejs_eventloop_lag_p99_seconds"))).toBe(true);
  });
});

describe("GET /metrics on METRICS_PORT", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: { METRICS_PORT: "0" } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("serves /metrics on its own port and not on the API's", async () => {
    expect(t.gateway.metricsUrl).not.toBe(t.gateway.url);

    expect((await fetch(`${t.gateway.url}/metrics`)).status).toBe(404);
    const response = await fetch(`${t.gateway.metricsUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("phonegate_logins_total");
    expect((await fetch(`${t.gateway.metricsUrl}/graphql`, { method: "POST" })).status).toBe(404);
  });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

/** An OTLP/HTTP collector on port 0 keeping the spans it receives (JSON encoding, as the exporter sends). */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; server: Server }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      if (request.url === "/v1/traces") {
        const exported = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
        for (const resource of exported.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, server };
}

describe("OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT)", () => {
  let t: TestGateway;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  beforeAll(async () => {
    collector = await startCollector();
    t = await startTestGateway({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } });
  });
  afterAll(async () => {
    await t?.close();
    collector?.server.close();
  });

  it("exports the GraphQL operation's span with a child span per provider call, database round trip and Redis command", async () => {
    const minted = t.emulator.mintCode();
    expect(await t.verify(minted.code, minted.codeVerifier!)).toMatchObject({ __typename: "LoginSuccess" });
    // Closing the gateway flushes the batch of spans.
    await t.restartGateway();

    const operation = collector.spans.find((span) => span.name === "mutation Verify");
    expect(operation).toMatchObject({ kind: 2 }); // SERVER
    const children = collector.spans.filter((span) => span.traceId === operation!.traceId && span.parentSpanId === operation!.spanId);
    const names = children.map((span) => span.name);
    expect(names).toEqual(expect.arrayContaining(["truecaller token", "truecaller userinfo", "redis set"]));
    // The login is stored in one round trip (record_verified_login); its audit row goes in a batch of nobody's request.
    expect(names.filter((name) => name.startsWith("db "))).toEqual(["db SELECT"]);
    expect(collector.spans.find((span) => span.name === "db INSERT" && span.traceId !== operation!.traceId)).toBeDefined();
    expect(children.every((span) => span.kind === 3)).toBe(true); // CLIENT
    const token = children.find((span) => span.name === "truecaller token")!;
    expect(token.attributes).toEqual(expect.arrayContaining([{ key: "phonegate.outcome", value: { stringValue: "200" } }]));
    // No span anywhere carries the code or the verifier.
    const exported = JSON.stringify(collector.spans);
    expect(exported).not.toContain(minted.code);
    expect(exported).not.toContain(minted.codeVerifier);
  });

  it("continues the trace of a request that carries W3C trace context (the router's traceparent), and records it whatever its flags", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpanId = "00f067aa0ba902b7";
    await postGraphql(t.gateway.url, "query Probe { __typename }", {}, { traceparent: `00-${traceId}-${parentSpanId}-01` });
    // A client cannot take its requests out of our traces with the "not sampled" flag.
    await postGraphql(t.gateway.url, "query Unsampled { __typename }", {}, { traceparent: `00-${traceId.replace("4", "5")}-${parentSpanId}-00` });
    await t.restartGateway();

    expect(collector.spans.find((span) => span.name === "query Probe")).toMatchObject({ traceId, parentSpanId, kind: 2 });
    expect(collector.spans.find((span) => span.name === "query Unsampled")).toMatchObject({ traceId: traceId.replace("4", "5"), parentSpanId });
  });

  it("marks a provider call that failed (5xx after retries) as an error span with its status", async () => {
    // Three attempts (two retries), each answered 503.
    t.emulator.injectFault({ endpoint: "userinfo", status: 503, retryAfterSeconds: 0, times: 3 });
    const minted = t.emulator.mintCode();
    expect(await t.verify(minted.code, minted.codeVerifier!)).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    await t.restartGateway();

    const userinfo = collector.spans.filter((span) => span.name === "truecaller userinfo").at(-1) as OtlpSpan & { status?: { code?: number } };
    expect(userinfo.attributes).toEqual(expect.arrayContaining([{ key: "http.response.status_code", value: { intValue: 503 } }]));
    expect(userinfo.status?.code).toBe(2); // ERROR
    const token = collector.spans.filter((span) => span.name === "truecaller token").at(-1) as OtlpSpan & { status?: { code?: number } };
    expect(token.status?.code ?? 0).toBe(0); // UNSET: the exchange itself went well
  });
});
