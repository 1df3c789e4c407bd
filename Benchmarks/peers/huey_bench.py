"""Huey with its SQLite storage (SqliteHuey: one database file in the scratch directory, WAL,
and SQLite's default synchronous=FULL, which Huey leaves alone: an fsync per commit).

  huey_bench.py [-n 20000] [-c 1] [--kind thread|process]    one JSON line "huey-sqlite-<kind>"

Enqueue: one call of the task per job. Huey has no batch enqueue, so each call is an INSERT
and its COMMIT. Consumer: huey.create_consumer(workers=C, worker_type=KIND), the Consumer
that the huey_consumer command runs, started inside this process (default one thread worker,
huey_consumer's default); so the drain has no interpreter start-up, unlike the other
benchmarks. The task adds one to a counter in shared memory, which the benchmark polls every
20 ms; at the end the queue must be empty. The task returns nothing, so no result is stored.
"""
import logging
import multiprocessing
import time

from huey import SqliteHuey

import peerlib

a = peerlib.arguments(__doc__, default_c=1, kind=(str, "thread", "thread or process (default thread)"))
logging.basicConfig(level=logging.WARNING)

huey = SqliteHuey("baton-peers", filename=peerlib.fresh(peerlib.state_dir("huey.db")))
finished = multiprocessing.Value("q", 0)  # shared with forked workers when --kind process


@huey.task()
def noop():
    with finished.get_lock():
        finished.value += 1


t0 = time.perf_counter()
for _ in range(a.n):
    noop()
enqueue_s = time.perf_counter() - t0

t0 = time.perf_counter()
consumer = huey.create_consumer(workers=a.c, worker_type=a.kind)
consumer.start()
drain = peerlib.Drain(a.n, t0).wait(lambda: finished.value)
consumer.stop(graceful=True)
left = huey.pending_count()
assert left == 0, f"{left} tasks still queued"
peerlib.emit_queue(f"huey-sqlite-{a.kind}", a.n, a.c, enqueue_s, drain.end_s, drain.first_s)
