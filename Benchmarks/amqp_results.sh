#!/usr/bin/env bash
# What Machinery's AMQP result backend costs (docs/benchmarks.md, "Machinery's AMQP result
# backend"): N Machinery `echo` signatures are published as Machinery's producer sends them with
# RabbitMQ as broker and result backend (its PENDING in each task's own queue, then the
# signature), then a release `baton standalone` on a fresh SQLite store takes them in
# (--amqp-ingest) and runs them with its in-process workers, with --amqp-results on and off,
# interleaved. Timed from the node's start until every task succeeded in the store, then until
# the node, sent SIGTERM, has exited (it writes the states still to write first). With the
# backend on, 200 tasks' queues are read back: each must end with SUCCESS. Run under
# scripts/with-rabbitmq.sh, after `swift build -c release --product baton` and
# scripts/python-venv.sh:
#
#   N=10000 ROUNDS=2 scripts/with-rabbitmq.sh Benchmarks/amqp_results.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BATON="${BATON_BIN:-$PWD/.build/release/baton}"
PY="$PWD/.build-venv/bin/python"
N=${N:-10000}
ROUNDS=${ROUNDS:-2}
WORK=$(mktemp -d -t baton-amqp-results.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for ROUND in $(seq 1 "$ROUNDS"); do
  for RESULTS in off on; do
    QUEUE="baton-bench.results.$ROUND.$RESULTS.$$"
    EXCHANGE="baton-bench.exchange.$$"
    rm -f "$WORK"/b.db* "$WORK/uuids"
    "$PY" - "$BATON_TEST_AMQP_URL" "$EXCHANGE" "$QUEUE" "$N" "$WORK/uuids" <<'PY'
import sys, uuid, json, pika
url, exchange, queue, n, uuids_file = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.exchange_declare(exchange=exchange, exchange_type="direct", durable=True)
channel.queue_declare(queue=queue, durable=True)
channel.queue_bind(queue=queue, exchange=exchange, routing_key=queue)
arguments = {"x-message-ttl": 3600000, "x-expires": 3600000}
properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
uuids = []
for i in range(n):
    task = "task_%s" % uuid.uuid4()
    uuids.append(task)
    channel.queue_declare(queue=task, durable=False, auto_delete=True, arguments=arguments)
    channel.queue_bind(queue=task, exchange=exchange, routing_key=task)
    pending = {"TaskUUID": task, "TaskName": "echo", "State": "PENDING", "Results": None, "Error": "",
               "CreatedAt": "2026-12-06T00:00:00Z", "TTL": 0}
    channel.basic_publish(exchange=exchange, routing_key=task, body=json.dumps(pending).encode(), properties=properties)
    body = ('{"UUID":"%s","Name":"echo","RoutingKey":"","ETA":null,"GroupUUID":"","GroupTaskCount":0,'
            '"Args":[{"Name":"","Type":"int64","Value":%d}],"Headers":{},"Priority":0,"Immutable":false,'
            '"RetryCount":0,"RetryTimeout":0,"OnSuccess":null,"OnError":null,"ChordCallback":null}') % (task, i)
    channel.basic_publish(exchange=exchange, routing_key=queue, body=body.encode(), properties=properties)
while channel.queue_declare(queue=queue, durable=True, passive=True).method.message_count < n:
    connection.sleep(0.05)
connection.close()
open(uuids_file, "w").write("\n".join(uuids))
PY
    FLAGS=()
    [ "$RESULTS" = on ] && FLAGS=(--amqp-results)
    start=$(date +%s.%N)
    "$BATON" standalone --db "$WORK/b.db" --port 0 --amqp-url "$BATON_TEST_AMQP_URL" --amqp-ingest "$QUEUE" \
      --amqp-exchange "$EXCHANGE" --amqp-binding-key "$QUEUE" "${FLAGS[@]}" > "$WORK/out" 2> "$WORK/err" &
    node=$!
    until [ -f "$WORK/b.db" ] && [ "$(sqlite3 "$WORK/b.db" "SELECT count(*) FROM tasks WHERE state = 'succeeded'" 2>/dev/null || echo 0)" = "$N" ]; do
      sleep 0.05
    done
    succeeded=$(date +%s.%N)
    kill -TERM "$node"
    wait "$node" || true
    ended=$(date +%s.%N)
    written=$(grep -ho 'written=[0-9]*' "$WORK/out" "$WORK/err" | tail -1 || true)
    checked=$("$PY" - "$BATON_TEST_AMQP_URL" "$WORK/uuids" "$RESULTS" "$QUEUE" <<'PY'
import sys, json, pika
url, uuids_file, results, queue = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
uuids = open(uuids_file).read().split("\n")
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
ended = 0
for task in uuids[:: max(1, len(uuids) // 200)][:200]:
    last = None
    while True:
        method, _, body = channel.basic_get(queue=task, auto_ack=True)
        if method is None:
            break
        last = json.loads(body)["State"]
    ended += last == "SUCCESS"
for task in uuids:
    channel.queue_delete(queue=task)
channel.queue_delete(queue=queue)
connection.close()
print("%d of 200 sampled queues end with SUCCESS" % ended)
PY
)
    python3 -c "print('results %s, round %s: %s tasks, succeeded after %.2f s (%.0f tasks/s), node stopped %.2f s later; %s; %s' % ('$RESULTS', '$ROUND', $N, $succeeded - $start, $N / ($succeeded - $start), $ended - $succeeded, '${written:-no results role}', '$checked'))"
  done
done
