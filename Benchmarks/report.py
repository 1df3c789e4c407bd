"""Writes docs/benchmarks.md and its charts from the raw results of Benchmarks/run.sh.

  report.py --baton baton.jsonl --machine machine.json --reps 3 [--peers peers.jsonl]
            --analysis Benchmarks/analysis.md --out docs/benchmarks.md --png-dir docs

Every figure in the output comes from these files: re-running it on the same files gives the
same document. The analysis (Benchmarks/analysis.md, from "## Where the time goes" on) is
appended as it is.
"""
import argparse
import json
import os
import statistics
import sys
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--baton", required=True)
ap.add_argument("--machine", required=True)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--peers")
ap.add_argument("--analysis")
ap.add_argument("--out", required=True)
ap.add_argument("--png-dir", required=True)
a = ap.parse_args()

machine = json.load(open(a.machine))
runs = defaultdict(list)      # name -> [report]
extras = defaultdict(list)    # name -> [the line around the report: load1, pg_cpu_s]
failed = defaultdict(int)
rawsql = []                   # Benchmarks/rawsql.py: Baton's SQLite statements without Baton
for line in open(a.baton):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if "rawsql" in r:
        rawsql.append(r["rawsql"])
    elif r.get("failed"):
        failed[r["name"]] += 1
    else:
        runs[r["name"]].append(r["report"])
        extras[r["name"]].append(r)


def get(rep, path):
    for k in path.split("."):
        if rep is None:
            return None
        rep = rep.get(k)
    return rep


def values(name, path):
    xs = [get(r, path) for r in runs.get(name, [])]
    return [x for x in xs if x is not None]


def med(name, path):
    xs = values(name, path)
    return statistics.median(xs) if xs else None


def all_runs(name, path, fmt="{:,.0f}"):
    xs = [get(r, path) for r in runs.get(name, [])]
    return " / ".join("-" if x is None else fmt.format(x) for x in xs)


def extra_med(name, key):
    xs = [e[key] for e in extras.get(name, []) if e.get(key) is not None]
    return statistics.median(xs) if xs else None


def latency_source(name):
    """How a latency row was measured, as `baton bench` reported it (the first run's words)."""
    xs = values(name, "latency_source")
    return xs[0] if xs else None


def f0(x):
    return "-" if x is None else f"{x:,.0f}"


def f1(x):
    return "-" if x is None else f"{x:.1f}"


def f2(x):
    return "-" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def f3(x):
    return "-" if x is None else (f"{x:.3f}" if x < 1 else f"{x:.2f}")


def fx(x):
    return "-" if x is None else f"{x:.2f}x"


def tasks_of(name, default=100_000):
    rs = runs.get(name)
    return rs[0]["settings"]["tasks"] if rs else default


def size(n):
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else f"{n:,}"


def ratio(a_, b_, fmt="{:.1f}x"):
    return "-" if not a_ or not b_ else fmt.format(a_ / b_)


N_SQL = size(tasks_of("drain-inprocess"))
N_HTTP = size(tasks_of("drain-http-2w"))
N_PG = size(tasks_of("pg-drain-http-2w"))
LABELS = {
    "drain-inprocess": f"SQLite, standalone, in-process workers, {N_SQL} backlog",
    "drain-http-2w": f"SQLite, `baton serve` + 2 `baton worker` processes over HTTP, {N_HTTP} backlog",
    "latency-inprocess": "SQLite, in-process workers, idle, 200 tasks 20 ms apart",
    "latency-http-2w": "SQLite, server + 2 HTTP worker processes, idle, 200 tasks 20 ms apart",
    "prefill-1m-http": "SQLite, server over HTTP, a deep ready queue vs an almost empty one",
    "pg-drain-http-2w": f"PostgreSQL, 1 `baton serve` + 2 `baton worker` processes over HTTP, {N_PG} backlog",
    "pg-drain-http-2w-2nodes": f"PostgreSQL, 2 `baton serve` nodes + 2 worker processes (one per node), submissions alternating between the nodes, {size(tasks_of('pg-drain-http-2w-2nodes'))} backlog",
    "pg-drain-inprocess": f"PostgreSQL, in-process workers (store, dispatcher, completer and workers in one process), {size(tasks_of('pg-drain-inprocess'))} backlog",
    "pg-latency-http-2w": "PostgreSQL, 1 node + 2 HTTP worker processes, idle, 200 tasks 20 ms apart",
}
SHORT = {
    "drain-inprocess": "Baton SQLite\nin-process",
    "drain-http-2w": "Baton SQLite\nserver + 2 HTTP workers",
    "pg-drain-http-2w": "Baton PostgreSQL\n1 node + 2 HTTP workers",
    "pg-drain-http-2w-2nodes": "Baton PostgreSQL\n2 nodes + 2 HTTP workers",
    "pg-drain-inprocess": "Baton PostgreSQL\nin-process",
}


