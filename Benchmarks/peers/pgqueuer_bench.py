"""pgqueuer on PostgreSQL (database bench_pgqueuer, schema installed with durable tables).

  pgqueuer_bench.py [-n 20000] [-c 2] [--batch 10]     drain: one JSON line "pgqueuer-b<batch>"
  pgqueuer_bench.py --latency [-c 2]                   pick-up latency: "pgqueuer-latency"

Enqueue: Queries.enqueue() with lists, i.e. all N jobs in one array insert, which is pgqueuer's
batch form. Workers: C processes, each one QueueManager on its own asyncpg connection running
`run(batch_size=BATCH)` (pgqueuer's default batch is 10) with no concurrency cap; the task is an
empty coroutine. Completion: pgqueuer deletes a finished job's row and logs it as
'successful' in pgqueuer_log; the drain's first and last completion are read from that log's
timestamps, against a clock_timestamp() taken just before the workers were spawned (both on
the database's clock, so the 250 ms polling does not blur them).
"""
import asyncio
import signal
import sys
import time

import asyncpg
from pgqueuer import QueueManager, Queries

import peerlib

DATABASE = "bench_pgqueuer"


async def run_worker(batch, latency_path):
    conn = await asyncpg.connect(peerlib.pg_url(DATABASE))
    manager = QueueManager(Queries.from_asyncpg_connection(conn))

    @manager.entrypoint("noop")
    async def noop(job):
        if latency_path:
            peerlib.record_latency(latency_path, job.payload.decode())

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, manager.shutdown.set)
    await manager.run(batch_size=batch)


async def bench(a):
    peerlib.ensure_database(DATABASE)
    conn = await asyncpg.connect(peerlib.pg_url(DATABASE))
    queries = Queries.from_asyncpg_connection(conn)
    if not await queries.schema_is_installed():
        await queries.install()
    await conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")
    await conn.execute("VACUUM ANALYZE pgqueuer")
    workers = peerlib.Workers()

    def spawn(latency_paths=()):
        for i in range(a.c):
            extra = ["--latency-file", latency_paths[i]] if latency_paths else []
            workers.start(f"pgqueuer-{i}", [peerlib.PYTHON, __file__, "worker", "--batch", str(a.batch), *extra])

    async def unfinished():
        return await conn.fetchval("SELECT count(*) FROM pgqueuer")

    if a.latency:
        paths = [peerlib.fresh(peerlib.latency_file(f"pgqueuer-{i}")) for i in range(a.c)]
        spawn(paths)
        await asyncio.sleep(a.idle_s)
        for _ in range(a.probes):
            sent = time.time()
            await queries.enqueue("noop", repr(sent).encode())
            await asyncio.sleep(a.gap_ms / 1000)
        await peerlib.Drain(a.probes, time.perf_counter(), workers, 0.05, 60).wait_async(
            lambda: _done(a.probes, unfinished))
        workers.stop()
        samples = peerlib.read_latencies(paths)
        assert len(samples) == a.probes, f"{len(samples)} latency samples for {a.probes} probes"
        peerlib.emit_latency("pgqueuer", a.c, samples)
        return

    t0 = time.perf_counter()
    await queries.enqueue(["noop"] * a.n, [None] * a.n, [0] * a.n)
    enqueue_s = time.perf_counter() - t0
    await conn.execute("ANALYZE pgqueuer")  # untimed: what autovacuum would do soon enough
    db_start = await conn.fetchval("SELECT clock_timestamp()")
    spawn()
    await peerlib.Drain(a.n, time.perf_counter(), workers, 0.25).wait_async(lambda: _done(a.n, unfinished))
    workers.stop()
    ok, first_s, last_s = await conn.fetchrow(
        "SELECT count(*), extract(epoch FROM min(created) - $1)::float8, "
        "extract(epoch FROM max(created) - $1)::float8 FROM pgqueuer_log WHERE status = 'successful'",
        db_start)
    assert ok == a.n, f"pgqueuer_log counts {ok} successful jobs, expected {a.n}"
    peerlib.emit_queue(f"pgqueuer-b{a.batch}", a.n, a.c, enqueue_s, last_s, first_s)


async def _done(n, unfinished):
    return n - await unfinished()


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("worker")
        p.add_argument("--batch", type=int, required=True)
        p.add_argument("--latency-file")
        w = p.parse_args()
        asyncio.run(run_worker(w.batch, w.latency_file))
    else:
        asyncio.run(bench(peerlib.arguments(
            __doc__, default_c=2, latency=True,
            batch=(int, 10, "jobs a worker dequeues at a time (default 10, pgqueuer's own)"))))
