#!/usr/bin/env bash
# Every peer benchmark, in REPS interleaved rounds, as one JSON line per measurement.
#
#   Benchmarks/peers/run-all.sh                   3 rounds (~12 min on 2 cores)
#   REPS=1 Benchmarks/peers/run-all.sh            one round
#   OUT=/tmp/peers.jsonl Benchmarks/peers/run-all.sh
#
# A round runs, in this order: pgqueuer (dequeue batch 10, then 100, then pick-up latency),
# procrastinate (drain, latency), Celery (prefork, threads), Huey, RQ, the PostgreSQL limits
# and the SQLite limits: 22 lines. The lines go to $OUT (default .build-peers/peers.jsonl,
# emptied first) and to stdout; facts about the machine, the servers and the package versions
# go to ${OUT%.jsonl}.env.txt. Benchmarks/run.sh --peers runs this and hands both files to
# Benchmarks/report.py. A benchmark that fails is reported and the others still run; the
# script then exits 1.
#
# Without BATON_PEERS_PG_URL in the environment the script runs itself under with-services.sh
# (a private PostgreSQL and redis for this run, stopped at the end). It runs setup.sh for the
# venv unless BATON_PEERS_PYTHON names a Python to use.
#
# Sizes, for trying the scripts out (the defaults are what the benchmark page reports):
#   PEERS_N=20000            tasks per queue drain
#   PEERS_LIMIT_SECONDS=6    length of each pgbench run
#   PEERS_SQLITE_JOBS=40000  size unit of the SQLite limits
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ -z "${BATON_PEERS_PG_URL:-}" ]; then
  exec "$HERE/with-services.sh" "$HERE/run-all.sh" "$@"
fi
PY=${BATON_PEERS_PYTHON:-$("$HERE/setup.sh")/python}
REPS=${REPS:-3}
N=${PEERS_N:-20000}
SECONDS_PER_LIMIT=${PEERS_LIMIT_SECONDS:-6}
SQLITE_JOBS=${PEERS_SQLITE_JOBS:-40000}
OUT=${OUT:-$ROOT/.build-peers/peers.jsonl}
mkdir -p "$(dirname "$OUT")"
ENV_TXT=${OUT%.jsonl}.env.txt
LOGS=$BATON_PEERS_STATE/logs
mkdir -p "$LOGS"
: > "$OUT"

# --- what the figures were measured on ---------------------------------------------------------
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
PSQL=("$PG_BIN/psql" "$BATON_PEERS_PG_URL/postgres" -X -q -A -t)
{
  date -u +"%F %T UTC"
  echo "cores: $(nproc); $(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*: //')"
  awk '/^MemTotal/ { printf "memory: %.1f GiB\n", $2 / 1048576 }' /proc/meminfo
  echo "kernel: $(uname -r)"
  echo "scratch directory (SQLite files): $BATON_PEERS_STATE on $(findmnt -no FSTYPE -T "$BATON_PEERS_STATE")"
  echo "fdatasync of an 8 kB write there (pg_test_fsync): $("$PG_BIN/pg_test_fsync" -s 1 \
    -f "$BATON_PEERS_STATE/fsync-probe" 2>/dev/null | grep -m1 -E '^ +fdatasync' | sed -E 's/^ +fdatasync +//')"
  rm -f "$BATON_PEERS_STATE/fsync-probe"
  "${PSQL[@]}" -c "SELECT version()"
  "${PSQL[@]}" -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
                   WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')"
  redis-server --version
  "$PY" -V
  "$PY" -m pip list --disable-pip-version-check 2>/dev/null |
    grep -iE '^(pgqueuer|procrastinate|celery|kombu|huey|rq|redis|asyncpg|psycopg) '
} > "$ENV_TXT"
echo "peers/run-all: $REPS round(s), N=$N; lines to $OUT, environment to $ENV_TXT" >&2

# --- the rounds ---------------------------------------------------------------------------------
FAILED=()
bench() {  # LABEL SCRIPT ARGS...: its JSON lines to $OUT and stdout, its stderr to a log
  local label=$1 log
  shift
  log=$LOGS/round$round-$label.stderr
  echo "+ [$round/$REPS] $label: $*" >&2
  if ! (cd "$HERE" && "$PY" "$@") 2>"$log" | tee -a "$OUT"; then
    FAILED+=("round $round: $label")
    echo "!! $label failed; the end of its stderr ($log):" >&2
    tail -n 8 "$log" | sed 's/^/   /' >&2
  fi
}
for round in $(seq "$REPS"); do
  bench pgqueuer-b10 pgqueuer_bench.py -n "$N"
  bench pgqueuer-b100 pgqueuer_bench.py -n "$N" --batch 100
  bench pgqueuer-latency pgqueuer_bench.py --latency
  bench procrastinate procrastinate_bench.py -n "$N"
  bench procrastinate-latency procrastinate_bench.py --latency
  bench celery-prefork celery_bench.py -n "$N" --pool prefork
  bench celery-threads celery_bench.py -n "$N" --pool threads
  bench huey huey_bench.py -n "$N"
  bench rq rq_bench.py -n "$N"
  bench pg-limit pg_limit.py --seconds "$SECONDS_PER_LIMIT"
  bench sqlite-limit sqlite_limit.py --jobs "$SQLITE_JOBS"
done

# --- a glance at the medians (Benchmarks/report.py makes the real tables) ----------------------
"$PY" - "$OUT" <<'EOF' >&2
import json, statistics, sys
from collections import defaultdict
groups = defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("{"):
        r = json.loads(line)
        groups[(r["system"], r.get("c", r.get("clients")))].append(r)
print(f"\npeers/run-all: medians of {sys.argv[1]}")
for (system, c), rs in groups.items():
    m = lambda key: statistics.median(r[key] for r in rs)
    if "tasks_per_s_drain" in rs[0]:
        what = f"drain {m('tasks_per_s_drain'):,.0f} tasks/s, enqueue {statistics.median(r['n'] / r['enqueue_s'] for r in rs):,.0f} tasks/s"
    elif "p50_ms" in rs[0]:
        what = f"pick-up p50 {m('p50_ms'):.2f} ms, p99 {m('p99_ms'):.2f} ms"
    else:
        what = f"{m('rows_per_s'):,.0f} rows/s"
    print(f"  {system:45s} {'C=' + str(c) if c else '':6s} {what}  ({len(rs)} run{'s' if len(rs) > 1 else ''})")
EOF

LINES=$(grep -c '^{' "$OUT" || true)
echo "peers/run-all: $LINES JSON lines (a complete round gives 22)" >&2
if [ "${#FAILED[@]}" -gt 0 ]; then
  printf 'peers/run-all: FAILED: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