def command(name):
    rs = runs.get(name)
    if not rs:
        return "-"
    s = rs[0]["settings"]
    store = "sqlite" if s["store"] == "sqlite" else "$PG_URL"
    parts = [f"--store {store}", f"--workers {s['workers']}"]
    if s["workers"] == "http":
        parts.append(f"--worker-processes {s['worker_processes']}")
        if s.get("nodes", 1) > 1:
            parts.append(f"--nodes {s['nodes']}")
    parts.append(f"--tasks {s['tasks']}")
    parts.append({"backlog": "--backlog", "steady": f"--steady {s.get('rate') or 0:g}",
                  "prefill": f"--prefill {s.get('prefill')}"}[s["mode"]])
    return "baton bench --json " + " ".join(parts) + (
        f"  # concurrency {s['concurrency']}, claim batch {s['claim_batch']}, payload {s['payload']} B")


# --- peers ------------------------------------------------------------------------------
peers = defaultdict(list)  # (system, c or clients) -> [line]
peer_env = ""
if a.peers and os.path.exists(a.peers):
    for line in open(a.peers):
        if line.startswith("{"):
            r = json.loads(line)
            peers[(r["system"], r.get("c", r.get("clients")))].append(r)
    env_path = a.peers[: -len(".jsonl")] + ".env.txt"
    if os.path.exists(env_path):
        peer_env = open(env_path).read().strip()


def pmed(key, f):
    rs = peers.get(key, [])
    xs = [f(r) for r in rs]
    return statistics.median(xs) if xs else None


def pruns(key, f, fmt="{:,.0f}"):
    return " / ".join(fmt.format(f(r)) for r in peers.get(key, []))


def limit(system):
    """The best median over the client counts of one limit line: (rows/s, clients) or (None, None)."""
    best = (None, None)
    for (s, c), rs in peers.items():
        if s == system:
            v = pmed((s, c), lambda r: r["rows_per_s"])
            if best[0] is None or v > best[0]:
                best = (v, c)
    return best


def drain(r):
    return r["tasks_per_s_drain"]


def enqueue(r):
    return r["n"] / r["enqueue_s"]


PEER_CONFIG = {
    "pgqueuer-b10": ("PostgreSQL", "C worker processes, `QueueManager.run(batch_size=10)`, asyncpg; enqueue: one array insert"),
    "pgqueuer-b100": ("PostgreSQL", "C worker processes, dequeue batch 100, asyncpg; enqueue: one array insert"),
    "procrastinate": ("PostgreSQL", "2 processes × C/2 async slots, LISTEN/NOTIFY; enqueue: `batch_defer_async`, one insert"),
    "huey-sqlite-thread": ("SQLite", "C worker threads in the benchmark process, SQLite `synchronous=FULL`; enqueue: one INSERT + COMMIT per task (no batch API)"),
    "celery-prefork": ("Redis", "prefork pool, C processes, no result backend, Redis without persistence; enqueue: `apply_async` loop"),
    "celery-threads": ("Redis", "threads pool, C threads, no result backend, Redis without persistence; enqueue: `apply_async` loop"),
    "rq-SimpleWorker": ("Redis", "`rq worker-pool` of C SimpleWorker processes, Redis without persistence; enqueue: `enqueue_many`, one pipeline"),
}
# Which Baton row each peer is compared with: the same storage and the closest deployment.
BATON_FOR = {"PostgreSQL": "pg-drain-http-2w", "SQLite": "drain-inprocess", "Redis": "drain-http-2w"}

# --- the document -----------------------------------------------------------------------
out = []
w = out.append
w("# Benchmarks\n")
w(f"Everything on this page is generated by `Benchmarks/run.sh{' --peers' if a.peers else ''}` (release build, `baton bench`, "
  f"no-op tasks; medians of {a.reps} run{'s' if a.reps != 1 else ''} per configuration) through "
  "`Benchmarks/report.py`; re-running it rewrites the page and its charts. The analysis at the end comes from "
  "`Benchmarks/analysis.md`. Numbers from different machines or runs should not be mixed.\n")
if machine.get("quick"):
    w("> **QUICK=1 run: small sizes to check the scripts. These figures are not a measurement.**\n")

