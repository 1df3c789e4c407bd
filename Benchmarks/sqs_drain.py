#!/usr/bin/env python3
"""Drain through SQS (moto) or Redis against drain over HTTP, in the same run (docs/benchmarks.md).

    .build-venv/bin/python Benchmarks/sqs_drain.py --baton .build/release/baton \
        [--tasks 2000] [--workers 2] [--concurrency 64] [--window 100] [--rounds 1] [--modes http,sqs] [--json]

Starts a private moto server (.build-venv/bin/moto_server) on a free port and, per round:

1. **http**: a fresh `baton serve` (SQLite in a temporary directory); N `echo` tasks
   submitted over HTTP (batches of 1,000) while no worker runs; then `--workers`
   `baton worker --server URL` processes start and the drain is timed from their start until
   `GET /v1/queues` counts N succeeded.
2. **sqs**: the same with the node dispatching the queue to an SQS work queue
   (`--sqs-dispatch default=WORK --sqs-results RESULTS --sqs-window W`) and the workers
   `baton worker --sqs-work WORK --sqs-results RESULTS`: every task crosses moto twice.
   **sqs-http** (only when named in `--modes http,sqs,sqs-http`): tasks through the SQS work
   queue, results over HTTP (`baton worker --sqs-work WORK --server URL`).
3. **sqs-counted** (once, after the rounds): the SQS drain again with moto behind a counting
   proxy, which records each call's operation (`X-Amz-Target`) and how long moto took to
   answer it (empty long polls apart: they wait, they do not work): where the time goes.
   The proxy adds its own cost, so this run's rate is not the figure; its calls per task and
   moto's time per call are.

**amqp** likewise with `--amqp-url` (or `BATON_TEST_AMQP_URL`, `scripts/with-rabbitmq.sh`):
`--amqp-dispatch default=QUEUE`, workers `--amqp-work QUEUE --server URL`.
**redis** (when named in `--modes`; needs `--redis-url`, or `BATON_TEST_REDIS_URL` as
`scripts/with-redis.sh` sets it): the node dispatching the queue to a Redis list
(`--redis-dispatch default=KEY --redis-window W`), the workers `baton worker --redis-work KEY
--server URL` (tasks through Redis, results over HTTP). moto starts only for SQS modes.
**machinery** (needs the Redis URL too): the node dispatching the queue to Machinery's workers
(`--redis-machinery-dispatch default=KEY`), the workers `--workers` processes of this script
standing in for Machinery's Go worker (`--machinery-worker`): each takes up to
`--concurrency` signatures at once (`BLPOP`, then `LPOP KEY N`) and writes each one's
`RECEIVED`, `STARTED` and `SUCCESS` states to the result backend in one pipeline, as a Go
worker with that many goroutines would (without the `GET` Machinery does before each `SET`).
The tasks' arguments are `[n]` in this mode (Machinery's arguments are positional).
**amqp-machinery** (needs the RabbitMQ URL): the node dispatching the queue to Machinery's
workers over RabbitMQ (`--amqp-machinery-dispatch default=QUEUE`), `--workers` processes of
this script standing in for Machinery's worker with RabbitMQ as broker and result backend
(`--amqp-machinery-worker`, Python's pika): each consumes the queue with a prefetch of
`--concurrency` and, per delivery, declares the attempt's state queue, binds it, publishes
`RECEIVED`, `STARTED` and `SUCCESS` through the exchange with publisher confirms, then
acknowledges (Machinery opens a connection for each state; the stand-in keeps one).

**Several nodes** (`--nodes N --store postgres://…`, or `BATON_TEST_POSTGRES_URL` as
`scripts/with-postgres.sh` sets it): N `baton serve --store URL?schema=FRESH` nodes on one new
PostgreSQL schema per drain, each with the mode's dispatch settings; the tasks are submitted
through the nodes in turn and worker i reports to node i mod N, so about half of the tasks one
node sends (N = 2) report their results through the other. The node CPU is all nodes'.
`--postgres` puts a single node on PostgreSQL too, for the comparison.

Prints a table (and with --json, one JSON object on the last line).
"""

import argparse
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    # Counts every 0.1 s, so that the drain's end is seen at once.
    "BATON_NODE_COUNTS_INTERVAL": "0.1",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port} after {timeout} s")


def start_moto():
    moto = os.path.join(ROOT, ".build-venv", "bin", "moto_server")
    if not os.access(moto, os.X_OK):
        raise SystemExit(f"{moto} not found: run scripts/python-venv.sh")
    port = free_port()
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


