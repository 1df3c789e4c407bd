import BatonCore

/// Every SQL statement the PostgreSQL store runs, in one place, qualified with the store's schema.
///
/// Times come from the database (`now()`, the transaction's start); arrays travel through
/// `unnest` so that a batch is one statement. Nullable values in arrays use sentinels
/// (PostgresNIO binds no arrays with NULL elements): `'NaN'` or `-1` for numbers, `''` for text.
struct PostgresSQL: Sendable {
    let schema: String
    /// What precedes a table's name: the quoted schema and a dot, or nothing for the
    /// statements that find their tables through the connection's `search_path`.
    let qualifier: String
    /// The schema-qualified tasks table.
    let tasks: String

    /// The states an operator retry (or a delete) starts from: the terminal ones.
    static let terminal = TaskLifecycle.sqlStates(TaskLifecycle.Transition.operatorRetry.from)
    /// The states a cancel starts from: the live ones.
    static let live = TaskLifecycle.sqlStates(TaskLifecycle.Transition.cancel.from)

    init(schema: String) {
        self.schema = schema
        self.qualifier = "\"\(schema)\"."
        self.tasks = qualifier + "tasks"
    }

    private init(unqualified: Void) {
        schema = ""
        qualifier = ""
        tasks = "tasks"
    }

    /// The hot statements' text without a schema, the same for every store, so that it can be
    /// prepared once per connection (``PreparedHotStatement``); the store's hot pool sets
    /// `search_path` to its schema.
    static let searchPath = PostgresSQL(unqualified: ())

    /// The columns `TaskRecord(row:)` reads, in this order, of the row aliased `alias`.
    static func columns(_ a: String) -> String {
        """
        \(a).seq, \(a).id, \(a).kind, \(a).queue, \(a).args, \(a).priority, \(a).state, \(a).attempt, \(a).max_attempts, \
        \(a).run_at, \(a).lease_owner, \(a).lease_token, \(a).lease_expires_at, \(a).timeout, \(a).retry, \(a).result, \
        \(a).last_error, \(a).errors::text, \(a).unique_key, \(a).tags::text, \(a).created_at, \(a).started_at, \(a).finished_at, \
        \(a).workflow_id, \(a).node, \(a).parents, \(a).pass, \(a).trace
        """
    }

    /// Sends one notification per distinct queue of the rows of `cte` (a ready-making CTE with
    /// a `queue` column). As a scalar subquery it runs once per statement; `pg_notify` is
    /// volatile, so the planner never drops it. Delivered at commit. `$schemaParam` is the
    /// bind holding the schema name.
    static func notify(from cte: String, schemaParam: String, where condition: String = "TRUE") -> String {
        """
        (SELECT count(*) FROM (SELECT pg_notify('\(PostgresTaskStore.notifyChannel)', \(schemaParam) || '/' || q.queue) \
        FROM (SELECT DISTINCT queue FROM \(cte) WHERE \(condition)) AS q) AS n)
        """
    }

    // MARK: Enqueue

    /// Inserts a batch. Binds: ids, kinds, queues, args, priorities, max attempts, run_at as
    /// epoch seconds ('NaN': none), delays in seconds (-1: none), timeouts (-1: none), retry
    /// JSON (''), unique keys (''), tags JSON, schema, traceparents (''). Returns the rows plus
    /// a last column.
    /// Delayed tasks notify too: a claimer sleeping until the next due time must learn of an
    /// earlier one.
    var enqueue: String { enqueue(linked: false) }

    /// The insert of a batch with workflows or parents: the same, and each task's workflow
    /// columns set as it is inserted (a task with parents `waiting`), so that no row is written
    /// twice. More binds: workflow ids (text, '': none), nodes (''), parent counts, passes (''),
    /// and the dependents each task has among the batch.
    var enqueueLinked: String { enqueue(linked: true) }

