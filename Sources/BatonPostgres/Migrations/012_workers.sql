-- Baton schema, version 12: the workers every node heard from, so that GET /v1/workers on
-- any node lists the whole fleet (docs/api.md#get-v1workers). Names are unqualified (see 001).
-- Each node writes the workers it heard from every few seconds; `info` is the worker's
-- description as GET /v1/workers answers it (JSON). Rows not seen for an hour are deleted.
CREATE TABLE IF NOT EXISTS workers (
    worker text PRIMARY KEY,
    info text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL
);