w("## Machine and settings\n")
w(f"- Date: {machine['date']}; commit `{machine['commit']}`; {machine['swift']}")
w(f"- Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB RAM, {machine['os']}, "
  f"kernel {machine['kernel']}; temporary files on {machine['tmp_fs']}, 4 kB write + fdatasync "
  f"median {machine['fsync_ms_median']} ms (p99 {machine['fsync_ms_p99']} ms)")
loads = [x for es in extras.values() for e in es for x in e.get("load1", [])]
start = machine.get("load_at_start")
if loads or start:
    w(f"- Load average (1 min) at the start: {start[0] if start else '-'}; before and after each run: "
      f"{min(loads):.2f} to {max(loads):.2f}" + (" (other work was running: figures are depressed and noisy)"
                                                  if loads and max(loads) > machine["cores"] * 0.75 else "")
      if loads else f"- Load average (1 min) at the start: {start[0]}")
w("- SQLite store as `baton standalone` / `baton serve` open it: WAL, `synchronous=NORMAL`, "
  "a fresh temporary database per run.")
pg = machine.get("postgres")
if pg:
    where = {
        "peer-kit": "the private cluster that `Benchmarks/peers/with-services.sh` starts (stock settings, 127.0.0.1 "
                    "of this machine), database `bench_baton`: the same server, with the same settings, that "
                    "pgqueuer and procrastinate ran on below",
        "with-postgres": "a private throw-away cluster on 127.0.0.1 of this machine, started by `scripts/with-postgres.sh`",
        "given": f"`BATON_BENCH_POSTGRES_URL` ({pg.get('url', '')})",
    }.get(pg.get("source"), pg.get("source") or "?")
    if pg.get("error"):
        w(f"- PostgreSQL: {where}; its version and settings could not be read ({pg['error']})")
    else:
        s = pg["settings"]
        w(f"- PostgreSQL {pg['version']}: {where}. Settings: "
          + ", ".join(f"`{k}={v}`" for k, v in sorted(s.items())) + "."
          + (" **fsync is off**: commits are not flushed to disk, so these figures exclude disk flushes."
             if s.get("fsync") == "off" or s.get("synchronous_commit") == "off" else "")
          + " The database shares the machine's cores with Baton. Each run makes a fresh schema and drops it afterwards.")
w("- Worker concurrency 1000 per runtime (process), claim batch 1000, payload `{}`; in HTTP mode the node's "
  "defaults (claim batch 1000, ack linger 2 ms). Exact commands: \"How each row was run\" below.\n")

analysis = open(a.analysis).read() if a.analysis and os.path.exists(a.analysis) else ""
marker = "## Where the time goes"
if marker in analysis:
    if analysis.split(marker, 1)[0].strip():
        print(f"report.py: the text of {a.analysis} before '{marker}' is left out "
              "(this page states the conditions of its own run)", file=sys.stderr)
    analysis = marker + analysis.split(marker, 1)[1]

# --- targets ----------------------------------------------------------------------------
w("## Targets\n")
w("| target | goal | median | runs | |")
w("|---|---|---|---|---|")


def target(label, goal, name, path, ok, fmt=f0, runfmt="{:,.0f}"):
    value = med(name, path)
    verdict = "not measured" if value is None else ("**met**" if ok(value) else "**missed**")
    w(f"| {label} | {goal} | {fmt(value)} | {all_runs(name, path, runfmt) or '-'} | {verdict} |")


target(f"drain, standalone SQLite, in-process workers, {N_SQL} backlog (tasks/s)", "≥ 100,000", "drain-inprocess", "drain_tasks_per_s", lambda v: v >= 100_000)
target(f"drain, SQLite server + 2 HTTP worker processes, {N_HTTP} backlog (tasks/s)", "≥ 50,000", "drain-http-2w", "drain_tasks_per_s", lambda v: v >= 50_000)
target(f"drain, PostgreSQL, 1 node, remote (HTTP) workers, {N_PG} backlog (tasks/s)", "≥ 30,000", "pg-drain-http-2w", "drain_tasks_per_s", lambda v: v >= 30_000)
target("enqueue over HTTP, batches of 1,000, SQLite (tasks/s)", "≥ 100,000", "drain-http-2w", "enqueue_tasks_per_s", lambda v: v >= 100_000)
target("enqueue over HTTP, batches of 1,000, PostgreSQL (tasks/s)", "≥ 50,000", "pg-drain-http-2w", "enqueue_tasks_per_s", lambda v: v >= 50_000)
for name, label in [("latency-inprocess", "SQLite, in-process"), ("latency-http-2w", "SQLite, HTTP workers"),
                    ("pg-latency-http-2w", "PostgreSQL, HTTP workers")]:
    target(f"pick-up latency p50, idle workers, tasks 20 ms apart, {label} (ms)", "≤ 1", name, "latency_ms.p50", lambda v: v <= 1, f2, "{:.2f}")
    target(f"pick-up latency p99, idle workers, tasks 20 ms apart, {label} (ms)", "≤ 5", name, "latency_ms.p99", lambda v: v <= 5, f2, "{:.2f}")
