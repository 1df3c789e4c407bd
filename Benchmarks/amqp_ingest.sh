#!/usr/bin/env bash
# The RabbitMQ ingest's rate (docs/benchmarks.md, "RabbitMQ ingest"): N persistent messages are
# published to a durable queue first (pika, from .build-venv), then a release `baton serve` on a
# fresh SQLite store takes them in (--amqp-ingest); timed from the node's start until the queue
# is empty and every message's task is stored. Two forms: Baton's task JSON, and Machinery
# signatures as its AMQP broker publishes them. Run under scripts/with-rabbitmq.sh, after
# `swift build -c release --product baton` and scripts/python-venv.sh:
#
#   N=20000 ROUNDS=2 scripts/with-rabbitmq.sh Benchmarks/amqp_ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BATON="${BATON_BIN:-$PWD/.build/release/baton}"
PY="$PWD/.build-venv/bin/python"
N=${N:-20000}
ROUNDS=${ROUNDS:-2}
PREFETCH=${PREFETCH:-64}
WORK=$(mktemp -d -t baton-amqp-ingest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for FORM in baton machinery; do
  for ROUND in $(seq 1 "$ROUNDS"); do
    QUEUE="baton-bench.$FORM.$ROUND.$$"
    rm -f "$WORK"/b.db*
    "$PY" - "$BATON_TEST_AMQP_URL" "$QUEUE" "$N" "$FORM" <<'PY'
import sys, uuid, pika
url, queue, n, form = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.queue_declare(queue=queue, durable=True)
properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
for i in range(n):
    if form == "baton":
        body = '{"kind":"export","args":{"objectID":"%d"}}' % i
    else:
        body = ('{"UUID":"task_%s","Name":"add","RoutingKey":"","ETA":null,"GroupUUID":"","GroupTaskCount":0,'
                '"Args":[{"Name":"","Type":"int64","Value":%d}],"Headers":{},"Priority":0,"Immutable":false,'
                '"RetryCount":0,"RetryTimeout":0,"OnSuccess":null,"OnError":null,"ChordCallback":null}') % (uuid.uuid4(), i)
    channel.basic_publish(exchange="", routing_key=queue, body=body.encode(), properties=properties)
while channel.queue_declare(queue=queue, durable=True, passive=True).method.message_count < n:
    connection.sleep(0.05)
connection.close()
PY
    start=$(date +%s.%N)
    BATON_AMQP_URL="$BATON_TEST_AMQP_URL" BATON_AMQP_INGEST="$QUEUE" BATON_AMQP_EXCHANGE="" BATON_AMQP_PREFETCH="$PREFETCH" \
      "$BATON" serve --db "$WORK/b.db" --port 0 > "$WORK/out" 2> "$WORK/err" &
    node=$!
    until [ -f "$WORK/b.db" ] && [ "$(sqlite3 "$WORK/b.db" "SELECT count(*) FROM tasks" 2>/dev/null || echo 0)" = "$N" ]; do
      sleep 0.05
    done
    end=$(date +%s.%N)
    kill -TERM "$node"
    wait "$node" || true
    left=$("$PY" -c "
import sys, pika
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1])); ch = c.channel()
print(ch.queue_declare(queue=sys.argv[2], durable=True, passive=True).method.message_count); ch.queue_delete(queue=sys.argv[2]); c.close()
" "$BATON_TEST_AMQP_URL" "$QUEUE")
    python3 -c "print('%s round %s: %s messages, %s tasks stored, %s left in the queue, %.2f s, %.0f messages/s' % ('$FORM', '$ROUND', $N, $N, $left, $end - $start, $N / ($end - $start)))"
  done
done
