#!/usr/bin/env bash
# The edge Worker's benchmark (edge-worker/bench/run.mjs): wrk against the built Worker in
# workerd, /v1/evaluate (20-line cart, 1,000 promotions) beside an empty route, the first
# request after start, and the Worker's compressed size. `scripts/bench-edge.sh`
# (BENCH_SECONDS, BENCH_CONNECTIONS to change the run).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-$PWD/target}"

scripts/setup.sh
cargo run --release --locked -q -p promoseal-evaluator --example workload -- "$target/workload"
PROMOSEAL_WORKLOAD="$target/workload" cargo test --locked -q -p promoseal-edge-worker --test fixtures >/dev/null
cargo xtask build edge
node edge-worker/bench/run.mjs
