/**
 * The Truecaller emulator as a process of its own for the benchmark: the stock in-process emulator
 * (`createTruecallerEmulator`) on one port, and beside it, on a second port, a bench-only control
 * API that mints codes in bulk — a whole scenario's codes in a few requests instead of one request
 * each, so minting does not compete with the measured load.
 *
 * Prints one JSON line `{"ready":{"url":…,"controlUrl":…}}` on stdout once both listen; exits when
 * its stdin closes (the harness is gone) or on SIGTERM/SIGINT.
 *
 * Control API (JSON):
 * - `POST /bench/codes` `{"users":[{"sub":"…","phoneNumber":"91…"}]}` (one code per user) or `{"count":n}`
 *   (generated profiles) → `{"codes":[…],"verifiers":[…]}`, in order;
 * - `POST /bench/reset` → 204: forgets codes, tokens and the request log (bounds the emulator's memory between scenarios).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createTruecallerEmulator } from "../../src/emulator/truecaller-emulator.js";
import { exitWhenAskedOrOrphaned } from "./child-lifecycle.js";
import { MAX_MINT_PER_REQUEST, type MintAnswer, type MintRequest } from "./emulator-control.js";

const HOST = "127.0.0.1";
/** A mint request names at most MAX_MINT_PER_REQUEST users of ~60 bytes each. */
const MAX_CONTROL_BODY_BYTES = 16 * 1024 * 1024;

const emulator = createTruecallerEmulator();
const { url } = await emulator.listen(0, HOST);

const control = createServer((req, res) => {
  handleControl(req, res).catch((error: unknown) => send(res, 500, { error: (error as Error).message }));
});
await new Promise<void>((resolve) => control.listen(0, HOST, resolve));
const controlUrl = `http://${HOST}:${(control.address() as AddressInfo).port}`;

async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === "POST" && req.url === "/bench/codes") {
    const request = (await readBody(req)) as MintRequest;
    send(res, 200, mint(request));
  } else if (req.method === "POST" && req.url === "/bench/reset") {
    await readBody(req);
    emulator.reset();
    res.writeHead(204).end();
  } else {
    send(res, 404, { error: `no ${req.method} ${req.url} here: POST /bench/codes, POST /bench/reset` });
  }
}

function mint(request: MintRequest): MintAnswer {
  const users = "users" in request ? request.users : undefined;
  const count = users?.length ?? ("count" in request ? request.count : 0);
  if (!Number.isInteger(count) || count < 0 || count > MAX_MINT_PER_REQUEST) {
    throw new Error(`mint between 0 and ${MAX_MINT_PER_REQUEST} codes per request`);
  }
  const answer: MintAnswer = { codes: [], verifiers: [] };
  for (let i = 0; i < count; i += 1) {
    const user = users?.[i];
    const minted = emulator.mintCode(user === undefined ? {} : { profile: { sub: user.sub, phone_number: user.phoneNumber } });
    answer.codes.push(minted.code);
    // No codeChallenge was given, so the emulator generated the verifier.
    answer.verifiers.push(minted.codeVerifier as string);
  }
  return answer;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CONTROL_BODY_BYTES) throw new Error("control request too large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? {} : JSON.parse(text);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

exitWhenAskedOrOrphaned(() => {
  control.closeAllConnections();
  return Promise.allSettled([emulator.close(), new Promise((resolve) => control.close(resolve))]);
});

process.stdout.write(`${JSON.stringify({ ready: { url, controlUrl } })}\n`);