depth = (runs["prefill-1m-http"][0]["claim_latency_ms"] or {}).get("prefill_tasks") if "prefill-1m-http" in runs else None
dtext = f"{depth:,}" if depth else "1,000,000"
target(f"claim latency with {dtext} ready tasks / with an almost empty queue, p50", "≤ 2x", "prefill-1m-http", "claim_latency_ms.ratio_p50", lambda v: v <= 2, fx, "{:.2f}")
target(f"server peak RSS with {dtext} ready tasks (MB)", "≤ 150", "prefill-1m-http", "server_peak_rss_mb", lambda v: v <= 150, f1, "{:.1f}")
w("")
w("Enqueue over HTTP is the enqueue phase of the drain rows: `POST /v1/tasks` with arrays of 1,000 tasks "
  "(the bench's fixed batch size), 4 requests in flight (`--enqueue-concurrency`, default 4), from the "
  "benchmark process. Pick-up latency over HTTP: "
  + (latency_source("latency-http-2w") or "not measured") + ".\n")
if failed:
    w("Failed runs (left out of the medians): " + ", ".join(f"{k} ×{v}" for k, v in failed.items()) + "\n")

# --- throughput -------------------------------------------------------------------------
w("## Throughput\n")
w("| configuration | enqueue tasks/s (runs) | drain tasks/s (runs) | end-to-end tasks/s | first done s "
  "| server peak RSS MB | worker peak RSS MB | Baton CPU s per 1,000 tasks | PostgreSQL CPU s per 1,000 tasks |")
w("|---|---|---|---|---|---|---|---|---|")
for name in ["drain-inprocess", "drain-http-2w", "pg-drain-http-2w", "pg-drain-http-2w-2nodes", "pg-drain-inprocess"]:
    if name not in runs:
        continue
    pgc = extra_med(name, "pg_cpu_s")
    w(f"| {LABELS[name]} | **{f0(med(name, 'enqueue_tasks_per_s'))}** ({all_runs(name, 'enqueue_tasks_per_s')}) "
      f"| **{f0(med(name, 'drain_tasks_per_s'))}** ({all_runs(name, 'drain_tasks_per_s')}) "
      f"| {f0(med(name, 'end_to_end_tasks_per_s'))} | {f3(med(name, 'first_done_s'))} "
      f"| {f1(med(name, 'server_peak_rss_mb'))} | {f1(med(name, 'worker_peak_rss_mb'))} | {f3(med(name, 'cpu_s_per_1000'))} "
      f"| {'-' if pgc is None else f3(pgc / tasks_of(name) * 1000)} |")
w("")
w("Enqueue over HTTP is `POST /v1/tasks` with arrays of 1,000 tasks, 4 requests in flight, from the benchmark "
  "process (with `--nodes 2`, batches go to the nodes in turn); in the in-process rows it is `taskEnqueueMany` "
  "in batches of 1,000. Drain is timed from just before the workers start (in HTTP mode: before the worker "
  "processes are spawned, so it includes their start-up, as the peer benchmarks do) to the last completion. "
  "Baton's CPU counts every Baton process involved (node(s), workers, and in HTTP mode the driver that "
  "submits), over enqueue and drain. PostgreSQL's CPU is the cluster's own processes (postmaster and "
  "backends, read from `/proc` before and after each run), when the cluster runs on this machine.\n")

# --- latency ----------------------------------------------------------------------------
w("## Pick-up latency\n")
w("| configuration | p50 ms (runs) | p90 ms | p99 ms (runs) | max ms | measured as |")
w("|---|---|---|---|---|---|")
for name in ["latency-inprocess", "latency-http-2w", "pg-latency-http-2w"]:
    if name not in runs:
        continue
    src = runs[name][0].get("latency_source", "")
    w(f"| {LABELS[name]} | **{f2(med(name, 'latency_ms.p50'))}** ({all_runs(name, 'latency_ms.p50', '{:.2f}')}) "
      f"| {f2(med(name, 'latency_ms.p90'))} | **{f2(med(name, 'latency_ms.p99'))}** ({all_runs(name, 'latency_ms.p99', '{:.2f}')}) "
      f"| {f2(max(values(name, 'latency_ms.max') or [0]))} | {src} |")
