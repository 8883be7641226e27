/** `npm run schema:print`: regenerates the committed schema.graphql from the code. */
import "reflect-metadata";
import { writeFile } from "node:fs/promises";
import { buildSchemaForPrinting, printGatewaySchema } from "./schema.js";

const target = new URL("../../schema.graphql", import.meta.url);
await writeFile(target, await printGatewaySchema(await buildSchemaForPrinting()));
console.log(`wrote ${target.pathname}`);
