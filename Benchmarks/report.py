"""Writes docs/benchmarks.md and its charts from the JSON lines of Benchmarks/run.sh.

  report.py --baton baton.jsonl --machine machine.json --reps 3 [--peers peers.jsonl]
            --analysis Benchmarks/analysis.md --out docs/benchmarks.md --png-dir docs
"""
import argparse
import json
import os
import statistics
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
runs = defaultdict(list)
failed = defaultdict(int)
for line in open(a.baton):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r.get("failed"):
        failed[r["name"]] += 1
    else:
        runs[r["name"]].append(r["report"])


def get(rep, path):
    for k in path.split("."):
        if rep is None:
            return None
        rep = rep.get(k)
    return rep


def med(name, path):
    xs = [get(r, path) for r in runs.get(name, [])]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def all_runs(name, path, fmt="{:.0f}"):
    xs = [get(r, path) for r in runs.get(name, [])]
    return " / ".join("-" if x is None else fmt.format(x) for x in xs)


def f0(x):
    return "-" if x is None else f"{x:,.0f}"


def f1(x):
    return "-" if x is None else f"{x:.1f}"


def f2(x):
    return "-" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def f3(x):
    return "-" if x is None else (f"{x:.3f}" if x < 1 else f"{x:.2f}")


LABELS = {
    "drain-inprocess": "SQLite, standalone, in-process workers, 100k backlog",
    "drain-http-2w": "SQLite, `baton serve` + 2 `baton worker` processes over HTTP, 100k backlog",
    "latency-inprocess": "SQLite, in-process workers, idle, 200 tasks 20 ms apart",
    "latency-http-2w": "SQLite, server + 2 HTTP worker processes, idle, 200 tasks 20 ms apart",
    "prefill-1m-http": "SQLite, server over HTTP, 1,000,000 ready tasks vs an almost empty queue",
    "pg-drain-http-2w": "PostgreSQL, 1 node + 2 HTTP worker processes, 100k backlog",
    "pg-latency-http-2w": "PostgreSQL, 1 node + 2 HTTP worker processes, idle, 20 ms apart",
}


def settings_line(name):
    rs = runs.get(name)
    if not rs:
        return "-"
    s = rs[0]["settings"]
    return (f"`--workers {s['workers']}`" + (f" `--worker-processes {s['worker_processes']}`" if s["workers"] == "http" else "")
            + f" `--tasks {s['tasks']}` `--concurrency {s['concurrency']}` `--claim-batch {s['claim_batch']}` `--payload {s['payload']}` mode {s['mode']}"
            + (f" {s['rate']:g}/s" if s.get("rate") else "") + (f" {s['prefill']}" if s.get("prefill") else ""))


# --- peers ------------------------------------------------------------------------------
peers = defaultdict(list)
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
    return statistics.median(f(r) for r in rs) if rs else None


def peer_lookup(system):
    for (name, c), rs in peers.items():
        if name == system:
            return (name, c)
    return None


PEER_CONFIG = {
    "pgqueuer-b10": "PostgreSQL; C worker processes, dequeue batch 10, asyncpg",
    "pgqueuer-b100": "PostgreSQL; C worker processes, dequeue batch 100, asyncpg",
    "procrastinate": "PostgreSQL; 2 processes × C/2 async slots, LISTEN/NOTIFY",
    "celery-prefork": "Redis (no persistence); prefork pool, C processes, no result backend",
    "celery-threads": "Redis (no persistence); threads pool, C threads, no result backend",
    "huey-sqlite-thread": "SQLite (synchronous=FULL); C worker threads in the benchmark process",
    "rq-SimpleWorker": "Redis (no persistence); worker-pool of C SimpleWorker processes",
}

# --- the document -----------------------------------------------------------------------
out = []
w = out.append
w("# Benchmarks\n")
w("Figures measured by `Benchmarks/run.sh` (release build, `baton bench`, no-op tasks), "
  f"medians of {a.reps} run{'s' if a.reps != 1 else ''} per configuration. Regenerate with "
  "`Benchmarks/run.sh --peers` (this file and the charts are rewritten; the analysis section comes from "
  "`Benchmarks/analysis.md`). Numbers from different machines or runs should not be mixed.\n")
