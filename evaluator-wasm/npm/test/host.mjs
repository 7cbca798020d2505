// Shared by the Node tests: the nodejs build of the package.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const build = fileURLToPath(new URL("../dist/node/promoseal_evaluator.js", import.meta.url));
if (!existsSync(build)) {
  throw new Error(`${build} is missing: build the package with cargo xtask build wasm`);
}
export const { Engine, evaluatorVersion, inspectRoot } = require(build);
