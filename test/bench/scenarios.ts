/**
 * The seven scenarios as autocannon request lists, each judging its answers: a request (or pair)
 * counts as a success only when it got exactly the answer a healthy system gives — a verify that
 * answers a UserError, or a `me` with GraphQL errors, is an error even though HTTP said 200.
 */
import { randomBytes } from "node:crypto";
import type autocannon from "autocannon";
import { DEFAULT_CLIENT_ID } from "../../src/emulator/truecaller-emulator.js";
import { UnreachableCaseError } from "../../src/unreachable.js";
import { EmulatorControl, GrantPool, type BenchUser, type Grant, type GrantSource } from "./emulator-control.js";
import { SKIP_REQUEST, type Meter, type RequestContext } from "./load.js";
import { newUser, seededUser } from "./seed-users.js";
import { SCENARIO_TITLES, type ScenarioId } from "./scenario-ids.js";

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" };
/** What the gateway sends to Truecaller's token endpoint (src/providers/truecaller/truecaller.ts, via ky). */
const FORM_HEADERS = { "content-type": "application/x-www-form-urlencoded;charset=UTF-8", accept: "application/json" };
/** Sent when a pool ran dry: the request still goes out (autocannon cannot pause a connection), already counted as an error. */
const DRY_CODE = "bench-pool-ran-dry";

export const VERIFY_MUTATION = /* GraphQL */ `mutation Verify($code: String!, $verifier: String!) {
  verifyTruecaller(code: $code, verifier: $verifier) {
    __typename
    ... on LoginSuccess { isNewUser user { id phoneNumber } session { accessToken refreshToken } }
    ... on UserError { code }
  }
}`;
const PING_MUTATION = /* GraphQL */ `mutation Ping($code: String!, $verifier: String!) { ping(code: $code, verifier: $verifier) }`;
const ME_QUERY = /* GraphQL */ `query Me { me { id phoneNumber } }`;
const REFRESH_MUTATION = /* GraphQL */ `mutation Refresh($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) {
    __typename
    ... on SessionRefreshed { session { accessToken refreshToken } }
    ... on UserError { code }
  }
}`;
/** What the anchor's `ping` answers (anchor-process.ts). */
const PONG = "pong";

/** The tokens of one login. */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
}

/** Where a scenario sends its load, and which process's RSS it reports. */
export type Target = "anchor" | "emulator" | "gateway";

export interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  readonly target: Target;
  /** What one measured unit is. */
  readonly unit: "request" | "pair";
  /** The codes it consumes, one per unit; absent for scenarios that need none during the load. */
  readonly pool?: GrantPool;
  /** Before the warm-up: sessions, replayed codes. */
  prepare?(): Promise<void>;
  /** Before each run (warm-up and measured), outside the measurement. */
  beforeRun?(): Promise<void>;
  /** A fresh request list for one run, judged by `meter`. */
  requests(meter: Meter): autocannon.Request[];
}

/** The running system the scenarios talk to, and what they share. */
export interface Rig {
  readonly urls: Readonly<Record<Target, string>>;
  readonly control: EmulatorControl;
  readonly connections: number;
  /** Returning users: seeded users drawn for this size, handed out in turn. */
  readonly returning: GrantSource & { kind: "users" };
  /** New users: numbers no seeded or earlier user has. */
  readonly fresh: GrantSource & { kind: "users" };
}

/** A source that cycles through `users` (a pool of stored users), never two neighbours alike. */
export function cyclingSource(users: readonly BenchUser[]): GrantSource & { kind: "users" } {
  let next = 0;
  return {
    kind: "users",
    next(count) {
      const batch: BenchUser[] = [];
      for (let i = 0; i < count; i += 1) {
        batch.push(users[next]!);
        next = (next + 1) % users.length;
      }
      return batch;
    },
  };
}

/** A source of users nobody has logged in as: new numbers for the whole run. */
export function freshSource(): GrantSource & { kind: "users" } {
  let next = 0;
  return {
    kind: "users",
    next(count) {
      const batch: BenchUser[] = [];
      for (let i = 0; i < count; i += 1) batch.push(newUser(next++));
      return batch;
    },
  };
}

