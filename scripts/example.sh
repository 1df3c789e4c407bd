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

# shellcheck source=lib/node.sh
. scripts/lib/node.sh
ensure_baton_bin

echo "example.sh: building examples/swift-quickstart"
swift build --package-path examples/swift-quickstart --scratch-path "$PWD/.build" --product greeter
greeter="$(swift build --package-path examples/swift-quickstart --scratch-path "$PWD/.build" --show-bin-path)/greeter"

start_node example
out=$(timeout 60 "$greeter" "$node_url")
echo "example.sh: greeter printed: $out"
if [ "$out" != 'succeeded "Hello, Ada!"' ]; then
  echo "example.sh: expected: succeeded \"Hello, Ada!\"" >&2
  exit 1
fi
echo "example.sh: the Swift quick start works"
