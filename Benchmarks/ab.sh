#!/usr/bin/env bash
# Interleaved A/B of two `baton` release binaries on the figures a hot-path change can move:
# SQLite drains (in-process, and a server with 2 HTTP workers, which also gives the HTTP
# enqueue rate), pick-up latency (in-process and over HTTP), and the PostgreSQL drains
# (in-process and over HTTP). Each configuration runs A, B, A, B, ... ($ROUNDS rounds), so that
# drift on the machine falls on both; the table gives the median of each side and B/A.
#
#   Benchmarks/ab.sh A_BIN B_BIN            (PostgreSQL: a private cluster, scripts/with-postgres.sh)
#   ROUNDS=3 TASKS=100000 Benchmarks/ab.sh A_BIN B_BIN
#   A_ARGS=--no-metrics Benchmarks/ab.sh BIN BIN   (one binary, a setting A/B: extra bench args per side)
#   ONLY=drain-inprocess,drain-http-2w ...          (a subset of the configurations)
#
# Run nothing else on the machine meanwhile.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { sed -n '2,12p' "$0"; exit 64; }
A=$(readlink -f "$1"); B=$(readlink -f "$2")
if [ -z "${BATON_TEST_POSTGRES_URL:-}" ]; then
  exec "$ROOT/scripts/with-postgres.sh" "$0" "$A" "$B"
fi
ROUNDS=${ROUNDS:-3}
TASKS=${TASKS:-100000}
PG=$BATON_TEST_POSTGRES_URL
OUT=$(mktemp -d "${TMPDIR:-/tmp}/baton-ab.XXXXXX")
echo "ab.sh: raw lines in $OUT/ab.jsonl" >&2
MATRIX=(
  "drain-inprocess|--store sqlite --workers inprocess --tasks $TASKS --backlog"
  "drain-http-2w|--store sqlite --workers http --worker-processes 2 --tasks $TASKS --backlog"
  "latency-inprocess|--store sqlite --workers inprocess --tasks 200 --steady 50"
  "latency-http-2w|--store sqlite --workers http --worker-processes 2 --tasks 200 --steady 50"
  "pg-drain-inprocess|--store $PG --workers inprocess --tasks $TASKS --backlog"
  "pg-drain-http-2w|--store $PG --workers http --worker-processes 2 --tasks $TASKS --backlog"
)
cd "$OUT"
for round in $(seq "$ROUNDS"); do
  for entry in "${MATRIX[@]}"; do
    name=${entry%%|*} args=${entry#*|}
    if [ -n "${ONLY:-}" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
    for side in A B; do
      bin=$A extra=${A_ARGS:-}; [ "$side" = B ] && bin=$B extra=${B_ARGS:-}
      echo "+ [$round/$ROUNDS] $name $side" >&2
      # shellcheck disable=SC2086
      if line=$("$bin" bench --json $args $extra 2>/dev/null | tail -n 1) && [[ $line == \{* ]]; then
        echo "{\"name\":\"$name\",\"side\":\"$side\",\"round\":$round,\"load1\":$(cut -d' ' -f1 /proc/loadavg),\"report\":$line}" >> ab.jsonl
      else
        echo "!! $name $side failed" >&2
      fi
    done
  done
done
python3 - "$OUT/ab.jsonl" "$A" "$B" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
figures = [
    ("drain-inprocess", "drain_tasks_per_s", "drain, SQLite in-process (tasks/s)"),
    ("drain-http-2w", "drain_tasks_per_s", "drain, SQLite + 2 HTTP workers (tasks/s)"),
    ("drain-http-2w", "enqueue_tasks_per_s", "enqueue over HTTP, SQLite (tasks/s)"),
    ("drain-http-2w", "cpu_s_per_1000", "CPU s per 1,000 tasks, SQLite + 2 HTTP workers"),
    ("latency-inprocess", "latency_ms.p50", "pick-up p50, SQLite in-process (ms)"),
    ("latency-inprocess", "latency_ms.p99", "pick-up p99, SQLite in-process (ms)"),
    ("latency-http-2w", "latency_ms.p50", "pick-up p50, SQLite HTTP workers (ms)"),
    ("latency-http-2w", "latency_ms.p99", "pick-up p99, SQLite HTTP workers (ms)"),
    ("pg-drain-inprocess", "drain_tasks_per_s", "drain, PostgreSQL in-process (tasks/s)"),
    ("pg-drain-http-2w", "drain_tasks_per_s", "drain, PostgreSQL + 2 HTTP workers (tasks/s)"),
    ("pg-drain-http-2w", "enqueue_tasks_per_s", "enqueue over HTTP, PostgreSQL (tasks/s)"),
]
def get(report, path):
    for key in path.split("."):
        report = report.get(key) if isinstance(report, dict) else None
    return report
import os
print(f"A = {sys.argv[2]} {os.environ.get('A_ARGS', '')}\nB = {sys.argv[3]} {os.environ.get('B_ARGS', '')}\n")
print("| figure | A (runs) | B (runs) | B/A |")
print("|---|---|---|---|")
for name, path, label in figures:
    side = {s: [get(r["report"], path) for r in rows if r["name"] == name and r["side"] == s] for s in "AB"}
    side = {s: [v for v in vs if v is not None] for s, vs in side.items()}
    if not side["A"] or not side["B"]:
        print(f"| {label} | – | – | – |")
        continue
    a, b = statistics.median(side["A"]), statistics.median(side["B"])
    fmt = lambda v: f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
    runs = lambda vs: " / ".join(fmt(v) for v in vs)
    print(f"| {label} | **{fmt(a)}** ({runs(side['A'])}) | **{fmt(b)}** ({runs(side['B'])}) | {b / a:.3f} |")
PY
