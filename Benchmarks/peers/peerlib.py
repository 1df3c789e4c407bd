"""Plumbing shared by the peer benchmarks in this directory.

Where the servers are (the variables that with-services.sh exports), worker processes that are
always reaped, waiting for a drain to finish, and the JSON lines that Benchmarks/run.sh
collects and Benchmarks/report.py reads:

  queue    {"system", "n", "c", "enqueue_s", "drain_s", "tasks_per_s_drain",
            "end_to_end_tasks_per_s", "first_done_s", ...extra}
  latency  {"system": "<queue>-latency", "c", "n", "p50_ms", "p99_ms", "max_ms"}
  limits   see pg_limit.py and sqlite_limit.py (both carry "rows_per_s")
"""
import argparse
import asyncio
import atexit
import json
import math
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)  # the venv's console scripts (celery, rq) sit beside python


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{os.path.basename(sys.argv[0])}: {name} is not set: run this under "
                 "Benchmarks/peers/with-services.sh (or Benchmarks/peers/run-all.sh)")
    return value


def state_dir(*parts):
    """A path in the scratch directory (SQLite files, worker logs); its parent exists."""
    path = os.path.join(env("BATON_PEERS_STATE"), *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def pg_url(database):
    return env("BATON_PEERS_PG_URL").rstrip("/") + "/" + database


def ensure_database(database):
    """CREATE DATABASE unless it exists (on the cluster of BATON_PEERS_PG_URL)."""
    import psycopg
    with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{database}"')


def private_redis():
    """A client for BATON_PEERS_REDIS_URL, after checking that it is the redis that
    with-services.sh started (its working directory is BATON_PEERS_REDIS_DIR): the
    benchmarks empty its database, which must never happen to someone else's redis."""
    import redis
    client = redis.Redis.from_url(env("BATON_PEERS_REDIS_URL"))
    actual = client.config_get("dir").get("dir")
    wanted = os.path.realpath(env("BATON_PEERS_REDIS_DIR"))
    if actual is None or os.path.realpath(actual) != wanted:
        sys.exit(f"refusing to FLUSHDB {env('BATON_PEERS_REDIS_URL')}: its directory is {actual!r}, "
                 f"not BATON_PEERS_REDIS_DIR ({wanted})")
    return client


def arguments(doc, default_c, latency=False, c_help=None, **more):
    """The options every queue benchmark takes; `more` adds name=(type, default, help)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=20_000, help="tasks to enqueue and drain (default 20000)")
    p.add_argument("-c", type=int, default=default_c, help=c_help or f"worker concurrency (default {default_c})")
    if latency:
        p.add_argument("--latency", action="store_true",
                       help="measure pick-up latency instead: idle workers, then single tasks spaced out")
        p.add_argument("--probes", type=int, default=200, help="latency mode: tasks sent (default 200)")
        p.add_argument("--gap-ms", type=float, default=20, help="latency mode: ms between tasks (default 20)")
        p.add_argument("--idle-s", type=float, default=3, help="latency mode: s the workers idle first (default 3)")
    for name, (kind, default, text) in more.items():
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=default, help=text)
    return p.parse_args()


# --- worker processes ---------------------------------------------------------------------------

class Workers:
    """Worker processes, each in its own process group (so that a pool's children go with it),
    their output in the scratch directory's logs/. Whatever is still running when this process
    ends, normally or not, is stopped."""

    def __init__(self):
        self.procs = []
        atexit.register(self.stop)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def start(self, label, argv, **extra_env):
        log = open(state_dir("logs", f"{label}.log"), "ab")
        child_env = dict(os.environ, PYTHONPATH=HERE, PYTHONUNBUFFERED="1", **extra_env)
        proc = subprocess.Popen(argv, cwd=HERE, env=child_env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def any_exited(self):
        return any(p.poll() is not None for p in self.procs)

    def stop(self, grace_s=15):
        """SIGTERM each group, wait up to grace_s, then SIGKILL what is left."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            try:
                p.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the leader may be gone while pool children linger
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
        self.procs = []


# --- waiting for the drain ----------------------------------------------------------------------

class Drain:
    """Polls a completion count until it reaches n. Times are wall-clock seconds since `t0`
    (a time.perf_counter() value): `first_s` when the count was first seen above zero, `end_s`
    when it was first seen at n. Polling blurs both by up to one interval; the PostgreSQL
    benchmarks replace them with the database's own timestamps."""

    def __init__(self, n, t0, workers=None, interval_s=0.02, timeout_s=900):
        self.n, self.t0, self.workers = n, t0, workers
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self.first_s = self.end_s = None

    def _seen(self, done):
        elapsed = time.perf_counter() - self.t0
        if done > 0 and self.first_s is None:
            self.first_s = elapsed
        if done >= self.n:
            self.end_s = elapsed
            return True
        if elapsed > self.timeout_s:
            raise RuntimeError(f"{done} of {self.n} tasks done after {elapsed:.0f} s: giving up")
        if self.workers is not None and self.workers.any_exited():
            raise RuntimeError(f"a worker process exited with {done} of {self.n} tasks done "
                               f"(see {state_dir('logs', '')})")
        return False

    def wait(self, count):
        while not self._seen(count()):
            time.sleep(self.interval_s)
        return self

    async def wait_async(self, count):
        while not self._seen(await count()):
            await asyncio.sleep(self.interval_s)
        return self


# --- output -------------------------------------------------------------------------------------

def emit(record):
    print(json.dumps(record), flush=True)


def emit_queue(system, n, c, enqueue_s, drain_s, first_done_s, **extra):
    """One queue line. drain_s counts from just before the workers were started, so it includes
    their start-up; first_done_s (to the first completion) shows how much of it that was."""
    emit({"system": system, "n": n, "c": c,
          "enqueue_s": round(enqueue_s, 3), "drain_s": round(drain_s, 3),
          "tasks_per_s_drain": round(n / drain_s, 1),
          "end_to_end_tasks_per_s": round(n / (enqueue_s + drain_s), 1),
          "first_done_s": round(first_done_s, 3), **extra})


def nearest_rank(sorted_values, fraction):
    """The smallest value with at least `fraction` of the values at or below it."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def emit_latency(system, c, samples_s):
    ms = sorted(s * 1000 for s in samples_s)
    if not ms:
        raise RuntimeError("no latency samples were recorded")
    mid = len(ms) // 2
    p50 = ms[mid] if len(ms) % 2 else (ms[mid - 1] + ms[mid]) / 2
    emit({"system": f"{system}-latency", "c": c, "n": len(ms), "p50_ms": round(p50, 2),
          "p99_ms": round(nearest_rank(ms, 0.99), 2), "max_ms": round(ms[-1], 2)})


# --- latency probes -----------------------------------------------------------------------------

def latency_file(label):
    """Where a worker appends its latency samples, one per line, as it takes each probe."""
    return state_dir("logs", f"{label}.latency")


def record_latency(path, sent_at):
    """Called first thing in a probe task: wall time now minus the wall time the sender read
    just before its enqueue call."""
    lag = time.time() - float(sent_at)
    with open(path, "a") as f:
        f.write(f"{lag:.6f}\n")


def read_latencies(paths):
    samples = []
    for path in paths:
        if os.path.exists(path):
            samples += [float(x) for x in open(path).read().split()]
    return samples


def fresh(path):
    """Remove a file (and SQLite's -wal/-shm companions) left by an earlier run."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path
