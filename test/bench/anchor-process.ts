/**
 * The bare Apollo Server anchor: a trivial schema on @apollo/server with the express5 integration,
 * assembled as src/gateway.ts assembles the gateway (same body parser limit, production options,
 * one operation per request, CSRF prevention) but with nothing behind the resolver — what the
 * gateway's `me` is compared with. The mutation takes the same arguments as `verifyTruecaller`, so
 * its request body is as large as a login's.
 *
 * Prints one JSON line `{"ready":{"url":…}}` on stdout once it listens; exits when its stdin closes
 * or on SIGTERM/SIGINT.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";
import { exitWhenAskedOrOrphaned } from "./child-lifecycle.js";

const HOST = "127.0.0.1";
/** As the gateway's REQUEST_BODY_LIMIT. */
const REQUEST_BODY_LIMIT = "64kb";
/** What `ping` answers (scenarios.ts checks for it). */
const PONG = "pong";

const typeDefs = /* GraphQL */ `
  type Query {
    ok: Boolean
  }
  type Mutation {
    ping(code: String!, verifier: String!): String
  }
`;

const resolvers = {
  Query: { ok: () => true },
  Mutation: { ping: () => PONG },
};

const app = express();
app.disable("x-powered-by");
const server = createServer(app);
const apollo = new ApolloServer({
  typeDefs,
  resolvers,
  introspection: false,
  allowBatchedHttpRequests: false,
  csrfPrevention: true,
  stopOnTerminationSignals: false,
  plugins: [ApolloServerPluginDrainHttpServer({ httpServer: server }), ApolloServerPluginLandingPageDisabled()],
});
await apollo.start();
app.use("/graphql", express.json({ limit: REQUEST_BODY_LIMIT }), expressMiddleware(apollo));
await new Promise<void>((resolve) => server.listen(0, HOST, resolve));

exitWhenAskedOrOrphaned(() => apollo.stop());

process.stdout.write(`${JSON.stringify({ ready: { url: `http://${HOST}:${(server.address() as AddressInfo).port}` } })}\n`);
