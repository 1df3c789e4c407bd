#!/usr/bin/env bash
# Baton's standard benchmark matrix, in a release build, medians of $REPS runs (default 3);
# writes docs/benchmarks.md (targets, tables, machine, settings, limits, peers, analysis) and
# docs/benchmarks-throughput.png / docs/benchmarks-latency.png. Nothing in that file is typed
# by hand: re-running this script rewrites all of it (the analysis comes from Benchmarks/analysis.md).
#
#   Benchmarks/run.sh              the Baton matrix, SQLite and PostgreSQL (~8 min on 2 cores);
#                                  PostgreSQL is a private throw-away cluster (scripts/with-postgres.sh)
#   Benchmarks/run.sh --peers      also the peer benchmarks of Benchmarks/peers (pgqueuer, procrastinate,
#                                  Celery, RQ, Huey and the bare-SQL limits; ~12 min for 3 rounds),
#                                  on a private PostgreSQL (stock settings) and redis that
#                                  Benchmarks/peers/with-services.sh starts and stops; Baton's
#                                  PostgreSQL rows then run on that same server
#   REPS=1 Benchmarks/run.sh       one run per configuration (and one peer round)
#   PEER_REPS=1                    rounds of the peer benchmarks only (default: REPS)
#   BATON_BIN=/path/to/baton       use this (release) binary instead of building one
#   BATON_BENCH_COMMIT=text        what to name as the measured commit (with BATON_BIN)
#   BATON_BENCH_OUT=/tmp/x.md      write the report (and its PNGs, beside it) there, not docs/
#   QUICK=1                        small sizes, to check the script (not a measurement)
#   BATON_BENCH_POSTGRES_URL=...   without --peers: use this PostgreSQL instead of a private one
#
# Run nothing else on the machine meanwhile: every process shares the cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/Benchmarks/run.sh"
cd "$ROOT"
REPS=${REPS:-3}
PEER_REPS=${PEER_REPS:-$REPS}   # rounds of the peer benchmarks
PEERS=0
for arg in "$@"; do
  case "$arg" in
    --peers) PEERS=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 64 ;;
  esac
done

# --- which PostgreSQL ---------------------------------------------------------------------
# --peers: the whole script re-runs itself under Benchmarks/peers/with-services.sh, which starts
# a private PostgreSQL with stock settings and a private redis, and stops both when the script
# ends; Baton, pgqueuer and procrastinate then run on one server with one configuration.
# Otherwise BATON_BENCH_POSTGRES_URL if given, else a private cluster: the whole script re-runs
# itself under scripts/with-postgres.sh, which stops and removes the cluster when the script ends.
PG_URL=""; PG_SOURCE=""; PG_DATA=""
if [ "$PEERS" = 1 ]; then
  if [ "${_BATON_BENCH_UNDER_PEERS:-0}" != 1 ]; then
    [ -z "${BATON_BENCH_POSTGRES_URL:-}" ] ||
      echo "run.sh: --peers: BATON_BENCH_POSTGRES_URL ignored; Baton uses the peers' PostgreSQL" >&2
    echo "run.sh: starting the peers' PostgreSQL and redis (Benchmarks/peers/with-services.sh)" >&2
    exec env _BATON_BENCH_UNDER_PEERS=1 "$ROOT/Benchmarks/peers/with-services.sh" "$SELF" "$@"
  fi
  # "peer-kit" is the name report.py gives the server that the peers also run on
  PG_SOURCE=peer-kit; PG_DATA=$BATON_PEERS_PGDATA
elif [ "${_BATON_BENCH_UNDER_PG:-0}" = 1 ]; then
  PG_URL=$BATON_TEST_POSTGRES_URL; PG_SOURCE=with-postgres; PG_DATA=${BATON_TEST_PGDATA:-}
elif [ -n "${BATON_BENCH_POSTGRES_URL:-}" ]; then
  PG_URL=$BATON_BENCH_POSTGRES_URL; PG_SOURCE=given
