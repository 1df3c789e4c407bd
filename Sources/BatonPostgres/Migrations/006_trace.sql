-- Baton schema, version 6: the W3C traceparent of the span that submitted a task, set only
-- while tracing is on and handed to the worker with the claim (docs/operations.md#traces).
-- A nullable column without a default: added in place, no table rewrite.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS trace text;
