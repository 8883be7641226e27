/**
 * Property tests of everything a client controls at the GraphQL edge: every
 * mutation's arguments, variables of the wrong type, raw HTTP bodies and their
 * content headers, arbitrary documents, and the authorization, x-request-id and
 * x-forwarded-for headers. Whatever arrives, the gateway answers below 500, in
 * JSON, with a union member or a request error (never INTERNAL_SERVER_ERROR),
 * quotes no submitted secret back, and writes no error-level log line.
 */
import { readFileSync } from "node:fs";
import { deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { getOperationAST, Kind, parse, type DefinitionNode } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_RESULT_FIELDS, startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

// ---------------------------------------------------------------------------------------------------------------
// What schema.graphql promises

const SDL = parse(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"));

function definition<K extends DefinitionNode["kind"]>(kind: K, name: string): Extract<DefinitionNode, { kind: K }> {
  const found = SDL.definitions.find((node) => node.kind === kind && "name" in node && node.name?.value === name);
  if (!found) throw new Error(`schema.graphql has no ${kind} ${name}`);
  return found as Extract<DefinitionNode, { kind: K }>;
}

const unionMembers = (name: string) => (definition(Kind.UNION_TYPE_DEFINITION, name).types ?? []).map((type) => type.name.value);
const enumValues = (name: string) => (definition(Kind.ENUM_TYPE_DEFINITION, name).values ?? []).map((value) => value.name.value);

const LOGIN_RESULT_MEMBERS = unionMembers("LoginResult");
const REFRESH_SESSION_MEMBERS = unionMembers("RefreshSessionResult");
const REFRESH_PROFILE_MEMBERS = unionMembers("RefreshProfileResult");
const ERROR_CODES = enumValues("ErrorCode");
const LOGIN_PROVIDERS = enumValues("LoginProvider");

/**
 * The codes a login made of garbage may get: each names the caller's mistake. A provider outage, a
 * misconfiguration or a database outage would mean the garbage reached somewhere it upset.
 */
const CALLER_MISTAKE_CODES = ["INVALID_INPUT", "INVALID_CODE", "INVALID_VERIFIER", "INVALID_STATE", "INVALID_SIGNED_PROFILE", "INVALID_ID_TOKEN", "ACCESS_DENIED"];
/** Error codes of requests refused before or while parsing, validating or coercing variables. */
const REQUEST_ERROR_CODES = [
  "BAD_REQUEST",
  "BAD_USER_INPUT",
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "UNAUTHENTICATED",
];
/** body-parser's limit: "64kb" is 64 × 1024 bytes. */
const BODY_LIMIT_BYTES = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** What request-scope.ts keeps of a caller's x-request-id. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** context.ts: `Bearer` (any case), a space run, a token68. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** Submitted values at least this long must not come back in a response (shorter ones occur in any text). */
const MIN_ECHO_LENGTH = 8;
/** …nor reach the log. */
const MIN_LOGGED_SECRET_LENGTH = 12;
/** Level of pino's `error`. */
const ERROR_LEVEL = 50;

// ---------------------------------------------------------------------------------------------------------------
// Operations

const LOGIN_MUTATIONS = {
  verifyTruecaller: /* GraphQL */ `
    mutation ($code: String!, $verifier: String!, $state: String) {
      verifyTruecaller(code: $code, verifier: $verifier, state: $state) { ${LOGIN_RESULT_FIELDS} }
    }`,
  verifyPhoneLogin: /* GraphQL */ `
    mutation ($input: PhoneLoginInput!) { verifyPhoneLogin(input: $input) { ${LOGIN_RESULT_FIELDS} } }`,
  verifyTruecallerAccessToken: /* GraphQL */ `
    mutation ($accessToken: String!, $firstName: String, $lastName: String) {
      verifyTruecallerAccessToken(accessToken: $accessToken, firstName: $firstName, lastName: $lastName) { ${LOGIN_RESULT_FIELDS} }
    }`,
  verifyTruecallerSignedProfile: /* GraphQL */ `
    mutation ($payload: String!, $signature: String!, $signatureAlgorithm: String, $requestNonce: String!) {
      verifyTruecallerSignedProfile(payload: $payload, signature: $signature, signatureAlgorithm: $signatureAlgorithm, requestNonce: $requestNonce) {
        ${LOGIN_RESULT_FIELDS}
      }
    }`,
} as const;
type LoginMutation = keyof typeof LOGIN_MUTATIONS;

const REFRESH_SESSION = /* GraphQL */ `
  mutation ($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { __typename ... on InvalidRefreshTokenError { code message } ... on SessionRefreshed { session { accessToken } } }
  }`;
const START_LOGIN = "mutation ($provider: LoginProvider!) { startLogin(provider: $provider) { state nonce expiresAt } }";
const SIGN_OUT = "mutation ($allSessions: Boolean!) { signOut(allSessions: $allSessions) { revokedSessions } }";
const REFRESH_PROFILE = /* GraphQL */ `
  mutation ($provider: LoginProvider!) {
    refreshProfile(provider: $provider) { __typename ... on ProfileRefreshed { user { id } } ... on UserError { code message } }
  }`;
const ME = "{ me { id phoneNumber } }";
const TYPENAME = "{ __typename }";

/** How each operation's variables are declared, for sending values of the wrong type. */
type VariableType = "String!" | "String" | "Boolean!" | "LoginProvider!" | "PhoneLoginInput!";
const OPERATIONS: ReadonlyArray<{ name: string; document: string; variables: Record<string, VariableType> }> = [
  { name: "verifyTruecaller", document: LOGIN_MUTATIONS.verifyTruecaller, variables: { code: "String!", verifier: "String!", state: "String" } },
  { name: "verifyPhoneLogin", document: LOGIN_MUTATIONS.verifyPhoneLogin, variables: { input: "PhoneLoginInput!" } },
  {
    name: "verifyTruecallerAccessToken",
    document: LOGIN_MUTATIONS.verifyTruecallerAccessToken,
    variables: { accessToken: "String!", firstName: "String", lastName: "String" },
  },
  {
    name: "verifyTruecallerSignedProfile",
    document: LOGIN_MUTATIONS.verifyTruecallerSignedProfile,
    variables: { payload: "String!", signature: "String!", signatureAlgorithm: "String", requestNonce: "String!" },
  },
  { name: "refreshSession", document: REFRESH_SESSION, variables: { refreshToken: "String!" } },
  { name: "startLogin", document: START_LOGIN, variables: { provider: "LoginProvider!" } },
  { name: "signOut", document: SIGN_OUT, variables: { allSessions: "Boolean!" } },
  { name: "refreshProfile", document: REFRESH_PROFILE, variables: { provider: "LoginProvider!" } },
];

// ---------------------------------------------------------------------------------------------------------------
// HTTP

interface Answer {
  status: number;
  contentType: string | null;
  requestId: string | null;
  text: string;
  /** The parsed body, `undefined` when it is not JSON. */
  body: GraphqlBody | undefined;
}

interface GraphqlBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message?: unknown; extensions?: Record<string, unknown> }>;
}

