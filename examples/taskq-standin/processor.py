#!/usr/bin/env python3
"""A stand-in for a processor of dist-sched-tasks, written for Baton's tests and docs.

It does what that project's processors do against taskq: it declares its `capabilities` (the
task names it can run), asks for a task with a POST to the dequeue URL (404: nothing due),
runs it, and reports it with a POST to the update URL: `success` true with a `result`, or
false. It sends no token. Pointed at a Baton node, only the URLs change:

    python3 processor.py --request-url http://127.0.0.1:8080/v1/tasks/dequeue \\
        --update-url http://127.0.0.1:8080/v1/tasks/update --expect 10

A task whose config has `"fail_first": true` fails its first attempt on purpose (taskq gives
a failed task to the next dequeue). With `--expect N` it exits once N tasks succeeded, and
prints a summary as one JSON line: the uuids it completed, failed and dequeued.
Standard library only (Python 3.8 or later).
"""

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

HEADERS = {"Content-Type": "application/json"}
PROCESSOR = {"host": socket.gethostname(), "pid": os.getpid(), "name": "taskq-standin"}
CAPABILITIES = ["cook-pasta", "calculate-prime-number"]


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=HEADERS)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read().decode("utf-8"))


def check_for_task(url, capabilities):
    """The next task, or None when the queue has none due (taskq answers 404)."""
    try:
        _, task = post(url, {"processor": PROCESSOR, "capabilities": capabilities})
        return task
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def cook_pasta(config):
    return {"dish": config.get("dish", "pasta"), "cooked": True}


def calculate_prime_number(config):
    start, stop = int(config.get("start", 2)), int(config.get("stop", 100))
    primes = [n for n in range(max(2, start), stop) if all(n % d for d in range(2, int(n**0.5) + 1))]
    return {"count": len(primes), "largest": primes[-1] if primes else None}


IMPLEMENTATIONS = {"cook-pasta": cook_pasta, "calculate-prime-number": calculate_prime_number}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request-url", default=os.environ.get("TASK_REQUEST_URL", "http://127.0.0.1:8080/v1/tasks/dequeue"))
    parser.add_argument("--update-url", default=os.environ.get("TASK_UPDATE_URL", "http://127.0.0.1:8080/v1/tasks/update"))
    parser.add_argument("--capabilities", default=",".join(CAPABILITIES), help="task names, comma list")
    parser.add_argument("--expect", type=int, default=0, help="exit after this many successes (0: run forever)")
    parser.add_argument("--timeout", type=float, default=60, help="give up after this many seconds (with --expect)")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds to sleep when no task is due")
    args = parser.parse_args()
    capabilities = [c for c in args.capabilities.split(",") if c]
    completed, failed, dequeued = [], [], []
    deadline = time.monotonic() + args.timeout
    while not args.expect or len(completed) < args.expect:
        if args.expect and time.monotonic() > deadline:
            print("timed out with %d of %d tasks done" % (len(completed), args.expect), file=sys.stderr)
            break
        try:
            task = check_for_task(args.request_url, capabilities)
            if task is None:
                time.sleep(args.poll)
                continue
            uuid, config = task["uuid"], task["args"]
            dequeued.append(uuid)
            if config.get("fail_first") and uuid not in failed:
                failed.append(uuid)
                post(args.update_url, {"processor": PROCESSOR, "result": {"error": "failed on purpose"}, "success": False, "uuid": uuid})
                continue
            result = IMPLEMENTATIONS[task["name"]](config)
            post(args.update_url, {"processor": PROCESSOR, "result": result, "success": True, "uuid": uuid})
            completed.append(uuid)
        except urllib.error.URLError as error:
            print("request failed: %s" % error, file=sys.stderr)
            time.sleep(args.poll)
    print(json.dumps({"completed": completed, "failed": failed, "dequeued": dequeued}), flush=True)
    return 0 if not args.expect or len(completed) >= args.expect else 1


if __name__ == "__main__":
    sys.exit(main())
