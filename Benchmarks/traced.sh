#!/usr/bin/env bash
# Runs `baton` with every task traced, exporting to an OTLP/HTTP receiver (OTEL_SINK, default
# http://127.0.0.1:4318; Benchmarks/otlp_sink.py is one): the B side of a tracing A/B.
#
#   python3 Benchmarks/otlp_sink.py 4318 &
#   BATON=.build/release/baton ONLY=drain-http-2w Benchmarks/ab.sh .build/release/baton Benchmarks/traced.sh
#
# The bench's `baton serve` and `baton worker` children inherit the variables. Extra OTEL_*
# variables set by the caller (a sampler, `http/json`) pass through.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_SINK:-http://127.0.0.1:4318}
exec "${BATON:-$ROOT/.build/release/baton}" "$@"