    private func enqueue(linked: Bool) -> String {
        let (extraTypes, extraNames, extraColumns, extraValues) =
            linked
            ? (
                ", $15::text[], $16::text[], $17::int[], $18::text[], $19::int[]", ", workflow, node, parents, pass, dependents",
                ", workflow_id, node, parents, waiting_on, pass, dependents",
                ", NULLIF(workflow, '')::uuid, NULLIF(node, ''), parents, parents, NULLIF(pass, ''), dependents"
            ) : ("", "", "", "")
        let state = (linked ? "WHEN parents > 0 THEN 'waiting' " : "") + "WHEN run_at > now() THEN 'pending' ELSE 'ready'"
        return """
            WITH input AS (
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::float8[], \
            $8::float8[], $9::float8[], $10::text[], $11::text[], $12::text[], $14::text[]\(extraTypes)) WITH ORDINALITY \
            AS i(id, kind, queue, args, priority, max_attempts, run_at_epoch, delay, timeout, retry, unique_key, tags, trace\(extraNames), ord)
            ), timed AS (
                SELECT i.*, CASE WHEN i.delay >= 0 THEN now() + i.delay * interval '1 second' \
            WHEN i.run_at_epoch <> 'NaN' THEN greatest(now(), to_timestamp(i.run_at_epoch)) ELSE now() END AS run_at FROM input AS i
            ), ins AS (
                INSERT INTO \(tasks) AS t (id, kind, queue, args, priority, state, max_attempts, run_at, timeout, retry, unique_key, \
            tags, created_at, trace\(extraColumns))
                SELECT id, kind, queue, args, priority, CASE \(state) END, max_attempts, run_at, \
            NULLIF(timeout, -1), NULLIF(retry, ''), NULLIF(unique_key, ''), tags::jsonb, now(), NULLIF(trace, '')\(extraValues) \
            FROM timed ORDER BY ord
                RETURNING \(Self.columns("t"))
            )
            SELECT ins.*, \(Self.notify(from: "ins", schemaParam: "$13")) FROM ins
            """
    }

    // MARK: Claim

    /// The hot path, one statement. Per queue (a lateral subquery, so each range of the ready
    /// index is read in order), the ready tasks and the due pending tasks, each branch in claim
    /// order (priority, then `run_at`, then submission), limited and locked with `SKIP LOCKED`;
    /// merged in claim order, numbered, limited, and each given to the share whose cumulative
    /// maximum covers its number. The due pending tasks are read from the pending index's due
    /// range and sorted (a top-N sort over the tasks due now, which are few unless workers fall
    /// behind a backlog of retries); taking the earliest by `run_at` instead would claim a
    /// low-priority task before a higher one that came due later.
    ///
    /// Paused queues (`paused_queues`) are left out before either branch reads an index.
    ///
    /// The picked rows are updated by `ctid` (a TID scan, no index): they are locked by this
    /// statement, so their row versions cannot change under it.
    ///
    /// Binds: queues, kinds (empty: any), total, lease seconds, share owners, cumulative maxima.
    var claim: String {
        """
        WITH queues AS (
            SELECT u.name FROM unnest($1::text[]) AS u(name)
            WHERE NOT EXISTS (SELECT 1 FROM \(pausedQueuesTable) AS pq WHERE pq.name = u.name)
        ), candidates AS (
            SELECT c.* FROM queues AS q CROSS JOIN LATERAL (
                SELECT r.ctid, r.seq, r.priority, r.run_at FROM \(tasks) AS r
                WHERE r.state = 'ready' AND r.queue = q.name AND (cardinality($2::text[]) = 0 OR r.kind = ANY($2::text[]))
                ORDER BY r.priority DESC, r.run_at, r.seq LIMIT $3 FOR UPDATE SKIP LOCKED
            ) AS c
            UNION ALL
            SELECT d.* FROM queues AS q CROSS JOIN LATERAL (
                SELECT p.ctid, p.seq, p.priority, p.run_at FROM \(tasks) AS p
                WHERE p.state = 'pending' AND p.queue = q.name AND p.run_at <= now() \
        AND (cardinality($2::text[]) = 0 OR p.kind = ANY($2::text[]))
                ORDER BY p.priority DESC, p.run_at, p.seq LIMIT $3 FOR UPDATE SKIP LOCKED
            ) AS d
        ), picked AS (
            SELECT ctid, row_number() OVER (ORDER BY priority DESC, run_at, seq) AS rn FROM candidates
            ORDER BY priority DESC, run_at, seq LIMIT $3
        )
        UPDATE \(tasks) AS t SET state = 'running', attempt = t.attempt + 1, \
        lease_token = md5(random()::text || clock_timestamp()::text), \
        lease_expires_at = now() + $4::float8 * interval '1 second', started_at = now(), \
        lease_owner = ($5::text[])[(SELECT count(*) FROM unnest($6::bigint[]) AS s(cum) WHERE s.cum < picked.rn)::int + 1]
        FROM picked WHERE t.ctid = picked.ctid
        RETURNING \(Self.columns("t"))
        """
    }

