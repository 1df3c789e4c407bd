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
# shellcheck source=lib/server.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/server.sh"
server_cleanup_extra='rm -rf "$DIR"'
server_log="$DIR/redis.log"

# PING in RESP, answered +PONG.
answers() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf '*1\r\n$4\r\nPING\r\n' >&3
  read -r -t 1 reply <&3 || reply=""
  exec 3<&-
  [ "${reply%$'\r'}" = "+PONG" ]
}

start_server with-redis answers 100 0.05 \
  "$REDIS" --port "{port}" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no --daemonize no
PORT=$server_port

export BATON_TEST_REDIS_URL="redis://127.0.0.1:$PORT"
echo "with-redis: $("$REDIS" --version | cut -d' ' -f1-3) on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
