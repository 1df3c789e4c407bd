#!/usr/bin/env python3
"""A Baton worker in plain Python (standard library only).

Claims tasks from a Baton node with long-polling, runs them on threads, heartbeats the
running ones, acknowledges outcomes in batches, backs off while the node is unreachable,
and on SIGTERM/SIGINT stops claiming, lets running tasks finish (up to --grace seconds),
releases the rest and exits. See README.md.
"""
import argparse, json, os, queue, signal, socket, sys, threading, time, urllib.error, urllib.request


# Handlers by kind: JSON args in, a JSON result out. An exception fails the attempt
# (retried by the task's policy) with "ExceptionType: message" recorded as its error.
# A task of a workflow that waited for parents gets their results in front of its args when
# it asked for `"pass": "prepend"` (a chord body: one per member, in member order).
def add(args): return args["a"] + args["b"]
def total(args): return sum(args)
def upper(args): return args["text"].upper()
def divide(args): return args["a"] / args["b"]
def snooze(args):
    time.sleep(float(args["seconds"]))
    return {"slept": args["seconds"]}

HANDLERS = {"py.add": add, "py.upper": upper, "py.div": divide, "py.sleep": snooze, "py.sum": total}


def log(message): print(f"worker: {message}", file=sys.stderr, flush=True)


