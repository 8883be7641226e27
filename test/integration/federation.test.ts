import { randomUUID } from "node:crypto";
import { composeServices } from "@apollo/composition";
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse, type GraphQLFormattedError } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

/**
 * phonegate in a real supergraph: its live `_service.sdl` composed with a
 * test-only "orders" subgraph that extends `User`, served by an in-process
 * ApolloGateway acting as the router. Proves the SDL composes, `me` flows
 * through the router with the caller's token, and `_entities` answers the
 * router only when it carries ROUTER_SECRET.
 */

const ROUTER_SECRET = "federation-router-secret-0123456";
const PHONEGATE = "phonegate";
const ORDERS = "orders";

/** Orders of a user, derived from the id so assertions know what to expect. */
function ordersOf(userId: string): Array<{ id: string; buyerId: string }> {
  return [1, 2].map((n) => ({ id: `${userId}:order-${n}`, buyerId: userId }));
}

const ORDERS_TYPE_DEFS = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type Query {
    "Starts a plan in this subgraph that needs phonegate's _entities for the buyer."
    latestOrder(buyerId: ID!): Order
  }

  type User @key(fields: "id") {
    id: ID!
    orders: [Order!]!
  }

  type Order {
    id: ID!
    buyer: User
  }
`);

async function startOrdersSubgraph(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: ORDERS_TYPE_DEFS,
      resolvers: {
        Query: { latestOrder: (_: unknown, { buyerId }: { buyerId: string }) => ordersOf(buyerId).at(-1) },
        User: {
          __resolveReference: ({ id }: { id: string }) => ({ id }),
          orders: ({ id }: { id: string }) => ordersOf(id),
        },
        // A bare reference: every other User field comes from phonegate's _entities.
        Order: { buyer: ({ buyerId }: { buyerId: string }) => ({ __typename: "User", id: buyerId }) },
      },
    }),
    // Our router does not ask for traces; this also keeps the "enabling inline tracing" line out of the test output.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
  return { url, stop: () => server.stop() };
}

/** What the router keeps of the incoming request for its subgraph fetches. */
interface RouterContext {
  authorization?: string | undefined;
}

/**
 * A subgraph data source as a router is configured for phonegate: it passes
 * the caller's Authorization on and adds the router secret, when given one.
 */
class RouterDataSource extends RemoteGraphQLDataSource<RouterContext> {
  constructor(
    url: string,
    private readonly routerSecret: string | undefined,
  ) {
    super({ url });
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<RouterContext>): void {
    const headers = options.request.http?.headers;
    if (!headers) return;
    if (this.routerSecret !== undefined) headers.set("router-secret", this.routerSecret);
    // Health checks and schema loading have no incoming request to take a token from. (The
    // GraphQLDataSourceRequestKind enum is typed but not exported at runtime by @apollo/gateway 2.14.)
    const authorization = "incomingRequestContext" in options ? options.context?.authorization : undefined;
    if (authorization) headers.set("authorization", authorization);
  }
}

interface Router {
  readonly url: string;
  stop(): Promise<void>;
}

/** An ApolloGateway over `supergraphSdl` on port 0; only phonegate gets `routerSecret` (the orders team need not know it). */
async function startRouter(supergraphSdl: string, routerSecret: string | undefined): Promise<Router> {
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => {
      if (!url) throw new Error(`the supergraph has no URL for subgraph ${name}`);
      return new RouterDataSource(url, name === PHONEGATE ? routerSecret : undefined);
    },
  });
  const server = new ApolloServer<RouterContext>({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: "127.0.0.1" },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return {
    url,
    async stop() {
      await server.stop();
      await gateway.stop(); // Idempotent: ApolloServer.stop already stops its gateway.
    },
  };
}

interface RouterResponse {
  data?: Record<string, unknown> | null;
  errors?: GraphQLFormattedError[];
}

async function queryRouter(
  router: Router,
  query: string,
  options: { variables?: Record<string, unknown>; accessToken?: string } = {},
): Promise<RouterResponse> {
  const response = await fetch(router.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(options.accessToken ? { authorization: `Bearer ${options.accessToken}` } : {}) },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return (await response.json()) as RouterResponse;
}

const ME_WITH_ORDERS = "query { me { id phoneNumber orders { id } } }";
const LATEST_ORDER_BUYER = "query ($buyerId: ID!) { latestOrder(buyerId: $buyerId) { id buyer { id phoneNumber identities { provider } } } }";

describe("phonegate in a federated supergraph", () => {
  let t: TestGateway;
  let orders: { url: string; stop(): Promise<void> } | undefined;
  let supergraphSdl: string;
  let router: Router | undefined;
  let routerWithoutSecret: Router | undefined;
  let user: { id: string; phoneNumber: string };
  let accessToken: string;

  beforeAll(async () => {
    t = await startTestGateway({ env: { ROUTER_SECRET } });
    orders = await startOrdersSubgraph();

    // What a composition pipeline (rover, GraphOS) reads: the live SDL, over HTTP.
    const sdl = await t.graphql<{ _service: { sdl: string } }>("query { _service { sdl } }", undefined, { "router-secret": ROUTER_SECRET });
    if (!sdl.data) throw new Error(`_service { sdl } failed: ${JSON.stringify(sdl.errors)}`);
    const composed = composeServices([
      { name: PHONEGATE, typeDefs: parse(sdl.data._service.sdl), url: `${t.gateway.url}/graphql` },
      { name: ORDERS, typeDefs: ORDERS_TYPE_DEFS, url: orders.url },
    ]);
    if (composed.errors) throw new Error(`composition failed:\n${composed.errors.map((error) => error.message).join("\n")}`);
    supergraphSdl = composed.supergraphSdl;

    router = await startRouter(supergraphSdl, ROUTER_SECRET);
    routerWithoutSecret = await startRouter(supergraphSdl, undefined);

    const login = await t.login({ profile: { phone_number: "919822200001" } });
    expect(login).toMatchObject({ __typename: "LoginSuccess" });
    user = login.user as typeof user;
    accessToken = (login.session as { accessToken: string }).accessToken;
  });

  afterAll(async () => {
    await Promise.allSettled([router?.stop(), routerWithoutSecret?.stop(), orders?.stop()]);
    await t?.close();
  });

  it("composes with a subgraph that extends User by id, both subgraphs resolving User", () => {
    expect(supergraphSdl).toContain('@join__type(graph: PHONEGATE, key: "id")');
    expect(supergraphSdl).toContain('@join__type(graph: ORDERS, key: "id")');
  });

  it("me through the router: phonegate reads the forwarded Bearer token, orders adds the user's orders", async () => {
    const body = await queryRouter(router!, ME_WITH_ORDERS, { accessToken });
    expect(body).toEqual({
      data: { me: { id: user.id, phoneNumber: "+919822200001", orders: ordersOf(user.id).map(({ id }) => ({ id })) } },
    });
  });

  it("me through the router is null without Authorization", async () => {
    expect(await queryRouter(router!, ME_WITH_ORDERS)).toEqual({ data: { me: null } });
  });

  it("me through the router passes phonegate's UNAUTHENTICATED on for an invalid token", async () => {
    const body = await queryRouter(router!, ME_WITH_ORDERS, { accessToken: "not.a.valid-token" });
    expect(body.data).toEqual({ me: null });
    expect(body.errors).toEqual([
      expect.objectContaining({ path: ["me"], extensions: expect.objectContaining({ code: "UNAUTHENTICATED", serviceName: PHONEGATE }) }),
    ]);
  });

  it("an orders-first plan resolves the buyer through phonegate's _entities with the router secret", async () => {
    const body = await queryRouter(router!, LATEST_ORDER_BUYER, { variables: { buyerId: user.id } });
    expect(body).toEqual({
      data: { latestOrder: { id: `${user.id}:order-2`, buyer: { id: user.id, phoneNumber: "+919822200001", identities: [{ provider: "TRUECALLER" }] } } },
    });
  });

  it("an entity reference to no stored user comes back without phonegate's fields, not as an error", async () => {
    const buyerId = randomUUID();
    const body = await queryRouter(router!, LATEST_ORDER_BUYER, { variables: { buyerId } });
    expect(body.errors).toBeUndefined();
    // phonegate answers null for the reference; the non-null phoneNumber then nulls the buyer.
    expect(body.data).toEqual({ latestOrder: { id: `${buyerId}:order-2`, buyer: null } });
  });

  describe("a router that does not send the router secret", () => {
    it("gets FORBIDDEN from phonegate for the entity fetch, and no user data", async () => {
      const body = await queryRouter(routerWithoutSecret!, LATEST_ORDER_BUYER, { variables: { buyerId: user.id } });
      expect(body.errors).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: "FORBIDDEN", serviceName: PHONEGATE }) }),
      ]);
      expect(body.data).toEqual({ latestOrder: { id: `${user.id}:order-2`, buyer: null } });
      expect(JSON.stringify(body)).not.toContain(user.phoneNumber);
    });

    it("still serves me, which needs no _entities from phonegate", async () => {
      const body = await queryRouter(routerWithoutSecret!, ME_WITH_ORDERS, { accessToken });
      expect(body).toEqual({
        data: { me: { id: user.id, phoneNumber: "+919822200001", orders: ordersOf(user.id).map(({ id }) => ({ id })) } },
      });
    });
  });
});
