"""procrastinate on PostgreSQL (database bench_procrastinate, procrastinate's own schema).

  procrastinate_bench.py [-n 20000] [-c 8] [--procs 2]    drain: one JSON line "procrastinate"
  procrastinate_bench.py --latency [-c 8]                  pick-up latency: "procrastinate-latency"

C counts async job slots in total, spread over PROCS worker processes (default 2, one per core
of the reference machine): each process runs App.run_worker_async(concurrency=C/PROCS) with
LISTEN/NOTIFY, and finished jobs are kept (procrastinate's default). Enqueue: the task's
batch_defer_async() with all N jobs, one insert. The task is an empty coroutine. Completion:
jobs in status 'succeeded'; the drain's first and last completion come from the 'succeeded'
rows of procrastinate_events, against a clock_timestamp() taken just before the workers were
spawned (both on the database's clock).

After the enqueue, and untimed, the jobs table is ANALYZEd, as autovacuum would do before long:
with the statistics of the just-emptied table, procrastinate's fetch query can get a plan that
slows down as the backlog grows.
"""
import asyncio
import time

import psycopg

import peerlib
import procrastinate_tasks

DATABASE = procrastinate_tasks.DATABASE


async def bench(a):
    peerlib.ensure_database(DATABASE)
    per_proc = max(1, a.c // a.procs)
    conn = await psycopg.AsyncConnection.connect(peerlib.pg_url(DATABASE), autocommit=True)

    async def one(sql, *params):
        return await (await conn.execute(sql, params)).fetchone()

    app = procrastinate_tasks.build(pool_size=2)
    if (await one("SELECT to_regclass('procrastinate_jobs')"))[0] is None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
    await conn.execute("TRUNCATE procrastinate_jobs RESTART IDENTITY CASCADE")
    await conn.execute("VACUUM ANALYZE procrastinate_jobs")
    workers = peerlib.Workers()

    def spawn(latency_paths=()):
        for i in range(a.procs):
            extra = [latency_paths[i]] if latency_paths else []
            workers.start(f"procrastinate-{i}", [peerlib.PYTHON, "-c", "import procrastinate_tasks as t; t.main()",
                                                 str(per_proc), *extra])

    async def succeeded():
        return (await one("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))[0]

    async with app.open_async():
        noop = app.tasks["noop"]
        if a.latency:
            paths = [peerlib.fresh(peerlib.latency_file(f"procrastinate-{i}")) for i in range(a.procs)]
            spawn(paths)
            await asyncio.sleep(a.idle_s)
            for _ in range(a.probes):
                await noop.defer_async(sent_at=repr(time.time()))
                await asyncio.sleep(a.gap_ms / 1000)
        else:
            t0 = time.perf_counter()
            await noop.batch_defer_async(*[{} for _ in range(a.n)])
            enqueue_s = time.perf_counter() - t0

    if a.latency:
        await peerlib.Drain(a.probes, time.perf_counter(), workers, 0.05, 60).wait_async(succeeded)
        workers.stop()
        samples = peerlib.read_latencies(paths)
        assert len(samples) == a.probes, f"{len(samples)} latency samples for {a.probes} probes"
        peerlib.emit_latency("procrastinate", a.c, samples)
        return

    await conn.execute("ANALYZE procrastinate_jobs")
    db_start = (await one("SELECT clock_timestamp()"))[0]
    spawn()
    await peerlib.Drain(a.n, time.perf_counter(), workers, 0.25).wait_async(succeeded)
    workers.stop()
    first_s, last_s = await one(
        "SELECT extract(epoch FROM min(at) - %s)::float8, extract(epoch FROM max(at) - %s)::float8 "
        "FROM procrastinate_events WHERE type = 'succeeded'", db_start, db_start)
    peerlib.emit_queue("procrastinate", a.n, a.c, enqueue_s, last_s, first_s,
                       procs=a.procs, concurrency_per_proc=per_proc)


if __name__ == "__main__":
    asyncio.run(bench(peerlib.arguments(
        __doc__, default_c=8, latency=True,
        procs=(int, 2, "worker processes sharing the C slots (default 2)"))))