    // MARK: Acks, heartbeats, releases

    /// Completions, each fenced by id, state and token. Binds: ids, tokens, results.
    /// Returns per input row: ordinal, applied, exists.
    ///
    /// Existence is looked up only for the rows not applied (`OR` short-circuits), by a scalar
    /// subquery on the id index: an `EXISTS` here is planned as a hashed subplan, which reads
    /// the whole table on every batch (a seq scan of 100,000 rows per 1,000 acks).
    ///
    /// The rows are found by id. The state to match comes from the materialized `input` CTE,
    /// not from a literal: with `t.state = 'running'` written out, the planner proves the
    /// `tasks_running_lease` partial index usable and hashes every running task for each
    /// batch, which costs the whole running set per batch (2,000 rows for 50 acks: 2.8 ms
    /// against 1.6 ms by id, measured with EXPLAIN ANALYZE).
    ///
    /// `reporting` adds, per row, the ended attempt's `attempt, queue, kind` and its run time
    /// in seconds (`endedAttemptColumns`; NULLs for an ack not applied).
    func complete(reporting: Bool) -> String {
        """
        WITH input AS (SELECT i.*, 'running'::text AS running FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY \
        AS i(id, token, result, ord)),
        done AS (
            UPDATE \(tasks) AS t SET state = 'succeeded', result = i.result, finished_at = now(), lease_owner = NULL, \
        lease_token = NULL, lease_expires_at = NULL
            FROM input AS i WHERE t.id = i.id AND t.state = i.running AND t.lease_token = i.token
            RETURNING i.ord\(reporting ? ", " + Self.endedAttemptColumns(table: "t") : "")
        )
        SELECT i.ord, d.ord IS NOT NULL, d.ord IS NOT NULL OR (SELECT true FROM \(tasks) AS x WHERE x.id = i.id) IS NOT NULL\
        \(reporting ? ", d.attempt, d.queue, d.kind, d.ran" : "")
        FROM input AS i LEFT JOIN done AS d ON d.ord = i.ord ORDER BY i.ord
        """
    }

    /// What the event stream says of an ended attempt: `attempt, queue, kind, ran` (seconds
    /// from the claim to now, NULL if it has no claim time).
    static func endedAttemptColumns(table: String) -> String {
        "\(table).attempt, \(table).queue, \(table).kind, extract(epoch FROM now() - \(table).started_at)::float8 AS ran"
    }

    /// What deciding a failure needs, locked for the transaction. Binds: ids.
    /// Returns: seq, id, state, lease_token, max_attempts, retry, now(), then the
    /// `endedAttemptColumns` (attempt, queue, kind, ran).
    var failLookup: String {
        """
        SELECT seq, id, state, lease_token, max_attempts, retry, now(), \(Self.endedAttemptColumns(table: tasks)) FROM \(tasks) \
        WHERE id = ANY($1::uuid[]) FOR UPDATE
        """
    }

