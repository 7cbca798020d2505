#!/usr/bin/env bash
# The ledger's HTTP API against its description, ledger/openapi.yaml, with schemathesis: it
# draws requests from the description (valid and invalid ones, for every operation, then
# chains of them through the description's links) and sends them to a real ledger on a fresh
# database, with a trust root, a signed bundle and an API token. It fails on any server error
# (5xx) and on any answer the description does not allow (status code, content type, headers,
# body schema), on invalid input that is not refused with a 4xx, on a missing Idempotency-Key
# or bearer token that is not refused, and on an undocumented method that is not a 405.
# Bounded and reproducible: one worker, a fixed seed, a fixed number of examples per
# operation. On SQLite, then on PostgreSQL when one answers on 127.0.0.1:5432 (a database of
# its own, dropped at the end).
#
# Usage: scripts/test-api.sh [all|sqlite|postgres]      (default: all)
# API_EXAMPLES (default 100) and API_SEED change the bounds, API_VERBOSE=1 shows schemathesis'
# whole report, and API_ST_ARGS passes more options (e.g. "--report har").
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
which="${1:-all}"
repo="$PWD"

# schemathesis lives in its own virtualenv, at the version scripts/setup.sh pins.
version=$(sed -n 's/^SCHEMATHESIS_VERSION=//p' scripts/setup.sh)
st="${XDG_DATA_HOME:-$HOME/.local/share}/promoseal/schemathesis-$version/bin/st"
[ -x "$st" ] || scripts/setup.sh

cargo build --locked -q -p promoseal-ledger --bin ledger --bin ledger-loadgen
bin="$repo/target/debug"

work=$(mktemp -d)
pid=""
database=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$database" ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres \
      -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A trust root, a signed edge bundle (`loadgen` version 1, USD: 10 % off everything, limited
# in total, per customer and by budget; $5 off from $100) and the code secret, made from the
# load generator's fixed development keys.
"$bin/ledger-loadgen" fixture --out "$work/fixture" >/dev/null

# Valid-looking writes are made to count before they are sent. Drawn idempotency keys are
# short and repeat ("0", "00"), so three writes in four get a key of their own (the rest keep
# theirs, for replays and reused keys). Of the reservations and redemptions, one in two is made
# really valid (the bundle, the clock, a cart whose price is known, the exact quote, most often
# a new order), so that it is accepted and the links reach commit, release, reverse and read
# with real redemptions; some of those carry a stale quote or an unknown code. One in four is
# priced as drawn with the bundle held. Every other request, and every invalid one, goes as
# drawn.
cat >"$work/hooks.py" <<'EOF'
import copy
import datetime
import itertools
import zlib

import schemathesis

writes = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if case.method.upper() != "POST" or meta is None or not meta.generation.mode.is_positive:
        return
    key = (case.headers or {}).get("Idempotency-Key")
    n = next(writes)
    if isinstance(key, str) and n % 4:
        case.headers["Idempotency-Key"] = f"{key[:200]}-{n}"
    body = case.body
    if case.path not in ("/v1/reservations", "/v1/redemptions") or not isinstance(body, dict):
        return
    order = str(body.get("orderId", ""))
    roll = zlib.crc32(f"{order}/{n}".encode())
    if roll % 4 == 0:
        return
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = f"{order[:200]}-{n}" if roll % 8 else order
    if roll % 4 == 1:
        # Priced as drawn (cart, customer, codes, claim, quote) with the bundle held, in its
        # currency, mostly at the ledger's time.
        body = copy.deepcopy(body)
        body["orderId"] = fresh
        body["bundle"] = {"id": "loadgen", "version": 1}
        body["input"]["cart"]["currency"] = "USD"
        if roll % 16 != 1:
            body["input"]["context"]["now"] = now
        case.body = body
        return
    quantity = 1 + roll % 9  # 10.00 each: below the $100 threshold, so only the 10 % applies
    customer = body["input"].get("customer") or {}
    who = {k: customer[k] for k in ("id", "email") if k in customer} or {"id": f"c-{roll % 97}"}
    quote = {"discountTotal": f"{quantity}.00", "total": f"{9 * quantity}.00"}
    if roll % 3 == 0:
        quote["promotions"] = [{"promotionId": "sitewide", "amount": f"{quantity}.00"}]
    if roll % 5 == 0:  # stale: amountMismatch, with the ledger's side only when no code is entered
        quote["total"] = f"{9 * quantity + 1}.00"
    ctx = {"now": now, "channel": "web"}
    if roll % 7 == 0:  # a code the bundle does not hold: attempt-limited, never a discount
        ctx["codes"] = [f"GUESS-{n}"]
    valid = {
        "orderId": fresh,
        "bundle": {"id": "loadgen", "version": 1},
        "input": {
            "cart": {"currency": "USD", "lines": [
                {"id": "1", "sku": "SKU-1", "unitPrice": "10.00", "quantity": quantity}]},
            "customer": who,
            "context": ctx,
        },
        "quote": quote,
    }
    for k in ("ttlSeconds", "clientIp"):
        if k in body:
            valid[k] = body[k]
    case.body = valid