w("")

# --- a deep queue ------------------------------------------------------------------------
if "prefill-1m-http" in runs and depth:
    n = "prefill-1m-http"
    samples = runs[n][0]["settings"]["tasks"]
    w(f"## A deep queue: {depth:,} ready tasks\n")
    w(f"One claim of one task over HTTP (`POST /v1/workers/claim`, as a worker sends it, `wait_ms` 0), timed from the "
      f"benchmark process, {samples} times with the queue holding only that task, then {samples} times with {depth:,} "
      "ready tasks queued (submitted over HTTP in batches of 1,000). Each claimed task is acknowledged before the next "
      "claim. SQLite store, `baton serve`.\n")
    w("| | p50 ms | p90 ms | p99 ms | max ms |")
    w("|---|---|---|---|---|")
    for label, key in [("almost empty queue", "empty"), (f"{depth:,} ready", "prefilled")]:
        w(f"| {label} | **{f2(med(n, f'claim_latency_ms.{key}.p50'))}** | {f2(med(n, f'claim_latency_ms.{key}.p90'))} "
          f"| **{f2(med(n, f'claim_latency_ms.{key}.p99'))}** | {f2(med(n, f'claim_latency_ms.{key}.max'))} |")
    w("")
    w(f"Ratio deep / empty: p50 **{fx(med(n, 'claim_latency_ms.ratio_p50'))}** ({all_runs(n, 'claim_latency_ms.ratio_p50', '{:.2f}')}), "
      f"p99 {fx(med(n, 'claim_latency_ms.ratio_p99'))} ({all_runs(n, 'claim_latency_ms.ratio_p99', '{:.2f}')}). "
      f"Server peak RSS with {depth:,} tasks: **{f1(med(n, 'server_peak_rss_mb'))} MB** "
      f"({all_runs(n, 'server_peak_rss_mb', '{:.1f}')}). The {depth:,} went in over HTTP at "
      f"{f0(med(n, 'claim_latency_ms.prefill_enqueue_tasks_per_s') or med(n, 'enqueue_tasks_per_s'))} tasks/s.\n")

# --- the storage's own limits ------------------------------------------------------------
w("## Against the storage's own limits\n")
sl_b100, _ = limit("sqlite-limit-claim-b100-fifo-normal")
sl_b1, _ = limit("sqlite-limit-claim_complete-b1-fifo-normal")
pl_b100, pl_b100_c = limit("pg-limit-claim-b100-fifo")
pl_b1, pl_b1_c = limit("pg-limit-claim_complete-b1-fifo")
measured = sl_b100 is not None
w("The fastest a queue on each storage can go on this machine: a bare SQL loop with no scheduler around it "
  "(`Benchmarks/peers/sqlite_limit.py` and `Benchmarks/peers/pg_limit.py`). The batched ceiling claims 100 rows per "
  "statement and marks them done in that same statement (claim = completion, one transaction), so it is a "
  "ceiling for Baton, which claims and acknowledges in separate statements. The one-task-per-transaction path "
  "claims one task and completes it in a second transaction, as a naive queue does.\n")
if measured:
    w("Ceilings measured in this run by the peer benchmarks (`Benchmarks/peers`)"
      + (", on the same PostgreSQL server as Baton's rows" if pg and pg.get("source") == "peer-kit" else "")
      + " (medians; for PostgreSQL the best of 2 and 4 pgbench clients):\n")
else:
    w("Not measured in this run (`Benchmarks/run.sh --peers` measures them here): the fractions below use "
      "reference figures from an earlier run of these limits on a 2-core machine of the same kind, with PostgreSQL at "
      "stock settings"
      + (" — not the settings of this run's server (above)" if pg and pg.get("settings", {}).get("fsync") == "off" else "")
      + ".\n")
sqlite_b100 = sl_b100 or 500_000
sqlite_b1 = (sl_b1, sl_b1) if sl_b1 else (14_000, 14_000)
pg_b100 = pl_b100 or 80_000
pg_b1 = (pl_b1, pl_b1) if pl_b1 else (2_400, 3_700)


def rng(lo_hi):
    lo, hi = lo_hi
    return f0(lo) if lo == hi else f"{f0(lo)}–{f0(hi)}"


def mult(v, lo_hi):
    lo, hi = lo_hi
    return f"{v / lo:.2f}x" if lo == hi else f"{v / hi:.2f}–{v / lo:.2f}x"


