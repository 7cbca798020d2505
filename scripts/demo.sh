#!/usr/bin/env bash
# The local demo, on embedded defaults: signs examples/shop with throw-away keys
# (scripts/walkthrough.sh), then runs the three parts on this machine and prints the
# storefront's URL:
#   - the ledger (target/release/ledger) on an embedded SQLite file,
#   - the edge Worker in workerd (wrangler dev --local), its local KV seeded with the freshly
#     signed edge and storefront bundles,
#   - the storefront (web-demo/serve.mjs), which prices the cart in the browser.
# Ctrl-C stops all three. Ports: LEDGER_PORT (8788), EDGE_PORT (8787), WEB_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export PATH="$repo/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false
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
wasm="evaluator/npm/dist/web/promoseal_evaluator_bg.wasm"
if [ ! -f "$wasm" ] || [ -n "$(find evaluator/src evaluator/Cargo.toml -newer "$wasm" -print -quit)" ]; then
  scripts/build-wasm.sh
fi
scripts/build-edge.sh

pids=()
stop() {
  trap - INT TERM EXIT
  printf '\nstopping…\n'
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT
wait_for() { # URL NAME LOG
  for _ in $(seq 600); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "demo: $2 did not start; its log:" >&2
  tail -30 "$3" >&2
  exit 1
}

shop="$work/shop"
say "ledger on SQLite: http://127.0.0.1:$ledger_port"
rm -f "$work/demo-ledger.db"*
"$target/release/ledger" serve --database-url "sqlite://$work/demo-ledger.db" \
  --listen "127.0.0.1:$ledger_port" --root "$shop/root.env" --bundle "$shop/published/edge.bundle" \
  --code-secret-file "$work/keys/codes.secret" >"$work/ledger.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ledger_port/healthz" ledger "$work/ledger.log"

say "edge Worker in workerd: http://127.0.0.1:$edge_port"
state="$work/edge-state"
rm -rf "$state" && mkdir -p "$state"
node -e '
  const fs = require("fs");
  const [published, out] = process.argv.slice(1);
  const put = (key, file) => ({ key, value: fs.readFileSync(`${published}/${file}`).toString("base64"), base64: true });
  fs.writeFileSync(out, JSON.stringify([put("edge/demo-shop", "edge.bundle"), put("storefront/demo-shop", "storefront.bundle")]));
' "$shop/published" "$state/bundles.json"
(cd edge-worker && wrangler kv bulk put "$state/bundles.json" --binding BUNDLES --local \
  --persist-to "$state" >/dev/null)
umask 077
seed=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).seed' "$work/keys/edge-1.key")
cat >"$state/worker.env" <<EOF
TRUST_ROOT=$(base64 -w0 "$shop/root.env")
CODE_SECRET=$(tr -d '[:space:]' <"$work/keys/codes.secret")
EDGE_KEY_ID=edge-1
EDGE_SIGNING_KEY=$seed
LEDGER_URL=http://127.0.0.1:$ledger_port
DEFAULT_BUNDLE=demo-shop
ALLOWED_ORIGINS=http://127.0.0.1:$web_port,http://localhost:$web_port
ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
EOF
umask 022
(cd edge-worker && exec wrangler dev --local --ip 127.0.0.1 --port "$edge_port" --inspector-port 0 \
  --persist-to "$state" --env-file "$state/worker.env" --show-interactive-dev-session=false) \
  >"$work/edge.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$edge_port/v1/ping" "edge Worker" "$work/edge.log"

say "storefront"
node web-demo/serve.mjs --port "$web_port" --edge "http://127.0.0.1:$edge_port" \
  --root "$shop/root.env" >"$work/web.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$web_port/" storefront "$work/web.log"

spring=$(sed -n 2p "$work/spring-codes.csv")
cat <<EOF

  Storefront:  http://127.0.0.1:$web_port/
  Edge:        http://127.0.0.1:$edge_port/healthz
  Ledger:      http://127.0.0.1:$ledger_port/v1/events

  Codes to try: VIP-ANNA (30 % off running shoes), $spring (\$5 off an order over \$40,
  single use), and any other text for the uniform refusal.
  Logs: $work/{ledger,edge,web}.log. Ctrl-C stops everything.

EOF
wait
