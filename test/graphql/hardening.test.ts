import { getIntrospectionQuery, Lexer, Source, TokenKind } from "graphql";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_GRAPHQL_LIMITS } from "../../src/graphql/armor.js";
import { startTestGateway, VERIFY_MUTATION, type GraphqlResponse, type TestGateway } from "../helpers/test-gateway.js";

const { maxDepth, maxAliases, maxTokens, maxCost } = DEFAULT_GRAPHQL_LIMITS;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A representation type no subgraph has: @apollo/subgraph throws a plain Error, a fault we did not mean. */
const UNRESOLVABLE_ENTITY = { query: "query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }", variables: { r: [{ __typename: "NoSuchType" }] } };

interface Answer {
  status: number;
  requestId: string | null;
  body: GraphqlResponse<Record<string, unknown>>;
}

async function post(t: TestGateway, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${t.gateway.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, requestId: response.headers.get("x-request-id"), body: (await response.json()) as Answer["body"] };
}

function tokenCount(document: string): number {
  const lexer = new Lexer(new Source(document));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  return count;
}

/** `__type { fields { type { ofType … { name } } } }` nested `depth` fields deep (graphql-js bounds `fields` nesting, not `ofType`). */
function typeChain(depth: number): string {
  let selection = "name";
  for (let level = 4; level < depth; level += 1) selection = `ofType { ${selection} }`;
  return `{ __type(name: "User") { fields { type { ${selection} } } } }`;
}

/** An `_entities` call whose only weight is a list literal of `padding` numbers (tokens, no cost). */
function paddedDocument(padding: number): string {
  return `{ _entities(representations: [{ __typename: "User", padding: [${" 0".repeat(padding)}] }]) { __typename } }`;
}

