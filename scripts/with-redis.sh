#!/usr/bin/env bash
# Runs a command with a private, throw-away Redis server, for the Redis client's tests.
#
#   scripts/with-redis.sh swift test --skip-build --filter BatonRedisTests
#
# Starts Debian's `redis-server` (apt-get install redis-server; .ci/run installs it) on a free
# port of 127.0.0.1 only, with a data directory of its own and nothing saved to disk, waits
# until it answers PING, and exports for the command:
#
#   BATON_TEST_REDIS_URL  redis://127.0.0.1:PORT
#
# On exit the server is stopped and its directory removed, even when the command failed; the
# command's exit status is kept.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: scripts/with-redis.sh COMMAND [ARGS...]" >&2
  exit 2
fi
REDIS="$(command -v redis-server || true)"
[ -n "$REDIS" ] || { echo "with-redis: no redis-server (apt-get install redis-server)" >&2; exit 1; }

DIR="$(mktemp -d -t baton-redis.XXXXXX)"
PID=""
cleanup() {
  local status=$?
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# PING in RESP, answered +PONG.
answers() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf '*1\r\n$4\r\nPING\r\n' >&3
  read -r -t 1 reply <&3 || reply=""
  exec 3<&-
  [ "${reply%$'\r'}" = "+PONG" ]
}

STARTED=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
  PORT=$((20000 + RANDOM % 40000))
  port_in_use "$PORT" && continue
  "$REDIS" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no --daemonize no \
    --logfile "$DIR/redis.log" &
  PID=$!
  for _ in $(seq 1 100); do
    kill -0 "$PID" 2>/dev/null || break
    if answers "$PORT" 2>/dev/null; then STARTED=1; break; fi
    sleep 0.05
  done
  [ "$STARTED" = "1" ] && break
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
done
if [ "$STARTED" != "1" ]; then
  echo "with-redis: could not start redis-server" >&2
  cat "$DIR/redis.log" >&2 || true
  exit 1
fi

export BATON_TEST_REDIS_URL="redis://127.0.0.1:$PORT"
echo "with-redis: $("$REDIS" --version | cut -d' ' -f1-3) on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
