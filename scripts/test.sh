#!/usr/bin/env bash
# The whole test suite: formatting, lints (native and wasm32), the core's dependency boundary,
# every Rust test (unit, property, corpus, signing vectors, bad input, CLI walkthrough, doc, the
# ledger on SQLite and PostgreSQL: concurrency, crash, flows), the ledger's HTTP API against
# its OpenAPI description (schemathesis), the wasm package against native in Node and
# Chromium, the edge Worker in workerd against the ledger, the storefront in Chromium against
# all of it, then a minute of fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy for wasm32: the core, and its JavaScript API (evaluator-wasm)"
cargo clippy -p promoseal-evaluator --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p promoseal-evaluator-wasm --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo clippy for wasm32: the edge Worker and its Workers binding"
cargo clippy -p promoseal-edge-worker --target wasm32-unknown-unknown --all-targets --locked \
  -- -D warnings

step "the pure core depends on no host runtime"
forbidden='^(worker|js-sys|web-sys|wasm-bindgen|tokio|getrandom|rand|chrono|time|axum|sqlx) '
if cargo tree -p promoseal-evaluator -e normal --prefix none --locked | grep -E "$forbidden"; then
  echo "error: promoseal-evaluator must stay pure (no runtime, clock or randomness crates)" >&2
  exit 1
fi

step "PostgreSQL for the ledger's tests (started when none is running)"
scripts/postgres.sh

step "cargo test (the ledger's suite runs on SQLite and on PostgreSQL)"
cargo test --workspace --locked

step "ledger API against ledger/openapi.yaml: schemathesis, no server error (SQLite, PostgreSQL)"
scripts/test-api.sh

step "wasm package: byte-identical to native in Node and Chromium"
PROMOSEAL_NATIVE_DONE=1 scripts/test-wasm.sh

step "edge Worker: built, in workerd (wrangler), against the real ledger"
scripts/test-edge.sh

step "storefront: headless Chromium against the whole stack (ledger, edge, storefront)"
scripts/test-web.sh

step "fuzz: verification and parsing never panic (${FUZZ_SECONDS:-60} s)"
scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