w("| storage | batched claims (100 per statement) rows/s | one task per transaction rows/s |")
w("|---|---|---|")
w(f"| SQLite (WAL, `synchronous=NORMAL`) | {f0(sqlite_b100)} | {rng(sqlite_b1)} |")
w(f"| PostgreSQL | {f0(pg_b100)}{f' ({pl_b100_c} clients)' if pl_b100 else ''} | {rng(pg_b1)}{f' ({pl_b1_c} clients)' if pl_b1 else ''} |")
raw_ca = statistics.median(r["claim_ack_tasks_per_s"] for r in rawsql) if rawsql else None
w("")
if raw_ca:
    w(f"Baton's own SQLite schema (partial indexes, UUIDv7 text ids) and its exact claim (1,000 rows per statement) and "
      f"ack statements, run from Python's `sqlite3` with no scheduler around them (`Benchmarks/rawsql.py`, 100,000 "
      f"tasks, {len(rawsql)} run{'s' if len(rawsql) != 1 else ''}): claim + ack **{f0(raw_ca)} tasks/s** "
      f"({' / '.join(f0(r['claim_ack_tasks_per_s']) for r in rawsql)}); claim alone "
      f"{f0(statistics.median(r['claim_rows_per_s'] for r in rawsql))} rows/s, ack alone "
      f"{f0(statistics.median(r['ack_rows_per_s'] for r in rawsql))} rows/s. SQLite has one writer, so a drain on one "
      "SQLite file cannot pass this figure on this machine.\n")
w("| Baton configuration | drain tasks/s | fraction of the batched ceiling | multiple of the one-task-per-transaction path "
  + ("| fraction of Baton's bare statements (SQLite) |" if raw_ca else "|"))
w("|---|---|---|---|" + ("---|" if raw_ca else ""))
for name, b100, b1 in [("drain-inprocess", sqlite_b100, sqlite_b1), ("drain-http-2w", sqlite_b100, sqlite_b1),
                       ("pg-drain-http-2w", pg_b100, pg_b1), ("pg-drain-http-2w-2nodes", pg_b100, pg_b1),
                       ("pg-drain-inprocess", pg_b100, pg_b1)]:
    v = med(name, "drain_tasks_per_s")
    if v:
        own = f"{100 * v / raw_ca:.0f}%" if raw_ca and not name.startswith("pg-") else "-"
        w(f"| {LABELS[name]} | {f0(v)} | {100 * v / b100:.1f}% | {mult(v, b1)} |" + (f" {own} |" if raw_ca else ""))
w("")

