#!/usr/bin/env bash
# Formats the tree with the repo's .swift-format, then lints it; exits non-zero on any lint
# finding. `scripts/validate.sh --check` only lints (what a pre-commit hook or CI would run).
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(Package.swift Sources Tests Benchmarks examples Fuzz)
existing=()
for p in "${paths[@]}"; do [ -e "$p" ] && existing+=("$p"); done

if [ "${1:-}" != "--check" ]; then
  swift format --in-place --recursive --parallel --configuration .swift-format "${existing[@]}"
fi
out="$(swift format lint --recursive --parallel --configuration .swift-format "${existing[@]}" 2>&1 || true)"
if [ -n "$out" ]; then
  echo "$out"
  echo "validate.sh: swift format lint reports $(echo "$out" | grep -c 'warning\|error') finding(s)" >&2
  exit 1
fi
[ "${1:-}" = "--check" ] && echo "validate.sh: lint-clean" || echo "validate.sh: formatted and lint-clean"
