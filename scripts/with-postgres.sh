#!/usr/bin/env bash
# Runs a command with a private, throw-away PostgreSQL cluster.
#
#   scripts/with-postgres.sh swift test --filter BatonPostgresTests
#
# Installs PostgreSQL from the distribution if it is missing, creates a cluster in a temporary
# directory (owned by the `postgres` user, as initdb refuses to run as root), starts it on a
# free port of 127.0.0.1 only, and exports for the command:
#
#   BATON_TEST_POSTGRES_URL  postgres://baton:baton@127.0.0.1:PORT/baton
#   BATON_TEST_PG_CTL        the pg_ctl binary
#   BATON_TEST_PGDATA        the cluster's data directory
#   BATON_TEST_PG_USER       the OS user that owns the cluster (run pg_ctl as this user)
#
# On exit the cluster is stopped and its directory removed; the command's exit status is kept.
set -euo pipefail

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(find_bin)" ] || [ ! -x "$(find_bin)/initdb" ]; then
  echo "with-postgres: installing PostgreSQL" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN="$(find_bin)"
[ -x "$BIN/initdb" ] || { echo "with-postgres: initdb not found under /usr/lib/postgresql" >&2; exit 1; }

PG_USER=postgres
id "$PG_USER" >/dev/null 2>&1 || { echo "with-postgres: no '$PG_USER' user" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

ROOT="$(mktemp -d /tmp/baton-pg.XXXXXX)"
chmod 755 "$ROOT"
[ "$(id -u)" = "0" ] && chown "$PG_USER" "$ROOT"
DATA="$ROOT/data"
PASSWORD=baton
STARTED=0

cleanup() {
  local status=$?
  if [ "$STARTED" = "1" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$ROOT"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

printf '%s\n' "$PASSWORD" >"$ROOT/pwfile"
[ "$(id -u)" = "0" ] && chown "$PG_USER" "$ROOT/pwfile"
as_pg "$BIN/initdb" -D "$DATA" -U baton --pwfile="$ROOT/pwfile" --auth-local=trust --auth-host=trust \
  -E UTF8 --locale=C.UTF-8 >"$ROOT/initdb.log" 2>&1 || { cat "$ROOT/initdb.log" >&2; exit 1; }
rm -f "$ROOT/pwfile"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for _ in 1 2 3 4 5 6 7 8 9 10; do
  PORT=$((20000 + RANDOM % 40000))
  port_in_use "$PORT" && continue
  if as_pg "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null; then
    STARTED=1
    break
  fi
done
if [ "$STARTED" != "1" ]; then
  echo "with-postgres: could not start PostgreSQL" >&2
  cat "$ROOT/server.log" >&2 || true
  exit 1
fi
as_pg "$BIN/psql" -h "$ROOT" -p "$PORT" -U baton -d postgres -qc "CREATE DATABASE baton" >/dev/null

export BATON_TEST_POSTGRES_URL="postgres://baton:$PASSWORD@127.0.0.1:$PORT/baton"
export BATON_TEST_PG_CTL="$BIN/pg_ctl"
export BATON_TEST_PGDATA="$DATA"
export BATON_TEST_PG_USER="$PG_USER"
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
