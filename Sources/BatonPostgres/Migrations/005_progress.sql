-- Baton schema, version 5: the last progress a worker reported for a task (a fraction from 0
-- to 1, a message, when it was stored and for which attempt). Names are unqualified (see 001).
-- Nullable columns without defaults: added in place, no table rewrite.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS progress double precision;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS progress_message text;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS progress_at timestamptz;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS progress_attempt integer;
