#!/usr/bin/env bash
# Ledger load benchmark: sustained one-shot redemptions (20-line carts, total/per-customer/
# per-day/budget counters on every redemption) with 1, 16 and 64 clients, on SQLite and on
# PostgreSQL. Usage: scripts/bench-ledger.sh [SECONDS per level, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build --release -q -p promoseal-ledger
bash scripts/postgres.sh
bash scripts/postgres.sh
dir=target/ledger-bench
rm -rf "$dir" && mkdir -p "$dir"
target/release/ledger-loadgen fixture --out "$dir" >/dev/null
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ledger_bench WITH (FORCE)" \
  -c "CREATE DATABASE ledger_bench" >/dev/null

run() {
  local label="$1" url="$2"
  RUST_LOG=warn target/release/ledger serve --database-url "$url" --listen 127.0.0.1:18788 \
    --root "$dir/root.env" --bundle "$dir/bundle.env" --code-secret-file "$dir/secret.hex" &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18788/healthz >/dev/null && break; sleep 0.1; done
  target/release/ledger-loadgen run --url http://127.0.0.1:18788 --seconds "$seconds" --label "$label" | tail -n +3
  kill "$pid"; wait "$pid" 2>/dev/null || true
  trap - EXIT
}
echo "| database | clients | redemptions/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"
run "SQLite (WAL, synchronous=FULL)" "sqlite://$dir/ledger.db"
run "PostgreSQL 15" "postgres://postgres@127.0.0.1:5432/ledger_bench"
