-- Baton schema, version 4: workflows. The same semantics as the SQLite store's migration v4
-- (see SQLiteTaskStore+workflows.swift for the columns; docs/workflows.md for the rules). Names are
-- unqualified (see 001); the trigger functions keep the migration's search_path, so they find
-- this schema's tables whatever the caller's search_path is. Every statement may run again over
-- its own result (IF NOT EXISTS, OR REPLACE), as the migration tests that step back do.

-- The `waiting` state: a task whose parents have not all settled.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_state_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_state_check
    CHECK (state IN ('waiting', 'pending', 'ready', 'running', 'succeeded', 'failed', 'cancelled'));

-- Constant defaults: adding them rewrites nothing.
ALTER TABLE tasks
    ADD COLUMN IF NOT EXISTS workflow_id uuid,
    ADD COLUMN IF NOT EXISTS node text,
    ADD COLUMN IF NOT EXISTS parents integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS pass text,
    ADD COLUMN IF NOT EXISTS waiting_on integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS dependents integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS blocked_by integer NOT NULL DEFAULT 0;

-- A waiting task holds its unique key, as every other live task does.
DROP INDEX IF EXISTS tasks_unique_active;
CREATE UNIQUE INDEX tasks_unique_active ON tasks (unique_key)
WHERE unique_key IS NOT NULL AND state IN ('waiting', 'pending', 'ready', 'running');