/** `count` distinct seeded users drawn evenly at random from the first `stored`. */
export function drawSeededUsers(stored: number, count: number): BenchUser[] {
  const wanted = Math.min(stored, count);
  const picked = new Set<number>();
  if (wanted === stored) for (let i = 0; i < stored; i += 1) picked.add(i);
  while (picked.size < wanted) picked.add(Math.floor(Math.random() * stored));
  // Shuffled, so that cycling through them does not walk the index in order.
  const indexes = [...picked];
  for (let i = indexes.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
  }
  return indexes.map(seededUser);
}

/** Builds scenario `id` against `rig`; `sessions` supplies logged-in sessions (made once, shared). */
export function buildScenario(id: ScenarioId, rig: Rig, sessions: (count: number) => Promise<SessionTokens[]>): Scenario {
  const title = SCENARIO_TITLES[id];
  switch (id) {
    case "apollo":
      return { id, title, target: "anchor", unit: "request", requests: (meter) => [pingRequest(meter)] };
    case "emulator-pair": {
      const pool = new GrantPool(rig.control, { kind: "generated" });
      return { id, title, target: "emulator", unit: "pair", pool, requests: (meter) => pairRequests(meter, pool) };
    }
    case "verify-new": {
      const pool = new GrantPool(rig.control, rig.fresh);
      return { id, title, target: "gateway", unit: "request", pool, requests: (meter) => [verifyRequest(meter, () => pool.take(), true)] };
    }
    case "verify-returning": {
      const pool = new GrantPool(rig.control, rig.returning);
      return { id, title, target: "gateway", unit: "request", pool, requests: (meter) => [verifyRequest(meter, () => pool.take(), false)] };
    }
    case "verify-replay": {
      // Per connection about two codes, each logged in once beforehand, then sent again and again in turn: the
      // replay path (Redis answers for the provider). Not one code for all: 32 logins of one number would queue
      // on its advisory lock and measure that instead.
      let replayed: Grant[] = [];
      let next = 0;
      return {
        id,
        title,
        target: "gateway",
        unit: "request",
        async prepare() {
          replayed = await rig.control.mint({ users: rig.returning.next(rig.connections * 2) });
          await loginAll(rig.urls.gateway, replayed);
        },
        requests: (meter) => [verifyRequest(meter, () => replayed[next++ % replayed.length], false)],
      };
    }
    case "me": {
      let tokens: string[] = [];
      let next = 0;
      return {
        id,
        title,
        target: "gateway",
        unit: "request",
        async prepare() {
          tokens = (await sessions(Math.max(64, rig.connections * 2))).map((session) => session.accessToken);
        },
        requests: (meter) => [meRequest(meter, () => tokens[next++ % tokens.length]!)],
      };
    }
    case "refresh": {
      // Each refresh token works once: a chain per session, lent to one request at a time and given back with the
      // new token; a failed refresh drops its chain. A run's end abandons the chains then in flight (their tokens
      // are spent, the answers lost), so before each run the idle chains are made up to twice the connections.
      const idle: Chain[] = [];
      const wanted = rig.connections * 2;
      return {
        id,
        title,
        target: "gateway",
        unit: "request",
        async beforeRun() {
          if (idle.length >= wanted) return;
          const grants = await rig.control.mint({ users: rig.returning.next(wanted - idle.length) });
          for (const session of await loginAll(rig.urls.gateway, grants)) idle.push({ refreshToken: session.refreshToken });
        },
        requests: (meter) => [refreshRequest(meter, idle)],
      };
    }
    default:
      throw new UnreachableCaseError(id);
  }
}

