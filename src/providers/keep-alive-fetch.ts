import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Idle sockets close after this: before the common 5 s server keep-alive, so a request rarely meets a closing socket. */
const IDLE_SOCKET_MS = 4_000;
/** Statuses whose responses carry no body (the Fetch standard's null-body statuses). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The transport under ky for provider calls: `fetch` on node:http(s) with
 * keep-alive agents. Node 20's fetch (undici) costs about three times as much
 * CPU per call as node:http (measured on a 2-core VM: 494 against 222 µs per
 * local round trip, client and server together), and a login makes two calls.
 * ky keeps building the request, retrying and judging the answer.
 *
 * Like fetch it fails with `TypeError("fetch failed")` caused by the system
 * error (ECONNREFUSED, ...), and with the signal's reason when aborted, before
 * or during the body. Unlike fetch it reads at most `maxBodyBytes + 1` bytes
 * of a body, so the caller can refuse an oversized one without holding it
 * whole, and it returns a redirect instead of following it: provider APIs do
 * not redirect, and a code must not follow one.
 */
export function createKeepAliveFetch(options: { maxBodyBytes: number }): typeof fetch {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    "https:": new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };
  return async (input, init) => {
    // ky hands over a Request and, beside it, only options of its own; the signal comes from the caller's init.
    const request = input instanceof Request ? input : new Request(input, init);
    const signal = init?.signal ?? request.signal;
    signal.throwIfAborted();
    const url = new URL(request.url);
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    if (body !== undefined) headers["content-length"] = String(body.byteLength);
    const send = url.protocol === "https:" ? httpsRequest : url.protocol === "http:" ? httpRequest : undefined;
    if (!send) throw new TypeError("fetch failed", { cause: new Error(`unsupported protocol ${url.protocol}`) });

    return new Promise<Response>((resolve, reject) => {
      const failed = (error: unknown) => reject(signal.aborted ? signal.reason : new TypeError("fetch failed", { cause: error }));
      const outgoing = send(url, { method: request.method, headers, agent: agents[url.protocol as "http:" | "https:"], signal }, (incoming) => {
        readBody(incoming, options.maxBodyBytes).then((bytes) => {
          const status = incoming.statusCode ?? 0;
          try {
            resolve(new Response(NULL_BODY_STATUSES.has(status) ? null : bytes, { status, statusText: incoming.statusMessage ?? "", headers: headersOf(incoming) }));
          } catch (error) {
            // A status fetch cannot represent (outside 200-599) is no answer.
            failed(error);
          }
        }, failed);
      });
      outgoing.on("error", failed);
      outgoing.end(body);
    });
  };
}

/** The body, cut after `maxBytes + 1` bytes (the connection is dropped then: the rest is not read). */
function readBody(incoming: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > maxBytes) {
        incoming.destroy();
        resolve(Buffer.concat(chunks).subarray(0, maxBytes + 1));
      }
    });
    incoming.on("end", () => resolve(Buffer.concat(chunks)));
    incoming.on("error", reject);
    // A connection lost mid-body ends the stream without an error on some versions: the body is incomplete.
    incoming.on("close", () => {
      if (!incoming.complete && size <= maxBytes) reject(new Error("connection closed before the body ended"));
    });
  });
}

function headersOf(incoming: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) headers.append(raw[index]!, raw[index + 1]!);
  return headers;
}
