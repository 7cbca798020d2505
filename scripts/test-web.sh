#!/usr/bin/env bash
# The storefront's tests in headless Chromium (Debian's, driven by playwright-core) against the
# whole stack: examples/shop signed by scripts/walkthrough.sh, the ledger, the edge Worker in
# workerd and the storefront server (web-demo/test/storefront.test.mjs). Screenshots are kept
# in target/web-demo/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-$PWD/target}"

[ -f evaluator-wasm/npm/dist/web/promoseal_evaluator_bg.wasm ] || scripts/build-wasm.sh
scripts/build-edge.sh
export PROMOSEAL_WORK="$target/web-test"
if ! scripts/walkthrough.sh >"$target/web-test.log" 2>&1; then
  tail -30 "$target/web-test.log" >&2
  exit 1
fi
node --test --test-concurrency=1 web-demo/test/*.test.mjs