    /// Records failed attempts of running tasks. Binds: ids, next states ('pending' or
    /// 'failed'), run_at epochs ('NaN': keep), messages, attempt-error JSON.
    var recordFailures: String {
        """
        UPDATE \(tasks) AS t SET state = i.state, run_at = CASE WHEN i.run_at_epoch <> 'NaN' THEN to_timestamp(i.run_at_epoch) \
        ELSE t.run_at END, finished_at = CASE WHEN i.state = 'failed' THEN now() END, lease_owner = NULL, lease_token = NULL, \
        lease_expires_at = NULL, last_error = i.message, errors = t.errors || jsonb_build_array(i.error::jsonb)
        FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::text[], $5::text[]) AS i(id, state, run_at_epoch, message, error)
        WHERE t.id = i.id AND t.state = 'running'
        """
    }

    /// Wakes the claimers of these queues. Binds: queues, schema.
    var notifyQueues: String {
        "SELECT pg_notify('\(PostgresTaskStore.notifyChannel)', $2 || '/' || q) FROM (SELECT DISTINCT unnest($1::text[]) AS q) AS s"
    }

    /// Extends leases. Binds: ids, tokens, lease seconds. Returns per input row: ordinal,
    /// new expiry (NULL if not extended), current state and token (NULL if no such task).
    var heartbeat: String {
        """
        WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS i(id, token, ord)),
        ext AS (
            UPDATE \(tasks) AS t SET lease_expires_at = now() + $3::float8 * interval '1 second'
            FROM input AS i WHERE t.id = i.id AND t.state = 'running' AND t.lease_token = i.token
            RETURNING i.ord, t.lease_expires_at
        )
        SELECT i.ord, e.lease_expires_at, x.state, x.lease_token
        FROM input AS i LEFT JOIN ext AS e ON e.ord = i.ord LEFT JOIN \(tasks) AS x ON x.id = i.id ORDER BY i.ord
        """
    }

    /// The input rows whose lease is still the task's (running under that token). Binds: ids,
    /// tokens. Returns their ordinals.
    var leasesHeld: String {
        """
        SELECT i.ord FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS i(id, token, ord) \
        JOIN \(tasks) AS t ON t.id = i.id AND t.state = 'running' AND t.lease_token = i.token
        """
    }

    /// Back to ready without using an attempt. Binds: ids, tokens, schema. Returns the count.
    var release: String {
        """
        WITH r AS (
            UPDATE \(tasks) AS t SET state = 'ready', attempt = t.attempt - 1, lease_owner = NULL, lease_token = NULL, \
        lease_expires_at = NULL
            FROM unnest($1::uuid[], $2::text[]) AS i(id, token)
            WHERE t.id = i.id AND t.state = 'running' AND t.lease_token = i.token
            RETURNING t.queue
        )
        SELECT count(*), \(Self.notify(from: "r", schemaParam: "$3")) FROM r
        """
    }

    // MARK: Operator actions and reads

    /// Keeps the lease token so that the running worker's heartbeat can learn of the cancel.
    var cancel: String {
        """
        UPDATE \(tasks) AS t SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL
        WHERE t.id = $1 AND t.state IN \(Self.live) RETURNING \(Self.columns("t"))
        """
    }

    var stateOf: String { "SELECT state FROM \(tasks) WHERE id = $1" }

    /// Binds: id, schema.
    var retry: String {
        """
        WITH r AS (
            UPDATE \(tasks) AS t SET state = 'ready', run_at = now(), max_attempts = greatest(t.max_attempts, t.attempt + 1), \
        finished_at = NULL, result = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE t.id = $1 AND t.state IN \(Self.terminal) RETURNING \(Self.columns("t"))
        )
        SELECT r.*, pg_notify('\(PostgresTaskStore.notifyChannel)', $2 || '/' || r.queue) FROM r
        """
    }

    var delete: String { "DELETE FROM \(tasks) WHERE id = $1 AND state IN \(Self.terminal) RETURNING seq" }

