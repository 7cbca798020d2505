#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently: a machine that already has
# everything pays nothing: the Rust toolchain's wasm32 target (the evaluator must build for
# browsers and Workers) and cargo-fuzz; later issues add wasm-bindgen-cli, wrangler and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not installed; install Rust with rustup first" >&2
  exit 1
fi
# rust-toolchain.toml names the channel, components and targets; make sure they are present.
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
      rustup component add "$component"
    fi
  done
fi

# cargo-fuzz drives the fuzz workspace (scripts/fuzz.sh); pinned so every machine fuzzes alike.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
