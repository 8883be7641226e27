import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { DateTimeResolver } from "graphql-scalars";
import { execute, GraphQLError, lexicographicSortSchema, parse, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import { buildSchema, createResolversMap, type ContainerType } from "type-graphql";
import type { GatewayContext } from "./context.js";
import { AuthErrorCode } from "./format-error.js";
import { LoginResolver } from "./login.resolver.js";
import { ProfileResolver } from "./profile.resolver.js";
import { SessionResolver } from "./session.resolver.js";
import { UserResolver } from "./user.resolver.js";
import { User } from "./user.type.js";

/** Resolver classes of the gateway, instantiated through the container. */
const RESOLVERS = [LoginResolver, ProfileResolver, SessionResolver, UserResolver] as const;

/**
 * The Federation 2 link of the subgraph. v2.3 is what Apollo's subgraph
 * compatibility suite and every supported router accept; we need only `@key`.
 */
const FEDERATION_LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])';

/**
 * Builds the executable schema: an Apollo Federation 2 subgraph whose `User`
 * is an entity other subgraphs extend by id. Resolvers get their services
 * from `container`, so the schema holds no clients. Input validation is ours
 * (auth layer): class-validator would copy submitted values into errors.
 */
export async function buildGatewaySchema(container: ContainerType): Promise<GraphQLSchema> {
  const typeGraphqlSchema = await buildSchema({
    resolvers: RESOLVERS,
    container,
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // `@key` is defined by the federation link, which type-graphql does not know.
    skipCheck: true,
  });
  const resolvers = createResolversMap(typeGraphqlSchema) as Record<string, object>;
  const schema = buildSubgraphSchema({
    typeDefs: parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(lexicographicSortSchema(typeGraphqlSchema))}`),
    resolvers: {
      ...resolvers,
      User: {
        ...resolvers.User,
        // `_Any` is any JSON: a representation without a string id names no user.
        __resolveReference: async ({ id }: { id?: unknown }, context: GatewayContext) => {
          if (typeof id !== "string") return null;
          const user = await context.users.load(id);
          return user && User.from(user);
        },
      },
    } as never,
  });
  guardEntities(schema);
  return schema;
}

/**
 * `_entities` reads any user by id; with ROUTER_SECRET set only the router
 * may ask (the context says whether the request carried the secret).
 */
function guardEntities(schema: GraphQLSchema): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const resolve = field?.resolve as GraphQLFieldResolver<unknown, GatewayContext> | undefined;
  if (!field || !resolve) throw new Error("the subgraph schema has no _entities resolver");
  field.resolve = (source, args, context, info) => {
    if (!context.fromRouter) {
      throw new GraphQLError("_entities is answered only for requests from the router.", { extensions: { code: AuthErrorCode.FORBIDDEN } });
    }
    return resolve(source, args, context, info);
  };
}

/** The SDL committed as `schema.graphql`: exactly what `_service { sdl }` answers, federation directives included. */
export async function printGatewaySchema(schema: GraphQLSchema): Promise<string> {
  const result = await execute({ schema, document: parse("{ _service { sdl } }") });
  const sdl = (result.data?._service as { sdl?: unknown } | undefined)?.sdl;
  if (typeof sdl !== "string") throw new Error(`_service { sdl } failed: ${JSON.stringify(result.errors)}`);
  return `${sdl}\n`;
}

/** Builds the schema for printing only: no resolver is ever instantiated. */
export function buildSchemaForPrinting(): Promise<GraphQLSchema> {
  return buildGatewaySchema({
    get: () => {
      throw new Error("the printing schema cannot execute operations");
    },
  });
}
