import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // One copy of graphql for the tests and type-graphql, else "Cannot use
    // GraphQLObjectType from another module or realm".
    alias: { graphql: "graphql/index.js" },
  },
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["reflect-metadata"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
