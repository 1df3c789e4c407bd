"""The Celery app of celery_bench.py: the private redis as broker, no result backend, and one
task, "peers.noop", that only INCRs a counter in that redis so the benchmark can count
completions. Workers: celery -A celery_tasks worker ..."""
import redis
from celery import Celery

import peerlib

BROKER = peerlib.env("BATON_PEERS_REDIS_URL")
DONE_KEY = "peers:celery:done"

app = Celery("baton_peers", broker=BROKER)
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)
counter = redis.Redis.from_url(BROKER)  # connects lazily, so each prefork child gets its own


@app.task(name="peers.noop")
def noop():
    counter.incr(DONE_KEY)
