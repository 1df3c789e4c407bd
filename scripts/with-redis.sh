#!/usr/bin/env bash
# Runs a command with a private, throw-away Redis server, for the Redis client's tests.
#
#   scripts/with-redis.sh swift test --skip-build --filter BatonRedisTests
#
# Starts Debian's `redis-server` (apt-get install redis-server; .ci/run installs it) on a free
# port of 127.0.0.1 only, with a data directory of its own and nothing saved to disk, waits
# until it answers PING, and exports for the command:
#
#   BATON_TEST_REDIS_URL      redis://127.0.0.1:PORT
#   BATON_TEST_REDIS_TLS_URL  rediss://localhost:PORT+1 (the same server over TLS; with openssl)
#   BATON_TEST_REDIS_CA       the CA file that signed its certificate
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

# TLS on the next port, with a certificate for localhost and 127.0.0.1 signed by a throw-away
# CA (openssl; without it, no TLS port).
tls=()
if command -v openssl >/dev/null 2>&1; then
  (
    cd "$DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=baton-test-ca"
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
  ) >/dev/null 2>&1
  tls=(--tls-port "{port+1}" --tls-cert-file "$DIR/server.crt" --tls-key-file "$DIR/server.key"
    --tls-ca-cert-file "$DIR/ca.crt" --tls-auth-clients no)
fi

start_server with-redis answers 100 0.05 \
  "$REDIS" --port "{port}" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no --daemonize no "${tls[@]}"
PORT=$server_port

export BATON_TEST_REDIS_URL="redis://127.0.0.1:$PORT"
if [ ${#tls[@]} -gt 0 ]; then
  export BATON_TEST_REDIS_TLS_URL="rediss://localhost:$((PORT + 1))" BATON_TEST_REDIS_CA="$DIR/ca.crt"
fi
echo "with-redis: $("$REDIS" --version | cut -d' ' -f1-3) on 127.0.0.1:$PORT${tls:+, TLS on $((PORT + 1))}" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
