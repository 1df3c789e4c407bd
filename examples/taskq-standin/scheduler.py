#!/usr/bin/env python3
"""A stand-in for a scheduler of dist-sched-tasks, written for Baton's tests and docs.

It does what that project's schedulers do against taskq: every period it enqueues a task
(`name`, an epoch `schedule`, a `config`) with a POST of JSON to the enqueue URL, sending no
token. Pointed at a Baton node, only the URL changes:

    python3 scheduler.py --enqueue-url http://127.0.0.1:8080/v1/tasks/enqueue --count 10

Each enqueued task is printed as one JSON line (taskq's answer: the task and its `uuid`).
Standard library only (Python 3.8 or later).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

HEADERS = {"Content-Type": "application/json"}


def enqueue(url, task):
    request = urllib.request.Request(url, data=json.dumps(task).encode("utf-8"), headers=HEADERS)
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 201:
            raise RuntimeError("enqueue answered %d" % response.status)
        return json.loads(response.read().decode("utf-8"))


def make_task(index, names, fail_every):
    name = names[index % len(names)]
    if name == "calculate-prime-number":
        config = {"start": 100 + index, "stop": 1000 + 10 * index}
    else:
        config = {"dish": "pasta", "minutes": index % 5}
    # Every `fail_every`-th task asks its processor to fail its first attempt.
    config["fail_first"] = fail_every > 0 and index % fail_every == 0
    config["index"] = index
    return {"name": name, "schedule": int(time.time()), "config": config}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enqueue-url", default=os.environ.get("TASK_ENQUEUE_URL", "http://127.0.0.1:8080/v1/tasks/enqueue"))
    parser.add_argument("--count", type=int, default=10, help="tasks to enqueue, then exit")
    parser.add_argument("--period", type=float, default=0.2, help="seconds between enqueues")
    parser.add_argument("--names", default="cook-pasta,calculate-prime-number", help="task names, comma list")
    parser.add_argument("--fail-every", type=int, default=3, help="every n-th task fails its first attempt (0: none)")
    args = parser.parse_args()
    names = [n for n in args.names.split(",") if n]
    for index in range(args.count):
        try:
            answer = enqueue(args.enqueue_url, make_task(index, names, args.fail_every))
        except (urllib.error.URLError, RuntimeError) as error:
            print("enqueue failed: %s" % error, file=sys.stderr)
            return 1
        print(json.dumps(answer), flush=True)
        time.sleep(args.period)
    return 0


if __name__ == "__main__":
    sys.exit(main())
