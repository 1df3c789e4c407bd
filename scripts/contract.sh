#!/usr/bin/env bash
# Checks a live node against its own OpenAPI document with schemathesis (PyPI): every check,
# positive and negative data, stateful links, authentication through schemathesis' OpenAPI
# auth (Tests/Contract/schemathesis.toml), and the custom formats of Tests/Contract/baton_hooks.py.
#
#   scripts/contract.sh                 (uses $BATON_BIN, or builds baton)
#   MAX_EXAMPLES=100 scripts/contract.sh
#
# The node runs on SQLite in a temporary directory, on a free loopback port, with an admin
# token and long-poll waits capped at 0.5 s. schemathesis comes from $SCHEMATHESIS, `st` on
# the PATH, or .build-venv (scripts/python-venv.sh); without it the check is skipped with a
# message, except under CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

ST=${SCHEMATHESIS:-}
[ -z "$ST" ] && [ -x .build-venv/bin/st ] && ST=.build-venv/bin/st
[ -z "$ST" ] && command -v st >/dev/null 2>&1 && ST=$(command -v st)
if [ -z "$ST" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "contract.sh: schemathesis is not installed (scripts/python-venv.sh installs it)" >&2
    exit 1
  fi
  echo "contract.sh: schemathesis not installed; contract check skipped (pip install schemathesis)" >&2
  exit 0
fi
# shellcheck source=lib/node.sh
. scripts/lib/node.sh
ensure_baton_bin
token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
start_node contract "BATON_AUTH_TOKENS=admin:$token" BATON_LIMITS_MAX_WAIT=0.5

status=0
root=$PWD
ST=$(readlink -f "$ST")
# Run from the temporary directory: schemathesis keeps its cache (.schemathesis/) in the cwd.
(cd "$node_dir" && BATON_CONTRACT_TOKEN=$token PYTHONPATH="$root/Tests/Contract${PYTHONPATH:+:$PYTHONPATH}" \
  "$ST" --no-color --config-file "$root/Tests/Contract/schemathesis.toml" run "$node_url/openapi.json" \
  --checks all --max-examples "${MAX_EXAMPLES:-25}" --seed "${SEED:-$RANDOM}") || status=$?
if ! kill -0 "$node_pid" 2>/dev/null; then
  echo "contract.sh: the node died during the run; its log:" >&2
  tail -n 60 "$node_dir/node.log" >&2
  status=1
fi
exit "$status"
