#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL server (Debian's packages,
# scripts/deps.sh installs them): a new cluster in a temporary directory, on
# a free port of 127.0.0.1, trusted for local connections, removed when the
# command ends. The command gets its address in GATEHOUSE_TEST_POSTGRES
# (postgres://gatehouse@127.0.0.1:PORT/postgres); tests create a database
# of their own on it for each hub.
#
#   scripts/postgres.sh <command> [args...]
#
# GATEHOUSE_PG_DIR  where the cluster's directory goes (default /tmp; the
#                   benchmarks put it beside their SQLite files, on disk)
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server (bash scripts/deps.sh test installs it)" >&2; exit 2; }
dir=$(mktemp -d "${GATEHOUSE_PG_DIR:-/tmp}/gatehouse-pg.XXXXXX")
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# postgres user the package created.
as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -U gatehouse -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Tests open many short-lived databases and hubs: room for their connections.
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=on" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
export GATEHOUSE_TEST_POSTGRES="postgres://gatehouse@127.0.0.1:$port/postgres"
export GATEHOUSE_TEST_POSTGRES_LOG="$dir/server.log"
set +e
"$@"
status=$?
set -e
exit "$status"
