#!/usr/bin/env bash
# Ledger load benchmark: sustained one-shot redemptions (20-line carts, each from a new
# customer, taking one promotion's total/per-day/per-customer/budget counters) with 1, 16 and
# 64 clients, every order on one hot promotion and then spread over 64, on SQLite and on
# PostgreSQL, with group commit (the default) and with one transaction per redemption
# (`--max-batch 1`, as before group commit).
# Usage: scripts/bench-ledger.sh [SECONDS per level, default 10] [MAX_BATCH values, default "64 1"]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
batches="${2:-64 1}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build --release -q -p promoseal-ledger
bash scripts/postgres.sh
bash scripts/postgres.sh
dir=target/ledger-bench
rm -rf "$dir" && mkdir -p "$dir"
target/release/ledger-loadgen fixture --out "$dir" >/dev/null

run() {
  local label="$1" url="$2" batch="$3" workload="$4"
  # The load generator is the shop's backend: its customers are taken as given.
  RUST_LOG=warn target/release/ledger serve --database-url "$url" --listen 127.0.0.1:18788 \
    --root "$dir/root.env" --bundle "$dir/bundle.env" --code-secret-file "$dir/secret.hex" \
    --trusted-callers --max-batch "$batch" &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18788/healthz >/dev/null && break; sleep 0.1; done
  target/release/ledger-loadgen run --url http://127.0.0.1:18788 --seconds "$seconds" \
    --label "$label, batch $batch" --workload "$workload" | tail -n +3
  kill "$pid"; wait "$pid" 2>/dev/null || true
  trap - EXIT
}
echo "| database | workload | clients | redemptions/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|---|"
for workload in hot spread; do
  for batch in $batches; do
    rm -f "$dir"/ledger.db*
    run "SQLite (WAL, synchronous=FULL)" "sqlite://$dir/ledger.db" "$batch" "$workload"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ledger_bench WITH (FORCE)" \
      -c "CREATE DATABASE ledger_bench" >/dev/null
    run "PostgreSQL 15" "postgres://postgres@127.0.0.1:5432/ledger_bench" "$batch" "$workload"
  done
done
