#!/usr/bin/env bash
# The wasm package's benchmarks (evaluator-wasm/npm/bench/run.mjs): a 20-line cart against 1,000
# promotions and a signed 1,000-promotion bundle's load, timed in Node from the JS call to the
# JS result, beside the native criterion medians of the same workloads, and Medusa's promotion
# functions on the features both have. Run on a quiet machine: `scripts/bench-wasm.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-$PWD/target}"

scripts/setup.sh
cargo xtask build wasm
bench=evaluator-wasm/npm/bench
if ! cmp -s "$bench/package-lock.json" "$bench/node_modules/.promoseal-installed" 2>/dev/null; then
  (cd "$bench" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.promoseal-installed)
fi
cargo run --release --locked -q -p promoseal-evaluator --example workload -- "$target/workload"
cargo bench --locked -p promoseal-evaluator --bench evaluate -- \
  'typical-1000-promotions.20-lines|typical-0-promotions|combinable'
cargo bench --locked -p promoseal-evaluator --bench verify -- 'verify/1000-promotions$'
PROMOSEAL_WORKLOAD="$target/workload" node "$bench/run.mjs"
