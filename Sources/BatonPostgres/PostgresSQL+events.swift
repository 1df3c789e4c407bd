/// The statements of the cluster's event log (migration 007), qualified with the store's schema.
extension PostgresSQL {
    var eventLogTable: String { qualifier + "event_log" }
    var eventReadersTable: String { qualifier + "event_readers" }
    var eventStateTable: String { qualifier + "event_log_state" }

    /// The channel of the event log's notifications; payloads are `schema/rows` (events were
    /// appended) and `schema/readers` (a reader registered).
    static let eventChannel = "baton_events"

    /// Appends one node's batch in the order given (held under ``eventAppendLock`` by the
    /// caller's transaction). `NULL`s travel as `''`. Binds: node, types, queues, kinds, tasks,
    /// workflows, data.
    var eventAppend: String {
        """
        INSERT INTO \(eventLogTable) (at, node, type, queue, kind, task, workflow, data) \
        SELECT clock_timestamp(), $1, u.t, NULLIF(u.q, ''), NULLIF(u.k, ''), NULLIF(u.ta, '')::uuid, NULLIF(u.w, '')::uuid, u.d \
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(t, q, k, ta, w, d, n) \
        ORDER BY u.n
        """
    }

    /// Wakes the readers of every node once the appending transaction commits.
    var eventNotifyRows: String { "SELECT pg_notify('\(Self.eventChannel)', '\(schema)/rows')" }

    /// The events after a cursor, with the newest pruned id (always one row; the event's
    /// columns are `NULL` when there is none). Binds: cursor, limit.
    var eventRead: String {
        """
        SELECT s.pruned_through, e.id, e.node, e.type, e.data FROM \(eventStateTable) AS s LEFT JOIN LATERAL (\
        SELECT id, node, type, data FROM \(eventLogTable) WHERE id > $1 ORDER BY id LIMIT $2) AS e ON true \
        ORDER BY e.id
        """
    }

    var eventLastID: String {
        "SELECT GREATEST((SELECT coalesce(max(id), 0) FROM \(eventLogTable)), (SELECT pruned_through FROM \(eventStateTable)))"
    }

    /// Registers a node's readers until a time; announced, it notifies every node. Binds: node,
    /// seconds, announce.
    var eventReaderRenew: String {
        """
        WITH up AS (INSERT INTO \(eventReadersTable) (node, expires_at) VALUES ($1, now() + $2 * interval '1 second') \
        ON CONFLICT (node) DO UPDATE SET expires_at = EXCLUDED.expires_at RETURNING 1) \
        SELECT pg_notify('\(Self.eventChannel)', '\(schema)/readers') FROM up WHERE $3::boolean
        """
    }

    var eventReadersActive: String {
        "SELECT EXISTS (SELECT 1 FROM \(eventReadersTable) WHERE expires_at > now())"
    }

    /// Deletes the oldest events, a prefix of the ids (everything up to the newest event older
    /// than the window, at most `limit` of them), and records the newest id deleted. Binds:
    /// seconds, limit.
    var eventPrune: String {
        """
        WITH cut AS (SELECT max(id) AS upto FROM \(eventLogTable) WHERE at < now() - $1 * interval '1 second'), \
        first AS (SELECT min(id) AS lo FROM \(eventLogTable)), \
        gone AS (DELETE FROM \(eventLogTable) WHERE id <= LEAST(coalesce((SELECT upto FROM cut), 0), (SELECT lo FROM first) + $2 - 1) RETURNING id), \
        mark AS (UPDATE \(eventStateTable) SET pruned_through = GREATEST(pruned_through, (SELECT max(id) FROM gone)) \
        WHERE EXISTS (SELECT 1 FROM gone) RETURNING 1) \
        SELECT count(*) FROM gone
        """
    }

    /// Forgets reader registrations that expired an hour ago.
    var eventReadersPrune: String {
        "DELETE FROM \(eventReadersTable) WHERE expires_at < now() - interval '1 hour'"
    }
}
