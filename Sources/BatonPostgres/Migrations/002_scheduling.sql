-- Baton schema, version 2: schedules, paused queues, unique tasks and idempotent submits.
-- The same semantics as the SQLite store's migration v2. Names are unqualified (see 001).

-- Named schedules. `last_fired` is the exactly-once guard: a fire advances it with a
-- compare-and-set in the transaction that inserts the tick's tasks.
CREATE TABLE schedules (
    name text PRIMARY KEY,
    -- The ScheduleDefinition as submitted (validated before it is stored).
    definition jsonb NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    last_fired timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Queues whose tasks claims skip; submits still work.
CREATE TABLE paused_queues (
    name text PRIMARY KEY,
    paused_at timestamptz NOT NULL
);

-- A repeated idempotency key answers the first outcome for 24 h; a different request under
-- the same key is refused. The result cleaner purges older keys.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    request_hash text NOT NULL,
    task_ids uuid[] NOT NULL,
    duplicates boolean[] NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Before version 2 the PostgreSQL store ignored unique keys, so several active tasks may share
-- one: the oldest keeps it and the others lose it (they still run), so that the index below
-- can be built.
UPDATE tasks AS t SET unique_key = NULL
WHERE t.unique_key IS NOT NULL AND t.state IN ('pending', 'ready', 'running') AND EXISTS (
    SELECT 1 FROM tasks AS o
    WHERE o.unique_key = t.unique_key AND o.state IN ('pending', 'ready', 'running') AND o.seq < t.seq);

-- The default unique scope, enforced by the database: one active task per key.
CREATE UNIQUE INDEX tasks_unique_active ON tasks (unique_key)
WHERE unique_key IS NOT NULL AND state IN ('pending', 'ready', 'running');

-- Finding a key's holder, active or within a unique window after submission.
CREATE INDEX tasks_unique_key ON tasks (unique_key, created_at) WHERE unique_key IS NOT NULL;
