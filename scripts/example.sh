#!/usr/bin/env bash
# Builds the Swift quick start (examples/swift-quickstart: a package of its own that depends
# on Baton by path) and runs it against a real node: it registers a handler, runs a worker,
# submits a task with BatonClient and must print `succeeded "Hello, Ada!"`.
#
#   scripts/example.sh            (uses $BATON_BIN for the node, or builds baton)
#
# The example builds in the repository's own build directory (.build), so the dependencies
# already built for Baton are not built a second time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${BATON_BIN:-}" ]; then
  swift build --product baton
  BATON_BIN="$(swift build --show-bin-path)/baton"
fi

echo "example.sh: building examples/swift-quickstart"
swift build --package-path examples/swift-quickstart --scratch-path "$PWD/.build" --product greeter
greeter="$(swift build --package-path examples/swift-quickstart --scratch-path "$PWD/.build" --show-bin-path)/greeter"

dir=$(mktemp -d -t baton-example.XXXXXX)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

BATON_LOG_LEVEL=warning "$BATON_BIN" serve --db "$dir/baton.db" --port 0 >"$dir/node.out" 2>"$dir/node.log" &
node_pid=$!
url=
for _ in $(seq 100); do
  url=$(head -n 1 "$dir/node.out" 2>/dev/null || true)
  [ -n "$url" ] && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$dir/node.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "example.sh: the node did not start" >&2; exit 1; }

out=$(timeout 60 "$greeter" "$url")
echo "example.sh: greeter printed: $out"
if [ "$out" != 'succeeded "Hello, Ada!"' ]; then
  echo "example.sh: expected: succeeded \"Hello, Ada!\"" >&2
  exit 1
fi
echo "example.sh: the Swift quick start works"
