#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the tests and runs
# the given command with SWITCHBOARD_TEST_POSTGRES set to its URL (a
# superuser, trust authentication, fsync off); the cluster and its files
# are removed when the command ends, however it ends.
#
#   scripts/postgres.sh cargo test -p control-api --test conformance_api
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed (Debian package postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/switchboard-postgres.XXXXXX)
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# postgres user.
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as() { runuser -u postgres -- "$@"; }
else
  as() { "$@"; }
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
  as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=400" \
  start >/dev/null
export SWITCHBOARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $SWITCHBOARD_TEST_POSTGRES"
"$@"