w(f"- Date: {machine['date']}; commit `{machine['commit']}`; {machine['swift']}")
w(f"- Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB RAM, {machine['os']}, "
  f"kernel {machine['kernel']}; temporary files on {machine['tmp_fs']}, 4 kB write + fdatasync "
  f"median {machine['fsync_ms_median']} ms (p99 {machine['fsync_ms_p99']} ms)")
w("- SQLite store as `baton standalone` / `baton serve` open it: WAL, `synchronous=NORMAL`, "
  "a fresh temporary database per run. Worker concurrency 1000 per runtime (process), claim batch 1000, "
  "payload `{}`; in HTTP mode the node's defaults (claim batch 1000, ack linger 2 ms).\n")

analysis = open(a.analysis).read() if a.analysis and os.path.exists(a.analysis) else ""
marker = "## Where the time goes"
preface, analysis = (analysis.split(marker, 1)[0], marker + analysis.split(marker, 1)[1]) if marker in analysis else ("", analysis)
if preface.strip():
    w(preface.strip() + "\n")

w("## Throughput\n")
w("| configuration | enqueue tasks/s | drain tasks/s (runs) | end-to-end tasks/s | first done s | server peak RSS MB | worker peak RSS MB | CPU s per 1,000 tasks |")
w("|---|---|---|---|---|---|---|---|")
for name in ["drain-inprocess", "drain-http-2w", "pg-drain-http-2w"]:
    if name not in runs:
        continue
    w(f"| {LABELS[name]} | {f0(med(name, 'enqueue_tasks_per_s'))} | **{f0(med(name, 'drain_tasks_per_s'))}** "
      f"({all_runs(name, 'drain_tasks_per_s')}) | {f0(med(name, 'end_to_end_tasks_per_s'))} | {f3(med(name, 'first_done_s'))} "
      f"| {f1(med(name, 'server_peak_rss_mb'))} | {f1(med(name, 'worker_peak_rss_mb'))} | {f3(med(name, 'cpu_s_per_1000'))} |")
w("")
w("Enqueue in the HTTP row is `POST /v1/tasks` with arrays of 1,000 tasks, 4 requests in flight, "
  "from the benchmark process; in the in-process row it is `taskEnqueueMany` in batches of 1,000. "
  "Drain is timed from just before the workers start (in HTTP mode: before the worker processes are "
  "spawned, so it includes their start-up, as the peer kit does) to the last completion. CPU counts every "
  "process involved (node, workers, and in HTTP mode the driver that submits), over enqueue and drain.\n")

w("## Pick-up latency\n")
w("| configuration | p50 ms (runs) | p90 ms | p99 ms (runs) | max ms | measured as |")
w("|---|---|---|---|---|---|")
for name in ["latency-inprocess", "latency-http-2w", "pg-latency-http-2w"]:
    if name not in runs:
        continue
    src = runs[name][0]["latency_source"]
    w(f"| {LABELS[name]} | **{f2(med(name, 'latency_ms.p50'))}** ({all_runs(name, 'latency_ms.p50', '{:.2f}')}) "
      f"| {f2(med(name, 'latency_ms.p90'))} | **{f2(med(name, 'latency_ms.p99'))}** ({all_runs(name, 'latency_ms.p99', '{:.2f}')}) "
      f"| {f2(max((get(r, 'latency_ms.max') or 0) for r in runs[name]))} | {src} |")
w("")

