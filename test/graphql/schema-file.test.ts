import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { buildSchemaForPrinting, printGatewaySchema } from "../../src/graphql/schema.js";

describe("schema.graphql", () => {
  it("matches the schema the code builds (run `npm run schema:print` after changing types)", async () => {
    const committed = await readFile(new URL("../../schema.graphql", import.meta.url), "utf8");
    expect(await printGatewaySchema(await buildSchemaForPrinting())).toBe(committed);
  });
});