/** One POST /graphql of exactly `body`, with exactly `headers` (no content-type unless given). */
async function postRaw(url: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Answer> {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const response = await fetch(`${url}/graphql`, { method: "POST", headers, body: bytes });
  return answerOf(response);
}

async function postJson(url: string, payload: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return postRaw(url, JSON.stringify(payload), { "content-type": "application/json", ...headers });
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: GraphqlBody | undefined;
  try {
    body = JSON.parse(text) as GraphqlBody;
  } catch {
    body = undefined;
  }
  return { status: response.status, contentType: response.headers.get("content-type"), requestId: response.headers.get("x-request-id"), text, body };
}

/** Every string in a JSON value (object keys too, with `keys`). */
function stringsIn(value: unknown, keys: boolean, found: string[] = []): string[] {
  if (typeof value === "string") found.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsIn(item, keys, found);
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (keys) found.push(key);
      stringsIn(item, keys, found);
    }
  }
  return found;
}

/** What every answer, to anything, must be: below 500, JSON, errors well-formed and none of them a fault. */
function expectGraphqlAnswer(answer: Answer): GraphqlBody {
  expect(answer.status, answer.text.slice(0, 500)).toBeLessThan(500);
  expect(answer.contentType ?? "").toMatch(/^application\/(graphql-response\+)?json\b/);
  expect(answer.body, `not JSON: ${answer.text.slice(0, 200)}`).toBeTypeOf("object");
  expect(answer.body).not.toBeNull();
  const body = answer.body!;
  if (answer.status !== 200) {
    expect(body.data ?? undefined).toBeUndefined();
    expect(body.errors?.length ?? 0).toBeGreaterThan(0);
  }
  if (body.errors !== undefined) {
    expect(Array.isArray(body.errors)).toBe(true);
    for (const error of body.errors) {
      expect(typeof error.message).toBe("string");
      expect(error.extensions?.code, `a fault: ${JSON.stringify(error).slice(0, 500)}`).not.toBe("INTERNAL_SERVER_ERROR");
    }
  } else {
    expect(body.data).toBeTypeOf("object");
  }
  return body;
}

/** Refusal codes of an answer that is not 200. */
function expectRequestErrors(body: GraphqlBody, codes: readonly string[] = REQUEST_ERROR_CODES): void {
  expect(body.errors?.length ?? 0).toBeGreaterThan(0);
  for (const error of body.errors ?? []) expect(codes).toContain(error.extensions?.code);
}

/** No submitted string (long enough to tell) comes back anywhere in the answer. */
function expectNoEcho(answer: Answer, submitted: readonly string[]): void {
  const said = stringsIn(answer.body, true);
  const echoed = submitted.filter((value) => value.length >= MIN_ECHO_LENGTH && said.some((text) => text.includes(value)));
  expect(echoed, "submitted values quoted back").toEqual([]);
}

/** The string values (not the names) of submitted variables, for the echo checks. */
const submittedStrings = (value: unknown): string[] => stringsIn(value, false).filter((text) => text.trim().length > 0);

/** A body at exactly `bytes` bytes: `{ __typename }` padded with an unused variable. */
function paddedBody(bytes: number): string {
  const frame = (padding: string) => JSON.stringify({ query: TYPENAME, variables: { padding } });
  return frame("x".repeat(Math.max(0, bytes - Buffer.byteLength(frame("")))));
}

/**
 * Checks the log lines written while `run` ran: none holds one of the
 * submitted secrets (raw or JSON-escaped).
 */
async function withoutLoggingSecrets<T>(t: TestGateway, secrets: readonly string[], run: () => Promise<T>): Promise<T> {
  const mark = t.logs.length;
  const result = await run();
  const candidates = secrets.filter((secret) => secret.trim().length >= MIN_LOGGED_SECRET_LENGTH);
  if (candidates.length > 0) {
    const written = t.logs.slice(mark).join("\n");
    const leaked = candidates.filter((secret) => written.includes(secret) || written.includes(JSON.stringify(secret).slice(1, -1)));
    expect(leaked.map((secret) => secret.slice(0, 80)), "submitted secrets in the log").toEqual([]);
  }
  return result;
}

/** Errors nobody handled while the properties ran: a gateway promise that failed unobserved. */
const unhandled: unknown[] = [];
const noteUnhandled = (error: unknown) => void unhandled.push(error);

/** The gateway's log lines at level error or above, as "message: error message". */
function errorLines(t: TestGateway): string[] {
  return t.logs
    .map((line) => JSON.parse(line) as { level?: unknown; msg?: unknown; error?: { message?: unknown } })
    .filter((entry) => Number(entry.level) >= ERROR_LEVEL)
    .map((entry) => `${String(entry.msg)}: ${String(entry.error?.message ?? "").trim().slice(0, 160)}`);
}

async function expectStillAnswers(url: string): Promise<void> {
  const answer = await postJson(url, { query: TYPENAME });
  expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { data: { __typename: "Query" } } });
}

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries

/** One UTF-16 code unit of any kind: any code point, a lone surrogate, a control character or odd whitespace. */
const codeUnit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((unit) => String.fromCharCode(unit)) },
  { weight: 1, arbitrary: fc.constantFrom(" ", "\u00a0", "\u200b", "\u2028", "\u3000", "\ufeff", "\u007f", "\u0085") },
);
const base64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");
const printable = fc.stringMatching(/^[\x20-\x7e]{1,200}$/);
/** Shaped like a JWT: base64url JSON, base64url JSON, base64url bytes. */
const jwtShaped = fc
  .tuple(fc.json({ maxDepth: 2 }), fc.json({ maxDepth: 2 }), fc.uint8Array({ maxLength: 80 }))
  .map(([header, payload, signature]) => `${base64url(header)}.${base64url(payload)}.${Buffer.from(signature).toString("base64url")}`);
/** The same character thousands of times: up to and past the body limit. */
const hugeRepeat = fc
  .tuple(fc.constantFrom("a", "0", "=", " ", "\u0000", "\\", '"', "é", "😀", "\ud800"), fc.integer({ min: 1_000, max: 70_000 }))
  .map(([character, count]) => character.repeat(count));

/** A string argument as a client, or an attacker, may send it. */
const anyString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: codeUnit, maxLength: 80 }) },
  { weight: 3, arbitrary: printable },
  // Shapes that pass the local checks and reach a provider, the cache or the database.
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{43,128}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
  { weight: 1, arbitrary: fc.base64String({ minLength: 4, maxLength: 400 }) },
  { weight: 1, arbitrary: jwtShaped },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.bigInt()).map(String) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\u3000", "\ufeff"), maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "null", "undefined", "true", "[object Object]", ".", "..", "%2e%2e", "%00", "\u0000", "'; DROP TABLE users; --", "{{7*7}}", "${jndi:ldap://x/a}", "../../etc/passwd", "__proto__", "constructor", "SHA512withRSA", "SHA1withRSA", "https://attacker.example/cb", "com.example.app://callback"),
  },
  { weight: 1, arbitrary: hugeRepeat },
);
/** A nullable string argument: absent, null, or any string. */
const anyOptionalString = fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: anyString });
const loginProvider = fc.constantFrom(...LOGIN_PROVIDERS);

/** A header value fetch sends and Node's parser takes: visible ASCII, Latin-1, spaces and tabs. */
const headerValue = (maxLength: number) =>
  fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)).map((unit) => String.fromCharCode(unit)), maxLength });
/** What fetch and Node make of a header value: leading and trailing spaces and tabs go. */
const sentHeader = (value: string) => value.replace(/^[\t ]+|[\t ]+$/g, "");

/** A JSON value of the wrong type for a variable declared as `type`; `undefined` means "left out". */
function wrongValueFor(type: VariableType): fc.Arbitrary<unknown> {
  const notString = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }));
  const missingOrNull = fc.constantFrom(undefined, null);
  switch (type) {
    case "String!":
      return fc.oneof(notString, missingOrNull);
    case "String":
      // A nullable variable may be left out or null: no mistake.
      return notString;
    case "Boolean!":
      return fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant([true]), fc.constant({ value: true }), missingOrNull);
    case "LoginProvider!":
      return fc.oneof(
        fc.string({ maxLength: 20 }).filter((name) => !LOGIN_PROVIDERS.includes(name)),
        fc.constantFrom(...LOGIN_PROVIDERS.map((name) => name.toLowerCase()), ...LOGIN_PROVIDERS.map((name) => ` ${name}`)),
        fc.integer({ min: 0, max: 3 }),
        fc.constant({ TRUECALLER: true }),
        missingOrNull,
      );
    case "PhoneLoginInput!":
      return fc.oneof(
        anyString,
        fc.integer(),
        fc.constant([]),
        missingOrNull,
        // Objects that are not a PhoneLoginInput: a field missing, one too many, one of the wrong type.
        fc.record({ code: anyString }),
        fc.record({ provider: loginProvider, code: anyString, secretExtraField: anyString }),
        fc.record({ provider: loginProvider, code: notString }),
        fc.record({ provider: fc.string({ maxLength: 12 }).filter((name) => !LOGIN_PROVIDERS.includes(name)), code: anyString }),
        fc.record({ provider: loginProvider, code: anyString, verifier: notString }),
      );
    default:
      throw new Error(`no wrong values for ${String(type satisfies never)}`);
  }
}

/** A right-typed value for a variable declared as `type`. */
function rightValueFor(type: VariableType): fc.Arbitrary<unknown> {
  switch (type) {
    case "String!":
      return anyString;
    case "String":
      return anyOptionalString;
    case "Boolean!":
      return fc.boolean();
    case "LoginProvider!":
      return loginProvider;
    case "PhoneLoginInput!":
      return fc.record({ provider: loginProvider, code: anyString });
    default:
      throw new Error(`no values for ${String(type satisfies never)}`);
  }
}

// GraphQL documents from a small grammar: fields of the schema and made-up ones, aliases, arguments with every kind
// of literal, variables, directives, fragments (spreads may form cycles) and inline fragments.
const FIELD_NAMES = [
  "me", "providers", "id", "phoneNumber", "givenName", "identities", "provider", "linkedAt", "__typename", "__type", "__schema", "name", "fields",
  "kind", "ofType", "types", "startLogin", "state", "nonce", "expiresAt", "verifyTruecaller", "verifyPhoneLogin", "verifyTruecallerAccessToken",
  "verifyTruecallerSignedProfile", "refreshSession", "signOut", "revokedSessions", "refreshProfile", "code", "message", "field", "session",
  "accessToken", "user", "_service", "sdl", "nope",
];
const TYPE_NAMES = ["Query", "Mutation", "User", "LoginResult", "UserError", "LoginSuccess", "InvalidInputError", "LoginChallenge", "__Type", "String", "Nope"];
const ARGUMENT_NAMES = ["provider", "code", "verifier", "state", "input", "refreshToken", "allSessions", "name", "if", "accessToken", "payload", "x"];
const DIRECTIVE_NAMES = ["skip", "include", "deprecated", "defer", "stream", "specifiedBy", "key", "nope"];
const VARIABLE_NAMES = ["$a", "$b", "$input"];
const FRAGMENT_NAMES = ["F0", "F1", "F2"];

const graphqlLiteral = fc.letrec<{ value: string; list: string; object: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthSize: "small" },
    printable.map((text) => JSON.stringify(text)),
    fc.string({ unit: codeUnit, maxLength: 20 }).map((text) => JSON.stringify(text)),
    printable.map((text) => `"""${text}"""`),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.constantFrom(...LOGIN_PROVIDERS, "NOPE", "true", "false", "null", "1e999", "-0", "0x10", "01"),
    fc.constantFrom(...VARIABLE_NAMES),
    tie("list"),
    tie("object"),
  ),
  list: fc.array(tie("value"), { maxLength: 3 }).map((items) => `[${items.join(", ")}]`),
  object: fc.array(fc.tuple(fc.constantFrom(...ARGUMENT_NAMES), tie("value")), { maxLength: 3 }).map((fields) => `{${fields.map(([name, value]) => `${name}: ${value}`).join(", ")}}`),
})).value;

const graphqlArguments = fc
  .array(fc.tuple(fc.constantFrom(...ARGUMENT_NAMES), graphqlLiteral), { minLength: 1, maxLength: 3 })
  .map((pairs) => `(${pairs.map(([name, value]) => `${name}: ${value}`).join(", ")})`);
const graphqlDirectives = fc
  .array(fc.tuple(fc.constantFrom(...DIRECTIVE_NAMES), fc.option(graphqlArguments, { nil: "" })), { maxLength: 2 })
  .map((directives) => directives.map(([name, args]) => ` @${name}${args}`).join(""));