    var get: String { "SELECT \(Self.columnsWithProgress("t")) FROM \(tasks) AS t WHERE t.id = $1" }

    /// ``columns(_:)`` and the progress columns (read by `TaskRecord(postgres:)` when present):
    /// what reads for people select; the hot statements leave progress out.
    static func columnsWithProgress(_ a: String) -> String {
        columns(a) + ", \(a).progress, \(a).progress_message, \(a).progress_at, \(a).progress_attempt"
    }

    /// Stores progress reports of current leases, at most one per task per
    /// `TaskHeartbeatParams.progressInterval`. Binds: ids, tokens, fractions, messages ('' for
    /// none), the interval in seconds.
    var heartbeatProgress: String {
        """
        UPDATE \(tasks) AS t SET progress = u.fraction, progress_message = NULLIF(u.message, ''), progress_at = now(), \
        progress_attempt = t.attempt
        FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::text[]) AS u(id, token, fraction, message)
        WHERE t.id = u.id AND t.state = 'running' AND t.lease_token = u.token
          AND (t.progress_at IS NULL OR t.progress_at <= now() - $5::float8 * interval '1 second')
        """
    }

    /// Binds in order: cursor, states, queue, kind (each only if present), then the limit.
    func list(hasCursor: Bool, hasStates: Bool, hasQueue: Bool, hasKind: Bool, hasTag: Bool = false) -> String {
        var conditions: [String] = []
        var n = 0
        func next() -> String {
            n += 1
            return "$\(n)"
        }
        if hasCursor { conditions.append("t.id < \(next())") }
        if hasStates { conditions.append("t.state = ANY(\(next())::text[])") }
        if hasQueue { conditions.append("t.queue = \(next())") }
        if hasKind { conditions.append("t.kind = \(next())") }
        if hasTag { conditions.append("t.tags @> jsonb_build_array(\(next())::text)") }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return "SELECT \(Self.columnsWithProgress("t")) FROM \(tasks) AS t\(filter) ORDER BY t.id DESC LIMIT \(next())"
    }

    var queueCounts: String { "SELECT queue, state, count(*), min(run_at) FROM \(tasks) GROUP BY queue, state" }

    // MARK: Maintenance

    /// Expired leases, locked (skipping those another rescuer holds). Binds: limit.
    /// Returns: id, attempt, max_attempts, retry, queue, now(), kind.
    var expiredLeases: String {
        """
        SELECT id, attempt, max_attempts, retry, queue, now(), kind FROM \(tasks)
        WHERE state = 'running' AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
        """
    }

    /// Also purges idempotency keys past their lifetime. Binds: cutoff, limit. Returns the count.
    var deleteFinished: String {
        """
        WITH d AS (
            DELETE FROM \(tasks) WHERE id IN (
                SELECT id FROM \(tasks) AS f WHERE state IN \(Self.terminal) AND finished_at < $1 AND (f.dependents = 0 \
        OR NOT EXISTS (SELECT 1 FROM \(qualifier)task_deps AS d JOIN \(tasks) AS c ON c.id = d.child_id \
        WHERE d.parent_id = f.id AND c.state NOT IN \(Self.terminal))) LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING 1
        ), k AS (
            DELETE FROM \(idempotencyTable) \
        WHERE created_at < now() - interval '\(PostgresTaskStore.idempotencyKeyLifetimeHours) hours'
        )
        SELECT count(*) FROM d
        """
    }

    /// Paused queues are left out: their due tasks wait for the resume, whose notification
    /// wakes the claimers. Binds: queues.
    var nextDue: String {
        """
        SELECT min(x.run_at) FROM unnest($1::text[]) AS q(name) CROSS JOIN LATERAL (
            SELECT run_at FROM \(tasks) WHERE state = 'pending' AND queue = q.name ORDER BY run_at LIMIT 1) AS x
        WHERE NOT EXISTS (SELECT 1 FROM \(pausedQueuesTable) AS pq WHERE pq.name = q.name)
        """
    }
}
