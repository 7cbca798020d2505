#!/usr/bin/env bash
# Builds the edge Worker (edge-worker/build: index.js, the shim and the .wasm) with worker-build,
# which runs cargo for wasm32, wasm-bindgen (the CLI scripts/setup.sh installs, at the crate's
# exact version), npm's wasm-opt and esbuild. Skipped when nothing it is built from changed, so
# `wrangler dev` (whose [build] command this is) starts at once on a built tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# worker-build ignores PATH for its tools.
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/@esbuild/linux-x64/bin/esbuild"

out=edge-worker/build/index.js
if [ -f "$out" ] && [ -z "$(find edge-worker/src edge-worker/Cargo.toml evaluator/src evaluator/Cargo.toml wire/src wire/Cargo.toml \
      Cargo.toml Cargo.lock -newer "$out" -print -quit)" ]; then
  exit 0
fi
cd edge-worker
worker-build --release
# The size that counts against the Workers plan limit (3 MB compressed on the free plan).
wasm=$(ls build/*.wasm build/**/*.wasm 2>/dev/null | head -1 || true)
if [ -n "$wasm" ]; then
  printf 'edge worker: %s bytes, %s gzip\n' "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)" >&2
fi