class CountingProxy:
    """Forwards every request to moto, counting calls and moto's answer time per operation."""

    def __init__(self, upstream_port):
        self.calls = defaultdict(int)
        self.seconds = defaultdict(float)
        self.lock = threading.Lock()
        proxy = self
        local = threading.local()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                op = (self.headers.get("X-Amz-Target") or "?").split(".")[-1]
                if not hasattr(local, "conn"):
                    local.conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                start = time.perf_counter()
                try:
                    local.conn.request("POST", self.path, body=body, headers=headers)
                    response = local.conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException):
                    local.conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                    local.conn.request("POST", self.path, body=body, headers=headers)
                    response = local.conn.getresponse()
                    data = response.read()
                took = time.perf_counter() - start
                if op == "ReceiveMessage":
                    # A long poll that found nothing waited, not worked: counted apart.
                    try:
                        carried = bool(json.loads(data or b"{}").get("Messages"))
                    except ValueError:
                        carried = True
                    op = "ReceiveMessage" if carried else "ReceiveMessage (empty)"
                with proxy.lock:
                    proxy.calls[op] += 1
                    proxy.seconds[op] += took
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that went away at the end of a run

        self.server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def cpu_seconds(pid):
    """User plus system CPU time of a process so far (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def sqs_client(endpoint):
    import boto3

    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def succeeded(url):
    with urllib.request.urlopen(url + "/v1/queues", timeout=10) as response:
        body = json.loads(response.read())
    for queue in body.get("queues", []):
        if queue.get("name") == "default":
            return queue.get("counts", {}).get("succeeded", 0)
    return 0


def drain(args, mode, endpoint=None, moto_pid=None):
    """One timed drain; returns (seconds, tasks/s, Baton CPU s, moto CPU s, node CPU s) of the drain (Baton's CPU
    is the node's and the workers'; in the machinery mode the workers are this script's stand-ins)."""
    tmp = tempfile.mkdtemp(prefix="baton-sqs-bench-")
    env = dict(os.environ, **AWS_ENV)
    procs = []
    try:
        if args.nodes > 1 or args.postgres:
            sep = "&" if "?" in args.store else "?"
            serve = [args.baton, "serve", "--store", f"{args.store}{sep}schema=bench_{int(time.time() * 1000)}", "--port", "0"]
        else:
            serve = [args.baton, "serve", "--db", os.path.join(tmp, "baton.db"), "--port", "0"]
        work_args = []
        if mode == "amqp":
            name = f"bench.work.{int(time.time() * 1000)}"
            serve += ["--amqp-url", args.amqp_url, "--amqp-dispatch", f"default={name}", "--amqp-window", str(args.window)]
            work_args = ["--amqp-url", args.amqp_url, "--amqp-work", name]
        elif mode == "redis":
            key = f"bench:work:{int(time.time() * 1000)}"
            serve += ["--redis-url", args.redis_url, "--redis-dispatch", f"default={key}", "--redis-window", str(args.window)]
            work_args = ["--redis-url", args.redis_url, "--redis-work", key]
        elif mode == "machinery":
            key = f"bench:machinery:{int(time.time() * 1000)}"
            serve += ["--redis-url", args.redis_url, "--redis-machinery-dispatch", f"default={key}",
                      "--redis-window", str(args.window)]
        elif mode == "amqp-machinery":
            stamp = int(time.time() * 1000)
            name, exchange = f"bench.machinery.{stamp}", f"bench.exchange.{stamp}"
            serve += ["--amqp-url", args.amqp_url, "--amqp-machinery-dispatch", f"default={name}", "--amqp-exchange", exchange,
                      "--amqp-machinery-states", f"bench.states.{stamp}", "--amqp-window", str(args.window)]
        elif mode != "http":
            client = sqs_client(endpoint)
            suffix = str(int(time.time() * 1000))[-8:]
            work = client.create_queue(QueueName=f"bench-work-{suffix}")["QueueUrl"]
            serve += ["--sqs-endpoint", endpoint, "--sqs-dispatch", f"default={work}", "--sqs-window", str(args.window)]
            work_args = ["--sqs-work", work, "--sqs-endpoint", endpoint]
            if mode != "sqs-http":
                # Results through SQS too; `sqs-http` workers report to the node over HTTP.
                results = client.create_queue(QueueName=f"bench-results-{suffix}")["QueueUrl"]
                serve += ["--sqs-results", results]
                work_args += ["--sqs-results", results]
        nodes, urls = [], []
        for _ in range(args.nodes):
            node = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
            procs.append(node)
            nodes.append(node)
            urls.append(node.stdout.readline().strip())
            if not urls[-1].startswith("http"):
                raise SystemExit(f"baton serve did not start ({mode})")
        url = urls[0]
        for batch, start in enumerate(range(0, args.tasks, 1000)):
            n = min(1000, args.tasks - start)
            task_args = (lambda i: [i]) if mode.endswith("machinery") else (lambda i: {"n": str(i)})
            post_json(urls[batch % len(urls)] + "/v1/tasks", [{"kind": "echo", "args": task_args(start + i)} for i in range(n)])
        def worker(i):
            if mode == "amqp-machinery":
                return [sys.executable, os.path.abspath(__file__), "--amqp-machinery-worker", name, "--exchange", exchange,
                        "--amqp-url", args.amqp_url, "--concurrency", str(args.concurrency)]
            if mode == "machinery":
                return [sys.executable, os.path.abspath(__file__), "--machinery-worker", key, "--redis-url", args.redis_url,
                        "--concurrency", str(args.concurrency)]
            command = [args.baton, "worker", "--concurrency", str(args.concurrency)]
            return command + (work_args if mode.startswith("sqs") and mode != "sqs-http" else work_args + ["--server", urls[i % len(urls)]])
        t0 = time.perf_counter()
        moto_cpu = cpu_seconds(moto_pid) if moto_pid else 0.0
        node_cpu = sum(cpu_seconds(n.pid) for n in nodes)
        for i in range(args.workers):
            procs.append(subprocess.Popen(worker(i) + ["--id", f"bench-{i}"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, env=env))
        deadline = time.time() + args.timeout
        while succeeded(url) < args.tasks:
            if time.time() > deadline:
                raise SystemExit(f"{mode}: the drain did not finish within {args.timeout} s ({succeeded(url)} of {args.tasks})")
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        node_cpu = sum(cpu_seconds(n.pid) for n in nodes) - node_cpu
        # Machinery mode's workers are this script's stand-ins, not Baton: only the nodes count.
        baton_cpu = node_cpu + (0.0 if mode.endswith("machinery") else sum(cpu_seconds(p.pid) for p in procs[len(nodes):]))
        moto_cpu = cpu_seconds(moto_pid) - moto_cpu if moto_pid else 0.0
        return seconds, args.tasks / seconds, baton_cpu, moto_cpu, node_cpu
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


class RESP:
    """Just enough of Redis's protocol for the Machinery worker stand-in."""

    def __init__(self, url):
        rest = url.split("://", 1)[1].split("/", 1)
        auth, _, hostport = rest[0].rpartition("@")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host or "127.0.0.1", int(port or 6379)))
        self.file = self.sock.makefile("rb")
        if auth:
            user, _, password = auth.partition(":")
            self.call(["AUTH", user, password] if user else ["AUTH", password])
        if len(rest) > 1 and rest[1]:
            self.call(["SELECT", rest[1]])

    @staticmethod
    def encode(command):
        out = [b"*%d\r\n" % len(command)]
        for arg in command:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    def reply(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.reply() for _ in commands]

    def call(self, command):
        return self.pipeline([command])[0]