CREATE INDEX IF NOT EXISTS tasks_workflow ON tasks (workflow_id, seq) WHERE workflow_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS workflows (
    id uuid PRIMARY KEY,
    name text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

-- The edges. `blocked`: the parent finished in a way that can never satisfy the edge and the
-- dependent's policy does not ignore it (`ignores`: 1 failed, 2 cancelled);
-- `TaskDependency.satisfied` as SQL.
CREATE TABLE IF NOT EXISTS task_deps (
    child_id uuid NOT NULL,
    position integer NOT NULL,
    parent_id uuid NOT NULL,
    condition text NOT NULL CHECK (condition IN ('success', 'failure', 'always')),
    ignores integer NOT NULL DEFAULT 0,
    parent_state text,
    blocked boolean GENERATED ALWAYS AS (
        parent_state IS NOT NULL AND NOT (condition = 'always' OR (condition = 'success' AND parent_state = 'succeeded')
        OR (condition = 'failure' AND parent_state = 'failed') OR (parent_state = 'failed' AND (ignores & 1) <> 0)
        OR (parent_state = 'cancelled' AND (ignores & 2) <> 0))) STORED,
    PRIMARY KEY (child_id, position)
);

CREATE UNIQUE INDEX IF NOT EXISTS task_deps_edge ON task_deps (parent_id, child_id);

-- Settling and re-opening edges walk the dependents level by level in a loop, not by
-- triggers firing triggers: a cancel cascading down a chain of 10,000 waiting tasks is one
-- loop of 10,000 rounds, not 10,000 nested trigger calls (which would exhaust the stack).
-- The triggers that start the walks fire only for statements of the caller
-- (`pg_trigger_depth() < 1`): the walks' own updates never start another.

-- Settles the open edges of the finished tasks in `frontier`, then of the dependents that
-- this cancelled, and so on: each dependent's counter drops; the last edge releases it
-- (`ready`, or `pending` if its run_at is ahead); a blocked one cancels it. A release wakes
-- the claimers of every node. Also called by an enqueue for edges to parents that had
-- already finished.
CREATE OR REPLACE FUNCTION baton_settle_from(frontier uuid[]) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    next uuid[];
    e record;
    c record;
BEGIN
    WHILE cardinality(frontier) > 0 LOOP
        next := '{}';
        FOR e IN
            UPDATE task_deps AS d SET parent_state = p.state FROM tasks AS p
            WHERE d.parent_id = ANY(frontier) AND d.parent_state IS NULL AND p.id = d.parent_id
                AND p.state IN ('succeeded', 'failed', 'cancelled')
            RETURNING d.child_id, d.parent_id, d.parent_state, d.condition, d.blocked
        LOOP
            UPDATE tasks SET
                waiting_on = waiting_on - 1,
                blocked_by = blocked_by + CASE WHEN e.blocked AND (state = 'waiting' OR (state = 'cancelled' AND blocked_by > 0))
                    THEN 1 ELSE 0 END,
                state = CASE WHEN state <> 'waiting' THEN state WHEN e.blocked THEN 'cancelled' WHEN waiting_on > 1 THEN 'waiting'
                    WHEN run_at > now() THEN 'pending' ELSE 'ready' END,
                run_at = CASE WHEN state = 'waiting' AND NOT e.blocked AND waiting_on = 1 THEN greatest(run_at, now())
                    ELSE run_at END,
                finished_at = CASE WHEN state = 'waiting' AND e.blocked THEN now() ELSE finished_at END,
                last_error = CASE WHEN state = 'waiting' AND e.blocked THEN 'dependency not satisfied: parent ' || e.parent_id
                    || ' ended ' || e.parent_state || ' (edge on ' || e.condition || ')' ELSE last_error END
            WHERE id = e.child_id
            RETURNING state, waiting_on, blocked_by, dependents, queue INTO c;
            -- This edge made the move: it cancelled a waiting dependent (its first blocked
            -- edge), or it was the last one and released it.
            IF e.blocked AND c.state = 'cancelled' AND c.blocked_by = 1 AND c.dependents > 0 THEN
                next := next || e.child_id;
            ELSIF NOT e.blocked AND c.waiting_on = 0 AND c.state IN ('ready', 'pending') THEN
                PERFORM pg_notify('baton_ready', current_schema() || '/' || c.queue);
            END IF;
        END LOOP;
        frontier := next;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION baton_settle() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM baton_settle_from(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_settle ON tasks;
CREATE TRIGGER tasks_settle AFTER UPDATE OF state ON tasks FOR EACH ROW
WHEN (NEW.dependents > 0 AND NEW.state IN ('succeeded', 'failed', 'cancelled')
      AND OLD.state NOT IN ('succeeded', 'failed', 'cancelled') AND pg_trigger_depth() < 1)
EXECUTE FUNCTION baton_settle();

-- Re-opens the settled edges of the tasks in `frontier` (finished tasks that run again: an
-- operator retry) into dependents still waiting, or cancelled by their dependencies; a
-- dependent cancelled only by such edges waits again, and its own edges re-open in the next
-- round.
CREATE OR REPLACE FUNCTION baton_reopen_from(frontier uuid[]) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    next uuid[];
    e record;
    was record;
    c record;
BEGIN
    WHILE cardinality(frontier) > 0 LOOP
        next := '{}';
        FOR e IN
            WITH old AS (
                SELECT d.child_id, d.position, d.blocked FROM task_deps AS d
                WHERE d.parent_id = ANY(frontier) AND d.parent_state IS NOT NULL AND EXISTS (
                    SELECT 1 FROM tasks AS t WHERE t.id = d.child_id
                        AND (t.state = 'waiting' OR (t.state = 'cancelled' AND t.blocked_by > 0)))
                FOR UPDATE OF d
            )
            UPDATE task_deps AS d SET parent_state = NULL FROM old
            WHERE d.child_id = old.child_id AND d.position = old.position
            RETURNING d.child_id, old.blocked
        LOOP
            SELECT t.state, t.blocked_by INTO was FROM tasks AS t WHERE t.id = e.child_id FOR UPDATE;
            UPDATE tasks SET
                waiting_on = waiting_on + 1,
                blocked_by = blocked_by - CASE WHEN e.blocked AND blocked_by > 0 THEN 1 ELSE 0 END,
                state = CASE WHEN state = 'cancelled' AND e.blocked AND blocked_by = 1 THEN 'waiting' ELSE state END,
                finished_at = CASE WHEN state = 'cancelled' AND e.blocked AND blocked_by = 1 THEN NULL ELSE finished_at END,
                last_error = CASE WHEN state = 'cancelled' AND e.blocked AND blocked_by = 1 THEN NULL ELSE last_error END
            WHERE id = e.child_id
            RETURNING state, dependents INTO c;
            IF was.state = 'cancelled' AND c.state = 'waiting' AND c.dependents > 0 THEN
                next := next || e.child_id;
            END IF;
        END LOOP;
        frontier := next;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION baton_reopen() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM baton_reopen_from(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_reopen ON tasks;
CREATE TRIGGER tasks_reopen AFTER UPDATE OF state ON tasks FOR EACH ROW
WHEN (NEW.dependents > 0 AND OLD.state IN ('succeeded', 'failed', 'cancelled')
      AND NEW.state NOT IN ('succeeded', 'failed', 'cancelled') AND pg_trigger_depth() < 1)
EXECUTE FUNCTION baton_reopen();

-- A deleted task takes its incoming edges with it.
CREATE OR REPLACE FUNCTION baton_delete_edges() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM task_deps WHERE child_id = OLD.id;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_delete_edges ON tasks;
CREATE TRIGGER tasks_delete_edges AFTER DELETE ON tasks FOR EACH ROW WHEN (OLD.parents > 0)
EXECUTE FUNCTION baton_delete_edges();