# --- peers ------------------------------------------------------------------------------
queue_peers = [(k, rs) for k, rs in peers.items() if "tasks_per_s_drain" in rs[0]]
latency_peers = [(k, rs) for k, rs in peers.items() if "p50_ms" in rs[0]]
limit_peers = [(k, rs) for k, rs in peers.items() if "rows_per_s" in rs[0]]
if peers:
    rounds = max(len(v) for v in peers.values())
    w("## Peers, same machine, same session\n")
    w(f"Measured by the peer benchmarks in `Benchmarks/peers` (`run-all.sh`, {rounds} round{'s' if rounds != 1 else ''}, "
      "interleaved), right after Baton's runs. Each peer enqueues N no-op tasks the fastest way it documents, then "
      "starts its workers and times the drain (worker start-up included, as Baton's drain rows do). Each is "
      "compared with Baton on the same storage in its closest deployment: the PostgreSQL queues with Baton's "
      f"PostgreSQL row (1 node + 2 HTTP worker processes{', same server' if pg and pg.get('source') == 'peer-kit' else ''}), "
      "Huey (SQLite, consumer inside the benchmark process) with Baton's in-process SQLite row, and the Redis "
      "queues (Redis has no durable equivalent in Baton) with Baton's SQLite server + 2 HTTP worker processes. "
      "Ratio = Baton's median / the peer's median. The peers drain N = 20,000 tasks "
      f"(Baton: {N_SQL}); with 3 rounds, treat differences under ~1.3x as noise.\n")
    if not pg or pg.get("source") != "peer-kit":
        w("**Caveat:** Baton's PostgreSQL rows did not run on the peers' server (see \"Machine and settings\"), "
          "so the PostgreSQL ratios compare different server configurations.\n")
    w("| storage | system | how it was configured | N | C | enqueue tasks/s | drain tasks/s (runs) "
      "| compared with Baton row | Baton's drain | drain ratio | Baton's enqueue | enqueue ratio |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    order = {"PostgreSQL": 0, "SQLite": 1, "Redis": 2}
    for (system, c), rs in sorted(queue_peers, key=lambda kv: (order.get(PEER_CONFIG.get(kv[0][0], ("~",))[0], 9), kv[0][0])):
        storage, how = PEER_CONFIG.get(system, ("?", ""))
        base = BATON_FOR.get(storage, "drain-http-2w")
        d, e = pmed((system, c), drain), pmed((system, c), enqueue)
        bd, be = med(base, "drain_tasks_per_s"), med(base, "enqueue_tasks_per_s")
        w(f"| {storage} | {system} | {how} | {rs[0]['n']:,} | {c} | {f0(e)} | **{f0(d)}** ({pruns((system, c), drain)}) "
          f"| `{base}` | {f0(bd)} | **{ratio(bd, d)}** | {f0(be)} | {ratio(be, e)} |")
    w("")
    if latency_peers:
        w("Pick-up latency, idle workers, 200 tasks 20 ms apart (the peers: task start − wall time just before the "
          "enqueue call, so it includes the INSERT's commit and the NOTIFY round trip; Baton over HTTP: "
          + (latency_source("pg-latency-http-2w") or latency_source("latency-http-2w") or "not measured")
          + ", so it includes the submit request, both commits and the claim's answer):\n")
        w("| system | C | p50 ms (runs) | p99 ms (runs) | Baton PostgreSQL HTTP p50 / p99 | p50 ratio peer / Baton | Baton SQLite HTTP p50 / p99 |")
        w("|---|---|---|---|---|---|---|")
        bp50, bp99 = med("pg-latency-http-2w", "latency_ms.p50"), med("pg-latency-http-2w", "latency_ms.p99")
        for (system, c), rs in latency_peers:
            p50 = pmed((system, c), lambda r: r["p50_ms"])
            w(f"| {system} | {c} | {f2(p50)} ({pruns((system, c), lambda r: r['p50_ms'], '{:.2f}')}) "
              f"| {f2(pmed((system, c), lambda r: r['p99_ms']))} ({pruns((system, c), lambda r: r['p99_ms'], '{:.2f}')}) "
              f"| {f2(bp50)} / {f2(bp99)} | {ratio(p50, bp50)} "
              f"| {f2(med('latency-http-2w', 'latency_ms.p50'))} / {f2(med('latency-http-2w', 'latency_ms.p99'))} |")
        w("")
    if limit_peers:
        w("All bare-SQL limit lines (claim + complete, no task code; `claim` = one statement that claims and completes):\n")
        w("| limit | clients | rows/s (runs) |")
        w("|---|---|---|")
        for (system, c), rs in limit_peers:
            w(f"| {system} | {c or 1} | {f0(pmed((system, c), lambda r: r['rows_per_s']))} ({pruns((system, c), lambda r: r['rows_per_s'])}) |")
        w("")
    if peer_env:
        w("<details><summary>Peer benchmarks' environment (PostgreSQL, redis and package versions)</summary>\n\n```\n"
          + peer_env + "\n```\n</details>\n")
else:
    w("## Peers\n")
    w("Not run this time: `Benchmarks/run.sh --peers` runs the peer benchmarks of `Benchmarks/peers` (pgqueuer, procrastinate, Celery, RQ, "
      "Huey and the bare-SQL limits) and puts its medians here with the ratios.\n")

# --- charts -----------------------------------------------------------------------------
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"SQLite": "#1f6feb", "PostgreSQL": "#8250df", "Redis": "#cf222e"}
bars = []  # (label, value, color, hatch)
for name in ["drain-inprocess", "drain-http-2w", "pg-drain-http-2w", "pg-drain-http-2w-2nodes", "pg-drain-inprocess"]:
    v = med(name, "drain_tasks_per_s")
    if v:
        bars.append((SHORT[name], v, COLORS["PostgreSQL" if name.startswith("pg-") else "SQLite"], ""))
for (system, c), rs in sorted(queue_peers, key=lambda kv: kv[0][0]):
    storage = PEER_CONFIG.get(system, ("?",))[0]
    bars.append((f"{system}\n(C={c})", pmed((system, c), drain), COLORS.get(storage, "#8b949e"), "//"))
for system, label, storage in [("sqlite-limit-claim-b100-fifo-normal", "SQLite limit\nbatch 100", "SQLite"),
                               ("sqlite-limit-claim_complete-b1-fifo-normal", "SQLite limit\n1 per txn", "SQLite"),
                               ("pg-limit-claim-b100-fifo", "PG limit\nbatch 100", "PostgreSQL"),
                               ("pg-limit-claim_complete-b1-fifo", "PG limit\n1 per txn", "PostgreSQL")]:
    v, _ = limit(system)
    if v:
        bars.append((label, v, "#d29922", ""))