class Node:
    """POSTs JSON to a Baton node, with the bearer token when there is one."""
    def __init__(self, server, token):
        self.server = server.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def post(self, path, body, timeout=30.0):
        request = urllib.request.Request(self.server + path, json.dumps(body).encode(), self.headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def get(self, path, timeout=30.0):
        request = urllib.request.Request(self.server + path, None, self.headers, method="GET")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def parents(self, task_id):
        """A task's parents with their results, in the order it lists them (read page by page)."""
        parents, cursor = [], ""
        while True:
            page = self.get(f"/v1/tasks/{task_id}/parents?limit=1000&cursor={cursor}")
            parents += page["parents"]
            cursor = page.get("next_cursor")
            if not cursor:
                return parents

    def post_retrying(self, path, body, attempts=8):
        """Retries with backoff while the node is unreachable or answers 5xx; None if it gives up."""
        delay = 0.2
        for attempt in range(1, attempts + 1):
            try:
                return self.post(path, body)
            except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
                client_error = isinstance(error, urllib.error.HTTPError) and error.code < 500
                if client_error or attempt == attempts:
                    log(f"{path} failed: {error}; giving up")
                    return None
                log(f"{path} failed: {error}; retrying in {delay:.1f}s")
                time.sleep(delay)
                delay = min(delay * 2, 10)


class Worker:
    def __init__(self, node, opts):
        self.node, self.opts = node, opts
        self.id = f"{socket.gethostname()}/{os.getpid()}-py"
        self.lease_ms = int(opts.lease * 1000)
        self.changed = threading.Condition()  # guards running, claimed, done
        self.running = {}  # task id -> lease token
        self.claimed = self.done = 0
        self.acks = queue.Queue()
        self.stopping = threading.Event()

    def run(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        claimer = threading.Thread(target=self.claim_loop)
        acker = threading.Thread(target=self.ack_loop)
        for thread in (claimer, acker, threading.Thread(target=self.heartbeat_loop, daemon=True)):
            thread.start()
        while not self.stopping.is_set() and not self.finished():
            self.stopping.wait(0.1)
        self.stopping.set()
        deadline = time.monotonic() + self.opts.grace
        self.drain(deadline)
        claimer.join()  # its long-poll ends within --wait and what it brings is released...
        self.drain(deadline)  # ...but it may have started tasks just before
        self.acks.put(None)  # flush what is left and stop the acker
        acker.join()
        log(f"stopped after {self.done} tasks")

    def drain(self, deadline):
        """Lets running tasks finish until the deadline, then releases the rest."""
        with self.changed:
            self.changed.wait_for(lambda: not self.running, timeout=max(0.0, deadline - time.monotonic()))
            leftover, self.running = self.running, {}
        self.release(leftover)

    def finished(self):
        with self.changed:
            return self.opts.max_tasks > 0 and self.done >= self.opts.max_tasks

    def claim_loop(self):
        delay = 0.2
        while not self.stopping.is_set():
            with self.changed:
                want = self.opts.concurrency - len(self.running)
                if self.opts.max_tasks:
                    want = min(want, self.opts.max_tasks - self.claimed)
                if want <= 0:
                    self.changed.wait(0.1)
                    continue
            body = {"worker": self.id, "queues": self.opts.queues, "kinds": sorted(HANDLERS), "max": want,
                    "wait_ms": int(self.opts.wait * 1000), "lease_ms": self.lease_ms}
            try:
                tasks = self.node.post("/v1/workers/claim", body, timeout=self.opts.wait + 10)["tasks"]
                delay = 0.2
            except (OSError, ValueError, KeyError) as error:
                log(f"claim failed: {error}; retrying in {delay:.1f}s")
                self.stopping.wait(delay)
                delay = min(delay * 2, 10)
                continue
            if self.stopping.is_set():  # claimed while shutting down: give them back
                self.release({t["id"]: t["lease_token"] for t in tasks})
                return
            for task in tasks:
                with self.changed:
                    self.running[task["id"]] = task["lease_token"]
                    self.claimed += 1
                threading.Thread(target=self.execute, args=(task,), daemon=True).start()

    def execute(self, task):
        try:
            args = task.get("args")
            if task.get("parents"):  # a workflow task: its parents' results travel by reference
                results = [parent.get("result") for parent in self.node.parents(task["id"])]
                if task.get("pass") == "prepend":
                    args = results + args
                elif task.get("pass") == "prepend_items":
                    args = [item for result in results for item in result] + args
            result = HANDLERS[task["kind"]](args)
            ack = {"outcome": "complete", "result": json.loads(json.dumps(result))}
        except Exception as error:
            ack = {"outcome": "fail", "error": f"{type(error).__name__}: {error}", "retryable": True}
        with self.changed:
            mine = self.running.pop(task["id"], None) == task["lease_token"]  # not cancelled or released meanwhile
            self.done += 1
            self.changed.notify_all()
        if mine:
            self.acks.put({"id": task["id"], "lease_token": task["lease_token"], **ack})

    def ack_loop(self):
        """Sends acks in batches: whatever arrives within 5 ms of the first, up to 256."""
        while True:
            item = self.acks.get()
            if item is None:
                return
            batch, deadline = [item], time.monotonic() + 0.005
            while len(batch) < 256:
                try:
                    item = self.acks.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self.acks.put(None)  # stop after this batch
                    break
                batch.append(item)
            answer = self.node.post_retrying("/v1/workers/ack", {"acks": batch})
            for result in (answer or {}).get("results", []):
                if result.get("status") != "applied":
                    log(f"ack of {result.get('id')}: {result.get('status')}")

    def announce(self):
        """Tells the node who this worker is (POST /v1/workers): listed at GET /v1/workers."""
        with self.changed:
            running = len(self.running)
        body = {"worker": self.id, "queues": self.opts.queues, "concurrency": self.opts.concurrency,
                "running": running, "version": "python-example/1", "kinds": [{"name": k} for k in HANDLERS]}
        try:
            self.node.post("/v1/workers", body)
        except (OSError, ValueError) as error:
            log(f"announce failed: {error}")

    def heartbeat_loop(self):
        while True:
            self.announce()
            time.sleep(self.opts.lease / 3)
            with self.changed:
                leases = [{"id": i, "lease_token": t} for i, t in self.running.items()]
            if not leases:
                continue
            body = {"worker": self.id, "leases": leases, "lease_ms": self.lease_ms}
            try:
                results = self.node.post("/v1/workers/heartbeat", body)["results"]
            except (OSError, ValueError, KeyError) as error:
                log(f"heartbeat failed: {error}")
                continue
            for result in results:
                if result["status"] != "extended":  # cancelled, lost or gone: drop its outcome
                    log(f"task {result['id']}: {result['status']}")
                    with self.changed:
                        self.running.pop(result["id"], None)
                        self.changed.notify_all()

    def release(self, leases):
        if leases:
            body = {"leases": [{"id": i, "lease_token": t} for i, t in leases.items()]}
            answer = self.node.post_retrying("/v1/workers/release", body, attempts=3)
            log(f"released {(answer or {}).get('released', 0)} of {len(leases)} tasks")


def main():
    parser = argparse.ArgumentParser(description="A Baton worker in plain Python.")
    parser.add_argument("--server", default=os.environ.get("BATON_SERVER", "http://127.0.0.1:8080").split(",")[0])
    parser.add_argument("--token", default=os.environ.get("BATON_TOKEN"), help="bearer token (BATON_TOKEN)")
    parser.add_argument("--queues", default="default", type=lambda s: s.split(","), help="comma list")
    parser.add_argument("--concurrency", default=4, type=int, help="tasks run at once (threads)")
    parser.add_argument("--max-tasks", default=0, type=int, help="exit after this many tasks (0: never)")
    parser.add_argument("--lease", default=30.0, type=float, help="seconds; heartbeats every third of it")
    parser.add_argument("--wait", default=5.0, type=float, help="long-poll seconds per claim")
    parser.add_argument("--grace", default=30.0, type=float, help="seconds running tasks get on SIGTERM")
    opts = parser.parse_args()
    Worker(Node(opts.server, opts.token), opts).run()


if __name__ == "__main__":
    main()
