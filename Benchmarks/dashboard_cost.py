"""What an open dashboard costs a node's drain (docs/benchmarks.md, "An open dashboard").

Runs `baton standalone` (SQLite, in-process workers), stores a backlog of no-op tasks in a
paused queue, then resumes it and times the drain until the node has finished every task (its `/metrics` counter of
succeeded attempts, read every 20 ms), in
two modes, alternating:

- `none`: nobody watches;
- `stream`, `polls`: the dashboard's event stream alone, its refreshes alone;
- `dashboard`: what an open dashboard asks of the node: one `GET /v1/events` stream read to
  the end by `curl` (its bytes discarded: the browser's work happens on another machine), and
  the page's refreshes under load, `GET /v1/tasks?limit=25` and `GET /v1/tasks?state=failed`
  every second and `GET /v1/queues` every 5 s.

    python Benchmarks/dashboard_cost.py --baton .build/release/baton --tasks 100000 --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
        return json.loads(text) if text else None


def succeeded(base):
    """Attempts that succeeded, from the node's metrics (no query of the store)."""
    with urllib.request.urlopen(base + "/metrics", timeout=60) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("baton_task_attempts_total{") and 'outcome="succeeded"' in line)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(baton, tasks, mode):
    with tempfile.TemporaryDirectory() as directory:
        env = dict(os.environ)
        node = subprocess.Popen(
            [baton, "standalone", "--db", directory + "/b.db", "--port", "0", "--concurrency", "64", "--log-level", "error"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        base = node.stdout.readline().strip().rstrip("/")
        watchers = []
        stop = threading.Event()
        try:
            call(base + "/v1/queues/default/pause", "POST")
            for start in range(0, tasks, 1000):
                call(base + "/v1/tasks", "POST", [{"kind": "noop"} for _ in range(min(1000, tasks - start))])
            if mode in ("dashboard", "stream"):
                watchers.append(subprocess.Popen(["curl", "-s", "-N", base + "/v1/events", "-o", "/dev/null"]))
            if mode in ("dashboard", "polls"):
                def refresh():
                    tick = 0
                    while not stop.wait(1):
                        call(base + "/v1/tasks?limit=25")
                        call(base + "/v1/tasks?state=failed&limit=20")
                        if tick % 5 == 0:
                            call(base + "/v1/queues")
                        tick += 1

                threading.Thread(target=refresh, daemon=True).start()
            time.sleep(0.5)
            cpu = cpu_seconds(node.pid)
            began = time.monotonic()
            call(base + "/v1/queues/default/resume", "POST")
            while succeeded(base) < tasks:
                time.sleep(0.02)
            elapsed = time.monotonic() - began
            return tasks / elapsed, cpu_seconds(node.pid) - cpu
        finally:
            stop.set()
            for watcher in watchers:
                watcher.terminate()
            node.terminate()
            node.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baton", required=True)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="none,dashboard", help="none, dashboard, stream (the event stream alone), polls (the refreshes alone)")
    args = parser.parse_args()
    modes = args.modes.split(",")
    results = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            rate, cpu = run(args.baton, args.tasks, mode)
            results[mode].append((rate, cpu))
            print("%-9s %8.0f tasks/s  node CPU %.2f s" % (mode, rate, cpu), flush=True)
    for mode, runs in results.items():
        rate = statistics.median(rate for rate, _ in runs)
        cpu = statistics.median(cpu for _, cpu in runs)
        ratio = rate / statistics.median(r for r, _ in results["none"]) if "none" in results else float("nan")
        print("median %-9s %8.0f tasks/s  node CPU %.2f s  ratio to none %.3f" % (mode, rate, cpu, ratio))


if __name__ == "__main__":
    main()
