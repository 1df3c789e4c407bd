"""The task the RQ workers run (rq_bench.py enqueues it by its dotted name)."""


def noop():
    return None
