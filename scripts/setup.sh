#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently: a machine that already has
# everything pays nothing: the Rust toolchain's wasm32 target (the evaluator must build for
# browsers and Workers), cargo-fuzz, and the wasm package tools (wasm-bindgen-cli, wasm-pack,
# wasm-opt from npm, TypeScript, playwright-core) and Chromium; later issues add wrangler.
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

# The wasm package (issue 4): wasm-bindgen-cli at exactly the version the crate pins (the CLI and
# the crate must agree; its lockfile is stale, hence no --locked), and wasm-pack, which drives it.
WASM_BINDGEN_VERSION=0.2.130
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
WASM_PACK_VERSION=0.15.1
if ! wasm-pack --version 2>/dev/null | grep -q " $WASM_PACK_VERSION"; then
  cargo install wasm-pack --locked --version "$WASM_PACK_VERSION"
fi

# JavaScript tools come from npm at the versions package-lock.json records: wasm-opt from
# binaryen 132 (never Debian's binaryen, whose wasm-opt emits modules that fail at load) and
# TypeScript for the declaration check, playwright-core for the browser tests. `npm ci` runs only
# when package-lock.json changed since the last install (a copy of it is kept as the stamp).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if ! cmp -s package-lock.json node_modules/.promoseal-installed 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.promoseal-installed
fi

# Headless Chromium for the browser tests: Debian's package, driven by playwright-core
# (Playwright's own browser download cannot reach its CDN from here).
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi
