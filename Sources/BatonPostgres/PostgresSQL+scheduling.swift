/// The statements of schedules, paused queues, unique tasks and idempotent submits
/// (migration 002), qualified with the store's schema.
extension PostgresSQL {
    var schedulesTable: String { qualifier + "schedules" }
    var pausedQueuesTable: String { qualifier + "paused_queues" }
    var idempotencyTable: String { qualifier + "idempotency_keys" }

    /// The class of the unique-key advisory locks (the two-`int4` form, so they never meet the
    /// single-`bigint` locks of leadership and migrations): "BATN".
    static let uniqueLockClass: Int32 = 0x4241_544E

    // MARK: Unique tasks

    /// Serialises the submits of each unique key until the transaction ends, so that the
    /// holder lookup and the insert that follows are one atomic step per key, whatever the
    /// scope. Binds: keys (distinct, sorted, so that two batches lock in the same order), schema.
    var uniqueLock: String {
        "SELECT pg_advisory_xact_lock(\(Self.uniqueLockClass), hashtext($2 || '/' || k)) FROM unnest($1::text[]) AS u(k)"
    }

    /// The newest task holding each key: active, or created within the window (seconds; -1:
    /// none) of the key's first task in the batch. Binds: keys, windows.
    var uniqueHolders: String {
        """
        SELECT \(Self.columns("h")) FROM unnest($1::text[], $2::float8[]) AS u(key, win) CROSS JOIN LATERAL (
            SELECT * FROM \(tasks) AS t
            WHERE t.unique_key = u.key AND (t.state IN \(Self.live) OR (u.win >= 0 AND t.created_at >= now() - u.win * interval '1 second'))
            ORDER BY t.seq DESC LIMIT 1
        ) AS h
        """
    }

    // MARK: Idempotency keys

    /// Takes the key for this transaction: inserted, or taken over when it expired. Returns a
    /// row only then; when another transaction holds the key uncommitted, waits for it first.
    /// Binds: key, request hash.
    var idempotencyClaim: String {
        """
        INSERT INTO \(idempotencyTable) AS k (key, request_hash, task_ids, duplicates, created_at) \
        VALUES ($1, $2, '{}', '{}', now())
        ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, task_ids = '{}', duplicates = '{}', \
        created_at = excluded.created_at
        WHERE k.created_at < excluded.created_at - interval '\(PostgresTaskStore.idempotencyKeyLifetimeHours) hours'
        RETURNING 1
        """
    }

    /// Binds: key. Returns: request hash, task ids, duplicate flags.
    var idempotencyLookup: String { "SELECT request_hash, task_ids, duplicates FROM \(idempotencyTable) WHERE key = $1" }

    /// Binds: key, task ids, duplicate flags.
    var idempotencyRecord: String { "UPDATE \(idempotencyTable) SET task_ids = $2, duplicates = $3 WHERE key = $1" }

    /// The tasks of these ids that still exist, in the order given. Binds: ids.
    var tasksByIDs: String {
        """
        SELECT \(Self.columns("t")) FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord) JOIN \(tasks) AS t ON t.id = u.id \
        ORDER BY u.ord
        """
    }

    // MARK: Schedules

    static let scheduleColumns = "name, definition::text, paused, last_fired, created_at, updated_at"

    /// Binds: name, definition JSON. No row when the name is taken.
    var scheduleInsert: String {
        """
        INSERT INTO \(schedulesTable) (name, definition, paused, last_fired, created_at, updated_at) \
        VALUES ($1, $2::jsonb, false, NULL, now(), now())
        ON CONFLICT (name) DO NOTHING RETURNING \(Self.scheduleColumns)
        """
    }

    /// Replacing keeps the creation time, the last tick and the paused flag. Binds: name, definition JSON.
    var scheduleReplace: String {
        """
        INSERT INTO \(schedulesTable) (name, definition, paused, last_fired, created_at, updated_at) \
        VALUES ($1, $2::jsonb, false, NULL, now(), now())
        ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at \
        RETURNING \(Self.scheduleColumns)
        """
    }

    var scheduleGet: String { "SELECT \(Self.scheduleColumns) FROM \(schedulesTable) WHERE name = $1" }
    /// Byte order, as the SQLite store lists them.
    var scheduleList: String { "SELECT \(Self.scheduleColumns) FROM \(schedulesTable) ORDER BY name COLLATE \"C\"" }
    var scheduleDelete: String { "DELETE FROM \(schedulesTable) WHERE name = $1 RETURNING 1" }
    /// Binds: paused, name.
    var scheduleSetPaused: String {
        "UPDATE \(schedulesTable) SET paused = $1, updated_at = now() WHERE name = $2 RETURNING \(Self.scheduleColumns)"
    }

    /// The compare-and-set of a fire; `IS NOT DISTINCT FROM` so that a NULL guard matches a
    /// NULL `last_fired`. A concurrent fire waits for the row and then finds it changed.
    /// Binds: new last fired, name, expected last fired.
    var scheduleAdvance: String {
        """
        UPDATE \(schedulesTable) SET last_fired = $1 WHERE name = $2 AND last_fired IS NOT DISTINCT FROM $3::timestamptz RETURNING 1
        """
    }

    // MARK: Paused queues

    var queuePause: String {
        "INSERT INTO \(pausedQueuesTable) (name, paused_at) VALUES ($1, now()) ON CONFLICT (name) DO NOTHING"
    }

    /// Resuming wakes the queue's claimers on every node. Binds: name, schema.
    var queueResume: String {
        """
        WITH r AS (DELETE FROM \(pausedQueuesTable) WHERE name = $1 RETURNING name AS queue)
        SELECT count(*), \(Self.notify(from: "r", schemaParam: "$2")) FROM r
        """
    }

    var queuePausedList: String { "SELECT name FROM \(pausedQueuesTable) ORDER BY name COLLATE \"C\"" }
}
