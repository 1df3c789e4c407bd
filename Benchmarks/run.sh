#!/usr/bin/env bash
# Baton's standard benchmark matrix, in a release build, medians of $REPS runs (default 3);
# writes docs/benchmarks.md (table, machine, settings, where the time goes) and
# docs/benchmarks-throughput.png / docs/benchmarks-latency.png.
#
#   Benchmarks/run.sh              the Baton matrix (~5 min on 2 cores)
#   Benchmarks/run.sh --peers      also the peer kit (../shared/bench-peers: pgqueuer, procrastinate,
#                                  Celery, RQ, Huey and the bare-SQL limits; ~12 min for 3 rounds),
#                                  with the ratios beside Baton's figures
#   REPS=1 Benchmarks/run.sh       one run per configuration (and one peer round)
#   PEER_REPS=1                    rounds of the peer kit only (default: REPS)
#   BATON_BIN=/path/to/baton       use this (release) binary instead of building one
#   BATON_BENCH_COMMIT=text         what to name as the measured commit (with BATON_BIN)
#   QUICK=1                        small sizes, to check the script (not a measurement)
#   BATON_BENCH_POSTGRES_URL=...   also the PostgreSQL rows (once the PostgreSQL store lands)
#
# Run nothing else on the machine meanwhile: every process shares the cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPS=${REPS:-3}
PEER_REPS=${PEER_REPS:-$REPS}   # rounds of the peer kit
PEERS=0
for arg in "$@"; do
  case "$arg" in
    --peers) PEERS=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 64 ;;
  esac
done

# Raw results (Baton's lines, the machine, the peer kit's lines) stay here, outside the
# repository: report.py can be re-run on them; only Baton's lines are copied into Benchmarks/results.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/baton-benchmarks.XXXXXX")
echo "run.sh: raw results in $WORK" >&2
RAW=$WORK/baton.jsonl
: > "$RAW"

# --- the binary -------------------------------------------------------------------------
if [ -z "${BATON_BIN:-}" ]; then
  echo "run.sh: building the release binary" >&2
  swift build -c release --product baton >&2
  BATON_BIN=$(swift build -c release --show-bin-path)/baton
fi
[ -x "$BATON_BIN" ] || { echo "run.sh: no executable at $BATON_BIN" >&2; exit 1; }

# --- plotting venv (matplotlib from PyPI) -------------------------------------------------
VENV=${BATON_BENCH_VENV:-$HOME/.cache/baton-bench-venv}
if ! "$VENV/bin/python" -c "import matplotlib" 2>/dev/null; then
  echo "run.sh: installing matplotlib into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check matplotlib >&2
fi

# --- the machine ----------------------------------------------------------------------------
ENV_JSON=$WORK/machine.json
"$VENV/bin/python" - "$ENV_JSON" "$BATON_BIN" <<'EOF'
import json, os, platform, subprocess, sys, tempfile, time
out, binary = sys.argv[1], sys.argv[2]
def sh(cmd):
    try: return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception: return ""
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1048576
# Disk: time of a 4 kB write + fdatasync, where the temporary databases live.
d = tempfile.mkdtemp(prefix="baton-fsync-")
path = os.path.join(d, "f")
fd = os.open(path, os.O_WRONLY | os.O_CREAT)
times = []
for _ in range(200):
    os.pwrite(fd, b"x" * 4096, 0)
    t = time.perf_counter(); os.fdatasync(fd); times.append(time.perf_counter() - t)
os.close(fd); os.remove(path); os.rmdir(d)
times.sort()
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "cores": os.cpu_count(), "cpu": model, "memory_gib": round(mem, 1), "kernel": platform.release(),
    "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
    "tmp_fs": sh(f"findmnt -no FSTYPE -T {tempfile.gettempdir()}"),
    "fsync_ms_median": round(times[len(times) // 2] * 1000, 3),
    "fsync_ms_p99": round(times[int(len(times) * 0.99)] * 1000, 3),
    "swift": sh("swift --version 2>&1 | head -1"),
    "commit": os.environ.get("BATON_BENCH_COMMIT") or (sh("git rev-parse --short HEAD") + (" (modified)" if sh("git status --porcelain -- Sources Package.swift") else "")),
    "binary": binary,
}, open(out, "w"), indent=1)
EOF
cat "$ENV_JSON" >&2