else
  echo "run.sh: starting a private PostgreSQL (scripts/with-postgres.sh) for the PostgreSQL rows" >&2
  exec env _BATON_BENCH_UNDER_PG=1 "$ROOT/scripts/with-postgres.sh" "$SELF" "$@"
fi

OUT_MD=${BATON_BENCH_OUT:-$ROOT/docs/benchmarks.md}
mkdir -p "$(dirname "$OUT_MD")"
OUT_MD=$(cd "$(dirname "$OUT_MD")" && pwd)/$(basename "$OUT_MD")
PNG_DIR=$(dirname "$OUT_MD")

# Raw results (Baton's lines, the machine, the peers' lines) stay here, outside the
# repository: report.py can be re-run on them. With the default output they are also copied
# into Benchmarks/results/*-latest.*.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/baton-benchmarks.XXXXXX")
echo "run.sh: raw results in $WORK" >&2
RAW=$WORK/baton.jsonl
: > "$RAW"

# --- the binary -------------------------------------------------------------------------
if [ -z "${BATON_BIN:-}" ]; then
  BUILT=1
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

PSQL_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql
[ -x "$PSQL_BIN" ] || PSQL_BIN=psql

# --- the peers' venv, and Baton's database on their server ----------------------------------
PEERS_PY=""
if [ "$PEERS" = 1 ]; then
  PEERS_PY=$("$ROOT/Benchmarks/peers/setup.sh")/python   # .build-peers-venv, pinned versions
  # with-services.sh's cluster: user postgres, trust authentication, no password
  [ "$("$PSQL_BIN" "$BATON_PEERS_PG_URL/postgres" -XAtqc "SELECT 1 FROM pg_database WHERE datname = 'bench_baton'")" = 1 ] ||
    "$PSQL_BIN" "$BATON_PEERS_PG_URL/postgres" -Xqc "CREATE DATABASE bench_baton"
  PG_URL=$BATON_PEERS_PG_URL/bench_baton
fi

# PostgreSQL's own CPU seconds so far (postmaster, its live children, and the children it has
# reaped: each connection's backend exits with it), when the cluster runs on this machine.
CLK_TCK=$(getconf CLK_TCK)
pg_cpu() {
  local pm ticks=0 pid t
  [ -n "$PG_DATA" ] && [ -r "$PG_DATA/postmaster.pid" ] || { echo null; return; }
  pm=$(head -1 "$PG_DATA/postmaster.pid")
  [ -r "/proc/$pm/stat" ] || { echo null; return; }
  # fields after "pid (comm) ": state=1 ... utime=12 stime=13 cutime=14 cstime=15
  ticks=$(sed 's/.*) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}')
  for pid in $(pgrep -P "$pm" || true); do
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    ticks=$((ticks + ${t:-0}))
  done
  awk -v t="$ticks" -v h="$CLK_TCK" 'BEGIN { printf "%.2f\n", t / h }'
}

