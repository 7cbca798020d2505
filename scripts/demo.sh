#!/usr/bin/env bash
# The local demo, on embedded defaults: signs examples/shop with throw-away keys
# (scripts/walkthrough.sh), then runs the three parts on this machine and prints the
# storefront's URL:
#   - the ledger (target/release/ledger) on an embedded SQLite file,
#   - the edge Worker in workerd (wrangler dev --local), its local KV seeded with the freshly
#     signed edge and storefront bundles,
#   - the storefront (web-demo/serve.mjs), which prices the cart in the browser.
# web-demo/demo.mjs runs them (web-demo/stack.mjs, shared with the browser tests); Ctrl-C stops
# all three. Ports: LEDGER_PORT (8788), EDGE_PORT (8787), WEB_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export PATH="$repo/node_modules/.bin:$HOME/.cargo/bin:$PATH"
ledger_port="${LEDGER_PORT:-8788}" edge_port="${EDGE_PORT:-8787}" web_port="${WEB_PORT:-8080}"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="$target/demo"
say() { printf '\033[1m== %s\033[0m\n' "$*"; }

for port in "$ledger_port" "$edge_port" "$web_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is in use (set LEDGER_PORT, EDGE_PORT or WEB_PORT)" >&2
    exit 1
  fi
done

scripts/setup.sh
say "signing examples/shop with throw-away keys (the walkthrough: $target/demo-walkthrough.log)"
mkdir -p "$target"
if ! PROMOSEAL_WORK="$work" scripts/walkthrough.sh >"$target/demo-walkthrough.log" 2>&1; then
  tail -30 "$target/demo-walkthrough.log" >&2
  exit 1
fi
grep -E "^(edge|storefront) bundle v" "$target/demo-walkthrough.log"

say "building the storefront's evaluator (wasm) and the edge Worker"
wasm="evaluator-wasm/npm/dist/web/promoseal_evaluator_bg.wasm"
if [ ! -f "$wasm" ] || [ -n "$(find evaluator/src evaluator/Cargo.toml evaluator-wasm/src \
  evaluator-wasm/Cargo.toml evaluator-wasm/npm/types.d.ts -newer "$wasm" -print -quit)" ]; then
  scripts/build-wasm.sh
fi
scripts/build-edge.sh

say "starting the ledger (SQLite), the edge Worker (workerd) and the storefront"
export PROMOSEAL_WORK="$work" LEDGER_PORT="$ledger_port" EDGE_PORT="$edge_port" WEB_PORT="$web_port"
exec node web-demo/demo.mjs