const graphqlSelections = fc.letrec<{ selectionSet: string; selection: string; field: string }>((tie) => ({
  selectionSet: fc.array(tie("selection"), { minLength: 1, maxLength: 3 }).map((selections) => `{ ${selections.join(" ")} }`),
  selection: fc.oneof(
    { maxDepth: 4, depthSize: "small" },
    fc.constantFrom(...FIELD_NAMES),
    tie("field"),
    fc.tuple(fc.constantFrom(...FRAGMENT_NAMES), graphqlDirectives).map(([name, directives]) => `...${name}${directives}`),
    fc.tuple(fc.option(fc.constantFrom(...TYPE_NAMES), { nil: undefined }), graphqlDirectives, tie("selectionSet")).map(
      ([type, directives, selectionSet]) => `...${type ? ` on ${type}` : ""}${directives} ${selectionSet}`,
    ),
  ),
  field: fc
    .tuple(
      fc.option(fc.constantFrom("a", "b", "__typename", "me"), { nil: undefined }),
      fc.constantFrom(...FIELD_NAMES),
      fc.option(graphqlArguments, { nil: "" }),
      graphqlDirectives,
      fc.option(tie("selectionSet"), { nil: "" }),
    )
    .map(([alias, name, args, directives, selectionSet]) => `${alias ? `${alias}: ` : ""}${name}${args}${directives} ${selectionSet}`),
})).selectionSet;

const graphqlVariableDefinitions = fc
  .array(fc.tuple(fc.constantFrom(...VARIABLE_NAMES), fc.constantFrom("String", "String!", "[String]", "LoginProvider!", "PhoneLoginInput", "Boolean = true", "Int", "Nope"), graphqlDirectives), { maxLength: 3 })
  .map((definitions) => (definitions.length === 0 ? "" : `(${definitions.map(([name, type, directives]) => `${name}: ${type}${directives}`).join(", ")})`));

const graphqlOperation = fc
  .tuple(fc.constantFrom("", "query", "mutation", "subscription", "query Q", "mutation M"), graphqlVariableDefinitions, graphqlDirectives, graphqlSelections)
  .map(([head, variables, directives, selectionSet]) => (head === "" ? selectionSet : `${head}${variables}${directives} ${selectionSet}`));

const graphqlDocument = fc
  .tuple(
    fc.array(graphqlOperation, { minLength: 1, maxLength: 2 }),
    fc.array(fc.tuple(fc.constantFrom(...FRAGMENT_NAMES), fc.constantFrom(...TYPE_NAMES), graphqlDirectives, graphqlSelections), { maxLength: 3 }),
  )
  .map(([operations, fragments]) => [...operations, ...fragments.map(([name, type, directives, selectionSet]) => `fragment ${name} on ${type}${directives} ${selectionSet}`)].join("\n"));

/** One construct nested thousands deep (graphql-js stops counting at GRAPHQL_MAX_TOKENS). */
const deeplyNestedDocument = fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.constantFrom("field", "list", "object", "inline", "comment")).map(([depth, construct]) => {
  switch (construct) {
    case "field":
      return `${"{ a ".repeat(depth)}${"}".repeat(depth)}`;
    case "list":
      return `{ __type(name: ${"[".repeat(depth)}"User"${"]".repeat(depth)}) { name } }`;
    case "object":
      return `{ __type(name: ${"{a: ".repeat(depth)}1${"}".repeat(depth)}) { name } }`;
    case "inline":
      return `{ ${"... on Query { ".repeat(depth)}__typename${" }".repeat(depth)} }`;
    default:
      return `${"#\n".repeat(depth)}{ __typename }`;
  }
});

/** Punctuation and words of GraphQL in any order. */
const tokenSoup = fc
  .array(
    fc.constantFrom("{", "}", "(", ")", "[", "]", "...", "on", "fragment", "query", "mutation", "subscription", "$a", ":", "=", "!", "@skip", "@include", "|", "&", '"s"', '"""', "1", "1.5e3", "me", "id", "__typename", "F0", "Query", "startLogin", "provider", "TRUECALLER", ",", "#", "\n", "\u00a0", "\ufeff", "\\u0000"),
    { maxLength: 60 },
  )
  .map((tokens) => tokens.join(" "));

// ---------------------------------------------------------------------------------------------------------------

beforeAll(() => {
  process.on("unhandledRejection", noteUnhandled);
  process.on("uncaughtException", noteUnhandled);
});
afterAll(() => {
  process.off("unhandledRejection", noteUnhandled);
  process.off("uncaughtException", noteUnhandled);
});