def machinery_worker(key, url, concurrency):
    """Stands in for Machinery's Go worker (see the docstring): runs `echo` on the first argument."""
    redis = RESP(url)
    while True:
        popped = redis.call(["BLPOP", key, "1"])
        if not popped:
            continue
        messages = [popped[1]] + (redis.call(["LPOP", key, str(concurrency - 1)]) or [])
        commands = []
        for message in messages:
            signature = json.loads(message)
            uuid, name = signature["UUID"], signature["Name"]
            value = signature["Args"][0]["Value"] if signature["Args"] else None
            for state, results in (("RECEIVED", None), ("STARTED", None), ("SUCCESS", [{"Type": "int64", "Value": value}])):
                body = json.dumps({"TaskUUID": uuid, "TaskName": name, "State": state, "Results": results, "Error": "",
                                   "CreatedAt": "0001-01-01T00:00:00Z", "TTL": 0})
                commands.append(["SET", uuid, body, "EX", "3600"])
        redis.pipeline(commands)


def amqp_machinery_worker(queue, exchange, url, concurrency):
    """Stands in for Machinery's Go worker over RabbitMQ (see the docstring): runs `echo` on the first argument."""
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_qos(prefetch_count=concurrency)
    arguments = {"x-message-ttl": 3600000, "x-expires": 3600000}

    def run(ch, method, properties, body):
        signature = json.loads(body)
        uuid, name = signature["UUID"], signature["Name"]
        value = signature["Args"][0]["Value"] if signature["Args"] else None
        ch.queue_declare(queue=uuid, durable=False, auto_delete=True, arguments=arguments)
        ch.queue_bind(queue=uuid, exchange=exchange, routing_key=uuid)
        for state, results in (("RECEIVED", None), ("STARTED", None), ("SUCCESS", [{"Type": "int64", "Value": value}])):
            state_body = json.dumps({"TaskUUID": uuid, "TaskName": name, "State": state, "Results": results, "Error": "",
                                     "CreatedAt": "0001-01-01T00:00:00Z", "TTL": 0})
            ch.basic_publish(exchange=exchange, routing_key=uuid, body=state_body.encode(),
                             properties=pika.BasicProperties(content_type="application/json", delivery_mode=2))
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue=queue, on_message_callback=run)
    channel.start_consuming()


