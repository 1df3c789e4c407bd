#!/usr/bin/env bash
# Creates (or updates) .build-venv, the Python environment of the tests that drive Baton with
# tools from PyPI: schemathesis (scripts/contract.sh). Prints the venv's bin directory.
#
#   scripts/python-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.build-venv
PACKAGES=("schemathesis>=4.0,<5")
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import schemathesis' >/dev/null 2>&1; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
fi
echo "$PWD/$VENV/bin"
