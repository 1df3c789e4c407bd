#!/usr/bin/env bash
# Runs the whole test suite: builds the `baton` binary (end-to-end tests start it as a
# separate process through BATON_BIN), starts a private PostgreSQL cluster for the
# PostgreSQL tests (scripts/with-postgres.sh; installed from Debian if missing), a private
# moto server for the SQS tests (scripts/with-moto.sh), a private redis-server for the Redis
# client's (scripts/with-redis.sh) and a private RabbitMQ for the AMQP ones (scripts/with-rabbitmq.sh),
# then `swift test`, then the wire-contract check
# (scripts/contract.sh: schemathesis against a live node) and the Swift quick start
# (scripts/example.sh: examples/swift-quickstart built as a package of its own and run against
# a node). Extra arguments go to `swift test` (e.g. `--filter StoreConformanceTests`), and then
# those two are left out.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${BATON_TEST_POSTGRES_URL:-}" ] && [ -x scripts/with-postgres.sh ]; then
  if [ "${CI:-}" = "true" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exec scripts/with-postgres.sh "$0" "$@"
  fi
  echo "test.sh: no PostgreSQL here; PostgreSQL tests will be skipped (they fail under CI=true)" >&2
fi

# The SQS client's tests run against moto's server (scripts/with-moto.sh, from .build-venv).
if [ -z "${BATON_TEST_SQS_ENDPOINT:-}" ] && [ -x scripts/with-moto.sh ]; then
  if [ "${CI:-}" = "true" ] || [ -x .build-venv/bin/moto_server ]; then
    exec scripts/with-moto.sh "$0" "$@"
  fi
  echo "test.sh: no moto_server in .build-venv (scripts/python-venv.sh); SQS tests will be skipped (they fail under CI=true)" >&2
fi

# The Redis client's tests run against a private redis-server (scripts/with-redis.sh).
if [ -z "${BATON_TEST_REDIS_URL:-}" ] && [ -x scripts/with-redis.sh ]; then
  if [ "${CI:-}" = "true" ] || command -v redis-server >/dev/null 2>&1; then
    exec scripts/with-redis.sh "$0" "$@"
  fi
  echo "test.sh: no redis-server here (apt-get install redis-server); Redis tests will be skipped (they fail under CI=true)" >&2
fi

# The AMQP client's and ingest's tests run against a private RabbitMQ (scripts/with-rabbitmq.sh).
if [ -z "${BATON_TEST_AMQP_URL:-}" ] && [ -x scripts/with-rabbitmq.sh ]; then
  if [ "${CI:-}" = "true" ] || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null 2>&1; then
    exec scripts/with-rabbitmq.sh "$0" "$@"
  fi
  echo "test.sh: no rabbitmq-server here (apt-get install rabbitmq-server); AMQP tests will be skipped (they fail under CI=true)" >&2
fi

# The dashboard's browser test drives Debian's chromium (Playwright from .build-venv).
command -v chromium >/dev/null 2>&1 \
  || echo "test.sh: no chromium here (apt-get install chromium); the dashboard's browser test will be skipped (it fails under CI=true)" >&2

swift build --product baton
BATON_BIN="$(swift build --show-bin-path)/baton"
export BATON_BIN
echo "BATON_BIN=$BATON_BIN"

# Suites run one after another: several of them start processes and servers, time
# leases and heartbeats, and on a 2-core machine running them all at once distorts them.
# The output is kept, and a failed run ends by repeating every failure it recorded, so
# that the end of a long log (all a CI page may show) names them.
log="$(mktemp -t baton-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
status=0
swift test --no-parallel "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  echo
  echo "test.sh: swift test failed (exit $status); the failures it recorded:"
  grep -E "✘|error:|Fatal error|Test .* failed" "$log" | grep -v "^✘ Suite" | cut -c1-2000 || true
  exit "$status"
fi

if [ $# -eq 0 ]; then
  echo
  echo "test.sh: wire contract (scripts/contract.sh)"
  scripts/contract.sh || { status=$?; echo "test.sh: the wire-contract check failed (exit $status)"; }
  echo
  echo "test.sh: Swift quick start (scripts/example.sh)"
  scripts/example.sh || { status=$?; echo "test.sh: the Swift quick start failed (exit $status)"; }
fi
exit "$status"
