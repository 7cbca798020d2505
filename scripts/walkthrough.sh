#!/usr/bin/env bash
# The release engineer's walkthrough of the README on examples/shop, with throw-away keys:
# keys → trust root → codes → lint → approvals → signed edge and storefront bundles → verify →
# inspect → price a cart with a VIP code, as the edge will → redeem it at the origin ledger
# (embedded SQLite), replay the redemption, and read the ledger's report.
# With PROMOSEAL_WORK=DIR the work folder (keys, signed bundles, codes) is DIR and is kept:
# `cargo xtask demo` serves what it signs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
scripts/setup.sh
cargo build --release --locked -p promoseal-signer -p promoseal-ledger
ps="$PWD/target/release/promoseal"
ledger="$PWD/target/release/ledger"

if [ -n "${PROMOSEAL_WORK:-}" ]; then
  work="$PROMOSEAL_WORK"
  rm -rf "$work" && mkdir -p "$work"
  trap 'kill "${ledger_pid:-}" 2>/dev/null || true' EXIT
else
  work=$(mktemp -d)
  trap 'kill "${ledger_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
fi
cp -r examples/shop "$work/shop"
cd "$work"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "keys (secret files are created 0600)"
for k in root-1:root root-2:root release-1:release marketing-1:marketing edge-1:edge shop-1:shop \
  release-2:release promotions-1:promotions viewer-1:viewer; do
  "$ps" keygen --id "${k%%:*}" --role "${k##*:}" --out keys >/dev/null
done
# Finance approves within an authorization limit: budgets up to 20,000 USD.
"$ps" keygen --id finance-1 --role finance --max-budget USD:20000 --out keys >/dev/null
ls -l keys

say "trust root: two root keys sign; finance approves anything above 20 %"
"$ps" root create --from shop/root.json --out shop/root.env \
  --public keys/root-1.pub.json --public keys/root-2.pub.json --public keys/release-1.pub.json \
  --public keys/marketing-1.pub.json --public keys/finance-1.pub.json --public keys/edge-1.pub.json \
  --public keys/shop-1.pub.json --public keys/release-2.pub.json --public keys/promotions-1.pub.json \
  --public keys/viewer-1.pub.json \
  --key keys/root-1.key --key keys/root-2.key

say "codes: a VIP list imported as keyed hashes, a generated spring campaign"
"$ps" codes secret --out keys/codes.secret
"$ps" codes import --project shop --set vip --file shop/vip-list.csv --secret keys/codes.secret
"$ps" codes generate --project shop --set spring --count 1000 --prefix SPR- \
  --secret keys/codes.secret --out spring-codes.csv

say "lint against shop/policy.toml"
"$ps" lint --project shop || true

say "approvals: marketing approves everything, finance what the root's rules send it (over 20 %)"
# Each approver signs one batch: one signature over the digests of everything they approve.
marketing=()
for f in shop/promotions/*.toml; do
  marketing+=(--promotion "$(sed -n 's/^id = "\(.*\)"/\1/p' "$f")")
done
"$ps" approve --project shop "${marketing[@]}" --key keys/marketing-1.key --yes >/dev/null
finance=()
for p in vip-shoes free-shipping-75 caps-3-for-2 bottles-volume tees-15; do
  finance+=(--promotion "$p")
done
"$ps" approve --project shop "${finance[@]}" --key keys/finance-1.key --yes >/dev/null
echo "approved: $(ls shop/promotions | wc -l) promotions"

say "sign, verify, inspect"
"$ps" sign --project shop --key keys/release-1.key
"$ps" verify --root shop/root.env --bundle shop/published/edge.bundle
"$ps" verify --root shop/root.env --bundle shop/published/storefront.bundle --audience storefront
"$ps" inspect shop/published/storefront.bundle

say "price the sample cart with VIP-ANNA and a spring code, as the edge does"
spring=$(sed -n 2p spring-codes.csv)
sed "s/\"context\": {/\"context\": {\"codes\": [\"vip-anna\", \"$spring\"], /" \
  shop/samples/typical.json > cart.json
node -e 'const fs = require("fs"); const c = JSON.parse(fs.readFileSync("cart.json"));
  c.customer = Object.assign({ id: "cus_anna", email: "anna@example.com" }, c.customer);
  fs.writeFileSync("cart.json", JSON.stringify(c, null, 2));'
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$ps" eval --pretty --bundle shop/published/edge.bundle --root shop/root.env \
  --code-secret keys/codes.secret --cart cart.json --now "$now" "$@"

say "redeem it at the origin ledger: it re-prices the cart itself and counts the uses atomically"
"$ledger" serve --database-url "sqlite://$work/ledger.db" --listen 127.0.0.1:18790 \
  --root shop/root.env --bundle shop/published/edge.bundle --code-secret-file keys/codes.secret \
  >ledger.log 2>&1 &
ledger_pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:18790/healthz >/dev/null && break; sleep 0.1; done
"$ps" eval --bundle shop/published/edge.bundle --root shop/root.env \
  --code-secret keys/codes.secret --cart cart.json --now "$now" > evaluation.json
node -e '
  const fs = require("fs");
  const cart = JSON.parse(fs.readFileSync("cart.json"));
  cart.context.now = process.argv[1];
  const e = JSON.parse(fs.readFileSync("evaluation.json"));
  fs.writeFileSync("redeem.json", JSON.stringify({
    orderId: "order-1001", bundle: { id: e.bundleId, version: e.bundleVersion }, input: cart,
    quote: { discountTotal: e.discountTotal, total: e.total } }));' "$now"
redeem() { curl -s -X POST http://127.0.0.1:18790/v1/redemptions -H 'Idempotency-Key: order-1001' \
  -H 'Content-Type: application/json' --data @redeem.json; }
redeem | node -e 'const r = JSON.parse(require("fs").readFileSync(0));
  console.log(r.error ? r.error : { id: r.id, state: r.state, discountTotal: r.discountTotal,
    total: r.total, promotions: r.promotions });'
say "the same request again (a retry): the first answer, and nothing counted twice"
redeem | node -e 'const r = JSON.parse(require("fs").readFileSync(0)); console.log(r.error || { id: r.id, state: r.state });'
say "the ledger's report per promotion"
curl -s 'http://127.0.0.1:18790/v1/reports?by=promotion&format=csv'
kill "$ledger_pid"
