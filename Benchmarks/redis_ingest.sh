#!/usr/bin/env bash
# The Redis ingest's rate (docs/benchmarks.md, "Redis ingest"): N messages are appended to a
# Redis list first (redis-cli --pipe), then a release `baton serve` on a fresh SQLite store
# takes them in (--redis-ingest); timed from the node's start until the list and its in-flight
# hash are empty. Two forms: Baton's task JSON, and Machinery signatures as its Redis broker
# writes them. Run under scripts/with-redis.sh, after `swift build -c release --product baton`:
#
#   N=100000 ROUNDS=2 scripts/with-redis.sh Benchmarks/redis_ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BATON="${BATON_BIN:-$PWD/.build/release/baton}"
read -r RH RP < <(python3 -c "import os,urllib.parse as u;p=u.urlparse(os.environ['BATON_TEST_REDIS_URL']);print(p.hostname, p.port)")
N=${N:-100000}
ROUNDS=${ROUNDS:-2}
WORK=$(mktemp -d -t baton-redis-ingest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
redis() { redis-cli -h "$RH" -p "$RP" "$@"; }

for FORM in baton machinery; do
  for ROUND in $(seq 1 "$ROUNDS"); do
    LIST="baton-bench:$FORM:$ROUND:$$"
    rm -f "$WORK"/b.db*
    python3 - "$LIST" "$N" "$FORM" > "$WORK/commands.resp" <<'PY'
import sys, uuid
key, n, form = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = sys.stdout
for i in range(n):
    if form == "baton":
        body = '{"kind":"export","args":{"objectID":"%d"}}' % i
    else:
        body = ('{"UUID":"task_%s","Name":"add","RoutingKey":"","ETA":null,"GroupUUID":"","GroupTaskCount":0,'
                '"Args":[{"Name":"","Type":"int64","Value":%d}],"Headers":{},"Priority":0,"Immutable":false,'
                '"RetryCount":0,"RetryTimeout":0,"OnSuccess":null,"OnError":null,"ChordCallback":null}') % (uuid.uuid4(), i)
    parts = ["RPUSH", key, body]
    out.write("*%d\r\n" % len(parts))
    for part in parts:
        out.write("$%d\r\n%s\r\n" % (len(part.encode()), part))
PY
    redis --pipe < "$WORK/commands.resp" > /dev/null
    pushed=$(redis LLEN "$LIST")
    start=$(date +%s.%N)
    BATON_REDIS_URL="redis://$RH:$RP" BATON_REDIS_INGEST="$LIST" "$BATON" serve --db "$WORK/b.db" --port 0 \
      > "$WORK/out" 2> "$WORK/err" &
    node=$!
    until [ "$(redis LLEN "$LIST")" = 0 ] && [ "$(redis HLEN "$LIST:baton:inflight")" = 0 ]; do sleep 0.05; done
    end=$(date +%s.%N)
    kill -TERM "$node"
    wait "$node" || true
    stored=$(sqlite3 "$WORK/b.db" "SELECT count(*) FROM tasks")
    python3 -c "print('%s round %s: %s messages, %s tasks stored, %.2f s, %.0f messages/s' % ('$FORM', '$ROUND', $pushed, $stored, $end - $start, $pushed / ($end - $start)))"
    redis DEL "$LIST" "$LIST:baton:seq" > /dev/null
  done
done
