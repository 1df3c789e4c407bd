#!/usr/bin/env bash
# Runs a command with a private, throw-away RabbitMQ server, for the AMQP client's and the
# AMQP broker's tests.
#
#   scripts/with-rabbitmq.sh swift test --skip-build --filter BatonAMQPTests
#
# Starts Debian's `rabbitmq-server` (apt-get install rabbitmq-server; .ci/run installs it) as a
# node of its own (its own name, data, log and Erlang cookie in a temporary directory, no
# plugins) listening for AMQP on a free port of 127.0.0.1 only, waits until it answers the
# AMQP protocol header, and exports for the command:
#
#   BATON_TEST_AMQP_URL  amqp://guest:guest@127.0.0.1:PORT
#
# On exit the server is stopped and its directory removed, even when the command failed; the
# command's exit status is kept.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: scripts/with-rabbitmq.sh COMMAND [ARGS...]" >&2
  exit 2
fi
RABBIT=""
for candidate in /usr/lib/rabbitmq/bin/rabbitmq-server "$(command -v rabbitmq-server || true)"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] && { RABBIT="$candidate"; break; }
done
[ -n "$RABBIT" ] || { echo "with-rabbitmq: no rabbitmq-server (apt-get install rabbitmq-server)" >&2; exit 1; }

DIR="$(mktemp -d -t baton-rabbitmq.XXXXXX)"
# shellcheck source=lib/server.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/server.sh"
# epmd (Erlang's port mapper) is started by the node when none runs; stopped on exit if so.
epmd_was_running=0
epmd -names >/dev/null 2>&1 && epmd_was_running=1
server_cleanup_extra='rm -rf "$DIR"; [ "$epmd_was_running" = 1 ] || epmd -kill >/dev/null 2>&1 || true'
server_log="$DIR/rabbitmq.out"

# The AMQP 0-9-1 protocol header, answered by a Connection.Start method frame (type 1).
answers() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'AMQP\x00\x00\x09\x01' >&3
  reply="$(timeout 1 head -c 1 <&3 | od -An -tx1 | tr -d ' \n')" || reply=""
  exec 3<&-
  [ "$reply" = "01" ]
}

# A node of its own: the Erlang cookie lives in HOME, the node's name is unique, its
# distribution port is the AMQP port + 1 (checked free by start_server), and epmd is the
# machine's (started by the node if none runs, and then stopped on exit).
mkdir -p "$DIR/home" "$DIR/mnesia" "$DIR/log"
: >"$DIR/enabled_plugins"
printf 'loopback_users.guest = false\n' >"$DIR/rabbitmq.conf"
export HOME="$DIR/home" RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf" \
  RABBITMQ_PID_FILE="$DIR/rabbitmq.pid" RABBITMQ_NODENAME="baton-test-$$@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1

start_server with-rabbitmq answers 300 0.1 \
  env RABBITMQ_NODE_PORT="{port}" RABBITMQ_DIST_PORT="{port+1}" "$RABBIT"
PORT=$server_port

export BATON_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$PORT"
echo "with-rabbitmq: RabbitMQ $(basename /usr/lib/rabbitmq/lib/rabbitmq_server-* | cut -d- -f2) on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