# --- the matrix -----------------------------------------------------------------------------
# name|arguments. Each prints one JSON line; the name is added to it.
# QUICK=1 shrinks the sizes (to check the script itself, not to measure).
N_DRAIN=100000; N_PREFILL=1000000
if [ "${QUICK:-0}" = 1 ]; then N_DRAIN=5000; N_PREFILL=20000; fi
MATRIX=(
  "drain-inprocess|--store sqlite --workers inprocess --tasks $N_DRAIN --backlog"
  "drain-http-2w|--store sqlite --workers http --worker-processes 2 --tasks $N_DRAIN --backlog"
  "latency-inprocess|--store sqlite --workers inprocess --tasks 200 --steady 50"
  "latency-http-2w|--store sqlite --workers http --worker-processes 2 --tasks 200 --steady 50"
  "prefill-1m-http|--store sqlite --workers http --tasks 200 --prefill $N_PREFILL"
)
if [ -n "${BATON_BENCH_POSTGRES_URL:-}" ]; then
  # PostgreSQL rows: drain with 1 node and remote workers, and enqueue over HTTP.
  # Enabled once `baton bench --store postgres://…` is supported by the PostgreSQL store.
  MATRIX+=(
    "pg-drain-http-2w|--store $BATON_BENCH_POSTGRES_URL --workers http --worker-processes 2 --tasks $N_DRAIN --backlog"
    "pg-latency-http-2w|--store $BATON_BENCH_POSTGRES_URL --workers http --worker-processes 2 --tasks 200 --steady 50"
  )
fi

bench_round() {
  local rep=$1
  for entry in "${MATRIX[@]}"; do
    local name=${entry%%|*} args=${entry#*|}
    echo "+ [$rep/$REPS] $name: baton bench $args" >&2
    # shellcheck disable=SC2086
    if line=$("$BATON_BIN" bench --json $args | tail -n 1); then
      echo "{\"name\":\"$name\",\"rep\":$rep,\"report\":$line}" | tee -a "$RAW" >&2
    else
      echo "!! $name failed" >&2
      echo "{\"name\":\"$name\",\"rep\":$rep,\"failed\":true}" >> "$RAW"
    fi
  done
}
for rep in $(seq "$REPS"); do bench_round "$rep"; done

# --- the peers ---------------------------------------------------------------------------
PEERS_RAW=""
if [ "$PEERS" = 1 ]; then
  KIT=$(cd "$ROOT/../shared/bench-peers" 2>/dev/null && pwd) || { echo "run.sh: no peer kit at ../shared/bench-peers" >&2; exit 1; }
  PEERS_RAW=$WORK/peers.jsonl
  echo "run.sh: peer kit in $KIT, REPS=$PEER_REPS" >&2
  "$KIT/install.sh" >&2
  # The kit's results stay outside the repository; only the medians are copied into docs.
  REPS=$PEER_REPS OUT=$PEERS_RAW "$KIT/run_all.sh" >&2 || echo "run.sh: some peer benchmarks failed (see above)" >&2
  "$KIT/teardown.sh" >&2 || true
fi

# --- the report -----------------------------------------------------------------------------
"$VENV/bin/python" "$ROOT/Benchmarks/report.py" --baton "$RAW" --machine "$ENV_JSON" --reps "$REPS" \
  ${PEERS_RAW:+--peers "$PEERS_RAW"} --analysis "$ROOT/Benchmarks/analysis.md" --out "$ROOT/docs/benchmarks.md" \
  --png-dir "$ROOT/docs"
mkdir -p "$ROOT/Benchmarks/results"
cp "$RAW" "$ROOT/Benchmarks/results/baton-latest.jsonl"
echo "run.sh: wrote docs/benchmarks.md and docs/benchmarks-*.png" >&2
