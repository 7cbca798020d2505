#!/usr/bin/env bash
# The storefront's figures (web-demo/bench/run.mjs): cart change → updated preview in the page,
# and the first load's weight, in headless Chromium against the whole stack.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-$PWD/target}"

scripts/setup.sh
cargo xtask build wasm
cargo xtask build edge
export PROMOSEAL_WORK="$target/web-bench"
scripts/walkthrough.sh >"$target/web-bench.log" 2>&1 || { tail -30 "$target/web-bench.log" >&2; exit 1; }
node web-demo/bench/run.mjs
