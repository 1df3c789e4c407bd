"""The bare-SQL ceiling of a queue on SQLite: no queue library, no task code, only the claim
and completion statements, from Python's sqlite3 on one connection (SQLite has one writer at a
time, so SKIP LOCKED has no counterpart and needs none).

  sqlite_limit.py [--jobs 40000]

The same jobs table, partial index and row layouts as pg_limit.py, in a fresh database file in
the scratch directory (WAL), filled with twice the rows a variant will claim and ANALYZEd.
Every step is one BEGIN IMMEDIATE ... COMMIT transaction:

  claim           take BATCH available rows in (priority, run_at) order, set them 'completed'
  claim_complete  take one row and set it 'running', commit; set it 'completed', commit

Variants (J = --jobs): claim batch 1 fifo over J rows; claim batch 100 fifo over 10 J;
claim_complete batch 1 fifo over J; claim batch 100 random over 2 J; all with
synchronous=NORMAL (WAL's usual setting: no fsync per commit), then claim batch 1 fifo over
J / 4 with synchronous=FULL (an fsync per commit, what Huey runs with). One JSON line each:
  {"system": "sqlite-limit-<script>-b<batch>-<layout>-<normal|full>", "rows", "seconds",
   "txn_per_s", "rows_per_s"}
"""
import argparse
import random
import sqlite3
import time

import peerlib

CREATE = """
CREATE TABLE jobs (
  id       INTEGER PRIMARY KEY,
  state    TEXT NOT NULL,
  priority INTEGER NOT NULL,
  run_at   REAL NOT NULL,
  payload  TEXT
);
CREATE INDEX jobs_available ON jobs (priority, run_at) WHERE state = 'available';
"""
NEXT = ("SELECT id FROM jobs WHERE state = 'available' AND run_at <= :now "
        "ORDER BY priority, run_at LIMIT :batch")
CLAIM = f"UPDATE jobs SET state = 'completed' WHERE id IN ({NEXT})"
TAKE_ONE = f"UPDATE jobs SET state = 'running' WHERE id = ({NEXT}) RETURNING id"
FINISH_ONE = "UPDATE jobs SET state = 'completed' WHERE id = ?"


def rows_for(count, layout):
    now = time.time()
    for i in range(count):
        if layout == "fifo":  # priority 0, run_at growing with id, all in the past
            yield ("available", 0, now - 86_400 + i / 1000, f'{{"task": "noop", "n": {i}}}')
        else:  # priority 0-9, run_at anywhere in the last hour
            yield ("available", random.randrange(10), now - random.random() * 3600, f'{{"task": "noop", "n": {i}}}')


def measure(script, batch, layout, synchronous, claims):
    db = sqlite3.connect(peerlib.fresh(peerlib.state_dir("sqlite_limit.db")), isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.executescript(CREATE)
    db.execute("BEGIN")
    db.executemany("INSERT INTO jobs (state, priority, run_at, payload) VALUES (?, ?, ?, ?)",
                   rows_for(2 * claims, layout))
    db.execute("COMMIT")
    db.execute("ANALYZE")

    steps = claims // batch
    t0 = time.perf_counter()
    for _ in range(steps):
        db.execute("BEGIN IMMEDIATE")
        if script == "claim":
            db.execute(CLAIM, {"now": time.time(), "batch": batch})
        else:
            (job,) = db.execute(TAKE_ONE, {"now": time.time(), "batch": 1}).fetchone()
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            db.execute(FINISH_ONE, (job,))
        db.execute("COMMIT")
    seconds = time.perf_counter() - t0

    (done,) = db.execute("SELECT count(*) FROM jobs WHERE state = 'completed'").fetchone()
    db.close()
    if done != steps * batch:
        raise RuntimeError(f"{done} rows completed, expected {steps * batch}")
    peerlib.emit({"system": f"sqlite-limit-{script}-b{batch}-{layout}-{synchronous.lower()}",
                  "rows": done, "seconds": round(seconds, 3), "txn_per_s": round(steps / seconds),
                  "rows_per_s": round(done / seconds)})


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=40_000, help="J, the size unit of the variants (default 40000)")
    j = p.parse_args().jobs
    measure("claim", 1, "fifo", "NORMAL", j)
    measure("claim", 100, "fifo", "NORMAL", 10 * j)
    measure("claim_complete", 1, "fifo", "NORMAL", j)
    measure("claim", 100, "random", "NORMAL", 2 * j)
    measure("claim", 1, "fifo", "FULL", j // 4)
