#!/usr/bin/env bash
# Runs the whole test suite: builds the `baton` binary (end-to-end tests start it as a
# separate process through BATON_BIN), then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --product baton
BATON_BIN="$(swift build --show-bin-path)/baton"
export BATON_BIN
echo "BATON_BIN=$BATON_BIN"

swift test "$@"