function logEntries(t: TestGateway): Array<Record<string, unknown>> {
  return t.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("GraphQL hardening (development)", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => t?.close());
  beforeEach(() => t.emulator.reset());

  describe("operation limits", () => {
    it("lets the full introspection query through (Sandbox, codegen)", async () => {
      const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
      const answer = await post(t, { query });
      expect(answer.status).toBe(200);
      expect(answer.body.data?.__schema).toMatchObject({ queryType: { name: "Query" } });
    });

    it(`refuses an operation deeper than ${maxDepth} fields, and takes one exactly that deep`, async () => {
      expect((await post(t, { query: typeChain(maxDepth) })).status).toBe(200);
      expect(await post(t, { query: typeChain(maxDepth + 1) })).toMatchObject({
        status: 400,
        body: { errors: [{ message: `Query depth limit of ${maxDepth} exceeded, found ${maxDepth + 1}.`, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }] },
      });
    });

    it(`refuses more than ${maxAliases} aliases, and takes exactly that many`, async () => {
      const aliased = (count: number) => `{ ${Array.from({ length: count }, (_, n) => `p${n}: providers { id }`).join(" ")} }`;
      expect((await post(t, { query: aliased(maxAliases) })).status).toBe(200);
      expect(await post(t, { query: aliased(maxAliases + 1) })).toMatchObject({
        status: 400,
        body: { errors: [{ message: `Aliases limit of ${maxAliases} exceeded, found ${maxAliases + 1}.`, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }] },
      });
    });

    it("refuses an aliased burst of logins before any provider call", async () => {
      const burst = `mutation { ${Array.from({ length: maxAliases + 1 }, (_, n) => `l${n}: verifyTruecaller(code: "c${n}", verifier: "${"v".repeat(43)}") { __typename }`).join(" ")} }`;
      expect((await post(t, { query: burst })).status).toBe(400);
      expect(t.emulator.requests).toEqual([]);
    });

    it(`refuses a document of more than ${maxTokens} tokens while parsing, and takes exactly that many`, async () => {
      const padding = maxTokens - tokenCount(paddedDocument(0));
      expect(tokenCount(paddedDocument(padding))).toBe(maxTokens);
      expect(await post(t, { query: paddedDocument(padding) })).toMatchObject({ status: 200, body: { data: { _entities: [null] } } });
      expect(await post(t, { query: paddedDocument(padding + 1) })).toMatchObject({
        status: 400,
        // graphql-js's wording, typo included.
        body: { errors: [{ message: `Syntax Error: Document contains more that ${maxTokens} tokens. Parsing aborted.`, extensions: { code: "GRAPHQL_PARSE_FAILED" } }] },
      });
    });

    it(`refuses an operation costing more than ${maxCost}: fragments spread many times cost every time`, async () => {
      // Each spread of Wrapped costs about 48.
      const spreads = " ...Wrapped".repeat(Math.ceil(maxCost / 40));
      const query = `{ __type(name: "User") {${spreads} } } fragment Wrapped on __Type { ofType { ofType { ofType { name kind description } } } }`;
      expect(tokenCount(query)).toBeLessThan(maxTokens);
      const answer = await post(t, { query });
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([{ message: expect.stringMatching(new RegExp(`^Query Cost limit of ${maxCost} exceeded, found \\d+(\\.\\d+)?\\.$`)), extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }]);
    });

    it("refuses more than 20 directives", async () => {
      const query = `{ ${"__typename @skip(if: false) ".repeat(21)}}`;
      expect(await post(t, { query })).toMatchObject({ status: 400, body: { errors: [{ message: "Directives limit of 20 exceeded, found 21." }] } });
    });
  });

  it("refuses a batch (a JSON array body) with 400, running none of it", async () => {
    const minted = t.emulator.mintCode();
    const operation = { query: VERIFY_MUTATION, variables: { code: minted.code, verifier: minted.codeVerifier } };
    expect(await post(t, [operation, operation])).toMatchObject({
      status: 400,
      body: { errors: [{ message: "Operation batching disabled.", extensions: { code: "BAD_REQUEST" } }] },
    });
    expect(t.emulator.requests).toEqual([]);
  });

  it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])(
    "refuses a POST a browser may send cross-site without preflight (%s), running nothing",
    async (contentType) => {
      const minted = t.emulator.mintCode();
      const answer = await post(t, { query: VERIFY_MUTATION, variables: { code: minted.code, verifier: minted.codeVerifier } }, { "content-type": contentType });
      expect(answer.status).toBe(400);
      expect(answer.body.errors?.[0]?.message).toMatch(/^This operation has been blocked as a potential Cross-Site Request Forgery \(CSRF\)\./);
      expect(t.emulator.requests).toEqual([]);
    },
  );

  it("never runs a mutation sent as GET, even with a preflight header", async () => {
    const response = await fetch(`${t.gateway.url}/graphql?query=${encodeURIComponent('mutation { startLogin(provider: TRUECALLER) { state } }')}`, {
      headers: { "apollo-require-preflight": "true" },
    });
    expect(response.status).toBe(405);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: "BAD_REQUEST" } }] });
  });

  it("keeps a refused oversized body out of the log, and names the request there", async () => {
    const marker = "oversized-body-marker";
    const answer = await post(t, { query: VERIFY_MUTATION, variables: { code: marker.repeat(5_000), verifier: "v" } });
    expect(answer.status).toBe(413);
    expect(JSON.stringify(answer.body)).not.toContain(marker);
    expect(t.logs.some((line) => line.includes(marker))).toBe(false);
    expect(logEntries(t).filter((entry) => entry.requestId === answer.requestId)).toMatchObject([{ msg: "request refused before GraphQL", status: 413, type: "entity.too.large" }]);
  });

  describe("request ids", () => {
    it("gives each request a new UUID in x-request-id", async () => {
      const [first, second] = await Promise.all([post(t, { query: "{ __typename }" }), post(t, { query: "{ __typename }" })]);
      expect(first.requestId).toMatch(UUID);
      expect(second.requestId).toMatch(UUID);
      expect(first.requestId).not.toBe(second.requestId);
    });

    it.each(["abc.DEF-123_x", "7", "r".repeat(64)])("keeps the caller's safe id %j", async (id) => {
      expect((await post(t, { query: "{ __typename }" }, { "x-request-id": id })).requestId).toBe(id);
    });

    it.each([
      ["longer than 64 characters", "r".repeat(65)],
      ["with a space", "ticket 42"],
      ["with a slash", "../../etc"],
      ["with quotes", '"injected"'],
      ["empty", ""],
    ])("replaces a caller's id %s", async (_name, id) => {
      const answer = await post(t, { query: "{ __typename }" }, { "x-request-id": id });
      expect(answer.requestId).toMatch(UUID);
    });

    it("answers every route with one, refusals included", async () => {
      for (const path of ["/health/live", "/.well-known/jwks.json", "/no-such-path"]) {
        expect((await fetch(`${t.gateway.url}${path}`, { headers: { "x-request-id": "route-check" } })).headers.get("x-request-id")).toBe("route-check");
      }
      expect((await post(t, "{not json", { "x-request-id": "bad-json" })).requestId).toBe("bad-json");
    });

    it("puts it on the log lines a login writes, deep in the services, and on no other request's", async () => {
      const minted = t.emulator.mintCode();
      const answer = await post(t, { query: VERIFY_MUTATION, variables: { code: minted.code, verifier: minted.codeVerifier } }, { "x-request-id": "login-trace-1" });
      expect(answer.body.data).toMatchObject({ verifyTruecaller: { __typename: "LoginSuccess" } });
      const lines = logEntries(t).filter((entry) => entry.requestId === "login-trace-1");
      expect(lines.map((entry) => entry.msg)).toContain("login succeeded");
      // Written once per line: a child logger's binding and the mixin would both put it there.
      expect(t.logs.filter((line) => line.includes("login-trace-1")).every((line) => line.split('"requestId"').length === 2)).toBe(true);
      const lineCountBefore = t.logs.length;
      await post(t, { query: "{ __typename }" });
      expect(t.logs.slice(lineCountBefore).some((line) => line.includes("login-trace-1"))).toBe(false);
    });

    it("puts it on an unexpected error outside production too, and on its log line", async () => {
      const answer = await post(t, UNRESOLVABLE_ENTITY, { "x-request-id": "dev-fault-1" });
      expect(answer.body.errors).toMatchObject([{ message: expect.stringContaining("NoSuchType"), extensions: { code: "INTERNAL_SERVER_ERROR", requestId: "dev-fault-1" } }]);
      expect(logEntries(t).filter((entry) => entry.requestId === "dev-fault-1")).toMatchObject([{ msg: "unexpected error in GraphQL operation" }]);
    });
  });
});

