// The package's size: raw and gzip (level 9) of the optimized evaluator .wasm and of the web
// glue. Fails when the .wasm grows past the budget recorded in size-budget.json.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const dist = new URL("dist/web/", import.meta.url);
const budget = JSON.parse(readFileSync(new URL("size-budget.json", import.meta.url)));
const size = (name) => {
  const bytes = readFileSync(new URL(name, dist));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const wasm = size("promoseal_evaluator_bg.wasm");
const glue = size("promoseal_evaluator.js");
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`evaluator .wasm: ${kb(wasm.raw)} raw, ${kb(wasm.gzip)} gzip (budget ${kb(budget.wasmRaw)} raw, ${kb(budget.wasmGzip)} gzip)`);
console.log(`web glue .js:    ${kb(glue.raw)} raw, ${kb(glue.gzip)} gzip`);
const over = [];
if (wasm.raw > budget.wasmRaw) over.push(`raw ${wasm.raw} > ${budget.wasmRaw}`);
if (wasm.gzip > budget.wasmGzip) over.push(`gzip ${wasm.gzip} > ${budget.wasmGzip}`);
if (over.length > 0) {
  console.error(`error: the evaluator .wasm is over its size budget (${over.join(", ")}); ` +
    "shrink it, or raise evaluator-wasm/npm/size-budget.json with the reason in the commit");
  process.exit(1);
}
