import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { stripIgnoredCharacters } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

/**
 * The generic checks of Apollo's subgraph compatibility suite
 * (github.com/apollographql/apollo-federation-subgraph-compatibility, src/tests/),
 * adapted to our one entity, plus the router-secret guard in front of `_entities`.
 * Everything goes over HTTP to a real gateway, as a router would send it.
 */

const ROUTER_SECRET = "compat-router-secret-0123456789ab";
const WITH_SECRET = { "router-secret": ROUTER_SECRET };

const SERVICE_SDL = "query { _service { sdl } }";
const ENTITIES = /* GraphQL */ `
  query ($representations: [_Any!]!) {
    _entities(representations: $representations) { ...on User { id phoneNumber } }
  }
`;

/** The federation imports upstream accepts (link.test.ts). */
const KNOWN_FEDERATION_IMPORTS = [
  "@authenticated",
  "@composeDirective",
  "@extends",
  "@external",
  "@inaccessible",
  "@interfaceObject",
  "@key",
  "@override",
  "@policy",
  "@provides",
  "@requires",
  "@requiresScopes",
  "@shareable",
  "@tag",
  "FieldSet",
  "Scope",
  "Policy",
];

interface LoggedInUser {
  id: string;
  phoneNumber: string;
}

async function loginUser(t: TestGateway, phoneNumber: string): Promise<LoggedInUser> {
  const result = await t.login({ profile: { phone_number: phoneNumber } });
  expect(result).toMatchObject({ __typename: "LoginSuccess" });
  return result.user as LoggedInUser;
}

async function serviceSdl(t: TestGateway, headers?: Record<string, string>): Promise<string> {
  const body = await t.graphql<{ _service: { sdl: string } }>(SERVICE_SDL, undefined, headers);
  if (!body.data) throw new Error(`_service { sdl } failed: ${JSON.stringify(body.errors)}`);
  return body.data._service.sdl;
}

