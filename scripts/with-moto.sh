#!/usr/bin/env bash
# Runs a command with a private, throw-away moto server (a local stand-in for AWS that speaks
# SQS's JSON protocol), for the SQS client's tests.
#
#   scripts/with-moto.sh swift test --skip-build --filter BatonSQSTests
#
# Starts `moto_server` from .build-venv/bin (scripts/python-venv.sh creates it; this script runs
# that first when the venv has no moto_server) on a free port of 127.0.0.1 only, waits until it
# answers, and exports for the command:
#
#   BATON_TEST_SQS_ENDPOINT  http://127.0.0.1:PORT
#
# On exit moto is stopped, even when the command failed; the command's exit status is kept.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
MOTO="$ROOT_DIR/.build-venv/bin/moto_server"

if [ $# -eq 0 ]; then
  echo "usage: scripts/with-moto.sh COMMAND [ARGS...]" >&2
  exit 2
fi

if [ ! -x "$MOTO" ]; then
  echo "with-moto: no moto_server in .build-venv; running scripts/python-venv.sh" >&2
  "$ROOT_DIR/scripts/python-venv.sh" >/dev/null
fi
[ -x "$MOTO" ] || { echo "with-moto: $MOTO not found" >&2; exit 1; }

LOG="$(mktemp -t baton-moto.XXXXXX)"
# shellcheck source=lib/server.sh
. "$ROOT_DIR/scripts/lib/server.sh"
server_cleanup_extra='rm -f "$LOG"'
server_log="$LOG"

answers() {
  # Any HTTP answer will do: moto answers GET / (with its dashboard's redirect or a 404).
  python3 - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/moto-api/" % sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
PY
}

start_server with-moto answers 150 0.2 "$MOTO" -H 127.0.0.1 -p "{port}"
PORT=$server_port

export BATON_TEST_SQS_ENDPOINT="http://127.0.0.1:$PORT"
echo "with-moto: moto $("$ROOT_DIR/.build-venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?') on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
