#!/usr/bin/env bash
# Prepares what the peer benchmarks need, and prints the bin directory of their Python venv.
# Safe to run again: it only does what is missing.
#
#   Benchmarks/peers/setup.sh
#
#  - .build-peers-venv (at the repository's root, ignored by git): a venv holding exactly the
#    versions in Benchmarks/peers/requirements.txt, installed again whenever that file changes.
#  - redis-server and redis-cli from Debian, if missing (as root). Debian's package would start
#    its own service on port 6379 where the init system allows it; the benchmarks never use it,
#    they start a private redis (with-services.sh).
#  - PostgreSQL's server binaries, psql and pgbench, from Debian if missing (as root).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=$ROOT/.build-peers-venv
REQ=$HERE/requirements.txt

say() { echo "peers/setup: $*" >&2; }
apt_get() {
  [ "$(id -u)" = 0 ] || { say "need root for apt-get install $*"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "$@" >&2; }
}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  say "installing redis-server"
  apt_get redis-server
fi

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
PGB=${PG_BIN:-$(pg_bin)}
if [ -z "$PGB" ] || [ ! -x "$PGB/initdb" ] || [ ! -x "$PGB/pgbench" ]; then
  say "installing PostgreSQL"
  apt_get postgresql
fi

if [ ! -x "$VENV/bin/python" ]; then
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_get python3-venv
  say "creating $VENV"
  python3 -m venv "$VENV" >&2
fi
# The venv records which requirements.txt it was synced with.
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ "$(cat "$VENV/.peers-requirements" 2>/dev/null)" != "$want" ]; then
  say "installing the pinned packages (Benchmarks/peers/requirements.txt)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQ" >&2
  echo "$want" > "$VENV/.peers-requirements"
fi
echo "$VENV/bin"
