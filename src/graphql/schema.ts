import { DateTimeResolver } from "graphql-scalars";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType } from "type-graphql";
import { LoginResolver } from "./login.resolver.js";

/** Resolver classes of the gateway, instantiated through the container. */
const RESOLVERS = [LoginResolver] as const;

/**
 * Builds the executable schema. Resolvers get their services from `container`,
 * so the schema itself holds no clients. Input validation is ours (auth layer):
 * class-validator would copy submitted values into error messages.
 */
export function buildGatewaySchema(container: ContainerType): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    container,
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
  });
}

/** The SDL committed as `schema.graphql`, sorted so diffs show real changes only. */
export function printGatewaySchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/** Builds the schema for printing only: no resolver is ever instantiated. */
export function buildSchemaForPrinting(): Promise<GraphQLSchema> {
  return buildGatewaySchema({
    get: () => {
      throw new Error("the printing schema cannot execute operations");
    },
  });
}
