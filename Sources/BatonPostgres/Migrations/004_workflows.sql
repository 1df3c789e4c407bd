-- Baton schema, version 4: workflows. The same semantics as the SQLite store's migration v4
-- (see SQLiteTaskStore+workflows.swift for the columns and the four triggers). Names are
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

-- 1. A task with dependents finished: its open edges record how.
CREATE OR REPLACE FUNCTION baton_settle() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE task_deps SET parent_state = NEW.state WHERE parent_id = NEW.id AND parent_state IS NULL;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_settle ON tasks;
CREATE TRIGGER tasks_settle AFTER UPDATE OF state ON tasks FOR EACH ROW
WHEN (NEW.dependents > 0 AND NEW.state IN ('succeeded', 'failed', 'cancelled')
      AND OLD.state NOT IN ('succeeded', 'failed', 'cancelled'))
EXECUTE FUNCTION baton_settle();

-- 2. An edge settled: the dependent's counter drops; the last edge releases it, a blocked one
-- cancels it (which fires 1 for its own dependents). A release wakes the claimers of every node.
CREATE OR REPLACE FUNCTION baton_settle_edge() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    released text;
BEGIN
    UPDATE tasks SET
        waiting_on = waiting_on - 1,
        blocked_by = blocked_by + CASE WHEN NEW.blocked AND (state = 'waiting' OR (state = 'cancelled' AND blocked_by > 0))
            THEN 1 ELSE 0 END,
        state = CASE WHEN state <> 'waiting' THEN state WHEN NEW.blocked THEN 'cancelled' WHEN waiting_on > 1 THEN 'waiting'
            WHEN run_at > now() THEN 'pending' ELSE 'ready' END,
        run_at = CASE WHEN state = 'waiting' AND NOT NEW.blocked AND waiting_on = 1 THEN greatest(run_at, now()) ELSE run_at END,
        finished_at = CASE WHEN state = 'waiting' AND NEW.blocked THEN now() ELSE finished_at END,
        last_error = CASE WHEN state = 'waiting' AND NEW.blocked THEN 'dependency not satisfied: parent ' || NEW.parent_id
            || ' ended ' || NEW.parent_state || ' (edge on ' || NEW.condition || ')' ELSE last_error END
    WHERE id = NEW.child_id
    RETURNING CASE WHEN waiting_on = 0 AND state IN ('ready', 'pending') AND NOT NEW.blocked THEN queue END INTO released;
    IF released IS NOT NULL THEN
        PERFORM pg_notify('baton_ready', current_schema() || '/' || released);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS task_deps_settle ON task_deps;
CREATE TRIGGER task_deps_settle AFTER UPDATE OF parent_state ON task_deps FOR EACH ROW
WHEN (OLD.parent_state IS NULL AND NEW.parent_state IS NOT NULL)
EXECUTE FUNCTION baton_settle_edge();

-- 3. A finished task with dependents runs again (operator retry, or a dependent re-opened by
-- 4): the edges into dependents still waiting, or cancelled by their dependencies, open again.
CREATE OR REPLACE FUNCTION baton_reopen() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE task_deps AS d SET parent_state = NULL WHERE d.parent_id = NEW.id AND d.parent_state IS NOT NULL AND EXISTS (
        SELECT 1 FROM tasks AS c WHERE c.id = d.child_id AND (c.state = 'waiting' OR (c.state = 'cancelled' AND c.blocked_by > 0)));
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_reopen ON tasks;
CREATE TRIGGER tasks_reopen AFTER UPDATE OF state ON tasks FOR EACH ROW
WHEN (NEW.dependents > 0 AND OLD.state IN ('succeeded', 'failed', 'cancelled')
      AND NEW.state NOT IN ('succeeded', 'failed', 'cancelled'))
EXECUTE FUNCTION baton_reopen();

-- 4. An edge opened again: the dependent's counter rises; one cancelled only by such edges
-- waits again (and re-opens its own edges, by 3).
CREATE OR REPLACE FUNCTION baton_reopen_edge() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE tasks SET
        waiting_on = waiting_on + 1,
        blocked_by = blocked_by - CASE WHEN OLD.blocked AND blocked_by > 0 THEN 1 ELSE 0 END,
        state = CASE WHEN state = 'cancelled' AND OLD.blocked AND blocked_by = 1 THEN 'waiting' ELSE state END,
        finished_at = CASE WHEN state = 'cancelled' AND OLD.blocked AND blocked_by = 1 THEN NULL ELSE finished_at END,
        last_error = CASE WHEN state = 'cancelled' AND OLD.blocked AND blocked_by = 1 THEN NULL ELSE last_error END
    WHERE id = NEW.child_id;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS task_deps_reopen ON task_deps;
CREATE TRIGGER task_deps_reopen AFTER UPDATE OF parent_state ON task_deps FOR EACH ROW
WHEN (OLD.parent_state IS NOT NULL AND NEW.parent_state IS NULL)
EXECUTE FUNCTION baton_reopen_edge();

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
