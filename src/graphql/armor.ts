import type { ApolloServerOptions } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { GraphQLError, type ValidationContext } from "graphql";

/**
 * How big one GraphQL operation may be. Checked before anything runs: tokens
 * while parsing, the rest as validation rules (400 `GRAPHQL_PARSE_FAILED` /
 * `GRAPHQL_VALIDATION_FAILED` naming the limit and the value found).
 */
export interface GraphqlLimits {
  /** Field nesting (fragments flattened; `__schema` introspection is not counted). */
  readonly maxDepth: number;
  /** Aliased fields per operation (`__typename` aliases are free). */
  readonly maxAliases: number;
  /** Lexical tokens of the document, punctuation included, comments not. */
  readonly maxTokens: number;
  /** graphql-armor's cost: 2 per object field, 1 per scalar, each level 1.5× deeper (introspection free). */
  readonly maxCost: number;
}

/**
 * Several times our heaviest real operations, measured over the test suite:
 * the login mutations with every `LoginResult` field (depth 4, 123 tokens,
 * cost 97), the router's `_entities` fetches (depth 3, one alias at most), and
 * the full introspection query (about 190 tokens; depth and cost skip `__schema`).
 * An alias runs its resolver again, so ten is plenty: no client of ours aliases a login.
 */
export const DEFAULT_GRAPHQL_LIMITS: GraphqlLimits = {
  maxDepth: 8,
  maxAliases: 10,
  maxTokens: 1_000,
  maxCost: 1_000,
};

/** Directives per operation; no client of ours sends more than a few `@include`/`@skip`. */
const MAX_DIRECTIVES = 20;

/**
 * Apollo Server options that bound each operation, from graphql-armor's
 * validation rules (depth, aliases, directives, cost) and graphql-js's own
 * token limit. graphql-armor's Apollo token plugin is not used: it re-parses
 * the document and rethrows every unexpected error of the request pipeline as
 * `GRAPHQL_VALIDATION_FAILED`, which our error formatter would show unmasked.
 *
 * @see https://escape.tech/graphql-armor/docs/category/plugins
 */
export function operationLimits(limits: GraphqlLimits): Pick<ApolloServerOptions<never>, "validationRules" | "parseOptions"> {
  const rejected = { propagateOnRejection: false, onReject: [reportLimit] };
  const { validationRules } = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, ...rejected },
    maxAliases: { n: limits.maxAliases, ...rejected },
    maxDirectives: { n: MAX_DIRECTIVES, ...rejected },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true, ignoreIntrospection: true, ...rejected },
    // Token counting is graphql-js's `maxTokens` below.
    maxTokens: { enabled: false },
    // Apollo's own hideSchemaDetailsFromClientErrors does this, in production only.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return { validationRules, parseOptions: { maxTokens: limits.maxTokens } };
}

/** graphql-armor words every refusal as "Syntax Error: …"; these are validation errors. */
function reportLimit(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, "")));
}