if "prefill-1m-http" in runs:
    n = "prefill-1m-http"
    depth = runs[n][0]["claim_latency_ms"]["prefill_tasks"]
    samples = runs[n][0]["settings"]["tasks"]
    w(f"## A deep queue: {depth:,} ready tasks\n")
    w(f"One claim of one task over HTTP (`POST /v1/workers/claim`, as a worker sends it, `wait_ms` 0), timed from the "
      f"benchmark process, {samples} times with the queue holding only that task, then {samples} times with {depth:,} "
      "ready tasks queued (submitted over HTTP in batches of 1,000). Each claimed task is acknowledged before the next claim.\n")
    w("| | p50 ms | p90 ms | p99 ms | max ms |")
    w("|---|---|---|---|---|")
    for label, key in [("almost empty queue", "empty"), (f"{depth:,} ready", "prefilled")]:
        w(f"| {label} | **{f2(med(n, f'claim_latency_ms.{key}.p50'))}** | {f2(med(n, f'claim_latency_ms.{key}.p90'))} "
          f"| **{f2(med(n, f'claim_latency_ms.{key}.p99'))}** | {f2(med(n, f'claim_latency_ms.{key}.max'))} |")
    w("")
    w(f"Ratio 1M / empty: p50 **{f2(med(n, 'claim_latency_ms.ratio_p50'))}x** ({all_runs(n, 'claim_latency_ms.ratio_p50', '{:.2f}')}), "
      f"p99 {f2(med(n, 'claim_latency_ms.ratio_p99'))}x. Server peak RSS with 1M tasks: **{f1(med(n, 'server_peak_rss_mb'))} MB** "
      f"({all_runs(n, 'server_peak_rss_mb', '{:.1f}')}). Enqueue of the 1M over HTTP: {f0(med(n, 'enqueue_tasks_per_s'))} tasks/s.\n")

# --- targets ----------------------------------------------------------------------------
w("## Targets (issue 8)\n")
w("| target | goal | measured (median) | |")
w("|---|---|---|---|")


def target(label, goal, value, ok, fmt=f0):
    verdict = "not measured" if value is None else ("**met**" if ok(value) else "**missed**")
    w(f"| {label} | {goal} | {fmt(value)} | {verdict} |")


target("drain, standalone SQLite in-process, 100k backlog", "≥ 100,000 tasks/s", med("drain-inprocess", "drain_tasks_per_s"), lambda v: v >= 100_000)
target("drain, SQLite server + 2 HTTP worker processes", "≥ 50,000 tasks/s", med("drain-http-2w", "drain_tasks_per_s"), lambda v: v >= 50_000)
target("drain, PostgreSQL 1 node, remote workers, 100k", "≥ 30,000 tasks/s", med("pg-drain-http-2w", "drain_tasks_per_s"), lambda v: v >= 30_000)
target("enqueue over HTTP, batches of 1,000, SQLite", "≥ 100,000 tasks/s", med("drain-http-2w", "enqueue_tasks_per_s"), lambda v: v >= 100_000)
target("enqueue over HTTP, batches of 1,000, PostgreSQL", "≥ 50,000 tasks/s", med("pg-drain-http-2w", "enqueue_tasks_per_s"), lambda v: v >= 50_000)
for name, label in [("latency-inprocess", "in-process"), ("latency-http-2w", "HTTP workers")]:
    target(f"pick-up latency p50, idle workers, 20 ms apart ({label})", "≤ 1 ms", med(name, "latency_ms.p50"), lambda v: v <= 1, f2)
    target(f"pick-up latency p99, idle workers, 20 ms apart ({label})", "≤ 5 ms", med(name, "latency_ms.p99"), lambda v: v <= 5, f2)
target("claim latency with 1M ready tasks vs empty queue (p50 ratio)", "≤ 2x", med("prefill-1m-http", "claim_latency_ms.ratio_p50"), lambda v: v <= 2, lambda v: "-" if v is None else f"{v:.2f}x")
target("server RSS with 1M ready tasks", "≤ 150 MB", med("prefill-1m-http", "server_peak_rss_mb"), lambda v: v <= 150, lambda v: "-" if v is None else f"{v:.1f} MB")
w("")
if failed:
    w("Failed runs: " + ", ".join(f"{k} ×{v}" for k, v in failed.items()) + "\n")

