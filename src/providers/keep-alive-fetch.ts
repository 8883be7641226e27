import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Idle sockets close after this: before the common 5 s server keep-alive, so a request rarely meets a closing socket. */
const IDLE_SOCKET_MS = 4_000;
/** Statuses whose responses carry no body (the Fetch standard's null-body statuses). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Same-origin redirects a GET follows at most. */
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** One exchange's outcome before it becomes a Response. */
interface Answer {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: Buffer;
}

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
 * whole; and it follows redirects of a GET within the same origin only (a
 * token request, or a bearer token, never follows one elsewhere).
 *
 * A connection reset is never sent again here, not even on a kept-alive socket
 * the server may have just closed: the provider may have processed the request
 * (a token request consumes its code). Idle sockets close after 4 s, before the
 * usual server timeouts, and a server's `Keep-Alive: timeout` is honoured.
 */
export function createKeepAliveFetch(options: { maxBodyBytes: number; userAgent: string }): typeof fetch {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    "https:": new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };
  const exchange = (url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal): Promise<Answer> => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      const outgoing = send(url, { method, headers, agent: agents[url.protocol as "http:" | "https:"], signal }, (incoming) => {
        answered = true;
        readBody(incoming, options.maxBodyBytes).then((bytes) => {
          settled = true;
          resolve({ status: incoming.statusCode ?? 0, statusText: incoming.statusMessage ?? "", headers: headersOf(incoming), body: bytes });
        }, fail);
      });
      outgoing.on("error", fail);
      // A 101 (no listener for it) and other ends without an answer close the request without an error.
      outgoing.on("upgrade", (_response, socket) => {
        socket.destroy();
        fail(new Error("the server switched protocols"));
      });
      outgoing.on("close", () => {
        if (!answered) fail(new Error("connection closed without an answer"));
      });
      outgoing.end(body);
    });
  };

  return async (input, init) => {
    // ky hands over a Request and, beside it, only options of its own; the signal comes from the caller's init.
    const request = input instanceof Request ? input : new Request(input, init);
    const signal = init?.signal ?? request.signal;
    signal.throwIfAborted();
    let url = new URL(request.url);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError("fetch failed", { cause: new Error(`unsupported protocol ${url.protocol}`) });
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = { "user-agent": options.userAgent, ...Object.fromEntries(request.headers) };
    if (body !== undefined) headers["content-length"] = String(body.byteLength);
    try {
      for (let redirects = 0; ; redirects += 1) {
        const answer = await exchange(url, request.method, headers, body, signal);
        const location = answer.headers.get("location");
        const next = location === null ? undefined : URL.parse(location, url.href);
        if (request.method !== "GET" || !REDIRECT_STATUSES.has(answer.status) || next?.origin !== url.origin || redirects >= MAX_REDIRECTS) {
          // A status fetch cannot represent (outside 200-599) throws here: no answer.
          return new Response(NULL_BODY_STATUSES.has(answer.status) ? null : answer.body, answer);
        }
        url = next;
      }
    } catch (error) {
      throw signal.aborted ? signal.reason : new TypeError("fetch failed", { cause: error });
    }
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
