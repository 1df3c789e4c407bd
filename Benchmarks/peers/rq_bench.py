"""RQ on Redis (the private redis of with-services.sh, which has no persistence).

  rq_bench.py [-n 20000] [-c 2] [--worker-class rq.worker.SimpleWorker]   one JSON line "rq-<class>"

Enqueue: Queue.enqueue_many() with N jobs made by Queue.prepare_data(), sent in one redis
pipeline. Workers: `rq worker-pool -n C` with the given worker class, logging at WARNING.
SimpleWorker runs each job in the worker process itself; RQ's default Worker class forks a
"work horse" per job, which is far slower for no-op jobs. Completion: the number of jobs in
the queue's FinishedJobRegistry (finished jobs stay there for RQ's default result TTL),
polled every 20 ms.
"""
import os
import time

from rq import Queue

import peerlib

a = peerlib.arguments(__doc__, default_c=2,
                      worker_class=(str, "rq.worker.SimpleWorker", "RQ worker class (default rq.worker.SimpleWorker)"))
r = peerlib.private_redis()
r.flushdb()
queue = Queue("default", connection=r)

t0 = time.perf_counter()
queue.enqueue_many([Queue.prepare_data("rq_tasks.noop") for _ in range(a.n)])
enqueue_s = time.perf_counter() - t0

workers = peerlib.Workers()
t0 = time.perf_counter()
workers.start("rq", [os.path.join(peerlib.BIN, "rq"), "worker-pool", "-n", str(a.c), "-w", a.worker_class,
                     "-u", peerlib.env("BATON_PEERS_REDIS_URL"), "-l", "WARNING", "default"])
finished = queue.finished_job_registry
drain = peerlib.Drain(a.n, t0, workers).wait(lambda: finished.get_job_count(cleanup=False))
workers.stop()
peerlib.emit_queue("rq-" + a.worker_class.rsplit(".", 1)[-1], a.n, a.c, enqueue_s, drain.end_s, drain.first_s)
