#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 (trust auth, role `postgres`), for the
# ledger's tests and benchmarks. Uses the one running; otherwise installs Debian's server when
# missing and starts a private cluster under target/postgres. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v pg_isready >/dev/null && ready; then exit 0; fi
  echo "postgres.sh: installing PostgreSQL from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
ready && exit 0

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data="$PWD/target/postgres/data"
mkdir -p "$(dirname "$data")"
run() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$(dirname "$data")"; su postgres -c "$*"; else sh -c "$*"; fi; }
if [ ! -f "$data/PG_VERSION" ]; then
  run "$bin/initdb -D '$data' -U postgres --auth=trust >/dev/null"
fi
run "$bin/pg_ctl -D '$data' -l '$data/../server.log' -o '-c listen_addresses=127.0.0.1 -p 5432 -k /tmp' -w start >/dev/null"
ready || { echo "postgres.sh: PostgreSQL did not start; see target/postgres/server.log" >&2; exit 1; }
echo "postgres.sh: started PostgreSQL from $data"