charts = False
if bars:
    fig, ax = plt.subplots(figsize=(max(7, 0.85 * len(bars)), 5.2))
    ax.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars], hatch=None)
    for i, b in enumerate(bars):
        if b[3]:
            ax.bar([i], [b[1]], color="none", edgecolor="white", hatch=b[3], linewidth=0)
        ax.text(i, b[1], f"{b[1]:,.0f}", ha="center", va="bottom", fontsize=6.5)
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=6.5, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("tasks/s (log scale)")
    ax.set_title(f"Drain rate, no-op tasks (Baton: {N_SQL} backlog; peers: 20k; limits: rows/s). "
                 "Blue SQLite, purple PostgreSQL, red Redis, hatched peers, gold bare SQL", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(a.png_dir, "benchmarks-throughput.png"), dpi=110)
    plt.close(fig)
    charts = True

groups = []
for name, label in [("latency-inprocess", "Baton SQLite\nin-process"), ("latency-http-2w", "Baton SQLite\nHTTP workers"),
                    ("pg-latency-http-2w", "Baton PostgreSQL\nHTTP workers")]:
    if name in runs:
        groups.append((label, [med(name, f"latency_ms.{p}") for p in ("p50", "p90", "p99")]))
if "prefill-1m-http" in runs and depth:
    for key, label in [("empty", "claim,\nempty queue"), ("prefilled", f"claim,\n{size(depth)} ready")]:
        groups.append((label, [med("prefill-1m-http", f"claim_latency_ms.{key}.{p}") for p in ("p50", "p90", "p99")]))
for (system, c), rs in latency_peers:
    groups.append((system.replace("-latency", "") + "\n(peer)", [pmed((system, c), lambda r: r["p50_ms"]), None,
                                                               pmed((system, c), lambda r: r["p99_ms"])]))
if groups:
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(groups)), 4.4))
    width = 0.27
    for j, (pct, color) in enumerate([("p50", "#1f6feb"), ("p90", "#58a6ff"), ("p99", "#d29922")]):
        xs = [i + (j - 1) * width for i in range(len(groups))]
        raw = [g[1][j] for g in groups]
        # None: not measured; 0: below the resolution of a store-clock measurement (drawn as a stub)
        ys = [float("nan") if y is None else max(y, 0.1) for y in raw]
        ax.bar(xs, ys, width, label=pct, color=color)
        for x, y, r in zip(xs, ys, raw):
            if r is not None:
                ax.text(x, y, f"{r:.2g}" if r > 0 else "<1", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=7.5)
    ax.set_ylabel("ms (log scale)")
    ax.set_yscale("log")
    ax.set_title("Pick-up latency (idle workers, tasks 20 ms apart) and claim latency", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(a.png_dir, "benchmarks-latency.png"), dpi=110)
    plt.close(fig)
    charts = True
if charts:
    w("## Charts\n")
    if bars:
        w("![Drain rate by configuration](benchmarks-throughput.png)\n")
    if groups:
        w("![Latency percentiles](benchmarks-latency.png)\n")

if analysis.strip():
    w(analysis.strip() + "\n")

w("## How each row was run\n")
w("`$PG_URL` is the PostgreSQL database of \"Machine and settings\"; each PostgreSQL run makes a fresh schema there "
  "and drops it when it ends.\n")
w("```")
for name in runs:
    w(f"{name + ':':26s} {command(name)}")
w("```\n")
w("`baton bench --help` lists the options; `--json` prints one line whose keys are:\n")
w("```\nenqueue_tasks_per_s, drain_tasks_per_s, end_to_end_tasks_per_s, enqueue_s, drain_s, first_done_s,\n"
  "latency_ms {p50, p90, p99, max, count}, latency_source, server_peak_rss_mb, worker_peak_rss_mb,\n"
  "cpu_s_per_1000, cpu_s {server, workers, driver, total}, claim_latency_ms {empty, prefilled, ratio_p50,\n"
  "ratio_p99, prefill_tasks, prefill_enqueue_tasks_per_s} (prefill mode), settings {store, workers, tasks,\n"
  "worker_processes, nodes, concurrency, claim_batch, payload, mode, rate, prefill}\n```\n")
w("`Benchmarks/run.sh` adds `name`, `rep`, `load1` (the 1-minute load average before and after the run) and, for "
  "PostgreSQL rows on a local cluster, `pg_cpu_s` (the cluster's CPU seconds during the run) around each line; "
  "with the default output the raw lines are kept in `Benchmarks/results/*-latest.*`.")

open(a.out, "w").write("\n".join(out) + "\n")
print(f"report.py: wrote {a.out}")
