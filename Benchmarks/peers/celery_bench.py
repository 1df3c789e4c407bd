"""Celery on Redis (the private redis of with-services.sh, which has no persistence).

  celery_bench.py [-n 20000] [--pool prefork|threads] [-c C]    one JSON line "celery-<pool>"

Enqueue: apply_async() once per task, every call on one producer taken from the app's pool
(Celery publishes independent tasks one message at a time; a group() does the same). Workers:
one `celery worker` process with --pool=POOL and --concurrency=C (default: 2 processes for
prefork, 8 threads for threads), --loglevel=WARNING, and gossip, mingle and heartbeat off (they
only matter to clusters of workers). No result backend. Completion: the task INCRs a counter
in redis, which the benchmark polls every 20 ms.
"""
import time

import peerlib

a = peerlib.arguments(__doc__, default_c=0, c_help="pool size (default 2 for prefork, 8 for threads)",
                      pool=(str, "prefork", "prefork or threads (default prefork)"))
if a.pool not in ("prefork", "threads"):
    raise SystemExit("--pool: prefork or threads")
c = a.c or (2 if a.pool == "prefork" else 8)

r = peerlib.private_redis()
r.flushdb()
from celery_tasks import DONE_KEY, app, noop  # noqa: E402  (after the check on the redis)

t0 = time.perf_counter()
with app.producer_or_acquire() as producer:
    for _ in range(a.n):
        noop.apply_async(producer=producer)
enqueue_s = time.perf_counter() - t0

workers = peerlib.Workers()
t0 = time.perf_counter()
workers.start(f"celery-{a.pool}", [
    peerlib.PYTHON, "-m", "celery", "-A", "celery_tasks", "worker", f"--pool={a.pool}",
    f"--concurrency={c}", "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"])
drain = peerlib.Drain(a.n, t0, workers).wait(lambda: int(r.get(DONE_KEY) or 0))
workers.stop()
peerlib.emit_queue(f"celery-{a.pool}", a.n, c, enqueue_s, drain.end_s, drain.first_s)
