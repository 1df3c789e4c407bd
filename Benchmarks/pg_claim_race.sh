#!/usr/bin/env bash
# Racing batch claimers on PostgreSQL: Baton's own claim statement (FOR UPDATE SKIP LOCKED,
# batches of 100, no acks) run by 1, 2, 4 and 8 concurrent connections with pgbench against a
# 1,000,000-task ready queue, against the same work done by one coalescing claimer (what a
# Baton node does: one statement per queue at a time, shared out to its workers).
#
#   scripts/with-postgres.sh Benchmarks/pg_claim_race.sh [.build/release/baton]
#
# Prints claimed rows/s per client count. Needs BATON_TEST_POSTGRES_URL and BATON_TEST_PG_CTL
# (pgbench and psql are taken from beside pg_ctl).
set -euo pipefail
BATON=${1:-.build/release/baton}
BIN=$(dirname "$BATON_TEST_PG_CTL")
URL="$BATON_TEST_POSTGRES_URL"
ROWS=${ROWS:-1000000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
SCHEMA=race
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$BATON" migrate --store "$URL?schema=$SCHEMA" >/dev/null
# Baton's claim statement as the store sends it (PostgresSQL.claim), binds written in.
cat >"$WORK/claim.sql" <<SQL
WITH queues AS (
    SELECT u.name FROM unnest(ARRAY['q']::text[]) AS u(name)
    WHERE NOT EXISTS (SELECT 1 FROM $SCHEMA.paused_queues AS pq WHERE pq.name = u.name)
), candidates AS (
    SELECT c.* FROM queues AS q CROSS JOIN LATERAL (
        SELECT r.ctid, r.seq, r.priority, r.run_at FROM $SCHEMA.tasks AS r
        WHERE r.state = 'ready' AND r.queue = q.name
        ORDER BY r.priority DESC, r.run_at, r.seq LIMIT 100 FOR UPDATE SKIP LOCKED
    ) AS c
), picked AS (
    SELECT ctid, row_number() OVER (ORDER BY priority DESC, run_at, seq) AS rn FROM candidates
    ORDER BY priority DESC, run_at, seq LIMIT 100
)
UPDATE $SCHEMA.tasks AS t SET state = 'running', attempt = t.attempt + 1,
    lease_token = md5(random()::text || clock_timestamp()::text),
    lease_expires_at = now() + interval '60 seconds', started_at = now(), lease_owner = 'w'
FROM picked WHERE t.ctid = picked.ctid;
SQL

fill() {
  "$BIN/psql" "$URL" -qAt -v ON_ERROR_STOP=1 <<SQL >/dev/null
TRUNCATE $SCHEMA.tasks;
INSERT INTO $SCHEMA.tasks (id, kind, queue, args, priority, state, max_attempts, run_at, created_at)
SELECT gen_random_uuid(), 'noop', 'q', '{}', 5, 'ready', 3, now() + g * interval '1 microsecond', now()
FROM generate_series(1, $ROWS) AS g;
VACUUM ANALYZE $SCHEMA.tasks;
SQL
}

echo "clients  claims/s  rows/s   (batches of 100 from a $ROWS-task ready queue, ${SECONDS_PER_RUN} s each, refilled before each run)"
for clients in 1 2 4 8; do
  fill
  out=$("$BIN/pgbench" "$URL" -n -f "$WORK/claim.sql" -c "$clients" -j "$clients" -T "$SECONDS_PER_RUN" 2>&1)
  tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  claimed=$("$BIN/psql" "$URL" -qAt -c "SELECT count(*) FROM $SCHEMA.tasks WHERE state = 'running'")
  left=$("$BIN/psql" "$URL" -qAt -c "SELECT count(*) FROM $SCHEMA.tasks WHERE state = 'ready'")
  awk -v c="$clients" -v t="$tps" -v n="$claimed" -v s="$SECONDS_PER_RUN" -v l="$left" \
    'BEGIN { printf "%7d  %8.0f  %7.0f   (%d still ready at the end)\n", c, t, n / s, l }'
done
"$BIN/psql" "$URL" -qAt -c "SET client_min_messages = warning; DROP SCHEMA $SCHEMA CASCADE" >/dev/null
