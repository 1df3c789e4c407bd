"""The bare-SQL ceiling of a queue on PostgreSQL: no queue library, no task code, only the
claim and completion statements, driven by pgbench's C client with prepared statements.

  pg_limit.py [--seconds 6] [--clients 2 4]

Database bench_limit, table jobs (id bigserial, state, priority, run_at, payload jsonb) with a
partial index on (priority, run_at) WHERE state = 'available', refilled before every run and
then VACUUM ANALYZEd and CHECKPOINTed. Two row layouts: fifo (priority 0, run_at growing with
id: a backlog taken in insertion order) and random (priority 0-9, run_at anywhere in the last
hour: claims land all over the table). Two scripts:

  claim           one statement, so one transaction: take BATCH available rows in
                  (priority, run_at) order FOR UPDATE SKIP LOCKED and set them 'completed'
  claim_complete  one row, two transactions: take it and set it 'running' (commit), then set
                  it 'completed' (commit), as a worker does that holds no transaction open
                  while the task runs

Variants: claim batch 1 fifo, claim batch 100 fifo, claim_complete batch 1 fifo, claim batch
100 random; each with 2 and 4 pgbench clients (-j 2, -T SECONDS). One JSON line per run:
  {"system": "pg-limit-<script>-b<batch>-<layout>", "clients", "seconds", "tps",
   "rows_per_s", "latency_ms"}
rows_per_s counts the rows found 'completed' in the table afterwards, divided by pgbench's
time without connection set-up (transactions / tps). A run that empties the queue is not a
measurement: it is repeated on a larger table.
"""
import argparse
import os
import re
import subprocess
import urllib.parse

import psycopg

import peerlib

DATABASE = "bench_limit"
SCRIPTS = {
    "claim": """
WITH picked AS (
  SELECT id FROM jobs
   WHERE state = 'available' AND run_at <= now()
   ORDER BY priority, run_at
   LIMIT :batch
   FOR UPDATE SKIP LOCKED)
UPDATE jobs SET state = 'completed' FROM picked WHERE jobs.id = picked.id;
""",
    "claim_complete": """
WITH picked AS (
  SELECT id FROM jobs
   WHERE state = 'available' AND run_at <= now()
   ORDER BY priority, run_at
   LIMIT 1
   FOR UPDATE SKIP LOCKED)
UPDATE jobs SET state = 'running' FROM picked WHERE jobs.id = picked.id RETURNING jobs.id AS job \\gset
UPDATE jobs SET state = 'completed' WHERE id = :job;
""",
}
FILL = [  # one statement each: psycopg binds parameters statement by statement
    "DROP TABLE IF EXISTS jobs",
    """CREATE TABLE jobs (
         id       bigserial PRIMARY KEY,
         state    text NOT NULL,
         priority int NOT NULL,
         run_at   timestamptz NOT NULL,
         payload  jsonb)""",
    """INSERT INTO jobs (state, priority, run_at, payload)
       SELECT 'available',
              CASE WHEN %(fifo)s THEN 0 ELSE floor(random() * 10)::int END,
              CASE WHEN %(fifo)s THEN timestamptz '2000-01-01 00:00+00' + g * interval '1 millisecond'
                   ELSE now() - random() * interval '1 hour' END,
              jsonb_build_object('task', 'noop', 'n', g)
         FROM generate_series(1, %(rows)s) AS g""",
    "CREATE INDEX jobs_available ON jobs (priority, run_at) WHERE state = 'available'",
]
VARIANTS = [("claim", 1, "fifo"), ("claim", 100, "fifo"), ("claim_complete", 1, "fifo"), ("claim", 100, "random")]


def fill(rows, layout):
    with psycopg.connect(peerlib.pg_url(DATABASE), autocommit=True) as conn:
        with conn.transaction():
            for statement in FILL:
                conn.execute(statement, {"fifo": layout == "fifo", "rows": rows} if "%(" in statement else None)
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("CHECKPOINT")  # so that no checkpoint of the fill lands in the run


def counts():
    with psycopg.connect(peerlib.pg_url(DATABASE)) as conn:
        return conn.execute("SELECT count(*) FILTER (WHERE state = 'completed'), "
                            "count(*) FILTER (WHERE state = 'available') FROM jobs").fetchone()


def pgbench(script_path, batch, clients, seconds):
    url = urllib.parse.urlsplit(peerlib.pg_url(DATABASE))
    argv = [os.path.join(PG_BIN, "pgbench"), "-h", url.hostname, "-p", str(url.port), "-U", url.username,
            "-n", "-M", "prepared", "-f", script_path, "-D", f"batch={batch}",
            "-c", str(clients), "-j", str(min(2, clients)), "-T", str(seconds), url.path.lstrip("/")]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    def number(pattern):
        m = re.search(pattern, out)
        if not m:
            raise RuntimeError(f"pgbench output without {pattern!r}:\n{out}")
        return float(m.group(1))
    return (number(r"actually processed: (\d+)"), number(r"tps = ([\d.]+) \(without"),
            number(r"latency average = ([\d.]+) ms"))


def measure(script, batch, layout, clients, seconds):
    path = peerlib.state_dir("pg_limit", f"{script}.sql")
    with open(path, "w") as f:
        f.write(SCRIPTS[script])
    rows = seconds * (120_000 if batch > 1 else 12_000)
    for _ in range(4):
        fill(rows, layout)
        txns, tps, latency_ms = pgbench(path, batch, clients, seconds)
        completed, available = counts()
        if available > 0:
            peerlib.emit({"system": f"pg-limit-{script}-b{batch}-{layout}", "clients": clients,
                          "seconds": seconds, "tps": round(tps), "rows_per_s": round(completed / txns * tps),
                          "latency_ms": latency_ms})
            return
        rows = int(rows * 2.5)  # the queue ran dry: the figure would be capped by the fill
    raise RuntimeError(f"{script} b{batch} {layout}: the queue ran dry even with {rows:,} rows")


PG_BIN = os.environ.get("PG_BIN") or sorted(
    (os.path.join("/usr/lib/postgresql", v, "bin") for v in os.listdir("/usr/lib/postgresql")),
    key=lambda p: [int(x) for x in re.findall(r"\d+", p)])[-1]

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=6, help="length of each pgbench run (default 6)")
    p.add_argument("--clients", type=int, nargs="+", default=[2, 4], help="pgbench client counts (default 2 4)")
    a = p.parse_args()
    peerlib.ensure_database(DATABASE)
    for script, batch, layout in VARIANTS:
        for clients in a.clients:
            measure(script, batch, layout, clients, a.seconds)
