-- Baton schema, version 9: a workflow's members in a table of their own, not an index of tasks.
-- Names are unqualified (see 001); every statement may run again over its own result.
--
-- Version 4 found a workflow's tasks through the partial index tasks_workflow (workflow_id,
-- seq). PostgreSQL cannot update a row in place (HOT) when the update changes a column that an
-- index names, and `state` is named by the partial indexes' predicates: so every move of a
-- workflow task (released, claimed, finished) wrote a new entry into tasks_workflow too, and
-- bottom-up deletion cleaned the old ones. Measured on chains of 10: the drain ran 24 % faster
-- without that index (Benchmarks/analysis.md).
--
-- workflow_tasks is written once per member, when the task joins its workflow (the enqueue sets
-- workflow_id after the insert), and deleted with the task; claims and acks never touch it.
-- Triggers keep it, so every writer of tasks keeps it the same way.

CREATE TABLE IF NOT EXISTS workflow_tasks (
    workflow_id uuid NOT NULL,
    seq bigint NOT NULL,
    task_id uuid NOT NULL,
    PRIMARY KEY (workflow_id, seq)
);

INSERT INTO workflow_tasks (workflow_id, seq, task_id)
SELECT workflow_id, seq, id FROM tasks WHERE workflow_id IS NOT NULL
ON CONFLICT DO NOTHING;

-- A task joins its workflow: the enqueue's UPDATE that sets workflow_id (an insert that sets it
-- itself is covered too).
CREATE OR REPLACE FUNCTION baton_workflow_join() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO workflow_tasks (workflow_id, seq, task_id) VALUES (NEW.workflow_id, NEW.seq, NEW.id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_workflow_join ON tasks;
CREATE TRIGGER tasks_workflow_join AFTER UPDATE OF workflow_id ON tasks FOR EACH ROW
WHEN (NEW.workflow_id IS NOT NULL AND OLD.workflow_id IS DISTINCT FROM NEW.workflow_id)
EXECUTE FUNCTION baton_workflow_join();

DROP TRIGGER IF EXISTS tasks_workflow_join_insert ON tasks;
CREATE TRIGGER tasks_workflow_join_insert AFTER INSERT ON tasks FOR EACH ROW
WHEN (NEW.workflow_id IS NOT NULL)
EXECUTE FUNCTION baton_workflow_join();

-- A deleted task leaves its workflow.
CREATE OR REPLACE FUNCTION baton_workflow_leave() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM workflow_tasks WHERE workflow_id = OLD.workflow_id AND seq = OLD.seq;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_workflow_leave ON tasks;
CREATE TRIGGER tasks_workflow_leave AFTER DELETE ON tasks FOR EACH ROW
WHEN (OLD.workflow_id IS NOT NULL)
EXECUTE FUNCTION baton_workflow_leave();

DROP INDEX IF EXISTS tasks_workflow;