EOF

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance,negative_data_rejection
checks+=,missing_required_header,ignored_auth,unsupported_method
token="test-api-$$"

run() {
  local label="$1" url="$2"
  : >"$work/ledger.out"
  NO_COLOR=1 RUST_LOG=warn "$bin/ledger" serve --database-url "$url" --listen 127.0.0.1:0 \
    --root "$work/fixture/root.env" --bundle "$work/fixture/bundle.env" \
    --code-secret-file "$work/fixture/secret.hex" --sqlite-sync normal --api-token "$token" \
    >"$work/ledger.out" 2>&1 &
  pid=$!
  local base=""
  for _ in $(seq 200); do
    base=$(sed -n 's/^ledger listening on //p' "$work/ledger.out" || true)
    [ -n "$base" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$base" ]; then
    cat "$work/ledger.out" >&2
    echo "test-api: the ledger did not start on $label" >&2
    exit 1
  fi
  # From the work folder: schemathesis and Hypothesis keep their caches in the current one.
  local start=$SECONDS status=0
  (cd "$work" && SCHEMATHESIS_HOOKS="$work/hooks.py" timeout 900 "$st" run \
    "$repo/ledger/openapi.yaml" --url "$base" --header "Authorization: Bearer $token" \
    --checks "$checks" --workers 1 --max-examples "${API_EXAMPLES:-100}" \
    --seed "${API_SEED:-20261126}" --generation-database none --request-timeout 10 \
    --no-color --output-truncate false ${API_ST_ARGS:-}) >"$work/st.out" 2>&1 || status=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  if [ "$status" != 0 ]; then
    cat "$work/st.out"
    echo "--- the ledger's log (last 40 lines)"
    tail -n 40 "$work/ledger.out"
    echo "test-api: schemathesis failed against the ledger on $label (exit $status)" >&2
    exit 1
  fi
  [ -z "${API_VERBOSE:-}" ] || cat "$work/st.out"
  local cases
  cases=$(sed -n 's/^ *\([0-9]* generated, .*\)$/\1/p' "$work/st.out" | tail -1)
  echo "api ($label): ${cases:-passed} in $((SECONDS - start)) s"
}

if [ "$which" = all ] || [ "$which" = sqlite ]; then
  run SQLite "sqlite://$work/ledger.db"
fi
if [ "$which" = all ] || [ "$which" = postgres ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    database="ledger_api_$$"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $database" >/dev/null
    run PostgreSQL "postgres://postgres@127.0.0.1:5432/$database"
  elif [ "$which" = postgres ]; then
    echo "test-api: no PostgreSQL on 127.0.0.1:5432 (scripts/postgres.sh starts one)" >&2
    exit 1
  else
    echo "api (PostgreSQL): skipped, none answers on 127.0.0.1:5432"
  fi
fi