describe("fuzzing the GraphQL edge", () => {
  let t: TestGateway;
  /** A signed-in user's access token (Truecaller login), for refreshProfile and `me`. */
  let accessToken: string;

  beforeAll(async () => {
    t = await startTestGateway();
    const login = (await t.login()) as { session?: { accessToken: string } };
    if (!login.session) throw new Error(`login failed: ${JSON.stringify(login)}`);
    accessToken = login.session.accessToken;
  });
  afterAll(async () => t?.close());

  /** Sends a login mutation and checks it got a caller-mistake union member, without echoing or logging a value. */
  async function expectLoginRefused(field: LoginMutation, variables: Record<string, unknown>): Promise<void> {
    const payload = { query: LOGIN_MUTATIONS[field], variables };
    const secrets = submittedStrings(variables);
    const answer = await withoutLoggingSecrets(t, secrets, () => postJson(t.gateway.url, payload));
    const body = expectGraphqlAnswer(answer);
    expectNoEcho(answer, secrets);
    if (Buffer.byteLength(JSON.stringify(payload)) > BODY_LIMIT_BYTES) {
      expect(answer.status).toBe(413);
      expect(body.errors).toEqual([{ message: "The request body is larger than 64kb.", extensions: { code: "BAD_REQUEST" } }]);
      return;
    }
    expect(answer.status, answer.text.slice(0, 300)).toBe(200);
    expect(body.errors).toBeUndefined();
    const result = body.data?.[field] as { __typename: string; code?: string; message?: string };
    expect(LOGIN_RESULT_MEMBERS).toContain(result.__typename);
    expect(result.__typename).not.toBe("LoginSuccess");
    expect(ERROR_CODES).toContain(result.code);
    expect(CALLER_MISTAKE_CODES, `${field} answered ${result.code} to garbage`).toContain(result.code);
    expect(typeof result.message).toBe("string");
  }

  describe("1. every mutation takes any argument values", () => {
    it("(the operations fuzzed here are every mutation of schema.graphql)", () => {
      const mutations = (definition(Kind.OBJECT_TYPE_DEFINITION, "Mutation").fields ?? []).map((field) => field.name.value);
      expect(OPERATIONS.map((operation) => operation.name).sort()).toEqual([...mutations].sort());
    });

    it("verifyTruecaller", async () => {
      await fc.assert(
        fc.asyncProperty(anyString, anyString, anyOptionalString, async (code, verifier, state) => {
          await expectLoginRefused("verifyTruecaller", { code, verifier, state });
        }),
        { numRuns: 30 },
      );
    });

    it("verifyPhoneLogin, with each provider", async () => {
      const input = fc.record(
        { provider: loginProvider, code: anyString, verifier: anyOptionalString, redirectUri: anyOptionalString, nonce: anyOptionalString, state: anyOptionalString },
        { requiredKeys: ["provider", "code"] },
      );
      await fc.assert(
        fc.asyncProperty(input, async (value) => {
          await expectLoginRefused("verifyPhoneLogin", { input: value });
        }),
        { numRuns: 45 },
      );
    });

    it("verifyTruecallerAccessToken", async () => {
      await fc.assert(
        fc.asyncProperty(anyString, anyOptionalString, anyOptionalString, async (token, firstName, lastName) => {
          await expectLoginRefused("verifyTruecallerAccessToken", { accessToken: token, firstName, lastName });
        }),
        { numRuns: 30 },
      );
    });

    it("verifyTruecallerSignedProfile", async () => {
      const algorithm = fc.oneof(anyOptionalString, fc.constantFrom("SHA512withRSA", "SHA384withRSA", "SHA256withRSA"));
      await fc.assert(
        fc.asyncProperty(anyString, anyString, algorithm, anyString, async (payload, signature, signatureAlgorithm, requestNonce) => {
          await expectLoginRefused("verifyTruecallerSignedProfile", { payload, signature, signatureAlgorithm, requestNonce });
        }),
        { numRuns: 30 },
      );
    });

    it("verifyTruecallerSignedProfile, with a Truecaller-signed payload whose profile fields hold anything", async () => {
      // The signature is good, so these values are what the SDK user typed or Truecaller holds: they reach the database.
      const field = fc.oneof(fc.string({ unit: codeUnit, maxLength: 40 }), printable, fc.constantFrom("", " ", "\u0000", "M", "F", "N"));
      const profile = fc.record(
        { firstName: field, lastName: field, email: field, avatarUrl: field, city: field, zipcode: field, gender: field, countryCode: field, userLocale: field },
        { requiredKeys: [] },
      );
      const requestNonce = fc.stringMatching(/^[A-Za-z0-9_-]{8,32}$/);
      await fc.assert(
        fc.asyncProperty(profile, requestNonce, async (fields, nonce) => {
          const signed = t.emulator.signProfile({ requestNonce: nonce, profile: fields });
          const variables = { payload: signed.payload, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, requestNonce: nonce };
          const answer = await postJson(t.gateway.url, { query: LOGIN_MUTATIONS.verifyTruecallerSignedProfile, variables });
          const body = expectGraphqlAnswer(answer);
          expect(answer.status).toBe(200);
          const result = body.data?.verifyTruecallerSignedProfile as { __typename: string; code?: string };
          // The number is the emulator's, verified and signed: whatever the names say, that is a login.
          expect(result, JSON.stringify(fields)).toMatchObject({ __typename: "LoginSuccess" });
        }),
        { numRuns: 20 },
      );
    });

    it("refreshSession", async () => {
      await fc.assert(
        fc.asyncProperty(anyString, async (refreshToken) => {
          const payload = { query: REFRESH_SESSION, variables: { refreshToken } };
          const answer = await withoutLoggingSecrets(t, [refreshToken], () => postJson(t.gateway.url, payload));
          const body = expectGraphqlAnswer(answer);
          expectNoEcho(answer, [refreshToken]);
          if (Buffer.byteLength(JSON.stringify(payload)) > BODY_LIMIT_BYTES) {
            expect(answer.status).toBe(413);
            return;
          }
          expect(answer.status).toBe(200);
          const result = body.data?.refreshSession as { __typename: string; code?: string };
          expect(REFRESH_SESSION_MEMBERS).toContain(result.__typename);
          expect(result).toMatchObject({ __typename: "InvalidRefreshTokenError", code: "INVALID_REFRESH_TOKEN" });
        }),
        { numRuns: 30 },
      );
    });

    it("startLogin, with each provider", async () => {
      await fc.assert(
        fc.asyncProperty(loginProvider, async (provider) => {
          const answer = await postJson(t.gateway.url, { query: START_LOGIN, variables: { provider } });
          const body = expectGraphqlAnswer(answer);
          expect(answer.status).toBe(200);
          expect(body.data?.startLogin).toEqual({ state: expect.any(String), nonce: expect.any(String), expiresAt: expect.any(String) });
        }),
        { numRuns: 10 },
      );
    });

    it("signOut and refreshProfile, with any credential", async () => {
      const credential = fc.oneof(
        fc.constant<string | undefined>(undefined),
        headerValue(200),
        fc.constant("valid"),
        jwtShaped.map((token) => `Bearer ${token}`),
      );
      const operation = fc.oneof(
        fc.record({ kind: fc.constant("signOut" as const), allSessions: fc.boolean() }),
        fc.record({ kind: fc.constant("refreshProfile" as const), provider: loginProvider }),
      );
      await fc.assert(
        fc.asyncProperty(operation, credential, async (op, header) => {
          // The valid token may refresh profiles; it must not sign out the session the other tests use.
          const authorization = header === "valid" ? (op.kind === "signOut" ? undefined : `Bearer ${accessToken}`) : header;
          const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
          const payload =
            op.kind === "signOut" ? { query: SIGN_OUT, variables: { allSessions: op.allSessions } } : { query: REFRESH_PROFILE, variables: { provider: op.provider } };
          const answer = await postJson(t.gateway.url, payload, headers);
          const body = expectGraphqlAnswer(answer);
          expect(answer.status).toBe(200);
          expectNoEcho(answer, authorization === undefined ? [] : [authorization]);
          const signedIn = authorization !== undefined && BEARER.exec(sentHeader(authorization))?.[1] === accessToken;
          if (!signedIn) {
            expect(body).toMatchObject({ data: null, errors: [{ extensions: { code: "UNAUTHENTICATED" } }] });
            return;
          }
          const result = body.data?.refreshProfile as { __typename: string };
          expect(REFRESH_PROFILE_MEMBERS).toContain(result.__typename);
        }),
        { numRuns: 25 },
      );
    });
  });

  describe("2. variables of the wrong type", () => {
    it("are BAD_USER_INPUT with 400, quoting no value; extra variables change nothing", async () => {
      const request = fc.constantFrom(...OPERATIONS).chain((operation) => {
        const names = Object.keys(operation.variables);
        return fc.record({
          operation: fc.constant(operation),
          wrong: fc.subarray(names),
          values: fc.record(Object.fromEntries(names.map((name) => [name, fc.tuple(rightValueFor(operation.variables[name]!), wrongValueFor(operation.variables[name]!))]))),
          extra: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((name) => !names.includes(name)), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
        });
      });
      await fc.assert(
        fc.asyncProperty(request, async ({ operation, wrong, values, extra }) => {
          const variables: Record<string, unknown> = { ...extra };
          let mistyped = false;
          for (const [name, [right, wrongValue]] of Object.entries(values) as Array<[string, [unknown, unknown]]>) {
            const value = wrong.includes(name) ? wrongValue : right;
            if (wrong.includes(name)) mistyped = true;
            if (value !== undefined) variables[name] = value;
          }
          const payload = { query: operation.document, variables };
          const submitted = submittedStrings(Object.fromEntries(Object.entries(variables).filter(([name]) => name in operation.variables)));
          const answer = await postJson(t.gateway.url, payload);
          const body = expectGraphqlAnswer(answer);
          expectNoEcho(answer, submitted);
          if (Buffer.byteLength(JSON.stringify(payload)) > BODY_LIMIT_BYTES) {
            expect(answer.status).toBe(413);
            return;
          }
          if (mistyped) {
            expect({ status: answer.status, operation: operation.name }).toEqual({ status: 400, operation: operation.name });
            expectRequestErrors(body, ["BAD_USER_INPUT"]);
            return;
          }
          // Right types, extra variables ignored: the operation ran (signOut and refreshProfile without a token refuse).
          expect(answer.status).toBe(200);
          const result = body.data?.[operation.name] as { __typename?: string } | null | undefined;
          if (operation.name === "signOut" || operation.name === "refreshProfile") {
            expectRequestErrors(body, ["UNAUTHENTICATED"]);
          } else {
            expect(result, JSON.stringify(body).slice(0, 300)).toBeTypeOf("object");
          }
        }),
        { numRuns: 80 },
      );
    });
  });

  describe("3. raw HTTP bodies", () => {
    const CONTENT_TYPES = [
      undefined,
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=UTF-8",
      'application/json; charset="utf-8"',
      "application/json; charset=utf-16",
      "application/json; charset=latin1",
      "application/json; charset=nope",
      "application/json;;;",
      "APPLICATION/JSON",
      "application/graphql",
      "application/graphql-response+json",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/plain",
      "text/plain; charset=utf-8",
      "*/*",
      "",
      "json",
    ];
    const contentType = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, { weight: 1, arbitrary: headerValue(60) });
    const contentEncoding = fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("identity", "gzip", "deflate", "br", "zstd", "compress", "gzip, gzip", "x-nope") });
    /** A token that looks like a code or verifier, to see whether the answer or the log quotes it. */
    const secretLooking = fc.stringMatching(/^[A-Za-z0-9_-]{16,43}$/);

    function headersFor(type: string | undefined, encoding: string | undefined, preflight: boolean): Record<string, string> {
      return {
        ...(type === undefined ? {} : { "content-type": type }),
        ...(encoding === undefined ? {} : { "content-encoding": encoding }),
        ...(preflight ? { "apollo-require-preflight": "true" } : {}),
      };
    }

    it("any bytes or text, under any content type and encoding: below 500, JSON with errors", async () => {
      const body = fc.oneof(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.string({ unit: codeUnit, maxLength: 500 }),
        fc.json({ maxDepth: 4 }),
        tokenSoup,
      );
      await fc.assert(
        fc.asyncProperty(body, contentType, contentEncoding, fc.boolean(), async (bytes, type, encoding, preflight) => {
          const answer = await postRaw(t.gateway.url, bytes, headersFor(type, encoding, preflight));
          const parsed = expectGraphqlAnswer(answer);
          if (answer.status !== 200) expectRequestErrors(parsed);
          await expectStillAnswers(t.gateway.url);
        }),
        { numRuns: 80 },
      );
    });

    it("JSON of the wrong shape, truncated JSON and deep nesting: a 4xx request error that quotes nothing it was sent", async () => {
      const operation = (secret: string) => ({ query: LOGIN_MUTATIONS.verifyTruecaller, variables: { code: secret, verifier: secret } });
      const shaped = fc.oneof(
        // Batching is refused.
        fc.tuple(secretLooking, fc.integer({ min: 1, max: 5 })).map(([secret, count]) => ({ secret, text: JSON.stringify(Array.from({ length: count }, () => operation(secret))) })),
        fc.tuple(secretLooking, fc.constant("[]")).map(([secret, text]) => ({ secret, text })),
        // Scalars, and fields of the wrong type.
        secretLooking.map((secret) => ({ secret, text: JSON.stringify(secret) })),
        fc.tuple(secretLooking, fc.jsonValue({ maxDepth: 2 })).map(([secret, value]) => ({ secret, text: JSON.stringify({ query: value, variables: { code: secret } }) })),
        fc.tuple(secretLooking, fc.constantFrom(5, true, null, [], {})).map(([secret, value]) => ({ secret, text: JSON.stringify({ query: value, variables: { code: secret } }) })),
        secretLooking.map((secret) => ({ secret, text: JSON.stringify({ query: secret }) })),
        secretLooking.map((secret) => ({ secret, text: JSON.stringify({ query: `mutation { verifyTruecaller(code: ${secret}, verifier: "${secret}") { __typename } }` }) })),
        // `variables` that is no object, an operation name the document lacks (names are no secrets: they may be quoted).
        fc.tuple(secretLooking, fc.oneof(fc.string(), fc.integer(), fc.array(fc.string()))).map(([secret, variables]) => ({ secret, text: JSON.stringify({ query: `# ${secret}\n${TYPENAME}`, variables }) })),
        secretLooking.map((secret) => ({ secret, text: JSON.stringify({ ...operation(secret), operationName: "Nope" }) })),
        // Cut anywhere.
        fc.tuple(secretLooking, fc.nat()).map(([secret, cut]) => {
          const whole = JSON.stringify(operation(secret));
          return { secret, text: whole.slice(0, cut % whole.length) };
        }),
        // Nested far deeper than any real request.
        fc.tuple(secretLooking, fc.integer({ min: 1, max: 30_000 }), fc.boolean()).map(([secret, depth, arrays]) => {
          const nested = arrays ? `${"[".repeat(depth)}"${secret}"${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}"${secret}"${"}".repeat(depth)}`;
          return { secret, text: `{"query":${JSON.stringify(LOGIN_MUTATIONS.verifyTruecaller)},"variables":{"code":${nested},"verifier":"${secret}"}}` };
        }),
      );
      await fc.assert(
        fc.asyncProperty(shaped, fc.constantFrom("application/json", "application/json; charset=utf-8"), async ({ secret, text }, type) => {
          const providerCalls = t.emulator.requests.length;
          const answer = await withoutLoggingSecrets(t, [secret], () => postRaw(t.gateway.url, text, { "content-type": type }));
          const body = expectGraphqlAnswer(answer);
          expect(answer.status, text.slice(0, 200)).toBeGreaterThanOrEqual(400);
          expectRequestErrors(body);
          expect(answer.text).not.toContain(secret);
          // Nothing of a refused request ran: no batch member, no operation of a malformed body.
          expect(t.emulator.requests.length).toBe(providerCalls);
          await expectStillAnswers(t.gateway.url);
        }),
        { numRuns: 70 },
      );
    });

    it("persisted-query extensions of any shape: a request error, never a fault", async () => {
      // Apollo's automatic persisted queries are on by default; a client picks the hash and the version.
      const extension = fc.oneof(
        fc.record({ version: fc.constant(1), sha256Hash: secretLooking }),
        fc.record({ version: fc.jsonValue({ maxDepth: 1 }), sha256Hash: secretLooking }),
        fc.record({ version: fc.constant(1), sha256Hash: fc.jsonValue({ maxDepth: 1 }) }),
      );
      await fc.assert(
        fc.asyncProperty(extension, fc.boolean(), async (persistedQuery, withDocument) => {
          const secret = typeof persistedQuery.sha256Hash === "string" ? persistedQuery.sha256Hash : "";
          const payload = withDocument ? { query: TYPENAME, extensions: { persistedQuery } } : { extensions: { persistedQuery } };
          const answer = await withoutLoggingSecrets(t, [secret], () => postJson(t.gateway.url, payload));
          const body = expectGraphqlAnswer(answer);
          expectRequestErrors(body);
          expect(answer.text).not.toContain(secret || "\u0000");
          // Apollo answers an unknown hash (or, with persisted queries off, any) with 200, for the client to send the document.
          if (answer.status === 200) {
            expect(body).toEqual({ errors: [expect.objectContaining({ extensions: { code: expect.stringMatching(/^PERSISTED_QUERY_NOT_(FOUND|SUPPORTED)$/) } })] });
          } else {
            expect(answer.status).toBe(400);
          }
        }),
        { numRuns: 25 },
      );
    });

    it("refuses exactly the bodies over 64kb with 413, however they are encoded", async () => {
      const size = fc.oneof(fc.integer({ min: BODY_LIMIT_BYTES - 64, max: BODY_LIMIT_BYTES + 64 }), fc.integer({ min: 100, max: 3 * BODY_LIMIT_BYTES }));
      const encoding = fc.constantFrom(undefined, "gzip", "deflate");
      await fc.assert(
        fc.asyncProperty(size, encoding, async (bytes, contentEncoding) => {
          const text = paddedBody(bytes);
          expect(Buffer.byteLength(text)).toBe(bytes);
          const wire = contentEncoding === "gzip" ? gzipSync(text) : contentEncoding === "deflate" ? deflateSync(text) : Buffer.from(text);
          const answer = await postRaw(t.gateway.url, wire, headersFor("application/json", contentEncoding, false));
          const body = expectGraphqlAnswer(answer);
          // The limit counts the decoded body.
          if (bytes > BODY_LIMIT_BYTES) {
            expect(answer.status).toBe(413);
            expect(body.errors).toEqual([{ message: "The request body is larger than 64kb.", extensions: { code: "BAD_REQUEST" } }]);
          } else {
            expect({ status: answer.status, body }).toEqual({ status: 200, body: { data: { __typename: "Query" } } });
          }
        }),
        { numRuns: 25 },
      );
    });

    it("refuses a body that is not what its content-encoding says with 400, quoting nothing", async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom("gzip", "deflate", "br"), secretLooking, fc.nat(), async (encoding, secret, cut) => {
          const json = JSON.stringify({ query: LOGIN_MUTATIONS.verifyTruecaller, variables: { code: secret, verifier: secret } });
          // Plain JSON, or a real compressed body cut short.
          const compressed = encoding === "gzip" ? gzipSync(json) : deflateSync(json);
          const wire = cut % 2 === 0 || encoding === "br" ? Buffer.from(json) : compressed.subarray(0, 1 + (cut % (compressed.length - 1)));
          const answer = await withoutLoggingSecrets(t, [secret], () => postRaw(t.gateway.url, wire, headersFor("application/json", encoding, false)));
          const body = expectGraphqlAnswer(answer);
          expect(answer.status).toBe(400);
          expectRequestErrors(body, ["BAD_REQUEST"]);
          expect(answer.text).not.toContain(secret);
          await expectStillAnswers(t.gateway.url);
        }),
        { numRuns: 25 },
      );
    });
  });

  describe("4. arbitrary GraphQL documents", () => {
    const documents = fc.oneof(
      { weight: 4, arbitrary: graphqlDocument },
      { weight: 1, arbitrary: deeplyNestedDocument },
      { weight: 1, arbitrary: tokenSoup },
      { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 300 }) },
    );
    const variables = fc.option(fc.dictionary(fc.constantFrom("a", "b", "input"), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), { nil: undefined });

    it("POSTed: never a fault", async () => {
      await fc.assert(
        fc.asyncProperty(documents, variables, fc.constantFrom(undefined, "Q", "M", "X"), async (query, vars, operationName) => {
          const answer = await postJson(t.gateway.url, { query, variables: vars, operationName });
          const body = expectGraphqlAnswer(answer);
          if (answer.status !== 200) expectRequestErrors(body);
        }),
        { numRuns: 120 },
      );
    });

    it("sent as GET with the preflight header: never a fault, never a mutation", async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(graphqlDocument, tokenSoup), async (query) => {
          const response = await fetch(`${t.gateway.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { "apollo-require-preflight": "true" } });
          const answer = await answerOf(response);
          const body = expectGraphqlAnswer(answer);
          if (answer.status !== 200) expectRequestErrors(body);
          // What ran was a query (a mutation sent as GET is a 405).
          else expect(getOperationAST(parse(query))?.operation).toBe("query");
        }),
        { numRuns: 40 },
      );
    });

    it("the _entities of User, with representations of any shape: null or a user, never a fault", async () => {
      // A representation of a type the subgraph does not have is a known fault of @apollo/subgraph (hardening.test.ts).
      const representation = fc.dictionary(fc.constantFrom("id", "phoneNumber", "x"), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((fields) => ({ ...fields, __typename: "User" }));
      const id = fc.oneof(fc.uuid(), anyString, fc.uuid().map((uuid) => uuid.toUpperCase()));
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(representation, id.map((value) => ({ __typename: "User", id: value }))), { minLength: 1, maxLength: 5 }), async (representations) => {
          const answer = await postJson(t.gateway.url, { query: "query ($r: [_Any!]!) { _entities(representations: $r) { __typename ... on User { id } } }", variables: { r: representations } });
          const body = expectGraphqlAnswer(answer);
          if (answer.status === 200) expect(body.data?._entities).toEqual(representations.map(() => null));
        }),
        { numRuns: 20 },
      );
    });
  });

  describe("5. headers", () => {
    it("any authorization header: `me` is the user for exactly the valid token, else UNAUTHENTICATED", async () => {
      const flipped = fc.nat().map((at) => {
        // A character of the header segment (not its last, whose spare bits may not count) changed.
        const headerEnd = accessToken.indexOf(".") - 1;
        const index = at % headerEnd;
        const replacement = accessToken[index] === "A" ? "B" : "A";
        return `Bearer ${accessToken.slice(0, index)}${replacement}${accessToken.slice(index + 1)}`;
      });
      const authorization = fc.oneof(
        headerValue(300),
        headerValue(300).map((value) => `Bearer ${value}`),
        fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,300}=*$/).map((token) => `Bearer ${token}`),
        jwtShaped.map((token) => `Bearer ${token}`),
        fc.constantFrom("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", "Bearer  ", "Bearer ==", "Bearer .", "Bearer a.b.c"),
        fc.constantFrom(`Bearer ${accessToken}`, `bearer ${accessToken}`, `BEARER   ${accessToken}`, `Bearer ${accessToken} `, `Bearer ${accessToken}.`, `Bearer ${accessToken.slice(0, -2)}`, `Basic ${accessToken}`),
        flipped,
      );
      await fc.assert(
        fc.asyncProperty(authorization, async (header) => {
          const answer = await postJson(t.gateway.url, { query: ME }, { authorization: header });
          const body = expectGraphqlAnswer(answer);
          expect(answer.status).toBe(200);
          expectNoEcho(answer, [header, header.replace(/^\w+ +/, "")]);
          if (BEARER.exec(sentHeader(header))?.[1] === accessToken) {
            expect(body).toEqual({ data: { me: { id: expect.any(String), phoneNumber: expect.any(String) } } });
          } else {
            expect(body).toMatchObject({ data: { me: null }, errors: [{ extensions: { code: "UNAUTHENTICATED" } }] });
          }
        }),
        { numRuns: 50 },
      );
    });

    it("any x-request-id: kept when it is a safe token, else replaced by a UUID, in the header and the log", async () => {
      const requestId = fc.oneof(headerValue(80), fc.stringMatching(/^[A-Za-z0-9._-]{1,70}$/), fc.constantFrom("", " ", "a b", "../x", '"x"', "\tid\t", "r".repeat(64), "r".repeat(65)));
      await fc.assert(
        fc.asyncProperty(requestId, fc.constantFrom("valid", "bad-json", "refused"), async (id, kind) => {
          const headers = { "x-request-id": id };
          const mark = t.logs.length;
          const answer =
            kind === "valid"
              ? await postJson(t.gateway.url, { query: TYPENAME }, headers)
              : kind === "bad-json"
                ? await postRaw(t.gateway.url, "{not json", { ...headers, "content-type": "application/json" })
                : await postJson(t.gateway.url, { query: "{ nope }" }, headers);
          expectGraphqlAnswer(answer);
          const sent = sentHeader(id);
          if (SAFE_REQUEST_ID.test(sent)) expect(answer.requestId).toBe(sent);
          else expect(answer.requestId).toMatch(UUID);
          // Whatever was logged for the request names it by the id returned.
          for (const line of t.logs.slice(mark)) {
            const entry = JSON.parse(line) as { requestId?: unknown };
            if (entry.requestId !== undefined) expect(entry.requestId).toBe(answer.requestId);
          }
        }),
        { numRuns: 40 },
      );
    });
  });

  it("wrote no error-level log line for any of it, and left no error unhandled", () => {
    expect(errorLines(t)).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});

describe("fuzzing the client address behind a trusted proxy", () => {
  let t: TestGateway;
  let logins = 0;

  beforeAll(async () => {
    // X-Forwarded-For names the client; the per-client limits count it (high enough never to refuse here).
    t = await startTestGateway({ env: { TRUST_PROXY: "true", LOGIN_RATE_PER_IP: "100000", LOGIN_FAILURES_PER_IP: "100000", LOGIN_RATE_PER_NUMBER: "100000" } });
  });
  afterAll(async () => t?.close());

  it("any x-forwarded-for and user-agent: logins are refused as usual, `me` is null, each attempt audited", async () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.constantFrom("unknown", "", "::ffff:10.0.0.1", "fe80::1%eth0", "[::1]:443", "10.0.0.1:8080", "999.1.1.1", "1.2.3.4/24", "::", "0"), headerValue(60));
    const forwardedFor = fc.array(address, { minLength: 1, maxLength: 4 }).map((hops) => hops.join(", "));
    await fc.assert(
      fc.asyncProperty(forwardedFor, headerValue(600), async (xff, userAgent) => {
        const headers = { "x-forwarded-for": xff, "user-agent": userAgent };
        const me = await postJson(t.gateway.url, { query: ME }, headers);
        expect(expectGraphqlAnswer(me)).toEqual({ data: { me: null } });
        const verifier = "v".repeat(43);
        const login = await postJson(t.gateway.url, { query: LOGIN_MUTATIONS.verifyTruecaller, variables: { code: "fuzzed-code", verifier } }, headers);
        logins += 1;
        const body = expectGraphqlAnswer(login);
        expect(login.status).toBe(200);
        expect(body.data?.verifyTruecaller).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
      }),
      { numRuns: 25 },
    );
    // Every attempt left its audit row, whatever its client address and user agent.
    await expect.poll(async () => Number((await t.db.query("SELECT count(*) AS n FROM login_events")).rows[0].n), { timeout: 5_000 }).toBe(logins);
    expect(t.logs.filter((line) => line.includes("login event not recorded"))).toEqual([]);
  });

  it("wrote no error-level log line for any of it, and left no error unhandled", () => {
    expect(errorLines(t)).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