# --- the machine ----------------------------------------------------------------------------
ENV_JSON=$WORK/machine.json
BUILT=${BUILT:-0} PG_URL="$PG_URL" PG_SOURCE="$PG_SOURCE" PSQL_BIN="$PSQL_BIN" \
"$VENV/bin/python" - "$ENV_JSON" "$BATON_BIN" <<'EOF'
import json, os, platform, re, subprocess, sys, tempfile, time
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
# PostgreSQL: version and the settings that decide what a commit costs.
pg = None
url = os.environ.get("PG_URL")
if url:
    def q(sql):
        r = subprocess.run([os.environ["PSQL_BIN"], url, "-XAtqc", sql], capture_output=True, text=True, timeout=30)
        if r.returncode: raise RuntimeError(r.stderr.strip())
        return r.stdout.strip()
    names = ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "wal_level", "max_connections"]
    try:
        settings = dict(l.split("|", 1) for l in q(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ("
            + ",".join(f"'{n}'" for n in names) + ") ORDER BY name").splitlines())
        pg = {"source": os.environ.get("PG_SOURCE"), "version": q("SHOW server_version"),
              "url": re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url), "settings": settings}
    except Exception as e:
        pg = {"source": os.environ.get("PG_SOURCE"), "error": str(e)}
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "cores": os.cpu_count(), "cpu": model, "memory_gib": round(mem, 1), "kernel": platform.release(),
    "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
    "tmp_fs": sh(f"findmnt -no FSTYPE -T {tempfile.gettempdir()}"),
    "fsync_ms_median": round(times[len(times) // 2] * 1000, 3),
    "fsync_ms_p99": round(times[int(len(times) * 0.99)] * 1000, 3),
    "swift": sh("swift --version 2>&1 | head -1"),
    "commit": os.environ.get("BATON_BENCH_COMMIT") or (
        (sh("git rev-parse --short HEAD") + (" (modified)" if sh("git status --porcelain -- Sources Package.swift") else ""))
        if os.environ.get("BUILT") == "1" else
        f"unknown: a given binary ({os.path.basename(binary)}); the tree was at {sh('git rev-parse --short HEAD')}"),
    "binary": binary,
    "load_at_start": open("/proc/loadavg").read().split()[:3],
    "quick": os.environ.get("QUICK") == "1",
    "postgres": pg,
}, open(out, "w"), indent=1)
EOF
cat "$ENV_JSON" >&2

# --- the matrix -----------------------------------------------------------------------------
# name|arguments. Each prints one JSON line; the name, the load average and (PostgreSQL rows)
# PostgreSQL's own CPU time are added to it. QUICK=1 shrinks the sizes (to check the script
# itself, not to measure).
N_DRAIN=100000; N_PREFILL=1000000
if [ "${QUICK:-0}" = 1 ]; then N_DRAIN=5000; N_PREFILL=20000; fi
MATRIX=(
  "drain-inprocess|--store sqlite --workers inprocess --tasks $N_DRAIN --backlog"
  "drain-http-2w|--store sqlite --workers http --worker-processes 2 --tasks $N_DRAIN --backlog"
  "latency-inprocess|--store sqlite --workers inprocess --tasks 200 --steady 50"
  "latency-http-2w|--store sqlite --workers http --worker-processes 2 --tasks 200 --steady 50"
  "prefill-1m-http|--store sqlite --workers http --tasks 200 --prefill $N_PREFILL"
  # PostgreSQL: each run makes a fresh schema in the database and drops it afterwards.
  "pg-drain-http-2w|--store $PG_URL --workers http --worker-processes 2 --tasks $N_DRAIN --backlog"
  "pg-drain-http-2w-2nodes|--store $PG_URL --workers http --worker-processes 2 --nodes 2 --tasks $N_DRAIN --backlog"
  "pg-drain-inprocess|--store $PG_URL --workers inprocess --tasks $N_DRAIN --backlog"
  "pg-latency-http-2w|--store $PG_URL --workers http --worker-processes 2 --tasks 200 --steady 50"
)