describe("Apollo subgraph compatibility (ROUTER_SECRET set, requests carry it)", () => {
  let t: TestGateway;
  let user: LoggedInUser;

  beforeAll(async () => {
    t = await startTestGateway({ env: { ROUTER_SECRET } });
    user = await loginUser(t, "919811100001");
  });
  afterAll(async () => t?.close());

  it("_service: answers the SDL", async () => {
    const body = await t.graphql(SERVICE_SDL, undefined, WITH_SECRET);
    expect(body.errors).toBeUndefined();
    expect(body.data).toMatchObject({ _service: { sdl: expect.stringContaining("type Query") } });
  });

  it("@link: links exactly one Federation 2 spec, of a supported version, with known imports only", async () => {
    const sdl = await serviceSdl(t, WITH_SECRET);
    expect(sdl).toContain("@link");
    const normalized = stripIgnoredCharacters(sdl);
    const links = [...normalized.matchAll(/@link\(([\s\S]+?)\)/g)].map((match) => match[1] ?? "");
    // `directive @link(...)` and the link/v1.0 core link match too; only federation links count.
    const federationLinks = links.filter((link) => /url:"https:\/\/specs\.apollo\.dev\/federation\/v(.+?)"/.test(link));
    expect(federationLinks).toHaveLength(1);

    const [federationLink = ""] = federationLinks;
    const version = /url:"https:\/\/specs\.apollo\.dev\/federation\/v(.+?)"/.exec(federationLink)?.[1];
    expect(version).toMatch(/^(2\.0|2\.1|2\.2|2\.3|2\.4|2\.5|2\.6|2\.7)$/);
    const imports = JSON.parse(/import:(\[.*?\])/.exec(federationLink)?.[1] ?? "[]") as string[];
    expect(imports).toContain("@key");
    for (const imported of imports) expect(KNOWN_FEDERATION_IMPORTS).toContain(imported);
  });

  it("@key single: declares User @key(fields: \"id\")", async () => {
    const normalized = stripIgnoredCharacters(await serviceSdl(t, WITH_SECRET));
    expect(normalized).toMatch(/type User(@extends|@federation__extends)?(@key|@federation__key)\(fields:"id"( resolvable:true)?\)/);
  });

  it("@key single: resolves a User representation by id from the database", async () => {
    const body = await t.graphql(ENTITIES, { representations: [{ __typename: "User", id: user.id }] }, WITH_SECRET);
    expect(body.errors).toBeUndefined();
    expect(body).toMatchObject({ data: { _entities: [{ id: user.id, phoneNumber: "+919811100001" }] } });
  });

  it("ftv1: adds an inline trace when the router asks for one", async () => {
    const body = await t.graphql("query { __typename }", undefined, { ...WITH_SECRET, "apollo-federation-include-trace": "ftv1" });
    expect(body).toEqual({ data: { __typename: "Query" }, extensions: { ftv1: expect.any(String) } });
  });

  it("ftv1: adds no trace when not asked (clients never see one by accident)", async () => {
    const body = await t.graphql("query { __typename }", undefined, WITH_SECRET);
    expect(body).toEqual({ data: { __typename: "Query" } });
  });

  it("_entities: answers several representations in order, null for an unknown UUID and for a non-UUID id", async () => {
    const second = await loginUser(t, "919811100002");
    const representations = [
      { __typename: "User", id: second.id },
      { __typename: "User", id: randomUUID() },
      { __typename: "User", id: user.id },
      { __typename: "User", id: "not-a-uuid" },
      { __typename: "User", id: second.id },
    ];
    const body = await t.graphql(ENTITIES, { representations }, WITH_SECRET);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({
      _entities: [
        { id: second.id, phoneNumber: "+919811100002" },
        null,
        { id: user.id, phoneNumber: "+919811100001" },
        null,
        { id: second.id, phoneNumber: "+919811100002" },
      ],
    });
  });

  it("_entities: a representation without a string id is null, and does not spoil the rest of the batch", async () => {
    const representations = [{ __typename: "User", id: user.id }, { __typename: "User", id: 42 }, { __typename: "User" }];
    const body = await t.graphql(ENTITIES, { representations }, WITH_SECRET);
    expect(body).toEqual({ data: { _entities: [{ id: user.id, phoneNumber: "+919811100001" }, null, null] } });
  });

  it("schema.graphql is exactly the live _service.sdl (the router and other teams compose against the file)", async () => {
    const committed = await readFile(new URL("../../schema.graphql", import.meta.url), "utf8");
    expect(`${await serviceSdl(t, WITH_SECRET)}\n`).toBe(committed);
  });

  describe("router secret", () => {
    it("_service needs no secret: composition tools read the SDL, which is no user data", async () => {
      expect(await serviceSdl(t)).toContain("type User");
    });

    it.each([
      ["without a router-secret header", {}],
      ["with a wrong router-secret header", { "router-secret": "wrong-router-secret-0123456789abc" }],
      ["with the secret differing only in its last character", { "router-secret": `${ROUTER_SECRET.slice(0, -1)}c` }],
      ["with the secret and trailing text", { "router-secret": `${ROUTER_SECRET}x` }],
    ])("_entities %s is FORBIDDEN and answers no data", async (_name, headers: Record<string, string>) => {
      const body = await t.graphql(ENTITIES, { representations: [{ __typename: "User", id: user.id }] }, headers);
      // `_entities` is non-null, so its error nulls the whole response.
      expect(body.data).toBeNull();
      expect(body.errors).toEqual([expect.objectContaining({ path: ["_entities"], extensions: { code: "FORBIDDEN" } })]);
      expect(JSON.stringify(body)).not.toContain(user.phoneNumber);
    });

    it("_entities with the right router-secret header answers", async () => {
      const body = await t.graphql(ENTITIES, { representations: [{ __typename: "User", id: user.id }] }, WITH_SECRET);
      expect(body).toEqual({ data: { _entities: [{ id: user.id, phoneNumber: user.phoneNumber }] } });
    });

    it.each([
      ["under an alias", "query ($r: [_Any!]!) { users: _entities(representations: $r) { ... on User { phoneNumber } } }"],
      ["inside a fragment", "query ($r: [_Any!]!) { ...Lookup } fragment Lookup on Query { _entities(representations: $r) { ... on User { phoneNumber } } }"],
      ["beside an ordinary field", "query ($r: [_Any!]!) { providers { id } _entities(representations: $r) { ... on User { phoneNumber } } }"],
    ])("_entities %s is FORBIDDEN too", async (_name, query) => {
      const body = await t.graphql(query, { r: [{ __typename: "User", id: user.id }] });
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(["FORBIDDEN"]);
      expect(JSON.stringify(body)).not.toContain(user.phoneNumber);
    });

    it("ordinary queries do not need the secret", async () => {
      const body = await t.graphql("query { providers { id } }");
      expect(body).toEqual({ data: { providers: [{ id: "TRUECALLER" }, { id: "WGTWO" }, { id: "OIDC" }] } });
    });
  });
});

describe("Apollo subgraph compatibility (no ROUTER_SECRET configured)", () => {
  let t: TestGateway;
  let user: LoggedInUser;

  beforeAll(async () => {
    t = await startTestGateway();
    user = await loginUser(t, "919811100003");
  });
  afterAll(async () => t?.close());

  it("_entities answers anyone, with or without a router-secret header", async () => {
    const expected = { data: { _entities: [{ id: user.id, phoneNumber: "+919811100003" }] } };
    const representations = [{ __typename: "User", id: user.id }];
    expect(await t.graphql(ENTITIES, { representations })).toEqual(expected);
    expect(await t.graphql(ENTITIES, { representations }, { "router-secret": "anything-at-all-0123456789" })).toEqual(expected);
  });
});
