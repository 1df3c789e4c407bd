-- Baton schema, version 7: the cluster's event log, for GET /v1/events to stream the events of
-- every node (docs/api.md#events). Names are unqualified (see 001). Nodes append their events in
-- batches, each batch under a transaction advisory lock so that ids grow in commit order, and
-- only while a reader is registered in event_readers. The leader deletes events older than the
-- window and records the newest id it deleted in event_log_state, so that a reader whose cursor
-- is older learns that events were lost.
CREATE TABLE IF NOT EXISTS event_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    node text NOT NULL,
    type text NOT NULL,
    queue text,
    kind text,
    task uuid,
    workflow uuid,
    data text NOT NULL
);
CREATE INDEX IF NOT EXISTS event_log_at ON event_log (at);

-- One row per node that has (or recently had) a reader of the stream.
CREATE TABLE IF NOT EXISTS event_readers (
    node text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS event_log_state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_through bigint NOT NULL DEFAULT 0
);
INSERT INTO event_log_state (one) VALUES (true) ON CONFLICT DO NOTHING;
