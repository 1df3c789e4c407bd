"""The procrastinate app of procrastinate_bench.py, in a module of its own: procrastinate wants
its App defined in an importable module, not in the script being run.

Workers are started as  python -c "import procrastinate_tasks as t; t.main()" CONCURRENCY [LATENCY_FILE]
"""
import asyncio
import sys

from procrastinate import App, PsycopgConnector

import peerlib

DATABASE = "bench_procrastinate"


def build(pool_size, latency_path=None):
    """An App on bench_procrastinate with a psycopg pool of pool_size connections and one task,
    "noop": an empty coroutine (a probe records its pick-up latency first)."""
    app = App(connector=PsycopgConnector(conninfo=peerlib.pg_url(DATABASE),
                                         min_size=pool_size, max_size=pool_size))

    @app.task(name="noop")
    async def noop(sent_at=None):
        if sent_at is not None and latency_path:
            peerlib.record_latency(latency_path, sent_at)

    return app


async def serve(concurrency, latency_path):
    # a connection per job slot, plus the LISTEN connection and one to spare for the fetches
    app = build(concurrency + 2, latency_path)
    async with app.open_async():
        await app.run_worker_async(concurrency=concurrency)  # LISTEN/NOTIFY on; returns on SIGTERM


def main():
    args = sys.argv[1:]
    asyncio.run(serve(int(args[0]), args[1] if len(args) > 1 else None))