# --- physical limits and peers ---------------------------------------------------------
w("## Against the storage's own limits\n")
limit_b100 = pmed(("sqlite-limit-claim-b100-fifo-normal", 1), lambda r: r["rows_per_s"]) or pmed(("sqlite-limit-claim-b100-fifo-normal", None), lambda r: r["rows_per_s"])
limit_b1cc = pmed(("sqlite-limit-claim_complete-b1-fifo-normal", 1), lambda r: r["rows_per_s"]) or pmed(("sqlite-limit-claim_complete-b1-fifo-normal", None), lambda r: r["rows_per_s"])
src = "measured in this run by the peer kit" if limit_b100 else "the issue's reference figures for this box (run with `--peers` to measure them here)"
limit_b100 = limit_b100 or 500_000
limit_b1cc = limit_b1cc or 14_000
w(f"SQLite ceilings, {src}: a bare SQL loop of batched claims (100 rows per statement, claim = done, one "
  f"transaction): **{f0(limit_b100)} rows/s**; one task per claim and per completion transaction: **{f0(limit_b1cc)} rows/s**.\n")
w("| Baton configuration | drain tasks/s | fraction of the batched-claim ceiling | multiple of the one-task-per-transaction path |")
w("|---|---|---|---|")
for name in ["drain-inprocess", "drain-http-2w"]:
    v = med(name, "drain_tasks_per_s")
    if v:
        w(f"| {LABELS[name]} | {f0(v)} | {100 * v / limit_b100:.1f}% | {v / limit_b1cc:.2f}x |")
w("")

if peers:
    w("## Peers, same machine, same session\n")
    w("Measured by the peer kit (`../shared/bench-peers`, `run_all.sh`, "
      f"{max(len(v) for v in peers.values())} round(s), interleaved), right after Baton's runs. Each enqueues "
      "N no-op tasks the fastest way it documents, then starts its workers and times the drain "
      "(worker start-up included). Ratio = Baton's median / the peer's median, Baton compared in its "
      "matching setup (in-process row for in-process peers, server + 2 HTTP worker processes for the others).\n")
    w("| system | how it was configured | N | C | enqueue tasks/s | drain tasks/s | Baton's drain | ratio | Baton's enqueue | ratio |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    base_ip = med("drain-inprocess", "drain_tasks_per_s")
    base_http = med("drain-http-2w", "drain_tasks_per_s")
    enq_ip = med("drain-inprocess", "enqueue_tasks_per_s")
    enq_http = med("drain-http-2w", "enqueue_tasks_per_s")
    for (system, c), rs in peers.items():
        if "tasks_per_s_drain" not in rs[0]:
            continue
        drain = pmed((system, c), lambda r: r["tasks_per_s_drain"])
        enq = pmed((system, c), lambda r: r["n"] / r["enqueue_s"])
        inproc = system.startswith("huey")
        bd, be = (base_ip, enq_ip) if inproc else (base_http, enq_http)
        w(f"| {system} | {PEER_CONFIG.get(system, '')} | {rs[0]['n']} | {c} | {f0(enq)} | **{f0(drain)}** | {f0(bd)} "
          f"| {'-' if not bd else f'{bd / drain:.0f}x'} | {f0(be)} | {'-' if not be else f'{be / enq:.1f}x'} |")
    w("")
    w("| latency (idle workers, 200 tasks 20 ms apart) | C | p50 ms | p99 ms | Baton p50 / p99 (HTTP workers) |")
    w("|---|---|---|---|---|")
    for (system, c), rs in peers.items():
        if "p50_ms" in rs[0]:
            w(f"| {system} | {c} | {f1(pmed((system, c), lambda r: r['p50_ms']))} | {f1(pmed((system, c), lambda r: r['p99_ms']))} "
              f"| {f2(med('latency-http-2w', 'latency_ms.p50'))} / {f2(med('latency-http-2w', 'latency_ms.p99'))} |")
    w("")
    w("| physical limit (claim + complete, no task code) | clients | rows/s |")
    w("|---|---|---|")
    for (system, c), rs in peers.items():
        if "rows_per_s" in rs[0]:
            w(f"| {system} | {c or 1} | {f0(pmed((system, c), lambda r: r['rows_per_s']))} |")
    w("")
    if peer_env:
        w("<details><summary>Peer kit environment</summary>\n\n```\n" + peer_env + "\n```\n</details>\n")
else:
    w("## Peers\n")
    w("Not run this time: `Benchmarks/run.sh --peers` runs the peer kit (pgqueuer, procrastinate, Celery, RQ, "
      "Huey and the bare-SQL limits) and puts its medians here with the ratios.\n")

# --- charts -----------------------------------------------------------------------------
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

bars = []
for name, label in [("drain-inprocess", "Baton in-process\n(SQLite)"), ("drain-http-2w", "Baton server +\n2 HTTP workers")]:
    v = med(name, "drain_tasks_per_s")
    if v:
        bars.append((label, v, "#1f6feb"))
for (system, c), rs in peers.items():
    if "tasks_per_s_drain" in rs[0]:
        bars.append((f"{system}\n(C={c})", pmed((system, c), lambda r: r["tasks_per_s_drain"]), "#8b949e"))
for (system, c), rs in peers.items():
    if system in ("sqlite-limit-claim-b100-fifo-normal", "sqlite-limit-claim_complete-b1-fifo-normal"):
        bars.append((system.replace("sqlite-limit-", "SQLite limit\n").replace("-fifo-normal", ""), pmed((system, c), lambda r: r["rows_per_s"]), "#d29922"))
if bars:
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(bars)), 4.5))
    ax.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars])
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("tasks/s (log scale)")
    ax.set_title("Drain rate, no-op tasks, 100k (Baton) / 20k (peers) backlog")
    for i, b in enumerate(bars):
        ax.text(i, b[1], f"{b[1]:,.0f}", ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(a.png_dir, "benchmarks-throughput.png"), dpi=110)
    w("## Charts\n")
    w("![Drain rate by configuration](benchmarks-throughput.png)\n")

