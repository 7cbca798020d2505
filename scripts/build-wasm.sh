#!/usr/bin/env bash
# Builds the wasm package in evaluator-wasm/npm (@promoseal/evaluator): the JavaScript API crate
# (evaluator-wasm, over the evaluator core), through wasm-pack (wasm-bindgen-cli at the crate's
# exact version) for browsers (dist/web, ES module) and Node (dist/node, CommonJS), each named
# promoseal_evaluator* and optimized by wasm-opt from npm's binaryen, then checks the size
# budget (evaluator-wasm/npm/size-budget.json).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

dist=evaluator-wasm/npm/dist
rm -rf "$dist"
# The features rustc's wasm32 target emits by default; wasm-opt must accept exactly these.
features=(--enable-bulk-memory --enable-multivalue --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext)
for target in web nodejs; do
  dir="$dist/${target%js}"
  # wasm-pack's own wasm-opt would be downloaded from GitHub: --no-opt, and npm's runs below.
  wasm-pack --log-level warn build evaluator-wasm --profile wasm --target "$target" \
    --out-dir "$PWD/$dir" --out-name promoseal_evaluator --no-pack --no-opt --weak-refs -- --locked
  wasm-opt "${WASM_OPT_LEVEL:--O3}" "${features[@]}" --strip-debug --strip-producers \
    "$dir/promoseal_evaluator_bg.wasm" -o "$dir/promoseal_evaluator_bg.wasm"
  rm -f "$dir/.gitignore"
done
# Module scopes: the web build is an ES module, the Node build CommonJS.
printf '{ "type": "module" }\n' >"$dist/web/package.json"
printf '{ "type": "commonjs" }\n' >"$dist/node/package.json"
node evaluator-wasm/npm/size.mjs
