#!/usr/bin/env python3
# The store ceiling: Baton's SQLite schema and its claim/complete statements with no scheduler
# around them (see docs/benchmarks.md, "The store's own ceiling"). Usage: python3 Benchmarks/rawsql.py [--v2]
# --v2: the terminal index as schema v2 had it (`state IN (...)`), to compare with v3's equalities.
# Ids are UUIDv7 text as Baton makes them (time-ordered, so lookups by id stay in cached pages).
import sqlite3, time, os, uuid, tempfile, sys
d = tempfile.mkdtemp(); path = os.path.join(d, "raw.db")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("""CREATE TABLE tasks (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, queue TEXT NOT NULL, args TEXT NOT NULL,
 priority INTEGER NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, run_at INTEGER NOT NULL,
 lease_owner TEXT, lease_token TEXT, lease_expires_at INTEGER, timeout REAL, retry TEXT, result TEXT, last_error TEXT, errors TEXT NOT NULL DEFAULT '[]',
 unique_key TEXT, tags TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER)""")
for s in ["CREATE INDEX tasks_ready ON tasks (queue, priority DESC, run_at, seq) WHERE state = 'ready'",
 "CREATE INDEX tasks_pending ON tasks (run_at) WHERE state = 'pending'",
 "CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE state = 'running'",
 "CREATE INDEX tasks_terminal ON tasks (finished_at) WHERE state IN ('succeeded','failed','cancelled')" if "--v2" in sys.argv else
 "CREATE INDEX tasks_terminal ON tasks (finished_at) WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled')",
 "CREATE UNIQUE INDEX tasks_unique_active ON tasks (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending','ready','running')",
 "CREATE INDEX tasks_unique_key ON tasks (unique_key, created_at) WHERE unique_key IS NOT NULL"]: db.execute(s)
N = 100000
def uuid7():
    ms = int(time.time() * 1000); r = int.from_bytes(os.urandom(10), "big")
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | ((r >> 62) & 0xFFF) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))))
rows = [(uuid7(), "noop", "default", "{}", 5, "ready", 10, 1, 1) for _ in range(N)]
t = time.perf_counter(); db.execute("BEGIN")
db.executemany("INSERT INTO tasks (id, kind, queue, args, priority, state, max_attempts, run_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
db.execute("COMMIT"); enq = time.perf_counter() - t
claim = """UPDATE tasks SET state='running', attempt=attempt+1, lease_token=lower(hex(randomblob(16))), lease_expires_at=?, started_at=?, lease_owner='w'
 FROM (SELECT seq AS rid FROM tasks INDEXED BY tasks_ready WHERE state='ready' AND queue='default' ORDER BY priority DESC, run_at, seq LIMIT 1000) AS p
 WHERE tasks.seq = p.rid RETURNING seq, id, kind, queue, args, priority, state, attempt, max_attempts, run_at, lease_owner, lease_token"""
complete = """UPDATE tasks SET state='succeeded', result=?, finished_at=?, lease_owner=NULL, lease_token=NULL, lease_expires_at=NULL
 WHERE id=? AND state='running' AND lease_token=?"""
t = time.perf_counter(); tc = 0; ta = 0; done = 0
while True:
    a = time.perf_counter(); db.execute("BEGIN IMMEDIATE"); got = db.execute(claim, (2, 1)).fetchall(); db.execute("COMMIT"); tc += time.perf_counter() - a
    if not got: break
    a = time.perf_counter(); db.execute("BEGIN IMMEDIATE"); db.executemany(complete, [("null", 3, r[1], r[11]) for r in got]); db.execute("COMMIT"); ta += time.perf_counter() - a
    done += len(got)
tot = time.perf_counter() - t
print(f"raw SQLite (python sqlite3, schema {'v2' if '--v2' in sys.argv else 'v3'}, Baton's statements): enqueue {N/enq:,.0f}/s; claim {done/tc:,.0f} rows/s; ack {done/ta:,.0f} rows/s; claim+ack {done/tot:,.0f} tasks/s")
db.close()
import shutil
shutil.rmtree(d)
