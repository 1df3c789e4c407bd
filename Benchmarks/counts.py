#!/usr/bin/env python3
"""GET /v1/queues and GET /metrics against a large tasks table.

Starts `baton serve` on a fresh store (a temporary SQLite file, or the PostgreSQL URL given),
fills it with N ready tasks through POST /v1/tasks (batches of 10,000, 4 at a time), waits
until the counts cache has counted them, then times sequential GET /v1/queues and
GET /metrics requests (p50/p99) and reads the cost of the background count from the node's
own histogram (baton_store_op_seconds{op="counts"}). Prints one JSON line.

    Benchmarks/counts.py --bin .build/release/baton --tasks 1000000
    Benchmarks/counts.py --bin .build/release/baton --tasks 1000000 --store postgres://...
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, threading, time, urllib.request


def request(url, body=None, timeout=120):
    data = body.encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def timed(url, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        request(url)
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return {"p50": round(statistics.median(out), 2), "p99": round(out[int(len(out) * 0.99) - 1], 2), "n": n}


def op_counts(text):
    """(sum of seconds, count) of the node's background counts so far."""
    s = re.search(r'baton_store_op_seconds_sum\{op="counts"\} ([0-9.e+-]+)', text)
    c = re.search(r'baton_store_op_seconds_count\{op="counts"\} ([0-9.e+-]+)', text)
    return (float(s.group(1)), float(c.group(1))) if s and c else (0.0, 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--store")
    ap.add_argument("--interval", type=float, default=5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="baton-counts.")
    store = args.store or f"sqlite:{tmp}/baton.db"
    node = subprocess.Popen(
        [args.bin, "serve", "--store", store, "--port", "0", "--counts-interval", str(args.interval), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = node.stdout.readline().strip()
        batch = "[" + ",".join(['{"kind":"noop","queue":"q%d"}' % (i % 4) for i in range(10_000)]) + "]"
        batches = args.tasks // 10_000
        lock = threading.Lock()
        left = [batches]

        def submit():
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                request(url + "/v1/tasks", batch)

        start = time.perf_counter()
        threads = [threading.Thread(target=submit) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        enqueue_s = time.perf_counter() - start
        total = batches * 10_000
        # Wait for a count that includes every task.
        while True:
            queues = json.loads(request(url + "/v1/queues"))
            counted = sum(sum(q["counts"].values()) for q in queues["queues"])
            if counted >= total:
                break
            time.sleep(0.5)
        before = op_counts(request(url + "/metrics").decode())
        time.sleep(args.interval * 2.5)  # background counts of the whole table
        result = {
            "store": "postgres" if store.startswith("postgres") else "sqlite",
            "tasks": total,
            "enqueue_tasks_per_s": round(total / enqueue_s),
            "queues_ms": timed(url + "/v1/queues", 300),
            "metrics_ms": timed(url + "/metrics", 100),
        }
        after = op_counts(request(url + "/metrics").decode())
        if after[1] > before[1]:
            result["count_refresh_mean_ms"] = round((after[0] - before[0]) / (after[1] - before[1]) * 1000, 1)
            result["count_refreshes"] = int(after[1] - before[1])
        print(json.dumps(result))
    finally:
        node.terminate()
        node.wait(timeout=30)


if __name__ == "__main__":
    main()
