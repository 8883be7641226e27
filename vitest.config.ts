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
    // Most files wait on PostgreSQL, Redis and HTTP rather than compute: three at a time on two cores
    // (vitest's default is one fewer than the cores, which here means one file at a time).
    maxWorkers: 3,
    // Files in one worker share the modules they import (ours keep no state at module level), which saves
    // compiling the gateway once per file.
    isolate: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
