#!/usr/bin/env bash
# The edge Worker's tests in the real runtime: the built Worker under `wrangler dev --local`
# (workerd) against the real ledger binary on SQLite, driven by node:test
# (edge-worker/test/edge.test.mjs). Needs the wasm package (scripts/build-wasm.sh) for the
# storefront-preview test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

cargo build --release --locked -q -p promoseal-ledger
# The fixtures: signed bundles and the native answers of this build.
cargo test --locked -q -p promoseal-edge-worker --test fixtures >/dev/null
[ -f evaluator-wasm/npm/dist/node/promoseal_evaluator.js ] || scripts/build-wasm.sh
scripts/build-edge.sh
node --test --test-concurrency=1 edge-worker/test/*.test.mjs