function pingRequest(meter: Meter): autocannon.Request {
  const body = JSON.stringify({ query: PING_MUTATION, variables: { code: randomBytes(32).toString("base64url"), verifier: randomBytes(32).toString("base64url") } });
  return {
    method: "POST",
    path: "/graphql",
    headers: JSON_HEADERS,
    setupRequest(request, context) {
      meter.start(context as RequestContext);
      return { ...request, body };
    },
    onResponse(status, body, context) {
      if (status !== 200) return meter.fail(`HTTP ${status}`);
      const answer = parse<{ data?: { ping?: string } }>(body);
      if (answer?.data?.ping !== PONG) return meter.fail("not pong");
      meter.succeed(context as RequestContext);
    },
  };
}

/** Truecaller's token call then user info with its access token, as the gateway makes them; one unit per pair. */
function pairRequests(meter: Meter, pool: GrantPool): autocannon.Request[] {
  return [
    {
      method: "POST",
      path: "/v1/token",
      headers: FORM_HEADERS,
      setupRequest(request, context) {
        const ctx = context as RequestContext;
        meter.start(ctx);
        const grant = pool.take();
        if (grant === undefined) meter.fail("code pool ran dry");
        ctx.dry = grant === undefined;
        const form = new URLSearchParams({
          grant_type: "authorization_code",
          client_id: DEFAULT_CLIENT_ID,
          code: grant?.code ?? DRY_CODE,
          code_verifier: grant?.verifier ?? DRY_CODE,
        });
        return { ...request, body: form.toString() };
      },
      onResponse(status, body, context) {
        const ctx = context as RequestContext;
        if (ctx.dry) return;
        if (status !== 200) return meter.fail(`token HTTP ${status}`);
        const token = parse<{ access_token?: unknown }>(body)?.access_token;
        if (typeof token !== "string") return meter.fail("token answer without access_token");
        ctx.accessToken = token;
      },
    },
    {
      method: "GET",
      path: "/v1/userinfo",
      setupRequest(request, context) {
        const { accessToken } = context as RequestContext;
        // The pair failed at its token call (already counted): start the next pair.
        if (typeof accessToken !== "string") return SKIP_REQUEST;
        return { ...request, headers: { ...request.headers, accept: "application/json", authorization: `Bearer ${accessToken}` } };
      },
      onResponse(status, body, context) {
        if (status !== 200) return meter.fail(`userinfo HTTP ${status}`);
        if (typeof parse<{ sub?: unknown }>(body)?.sub !== "string") return meter.fail("userinfo answer without sub");
        meter.succeed(context as RequestContext);
      },
    },
  ];
}

/** verifyTruecaller with the next code; a success is a LoginSuccess with the expected `isNewUser`. */
function verifyRequest(meter: Meter, nextGrant: () => Grant | undefined, expectNewUser: boolean): autocannon.Request {
  return {
    method: "POST",
    path: "/graphql",
    headers: JSON_HEADERS,
    setupRequest(request, context) {
      const ctx = context as RequestContext;
      meter.start(ctx);
      const grant = nextGrant();
      if (grant === undefined) meter.fail("code pool ran dry");
      ctx.dry = grant === undefined;
      const variables = { code: grant?.code ?? DRY_CODE, verifier: grant?.verifier ?? DRY_CODE.padEnd(43, "-") };
      return { ...request, body: JSON.stringify({ query: VERIFY_MUTATION, variables }) };
    },
    onResponse(status, body, context) {
      const ctx = context as RequestContext;
      if (ctx.dry) return;
      const failure = loginFailure(status, body, expectNewUser);
      if (failure !== undefined) return meter.fail(failure);
      meter.succeed(ctx);
    },
  };
}

interface LoginAnswer {
  data?: {
    verifyTruecaller?: { __typename: string; code?: string; isNewUser?: boolean; session?: SessionTokens };
  };
  errors?: Array<{ extensions?: { code?: string } }>;
}

/** Why a verify answer is not the expected LoginSuccess; undefined when it is. */
function loginFailure(status: number, body: string, expectNewUser: boolean | undefined): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  const answer = parse<LoginAnswer>(body);
  const result = answer?.data?.verifyTruecaller;
  if (result === undefined) return `GraphQL error ${answer?.errors?.[0]?.extensions?.code ?? "(unparsable answer)"}`;
  if (result.__typename !== "LoginSuccess") return `${result.__typename}${result.code ? ` ${result.code}` : ""}`;
  if (expectNewUser !== undefined && result.isNewUser !== expectNewUser) return `isNewUser ${result.isNewUser}, expected ${expectNewUser}`;
  return undefined;
}