load1() { cut -d' ' -f1 /proc/loadavg; }
bench_round() {
  local rep=$1 entry name args line l0 l1 c0 c1 extra
  for entry in "${MATRIX[@]}"; do
    name=${entry%%|*} args=${entry#*|}
    echo "+ [$rep/$REPS] $name: baton bench ${args//"$PG_URL"/\$PG_URL}" >&2
    l0=$(load1); c0=null; [[ $name == pg-* ]] && c0=$(pg_cpu)
    # shellcheck disable=SC2086
    if line=$("$BATON_BIN" bench --json $args | tail -n 1) && [[ $line == \{* ]]; then
      l1=$(load1); c1=null; [[ $name == pg-* ]] && c1=$(pg_cpu)
      extra="\"load1\":[$l0,$l1]"
      if [ "$c0" != null ] && [ "$c1" != null ]; then
        extra="$extra,\"pg_cpu_s\":$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
      fi
      echo "{\"name\":\"$name\",\"rep\":$rep,$extra,\"report\":$line}" | tee -a "$RAW" >&2
    else
      echo "!! $name failed" >&2
      echo "{\"name\":\"$name\",\"rep\":$rep,\"failed\":true}" >> "$RAW"
    fi
  done
}
for rep in $(seq "$REPS"); do bench_round "$rep"; done

# Baton's own SQLite schema and claim/ack statements with no scheduler around them
# (Benchmarks/rawsql.py, 100,000 tasks): the ceiling of a drain on one SQLite file here.
for rep in $(seq "$REPS"); do
  echo "+ [$rep/$REPS] rawsql: python3 Benchmarks/rawsql.py" >&2
  if line=$("$VENV/bin/python" "$ROOT/Benchmarks/rawsql.py" | tail -n 1) && [ -n "$line" ]; then
    echo "$line" >&2
    "$VENV/bin/python" - "$rep" "$line" >> "$RAW" <<'PYEOF' || echo "!! rawsql: could not read its output" >&2
import json, re, sys
rep, text = int(sys.argv[1]), sys.argv[2]
num = lambda pat: float(re.search(pat, text).group(1).replace(",", ""))
print(json.dumps({"name": "rawsql", "rep": rep, "rawsql": {
    "enqueue_rows_per_s": num(r"enqueue ([\d,]+)/s"), "claim_rows_per_s": num(r"claim ([\d,]+) rows/s"),
    "ack_rows_per_s": num(r"ack ([\d,]+) rows/s"), "claim_ack_tasks_per_s": num(r"claim\+ack ([\d,]+) tasks/s")}}))
PYEOF
  else
    echo "!! rawsql failed" >&2
  fi
done

# --- the peers ---------------------------------------------------------------------------
PEERS_RAW=""
if [ "$PEERS" = 1 ]; then
  PEERS_RAW=$WORK/peers.jsonl
  echo "run.sh: peer benchmarks (Benchmarks/peers/run-all.sh), REPS=$PEER_REPS" >&2
  # on the servers this script runs under; with-services.sh stops them when it ends
  REPS=$PEER_REPS OUT=$PEERS_RAW BATON_PEERS_PYTHON=$PEERS_PY "$ROOT/Benchmarks/peers/run-all.sh" >&2 ||
    echo "run.sh: some peer benchmarks failed (see above)" >&2
fi

# --- the report -----------------------------------------------------------------------------
"$VENV/bin/python" "$ROOT/Benchmarks/report.py" --baton "$RAW" --machine "$ENV_JSON" --reps "$REPS" \
  ${PEERS_RAW:+--peers "$PEERS_RAW"} --analysis "$ROOT/Benchmarks/analysis.md" --out "$OUT_MD" \
  --png-dir "$PNG_DIR"
if [ -z "${BATON_BENCH_OUT:-}" ]; then
  mkdir -p "$ROOT/Benchmarks/results"
  cp "$RAW" "$ROOT/Benchmarks/results/baton-latest.jsonl"
  cp "$ENV_JSON" "$ROOT/Benchmarks/results/machine-latest.json"
  if [ -n "$PEERS_RAW" ] && [ -f "$PEERS_RAW" ]; then
    cp "$PEERS_RAW" "$ROOT/Benchmarks/results/peers-latest.jsonl"
    [ ! -f "${PEERS_RAW%.jsonl}.env.txt" ] || cp "${PEERS_RAW%.jsonl}.env.txt" "$ROOT/Benchmarks/results/peers-latest.env.txt"
  fi
fi
echo "run.sh: wrote $OUT_MD and $PNG_DIR/benchmarks-*.png (raw results in $WORK)" >&2
