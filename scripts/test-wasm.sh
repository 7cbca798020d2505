#!/usr/bin/env bash
# The wasm package's tests: native answers for every corpus case and signing vector, the
# TypeScript declarations checked against the Rust types, the package build (size budget
# included), the example type-checked against the declarations, then the Node tests
# (byte-identical to native, bad input) and the Chromium test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" PATH="$PWD/node_modules/.bin:$PATH"
export PROMOSEAL_NATIVE_RESULTS="${CARGO_TARGET_DIR:-$PWD/target}/tmp/conformance/native.jsonl"

# scripts/test.sh has just run every Rust test, this one included.
if [ -z "${PROMOSEAL_NATIVE_DONE:-}" ]; then
  cargo test --locked -q -p promoseal-evaluator --test integration -- conformance
fi
# evaluator-wasm/npm/types.d.ts, which the package ships, must be what the Rust types generate
# (ts-rs): this test fails on any difference; `UPDATE_TYPES=1` rewrites the file.
cargo test --locked -q -p promoseal-evaluator-wasm -- declarations
scripts/build-wasm.sh
tsc -p evaluator-wasm/npm/example
node --test --test-reporter=spec evaluator-wasm/npm/test/*.test.mjs