groups = []
for name, label in [("latency-inprocess", "Baton in-process"), ("latency-http-2w", "Baton HTTP workers")]:
    if name in runs:
        groups.append((label, [med(name, "latency_ms.p50"), med(name, "latency_ms.p90"), med(name, "latency_ms.p99")]))
if "prefill-1m-http" in runs:
    for key, label in [("empty", "claim, empty queue"), ("prefilled", "claim, 1M ready")]:
        groups.append((label, [med("prefill-1m-http", f"claim_latency_ms.{key}.{p}") for p in ("p50", "p90", "p99")]))
for (system, c), rs in peers.items():
    if "p50_ms" in rs[0]:
        groups.append((system.replace("-latency", ""), [pmed((system, c), lambda r: r["p50_ms"]), None, pmed((system, c), lambda r: r["p99_ms"])]))
if groups:
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(groups)), 4.2))
    width = 0.27
    for j, (pct, color) in enumerate([("p50", "#1f6feb"), ("p90", "#58a6ff"), ("p99", "#d29922")]):
        xs = [i + (j - 1) * width for i in range(len(groups))]
        ys = [g[1][j] or 0 for g in groups]
        ax.bar(xs, ys, width, label=pct, color=color)
    ax.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=8)
    ax.set_ylabel("ms")
    ax.set_title("Pick-up and claim latency (idle workers, tasks 20 ms apart)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(a.png_dir, "benchmarks-latency.png"), dpi=110)
    w("![Latency percentiles](benchmarks-latency.png)\n")

if analysis.strip():
    w(analysis.strip() + "\n")

w("## How each row was run\n")
for name in runs:
    w(f"- **{name}**: `baton bench --json` {settings_line(name)}")
w("")
w("`baton bench --help` lists the options; `--json` prints one line whose keys are documented below.\n")
w("```\nenqueue_tasks_per_s, drain_tasks_per_s, end_to_end_tasks_per_s, enqueue_s, drain_s, first_done_s,\n"
  "latency_ms {p50, p90, p99, max, count}, latency_source, server_peak_rss_mb, worker_peak_rss_mb,\n"
  "cpu_s_per_1000, cpu_s {server, workers, driver, total}, claim_latency_ms {empty, prefilled, ratio_p50,\n"
  "ratio_p99, prefill_tasks, prefill_enqueue_tasks_per_s} (prefill mode), settings {store, workers, tasks,\n"
  "worker_processes, concurrency, claim_batch, payload, mode, rate, prefill}\n```")

open(a.out, "w").write("\n".join(out) + "\n")
print(f"report.py: wrote {a.out}")
