-- Baton schema, version 8: edges settled once per statement, not once per finished parent.
-- Names are unqualified (see 001); every statement may run again over its own result.
--
-- Version 4 settled a finished parent's edges from a row trigger: one call of
-- baton_settle_from, and one UPDATE of the dependent, per parent. An ack batch of 500 members
-- of one chord then updated the body's row 500 times in one transaction, each update walking
-- the row's growing chain of versions, while every other ack batch of that chord waited for
-- the row lock. Now a statement trigger settles the edges of all the tasks the statement
-- finished at once: one UPDATE of the edges, and one UPDATE per dependent with the number of
-- its edges that settled.
--
-- Exactness is unchanged: the edges' UPDATE settles only open edges (parent_state IS NULL),
-- each once, and the dependent's counter drops by the number this statement settled, under the
-- dependent's row lock.

-- Settles the open edges of the finished tasks in `frontier` (tasks not finished are skipped),
-- then of the dependents that this cancelled, and so on (the same rules as version 4, per dependent instead of per edge):
-- - the counter `waiting_on` drops by the number of edges settled;
-- - a waiting dependent with a blocked edge among them is cancelled (the message names one of
--   those edges), and its own edges settle in the next round;
-- - a waiting dependent whose last edges settled, none blocked, is released (`ready`, or
--   `pending` if its run_at is ahead), and the claimers of every node are woken;
-- - a dependent cancelled by its dependencies counts its new blocked edges too (an operator
--   retry of a parent can re-open them).
CREATE OR REPLACE FUNCTION baton_settle_from(frontier uuid[]) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    next uuid[];
    c record;
BEGIN
    WHILE cardinality(frontier) > 0 LOOP
        next := '{}';
        FOR c IN
            -- The parents are found by id alone, then their edges by parent: a condition on
            -- the parents' state in the same scan would let the planner walk the index of
            -- finished tasks instead, all of them, which it does when the statistics were taken
            -- while few tasks had finished (an autovacuum ANALYZE during a bulk submit made a
            -- chains drain 28 times slower that way).
            WITH parents AS MATERIALIZED (
                SELECT p.id, p.state FROM tasks AS p WHERE p.id = ANY(frontier)
            ), settled AS (
                UPDATE task_deps AS d SET parent_state = p.state FROM parents AS p
                WHERE d.parent_id = p.id AND d.parent_state IS NULL AND p.state IN ('succeeded', 'failed', 'cancelled')
                RETURNING d.child_id, d.parent_id, d.parent_state, d.condition, d.blocked
            ), per_child AS (
                SELECT child_id, count(*)::integer AS n, (count(*) FILTER (WHERE blocked))::integer AS nb,
                    min('dependency not satisfied: parent ' || parent_id || ' ended ' || parent_state
                        || ' (edge on ' || condition || ')') FILTER (WHERE blocked) AS reason
                FROM settled GROUP BY child_id
            )
            UPDATE tasks AS t SET
                waiting_on = t.waiting_on - s.n,
                blocked_by = t.blocked_by + CASE WHEN t.state = 'waiting' OR (t.state = 'cancelled' AND t.blocked_by > 0)
                    THEN s.nb ELSE 0 END,
                state = CASE WHEN t.state <> 'waiting' THEN t.state WHEN s.nb > 0 THEN 'cancelled'
                    WHEN t.waiting_on > s.n THEN 'waiting' WHEN t.run_at > now() THEN 'pending' ELSE 'ready' END,
                run_at = CASE WHEN t.state = 'waiting' AND s.nb = 0 AND t.waiting_on = s.n THEN greatest(t.run_at, now())
                    ELSE t.run_at END,
                finished_at = CASE WHEN t.state = 'waiting' AND s.nb > 0 THEN now() ELSE t.finished_at END,
                last_error = CASE WHEN t.state = 'waiting' AND s.nb > 0 THEN s.reason ELSE t.last_error END
            FROM per_child AS s
            WHERE t.id = s.child_id
            RETURNING t.id, t.state, t.waiting_on, t.blocked_by, t.dependents, t.queue, s.nb
        LOOP
            -- This statement made the move: it cancelled a waiting dependent (blocked_by was 0,
            -- now the blocked edges it settled), or settled its last edges and released it.
            IF c.nb > 0 AND c.state = 'cancelled' AND c.blocked_by = c.nb THEN
                IF c.dependents > 0 THEN
                    next := next || c.id;
                END IF;
            ELSIF c.nb = 0 AND c.waiting_on = 0 AND c.state IN ('ready', 'pending') THEN
                PERFORM pg_notify('baton_ready', current_schema() || '/' || c.queue);
            END IF;
        END LOOP;
        frontier := next;
    END LOOP;
END
$$;

-- The statement trigger: settles the edges of every task with dependents that the statement
-- left finished (an ack batch, a rescue, a cancel), together. It reads them from the
-- statement's transition table, so no function runs per row. A task that was finished already
-- has no open edges (edges settle when their parent finishes, or when they are added to a
-- finished parent), so settling it again changes nothing.
CREATE OR REPLACE FUNCTION baton_settle_updated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    finished uuid[];
BEGIN
    SELECT array_agg(id) INTO finished FROM baton_updated
    WHERE dependents > 0 AND state IN ('succeeded', 'failed', 'cancelled');
    IF finished IS NOT NULL THEN
        PERFORM baton_settle_from(finished);
    END IF;
    RETURN NULL;
END
$$;

-- Version 4's row trigger is replaced by the statement trigger.
DROP TRIGGER IF EXISTS tasks_settle ON tasks;
DROP FUNCTION IF EXISTS baton_settle();
DROP TRIGGER IF EXISTS tasks_settle_updated ON tasks;
CREATE TRIGGER tasks_settle_updated AFTER UPDATE ON tasks REFERENCING NEW TABLE AS baton_updated
FOR EACH STATEMENT WHEN (pg_trigger_depth() < 1)
EXECUTE FUNCTION baton_settle_updated();
