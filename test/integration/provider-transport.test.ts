import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CODE_EXCHANGE_RETRY, createProviderHttp, IDEMPOTENT_READ_RETRY, MAX_RESPONSE_BYTES, sendWithRetry } from "../../src/providers/http.js";
import { createKeepAliveFetch } from "../../src/providers/keep-alive-fetch.js";

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

/** A provider on port 0 whose answer each test sets; counts the TCP connections it accepted. */
async function startProvider(): Promise<{ url: string; server: Server; connections: () => number; answer: (handler: Handler) => void }> {
  let handler: Handler = (_request, _body, response) => response.end();
  let connections = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => handler(request, Buffer.concat(chunks).toString("utf8"), response));
  });
  server.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    connections: () => connections,
    answer: (next) => (handler = next),
  };
}

/** The transport under ky for provider calls (node:http keep-alive), against a real server. */
describe("provider transport", () => {
  let provider: Awaited<ReturnType<typeof startProvider>>;
  const transport = createKeepAliveFetch({ maxBodyBytes: 1_000, userAgent: "phonegate-test" });

  beforeAll(async () => {
    provider = await startProvider();
  });
  afterAll(async () => {
    provider.server.closeAllConnections();
    await new Promise((resolve) => provider.server.close(resolve));
  });

  it("sends method, headers and body, and answers with the status, every header and the body; one connection for many calls", async () => {
    provider.answer((request, body, response) => {
      response.setHeader("set-cookie", ["a=1", "b=2"]);
      response.setHeader("content-type", "application/json");
      response.writeHead(201).end(JSON.stringify({ method: request.method, type: request.headers["content-type"], length: request.headers["content-length"], agent: request.headers["user-agent"], body }));
    });
    const before = provider.connections();

    for (let call = 0; call < 5; call += 1) {
      const response = await transport(new Request(`${provider.url}/v1/token`, { method: "POST", body: new URLSearchParams({ code: "c", n: String(call) }) }));
      expect(response.status).toBe(201);
      expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
      expect(await response.json()).toEqual({
        method: "POST",
        type: "application/x-www-form-urlencoded;charset=UTF-8",
        length: String(`code=c&n=${call}`.length),
        agent: "phonegate-test",
        body: `code=c&n=${call}`,
      });
    }

    expect(provider.connections() - before).toBe(1);
  });

  it("answers a 204 without a body; follows a GET's redirects within the origin only, and never a POST's", async () => {
    provider.answer((request, _body, response) => {
      if (request.url === "/empty") response.writeHead(204).end();
      else if (request.url === "/moved") response.writeHead(301, { location: "/keys" }).end();
      else if (request.url === "/keys") response.end('{"keys":[]}');
      else response.writeHead(302, { location: "http://elsewhere.test/steal" }).end("moved");
    });

    expect((await transport(`${provider.url}/empty`)).status).toBe(204);
    const followed = await transport(`${provider.url}/moved`);
    expect([followed.status, await followed.text()]).toEqual([200, '{"keys":[]}']);
    const elsewhere = await transport(`${provider.url}/v1/userinfo`);
    expect([elsewhere.status, elsewhere.headers.get("location")]).toEqual([302, "http://elsewhere.test/steal"]);
    provider.answer((_request, _body, response) => response.writeHead(307, { location: "/v1/token-again" }).end());
    expect((await transport(`${provider.url}/v1/token`, { method: "POST", body: "code=c" })).status).toBe(307);
  });

  it("fails at once, not at the deadline, when the server switches protocols (101)", async () => {
    const upgrading = createTcpServer((socket) => socket.once("data", () => socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n")));
    await new Promise<void>((resolve) => upgrading.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(upgrading.address() as AddressInfo).port}/v1/token`;
      await expect(transport(url, { method: "POST", body: "code=c" })).rejects.toMatchObject({ message: "fetch failed" });
    } finally {
      await new Promise((resolve) => upgrading.close(resolve));
    }
  });

  it("fails like fetch when nothing listens: TypeError('fetch failed') caused by ECONNREFUSED", async () => {
    const closed = await startProvider();
    await new Promise((resolve) => closed.server.close(resolve));

    const failure = await transport(`${closed.url}/v1/token`).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TypeError);
    expect(failure).toMatchObject({ message: "fetch failed", cause: { code: "ECONNREFUSED" } });
  });

  it("refuses a provider whose TLS certificate it does not trust, before the request (and its code) leaves", async () => {
    const tls = new URL("../helpers/tls/", import.meta.url);
    let requests = 0;
    const impostor = createTlsServer({ key: readFileSync(new URL("self-signed-key.pem", tls)), cert: readFileSync(new URL("self-signed-cert.pem", tls)) }, (_request, response) => {
      requests += 1;
      response.end("{}");
    });
    await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
    try {
      const url = `https://127.0.0.1:${(impostor.address() as AddressInfo).port}/v1/token`;

      const failure = await transport(url, { method: "POST", body: "code=secret" }).catch((error: unknown) => error);

      expect(failure).toMatchObject({ message: "fetch failed", cause: { code: "DEPTH_ZERO_SELF_SIGNED_CERT" } });
      expect(requests).toBe(0);
    } finally {
      impostor.closeAllConnections();
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it("rejects with the signal's reason when it aborts before the headers or during the body", async () => {
    const stalled = new Set<ServerResponse>();
    provider.answer((request, _body, response) => {
      stalled.add(response);
      if (request.url === "/mid-body") response.writeHead(200).write('{"access_token": "');
    });

    await expect(transport(`${provider.url}/no-headers`, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: "TimeoutError" });
    await expect(transport(`${provider.url}/mid-body`, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: "TimeoutError" });
    const aborted = new AbortController();
    aborted.abort(new DOMException("The gateway is stopping.", "AbortError"));
    await expect(transport(`${provider.url}/no-headers`, { signal: aborted.signal })).rejects.toMatchObject({ name: "AbortError" });
    for (const response of stalled) response.destroy();
  });

  it("fails when the connection drops mid-body", async () => {
    provider.answer((_request, _body, response) => {
      response.writeHead(200, { "content-length": "100" }).write("{");
      setImmediate(() => (response.socket as Socket).destroy());
    });

    await expect(transport(`${provider.url}/v1/userinfo`)).rejects.toMatchObject({ message: "fetch failed" });
  });

  it("reads at most one byte past the limit of a larger body, and drops the connection", async () => {
    provider.answer((_request, _body, response) => {
      response.writeHead(200);
      // Far more than the limit, in many writes: the reader must stop, not buffer it all.
      for (let chunk = 0; chunk < 1_000; chunk += 1) response.write("x".repeat(1_000));
      response.end();
    });

    const response = await transport(`${provider.url}/v1/userinfo`);

    expect((await response.arrayBuffer()).byteLength).toBe(1_001);
  });
});

/** What the login's provider calls get from the transport through ky (createProviderHttp without an injected fetch). */
describe("provider calls over the transport", () => {
  let provider: Awaited<ReturnType<typeof startProvider>>;

  beforeAll(async () => {
    provider = await startProvider();
  });
  afterAll(async () => {
    provider.server.closeAllConnections();
    await new Promise((resolve) => provider.server.close(resolve));
  });

  it("answers, retries a 503 of an idempotent read, times a stalled body out and refuses an oversized one", async () => {
    const http = createProviderHttp({ provider: "test", baseUrl: provider.url, timeoutMs: 300 });
    const deadline = () => AbortSignal.timeout(5_000);
    let reads = 0;
    provider.answer((request, _body, response) => {
      if (request.url === "/flaky") return (reads += 1) === 1 ? response.writeHead(503).end() : response.end('{"ok":true}');
      if (request.url === "/stalled") return response.writeHead(200).write("{");
      if (request.url === "/huge") return response.end("x".repeat(MAX_RESPONSE_BYTES + 10));
      response.end('{"ok":true}');
    });

    expect(await sendWithRetry(http, "token", "token", { method: "post", body: "code=c", signal: deadline() }, CODE_EXCHANGE_RETRY)).toMatchObject({
      kind: "response",
      response: { status: 200, body: '{"ok":true}' },
    });
    expect(await sendWithRetry(http, "userinfo", "flaky", { method: "get", signal: deadline() }, IDEMPOTENT_READ_RETRY)).toMatchObject({ kind: "response", response: { status: 200 } });
    expect(reads).toBe(2);
    expect(await sendWithRetry(http, "userinfo", "stalled", { method: "get", signal: deadline() }, CODE_EXCHANGE_RETRY)).toEqual({ kind: "timeout" });
    expect(await sendWithRetry(http, "userinfo", "huge", { method: "get", signal: deadline() }, CODE_EXCHANGE_RETRY)).toEqual({
      kind: "failed",
      detail: `response body larger than ${MAX_RESPONSE_BYTES} bytes`,
    });
  });

  it("reports a refused connection by its code", async () => {
    const closed = await startProvider();
    await new Promise((resolve) => closed.server.close(resolve));
    const http = createProviderHttp({ provider: "test", baseUrl: closed.url, timeoutMs: 300 });

    expect(await sendWithRetry(http, "token", "token", { method: "post", body: "code=c", signal: AbortSignal.timeout(5_000) }, CODE_EXCHANGE_RETRY)).toEqual({
      kind: "failed",
      detail: "ECONNREFUSED",
    });
  });
});
