-- Baton schema, version 3: no index on `seq`. Names are unqualified (see 001).
--
-- A task changes state three times (ready, running, succeeded) and each change writes a new
-- row version with new entries in every index whose predicate it matches: no state change can
-- be a HOT update, since `state` is in the partial indexes' predicates. The primary key on
-- `seq` took one of those entries per version (a third of the index writes of a task's life)
-- and served no query: rows are found by `id` (its unique index) or, in the claim, by `ctid`;
-- `seq` is only the submission order inside `tasks_ready`, `tasks_pending` and sorts. It keeps
-- its identity default, so it stays unique in practice; `id` stays unique.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_pkey;