# The benchmark's own child processes (the stand-in workers it starts), by the flag they get first:
# the options each takes besides the flag itself, `--id` and `--concurrency`, and what it runs.
CHILD_MODES = {
    "--amqp-machinery-worker": (("--exchange", "--amqp-url"),
                                lambda w: amqp_machinery_worker(w.amqp_machinery_worker, w.exchange, w.amqp_url,
                                                                w.concurrency)),
    "--machinery-worker": (("--redis-url",),
                           lambda w: machinery_worker(w.machinery_worker, w.redis_url, w.concurrency)),
}


def run_child(mode):
    options, run = CHILD_MODES[mode]
    parser = argparse.ArgumentParser()
    for option in (mode, "--id") + options:
        parser.add_argument(option)
    parser.add_argument("--concurrency", type=int, default=64)
    try:
        run(parser.parse_args())
    except KeyboardInterrupt:
        pass


def main():
    if len(sys.argv) > 1 and sys.argv[1] in CHILD_MODES:
        run_child(sys.argv[1])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baton", default=os.path.join(ROOT, ".build", "release", "baton"))
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--no-count", action="store_true", help="skip the counted SQS run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--modes", default="http,sqs",
                        help="comma list of: http (no SQS), sqs (tasks and results through SQS), "
                             "sqs-http (tasks through SQS, results over HTTP), redis (tasks through a Redis list, results over HTTP), "
                             "machinery (Machinery's workers over Redis), amqp (tasks through RabbitMQ, results over HTTP), "
                             "amqp-machinery (Machinery's workers over RabbitMQ)")
    parser.add_argument("--redis-url", default=os.environ.get("BATON_TEST_REDIS_URL"))
    parser.add_argument("--amqp-url", default=os.environ.get("BATON_TEST_AMQP_URL"))
    parser.add_argument("--nodes", type=int, default=1, help="baton serve nodes on one PostgreSQL schema (needs --store)")
    parser.add_argument("--store", default=os.environ.get("BATON_TEST_POSTGRES_URL"), help="PostgreSQL URL for --nodes")
    parser.add_argument("--postgres", action="store_true", help="one node on PostgreSQL (--store) instead of SQLite")
    args = parser.parse_args()
    if (args.nodes > 1 or args.postgres) and not args.store:
        raise SystemExit("--nodes needs --store postgres://… (or run under scripts/with-postgres.sh)")
    if {"redis", "machinery"} & set(args.modes.split(",")) and not args.redis_url:
        raise SystemExit("the redis and machinery modes need --redis-url (or run under scripts/with-redis.sh)")
    if {"amqp", "amqp-machinery"} & set(args.modes.split(",")) and not args.amqp_url:
        raise SystemExit("the amqp and amqp-machinery modes need --amqp-url (or run under scripts/with-rabbitmq.sh)")

    uses_sqs = any(m.startswith("sqs") for m in args.modes.split(",")) or not args.no_count
    moto, endpoint = start_moto() if uses_sqs else (None, None)
    rows = []
    try:
        for round_ in range(1, args.rounds + 1):
            for mode in args.modes.split(","):
                seconds, rate, baton_cpu, moto_cpu, node_cpu = drain(args, mode, endpoint, moto.pid if moto else None)
                rows.append({"round": round_, "mode": mode, "seconds": round(seconds, 3), "tasks_per_s": round(rate, 1),
                             "baton_cpu_s": round(baton_cpu, 2), "node_cpu_s": round(node_cpu, 2),
                             "moto_cpu_s": round(moto_cpu, 2)})
                print(f"round {round_} {mode:5}: {args.tasks} tasks in {seconds:.2f} s = {rate:,.0f} tasks/s; "
                      f"CPU s: node {node_cpu:.2f}, node and workers {baton_cpu:.2f}, moto {moto_cpu:.2f}", file=sys.stderr)
        counted = None
        if not args.no_count:
            proxy = CountingProxy(int(endpoint.rsplit(":", 1)[1]))
            seconds, rate, _, moto_cpu, _ = drain(args, "sqs-counted", proxy.endpoint, moto.pid)
            proxy.stop()
            ops = {op: {"calls": proxy.calls[op], "per_task": round(proxy.calls[op] / args.tasks, 3),
                        "ms_per_call": round(1000 * proxy.seconds[op] / proxy.calls[op], 2),
                        "moto_seconds": round(proxy.seconds[op], 2)}
                   for op in sorted(proxy.calls, key=lambda o: -proxy.seconds[o])}
            busy = sum(v for k, v in proxy.seconds.items() if k != "ReceiveMessage (empty)")
            calls = sum(proxy.calls.values())
            counted = {"seconds": round(seconds, 3), "tasks_per_s": round(rate, 1), "operations": ops,
                       "moto_seconds": round(busy, 2), "calls": calls, "calls_per_task": round(calls / args.tasks, 3),
                       "moto_cpu_s": round(moto_cpu, 2), "moto_cpu_ms_per_call": round(1000 * moto_cpu / calls, 2)}
    finally:
        if moto:
            moto.terminate()
            moto.wait()

    modes = args.modes.split(",")
    rates = {mode: sorted(r["tasks_per_s"] for r in rows if r["mode"] == mode) for mode in modes}
    median = lambda xs: xs[len(xs) // 2] if xs else None
    for mode in modes:
        runs = [r for r in rows if r["mode"] == mode]
        cpu = sum(r["baton_cpu_s"] for r in runs) / len(runs)
        print(f"  {mode}: Baton CPU {1000 * cpu / args.tasks:.2f} ms per task"
              + (f", moto CPU {1000 * sum(r['moto_cpu_s'] for r in runs) / len(runs) / args.tasks:.2f} ms per task" if mode.startswith("sqs") else ""))
    http_median, sqs_median = median(rates.get("http", [])), median(rates.get("sqs", []))
    summary = {"tasks": args.tasks, "workers": args.workers, "concurrency": args.concurrency, "window": args.window,
               "nodes": args.nodes,
               "runs": rows, "http_median": http_median, "sqs_median": sqs_median,
               "sqs_http_median": median(rates.get("sqs-http", [])), "redis_median": median(rates.get("redis", [])),
               "amqp_median": median(rates.get("amqp", [])), "machinery_median": median(rates.get("machinery", [])),
               "sqs_over_http": round(sqs_median / http_median, 4) if http_median and sqs_median else None, "counted": counted}
    print(f"\ndrain of {args.tasks} echo tasks, {args.workers} workers x {args.concurrency}, window {args.window}"
          + (f", {args.nodes} nodes on PostgreSQL" if args.nodes > 1 else ""))
    for mode in modes:
        print(f"  {mode}: median {median(rates[mode]):,.0f} tasks/s")
    if summary["sqs_over_http"] is not None:
        print(f"  ratio SQS/HTTP: {summary['sqs_over_http']}")
    if http_median and summary["redis_median"]:
        summary["redis_over_http"] = round(summary["redis_median"] / http_median, 4)
        print(f"  ratio Redis/HTTP: {summary['redis_over_http']}")
    if http_median and summary["machinery_median"]:
        summary["machinery_over_http"] = round(summary["machinery_median"] / http_median, 4)
        print(f"  ratio Machinery workers/HTTP: {summary['machinery_over_http']}")
    if http_median and summary["amqp_median"]:
        summary["amqp_over_http"] = round(summary["amqp_median"] / http_median, 4)
        print(f"  ratio RabbitMQ/HTTP: {summary['amqp_over_http']}")
    if counted:
        print(f"  counted SQS run (through the proxy): {counted['tasks_per_s']:,.0f} tasks/s in {counted['seconds']} s; "
              f"moto answered calls that carried messages for {counted['moto_seconds']} s in all (calls overlap)")
        print(f"  {counted['calls']} calls ({counted['calls_per_task']} per task); moto's CPU: {counted['moto_cpu_s']} s, "
              f"{counted['moto_cpu_ms_per_call']} ms per call")
        print("  operation                      calls  per task  ms/call  moto s")
        for op, o in counted["operations"].items():
            print(f"  {op:28} {o['calls']:7}  {o['per_task']:8}  {o['ms_per_call']:7}  {o['moto_seconds']:6}")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
