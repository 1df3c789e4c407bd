#!/usr/bin/env bash
# Runs a command next to the two servers the peer benchmarks talk to, both private to this
# call, and stops them when the command ends (however it ends):
#
#   Benchmarks/peers/with-services.sh COMMAND [ARGS...]
#   Benchmarks/peers/with-services.sh .build-peers-venv/bin/python Benchmarks/peers/rq_bench.py -n 2000
#
#  - PostgreSQL: a new cluster (initdb, as the `postgres` user when run as root; user
#    `postgres`, trust authentication) listening on a free port of 127.0.0.1 only, with the
#    server's STOCK settings: fsync and synchronous_commit on, shared_buffers 128 MB,
#    max_connections 100. (scripts/with-postgres.sh, used by the tests, turns fsync off; the
#    queues compared here are measured as they would run by default.)
#  - redis-server on a free port of 127.0.0.1 only, in its own directory, with no RDB snapshots
#    and no append-only file: nothing is persisted.
#
# The command gets these variables:
#   BATON_PEERS_PG_URL     postgresql://postgres@127.0.0.1:PORT   (add /DATABASE)
#   BATON_PEERS_PGDATA     the cluster's data directory
#   BATON_PEERS_REDIS_URL  redis://127.0.0.1:PORT/0                (the benchmarks FLUSHDB it)
#   BATON_PEERS_REDIS_DIR  redis's working directory (the benchmarks check it before a FLUSHDB)
#   BATON_PEERS_STATE      a scratch directory: SQLite files, worker logs
# Everything lives in one directory under ${BATON_PEERS_TMPDIR:-/tmp} (it must be readable by
# the `postgres` user, and should be on the real disk: fsync costs are part of the figures),
# which is removed at the end unless BATON_PEERS_KEEP=1 (then its path is printed).
# The command's exit status is kept.
set -euo pipefail

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN=${PG_BIN:-$(pg_bin)}
[ -n "$BIN" ] && [ -x "$BIN/initdb" ] ||
  { echo "peers/with-services: no PostgreSQL server binaries (run Benchmarks/peers/setup.sh)" >&2; exit 1; }
command -v redis-server >/dev/null ||
  { echo "peers/with-services: no redis-server (run Benchmarks/peers/setup.sh)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 64; }

as_postgres() {  # initdb and pg_ctl refuse to run as root
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

DIR=$(mktemp -d "${BATON_PEERS_TMPDIR:-/tmp}/baton-peers.XXXXXX")
chmod 755 "$DIR"
mkdir -p "$DIR/pg" "$DIR/redis" "$DIR/state/logs"
[ "$(id -u)" != 0 ] || chown postgres "$DIR/pg"
PG_UP=0; REDIS_PID=""

finish() {
  local status=$?
  if [ -n "$REDIS_PID" ]; then
    # only our redis: the recorded pid, still a redis-server
    if [ "$(cat "/proc/$REDIS_PID/comm" 2>/dev/null)" = redis-server ]; then
      kill "$REDIS_PID" 2>/dev/null || true
      for _ in $(seq 50); do [ -d "/proc/$REDIS_PID" ] || break; sleep 0.1; done
      [ ! -d "/proc/$REDIS_PID" ] || kill -KILL "$REDIS_PID" 2>/dev/null || true
    fi
  fi
  if [ "$PG_UP" = 1 ]; then
    as_postgres "$BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_postgres "$BIN/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "${BATON_PEERS_KEEP:-0}" = 1 ]; then
    echo "peers/with-services: servers stopped; kept $DIR" >&2
  else
    rm -rf "$DIR"
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    port_taken "$p" || { echo "$p"; return 0; }
  done
  return 1
}

# --- PostgreSQL, stock settings ---------------------------------------------------------------
as_postgres "$BIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
  > "$DIR/pg/initdb.log" 2>&1 || { cat "$DIR/pg/initdb.log" >&2; exit 1; }
for _ in 1 2 3 4 5; do
  PG_PORT=$(free_port)
  if as_postgres "$BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -t 60 \
       -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$DIR/pg" \
       start >/dev/null; then
    PG_UP=1; break
  fi
done
[ "$PG_UP" = 1 ] || { echo "peers/with-services: PostgreSQL did not start" >&2; cat "$DIR/pg/server.log" >&2; exit 1; }

# --- redis, nothing persisted -------------------------------------------------------------------
for _ in 1 2 3 4 5; do
  REDIS_PORT=$(free_port)
  rm -f "$DIR/redis/redis.pid"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" || continue
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && [ -s "$DIR/redis/redis.pid" ] && break
    sleep 0.1
  done
  if [ -s "$DIR/redis/redis.pid" ]; then REDIS_PID=$(cat "$DIR/redis/redis.pid"); fi
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
done
redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 ||
  { echo "peers/with-services: redis did not start" >&2; cat "$DIR/redis/redis.log" >&2 || true; exit 1; }

export BATON_PEERS_PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT"
export BATON_PEERS_PGDATA="$DIR/pg/data"
export BATON_PEERS_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export BATON_PEERS_REDIS_DIR="$DIR/redis"
export BATON_PEERS_STATE="$DIR/state"
echo "peers/with-services: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" \
     "(stock settings), $(redis-server --version | awk '{print $3}' | tr -d 'v=') on 127.0.0.1:$REDIS_PORT" \
     "(no persistence), scratch in $DIR" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
