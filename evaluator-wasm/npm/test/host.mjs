// Shared by the Node tests: the nodejs build of the package and the native answers.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const repo = fileURLToPath(new URL("../../../", import.meta.url));

const require = createRequire(import.meta.url);
const build = fileURLToPath(new URL("../dist/node/promoseal_evaluator.js", import.meta.url));
if (!existsSync(build)) {
  throw new Error(`${build} is missing: build the package with scripts/build-wasm.sh`);
}
export const { Engine, evaluatorVersion, inspectRoot } = require(build);

const nativePath =
  process.env.PROMOSEAL_NATIVE_RESULTS ??
  fileURLToPath(new URL("target/tmp/conformance/native.jsonl", `file://${repo}`));
if (!existsSync(nativePath)) {
  throw new Error(
    `${nativePath} is missing: run \`cargo test -p promoseal-evaluator --test integration conformance\``,
  );
}
export const native = readFileSync(nativePath, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));
