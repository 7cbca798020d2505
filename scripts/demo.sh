#!/usr/bin/env bash
# The local demo. Until the ledger, edge worker and storefront land, it is the evaluator itself:
# `promoseal eval` prices the shipped example cart against the shipped example bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
scripts/setup.sh
cargo build --release --locked -p promoseal
exec target/release/promoseal eval --unsigned --pretty \
  --bundle examples/bundle.json --cart examples/cart.json "$@"
