// Parse the AsyncAPI document with the reference parser; exit 1 on any error-level diagnostic.
// Usage: node validate-asyncapi.mjs ../../docs/asyncapi.json
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, "utf8"));
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  console.log(`${["error", "warning", "info", "hint"][d.severity]} ${d.code}: ${d.message} at ${d.path.join("/")}`);
}
if (!document || errors.length) {
  console.error(`${errors.length} error(s) in ${path}`);
  process.exit(1);
}
const channels = document.channels().all().length;
const messages = document.messages().all().length;
console.log(JSON.stringify({ ok: true, channels, messages }));
