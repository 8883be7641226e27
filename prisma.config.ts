import { defineConfig } from "prisma/config";

// The Prisma CLI downloads a schema-engine binary on every command, even where
// the command does not use it. Generation does not, so any existing file will do;
// migrations run through the WebAssembly engine (src/store/migrations.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: {
    url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/phonegate",
  },
});