function meRequest(meter: Meter, nextToken: () => string): autocannon.Request {
  const body = JSON.stringify({ query: ME_QUERY });
  return {
    method: "POST",
    path: "/graphql",
    headers: JSON_HEADERS,
    setupRequest(request, context) {
      meter.start(context as RequestContext);
      return { ...request, body, headers: { ...request.headers, authorization: `Bearer ${nextToken()}` } };
    },
    onResponse(status, body, context) {
      if (status !== 200) return meter.fail(`HTTP ${status}`);
      const answer = parse<{ data?: { me?: { id?: unknown } | null }; errors?: Array<{ extensions?: { code?: string } }> }>(body);
      if (answer?.errors?.length) return meter.fail(`GraphQL error ${answer.errors[0]?.extensions?.code ?? ""}`.trim());
      if (typeof answer?.data?.me?.id !== "string") return meter.fail("me is null");
      meter.succeed(context as RequestContext);
    },
  };
}

/** One session's refresh token, replaced by each refresh. */
interface Chain {
  refreshToken: string;
}

function refreshRequest(meter: Meter, idle: Chain[]): autocannon.Request {
  return {
    method: "POST",
    path: "/graphql",
    headers: JSON_HEADERS,
    setupRequest(request, context) {
      const ctx = context as RequestContext;
      meter.start(ctx);
      const chain = idle.shift();
      if (chain === undefined) meter.fail("no idle refresh chain");
      ctx.chain = chain;
      const variables = { refreshToken: chain?.refreshToken ?? DRY_CODE };
      return { ...request, body: JSON.stringify({ query: REFRESH_MUTATION, variables }) };
    },
    onResponse(status, body, context) {
      const ctx = context as RequestContext;
      const chain = ctx.chain as Chain | undefined;
      if (chain === undefined) return;
      if (status !== 200) return meter.fail(`HTTP ${status} (chain dropped)`);
      const answer = parse<{
        data?: { refreshSession?: { __typename: string; code?: string; session?: SessionTokens } };
        errors?: Array<{ extensions?: { code?: string } }>;
      }>(body);
      const result = answer?.data?.refreshSession;
      if (result === undefined) return meter.fail(`GraphQL error ${answer?.errors?.[0]?.extensions?.code ?? "(unparsable answer)"} (chain dropped)`);
      if (result.__typename !== "SessionRefreshed" || result.session === undefined) {
        return meter.fail(`${result.__typename}${result.code ? ` ${result.code}` : ""} (chain dropped)`);
      }
      chain.refreshToken = result.session.refreshToken;
      idle.push(chain);
      meter.succeed(ctx);
    },
  };
}

/** How many logins {@link loginAll} keeps in flight. */
const LOGIN_CONCURRENCY = 8;

/** Logs in with each grant (outside any measurement) and returns the sessions; any failure is fatal. */
export async function loginAll(gatewayUrl: string, grants: readonly Grant[]): Promise<SessionTokens[]> {
  const sessions: SessionTokens[] = new Array<SessionTokens>(grants.length);
  let next = 0;
  const worker = async () => {
    while (next < grants.length) {
      const index = next++;
      const grant = grants[index]!;
      const response = await fetch(`${gatewayUrl}/graphql`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ query: VERIFY_MUTATION, variables: { code: grant.code, verifier: grant.verifier } }),
      });
      const body = await response.text();
      const failure = loginFailure(response.status, body, undefined);
      if (failure !== undefined) throw new Error(`a preparatory login failed: ${failure}`);
      sessions[index] = (parse<LoginAnswer>(body)!.data!.verifyTruecaller!.session)!;
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOGIN_CONCURRENCY, grants.length) }, worker));
  return sessions;
}

function parse<T>(body: string): T | undefined {
  try {
    return JSON.parse(body) as T;
  } catch {
    return undefined;
  }
}