describe("GraphQL hardening (production)", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: { NODE_ENV: "production" } });
  });
  afterAll(async () => t?.close());

  it("masks an unexpected error as INTERNAL_SERVER_ERROR with the request id that its log line carries", async () => {
    const answer = await post(t, UNRESOLVABLE_ENTITY);
    expect(answer.requestId).toMatch(UUID);
    expect(answer.body.errors).toEqual([
      { message: "Unexpected error.", path: ["_entities"], locations: expect.any(Array), extensions: { code: "INTERNAL_SERVER_ERROR", requestId: answer.requestId } },
    ]);
    expect(JSON.stringify(answer.body)).not.toContain("NoSuchType");
    expect(logEntries(t).filter((entry) => entry.requestId === answer.requestId)).toMatchObject([
      { level: 50, msg: "unexpected error in GraphQL operation", error: { message: expect.stringContaining("NoSuchType") }, path: ["_entities"] },
    ]);
  });

  it("keeps a caller's safe id on the masked error, for the caller's own ticket", async () => {
    const answer = await post(t, UNRESOLVABLE_ENTITY, { "x-request-id": "support-ticket-42" });
    expect(answer.requestId).toBe("support-ticket-42");
    expect(answer.body.errors?.[0]?.extensions).toEqual({ code: "INTERNAL_SERVER_ERROR", requestId: "support-ticket-42" });
  });

  it("does not suggest field names the schema has (no introspection through error messages)", async () => {
    const answer = await post(t, { query: "{ provider { id } }" });
    expect(answer.body.errors).toEqual([{ message: 'Cannot query field "provider" on type "Query".', locations: expect.any(Array), extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }]);
  });

  it("refuses introspection by __type as well as __schema", async () => {
    const answer = await post(t, { query: '{ __type(name: "User") { name } }' });
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });
});
