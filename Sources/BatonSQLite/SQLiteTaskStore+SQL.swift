/// Every SQL statement the SQLite store runs, in one place.
///
/// Times are INTEGER milliseconds since 1970 (the store process's clock); `seq` is the
/// integer primary key (the rowid), which orders tasks by submission.
enum SQL {
    static let taskStates = "('pending','ready','running','succeeded','failed','cancelled')"
    static let terminalStates = "('succeeded','failed','cancelled')"

    // MARK: Schema (migration v1)

    /// `CREATE TABLE name (…)` of the tasks table: v1's columns with `stateCheck` as the
    /// state's CHECK, then `later`, the columns later migrations added. v1, v4 and v8 create the
    /// table with it (SQLite cannot alter a CHECK, so v4 and v8 rebuild the table).
    static func createTasks(_ name: String, stateCheck: String, later: [String] = []) -> String {
        let columns =
            [
                "seq INTEGER PRIMARY KEY", "id TEXT NOT NULL UNIQUE", "kind TEXT NOT NULL", "queue TEXT NOT NULL",
                "args TEXT NOT NULL", "priority INTEGER NOT NULL", "state TEXT NOT NULL CHECK (\(stateCheck))",
                "attempt INTEGER NOT NULL DEFAULT 0", "max_attempts INTEGER NOT NULL", "run_at INTEGER NOT NULL", "lease_owner TEXT",
                "lease_token TEXT", "lease_expires_at INTEGER", "timeout REAL", "retry TEXT", "result TEXT", "last_error TEXT",
                "errors TEXT NOT NULL DEFAULT '[]'", "unique_key TEXT", "tags TEXT NOT NULL DEFAULT '[]'",
                "created_at INTEGER NOT NULL", "started_at INTEGER", "finished_at INTEGER",
            ] + later
        return "CREATE TABLE \(name) (" + columns.joined(separator: ", ") + ")"
    }

    static let schemaV1 = [
        createTasks("tasks", stateCheck: "state IN \(taskStates)"),
        // Exactly the claim query's shape: per queue, highest priority, earliest run_at, then submission order.
        "CREATE INDEX tasks_ready ON tasks (queue, priority DESC, run_at, seq) WHERE state = 'ready'",
        "CREATE INDEX tasks_pending ON tasks (run_at) WHERE state = 'pending'",
        "CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE state = 'running'",
        "CREATE INDEX tasks_terminal ON tasks (finished_at) WHERE state IN \(terminalStates)",
    ]

    /// v5: the last progress a worker reported, kept beside the task (columns added in place:
    /// no table rewrite).
    static let schemaV5 = progressColumnsV5.map { "ALTER TABLE tasks ADD COLUMN \($0)" }
    static let progressColumnsV5 = ["progress REAL", "progress_message TEXT", "progress_at INTEGER", "progress_attempt INTEGER"]

    // MARK: Rows

    /// The columns `TaskRecord(row:)` reads, in this order.
    /// v6: the W3C `traceparent` of the span that submitted a task (set only while tracing is
    /// on; docs/operations.md#traces), handed to the worker with the claim.
    static let schemaV6 = ["ALTER TABLE tasks ADD COLUMN \(traceColumnV6)"]
    static let traceColumnV6 = "trace TEXT"
    /// A workflow whose nodes arrive in several requests (a Machinery group sent a member per
    /// message) is running until it has this many.
    static let schemaV7 = ["ALTER TABLE workflows ADD COLUMN expected_nodes INTEGER"]

    static let taskColumns = """
        seq, id, kind, queue, args, priority, state, attempt, max_attempts, run_at, lease_owner, lease_token, \
        lease_expires_at, timeout, retry, result, last_error, errors, unique_key, tags, created_at, started_at, finished_at, \
        workflow_id, node, parents, pass, trace
        """

    /// ``taskColumns`` and the progress columns: what reads for people select (a get, a
    /// listing); the hot statements (claims) leave progress out.
    static let taskColumnsWithProgress = taskColumns + ", progress, progress_message, progress_at, progress_attempt"

    // MARK: Enqueue

    static let insertColumns =
        "id, kind, queue, args, priority, state, max_attempts, run_at, timeout, retry, unique_key, tags, created_at, trace"
    static let insertColumnCount = 14
    static let insertRowPlaceholders = "(" + Array(repeating: "?", count: insertColumnCount).joined(separator: ",") + ")"

    /// A multi-row insert of `rows` tasks.
    static func insert(rows: Int) -> String {
        "INSERT INTO tasks (\(insertColumns)) VALUES " + Array(repeating: insertRowPlaceholders, count: rows).joined(separator: ",")
    }

    /// The insert of tasks with parents or in a workflow: their workflow columns set as they are
    /// inserted (no row written twice), and each one's dependents among the batch.
    static let linkColumns = "workflow_id, node, parents, waiting_on, pass, dependents"
    static let linkColumnCount = 6
    static let linkedRowPlaceholders =
        "(" + Array(repeating: "?", count: insertColumnCount + linkColumnCount).joined(separator: ",") + ")"

    /// A multi-row insert of `rows` tasks with their workflow columns; returns each one's id and
    /// `seq` (in no particular order).
    static func insertLinked(rows: Int) -> String {
        "INSERT INTO tasks (\(insertColumns), \(linkColumns)) VALUES "
            + Array(repeating: linkedRowPlaceholders, count: rows).joined(separator: ",") + " RETURNING id, seq"
    }

    // MARK: Schema (migration v2): schedules, paused queues, unique and idempotent submits

    static let activeStates = "('pending','ready','running')"

    static let schemaV2 = [
        """
        CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            last_fired INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        "CREATE TABLE paused_queues (name TEXT PRIMARY KEY, paused_at INTEGER NOT NULL)",
        """
        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            request_hash TEXT NOT NULL,
            task_ids TEXT NOT NULL,
            duplicates TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
        // The default unique scope, enforced atomically: one active task per key.
        "CREATE UNIQUE INDEX tasks_unique_active ON tasks (unique_key) WHERE unique_key IS NOT NULL AND state IN \(activeStates)",
        "CREATE INDEX tasks_unique_key ON tasks (unique_key, created_at) WHERE unique_key IS NOT NULL",
    ]

    // MARK: Schema (migration v3): the terminal index's condition without `IN`

    /// The terminal states as equalities. A partial index's condition is evaluated for every
    /// row an `INSERT` or state-changing `UPDATE` writes; SQLite evaluates `state IN (…)` there
    /// far more slowly than three comparisons (measured with `Benchmarks/rawsql.py`: the v1
    /// index made enqueues ≈25% and acks ≈45% slower). Queries that must use the index repeat
    /// this exact text.
    static let terminalCondition = "(state = 'succeeded' OR state = 'failed' OR state = 'cancelled')"

    static let schemaV3 = [
        "DROP INDEX tasks_terminal",
        "CREATE INDEX tasks_terminal ON tasks (finished_at) WHERE \(terminalCondition)",
    ]

    // MARK: Unique and idempotent submits

    /// The newest task holding `unique_key`: active, or created at or after the given time.
    static let uniqueLookup = """
        SELECT \(taskColumns) FROM tasks WHERE unique_key = ? AND (state IN \(activeStatesV4) OR created_at >= ?) \
        ORDER BY seq DESC LIMIT 1
        """

    static let idempotencyLookup = "SELECT request_hash, task_ids, duplicates FROM idempotency_keys WHERE key = ? AND created_at >= ?"
    static let idempotencyRecord = """
        INSERT OR REPLACE INTO idempotency_keys (key, request_hash, task_ids, duplicates, created_at) VALUES (?, ?, ?, ?, ?)
        """
    static let idempotencyPurge = "DELETE FROM idempotency_keys WHERE created_at < ?"

    // MARK: Schedules and paused queues

    static let scheduleColumns = "name, definition, paused, last_fired, created_at, updated_at"
    static let scheduleInsert = """
        INSERT INTO schedules (name, definition, paused, last_fired, created_at, updated_at) VALUES (?, ?, 0, NULL, ?, ?) \
        RETURNING \(scheduleColumns)
        """
    /// Replacing keeps the creation time, the last tick and the paused flag.
    static let scheduleReplace = """
        INSERT INTO schedules (name, definition, paused, last_fired, created_at, updated_at) VALUES (?, ?, 0, NULL, ?, ?) \
        ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at \
        RETURNING \(scheduleColumns)
        """
    static let scheduleGet = "SELECT \(scheduleColumns) FROM schedules WHERE name = ?"
    static let scheduleList = "SELECT \(scheduleColumns) FROM schedules ORDER BY name"
    static let scheduleDelete = "DELETE FROM schedules WHERE name = ?"
    static let scheduleSetPaused = "UPDATE schedules SET paused = ?, updated_at = ? WHERE name = ? RETURNING \(scheduleColumns)"
    /// The compare-and-set of a fire: `IS` so that a NULL guard matches a NULL `last_fired`.
    static let scheduleAdvance = "UPDATE schedules SET last_fired = ? WHERE name = ? AND last_fired IS ?"

    static let queuePause = "INSERT OR IGNORE INTO paused_queues (name, paused_at) VALUES (?, ?)"
    static let queueResume = "DELETE FROM paused_queues WHERE name = ?"
    static let queuePausedList = "SELECT name FROM paused_queues ORDER BY name"

    // MARK: Claim

    static let promoteDue = "UPDATE tasks SET state = 'ready' WHERE state = 'pending' AND run_at <= ?"

    /// One statement that claims for every share: the ready tasks of `queueCount` queues
    /// (optionally of `kindCount` kinds) in claim order, numbered, and each given to the share
    /// whose cumulative maximum covers its number.
    ///
    /// Each task's lease token is the statement's random prefix followed by the task's `seq`
    /// (`LeaseToken`): unique per lease, and acks find the row by its rowid instead of the id index.
    ///
    /// Arguments: the token prefix, lease expiry, now, then per share (cumulative max, worker), then
    /// per queue (queue, the queue again for the paused check, its kinds, limit), then the total limit.
    static func claim(shareCount: Int, queueCount: Int, kindCount: Int) -> String {
        let owner =
            shareCount == 1
            ? "?"
            : "CASE " + Array(repeating: "WHEN p.rn <= ? THEN ?", count: shareCount).joined(separator: " ") + " END"
        let kindFilter = kindCount == 0 ? "" : " AND kind IN (" + Array(repeating: "?", count: kindCount).joined(separator: ",") + ")"
        // One index range per queue, each already in claim order and limited, merged and limited again.
        let perQueue = """
            SELECT * FROM (SELECT seq AS rid, priority, run_at FROM tasks INDEXED BY tasks_ready \
            WHERE state = 'ready' AND queue = ? AND ? NOT IN (SELECT name FROM paused_queues)\(kindFilter) ORDER BY priority DESC, run_at, seq LIMIT ?)
            """
        let candidates = Array(repeating: perQueue, count: queueCount).joined(separator: " UNION ALL ")
        return """
            UPDATE tasks SET state = 'running', attempt = attempt + 1, lease_token = ? || seq, \
            lease_expires_at = ?, started_at = ?, lease_owner = \(owner) \
            FROM (SELECT rid, row_number() OVER (ORDER BY priority DESC, run_at, rid) AS rn FROM (\(candidates)) \
            ORDER BY priority DESC, run_at, rid LIMIT ?) AS p \
            WHERE tasks.seq = p.rid RETURNING \(taskColumns)
            """
    }

    // MARK: Acks, heartbeats, releases

    static let complete = """
        UPDATE tasks SET state = 'succeeded', result = ?, finished_at = ?, lease_owner = NULL, lease_token = NULL, \
        lease_expires_at = NULL WHERE id = ? AND state = 'running' AND lease_token = ? RETURNING \(endedAttemptColumns)
        """

    /// What the event stream says of an ended attempt (`SQLiteTaskStore.endedAttempt`).
    static let endedAttemptColumns = "attempt, queue, kind, started_at"

    /// The largest batch of completions one statement takes; smaller batches use the
    /// statement for the largest `completeManySizes` entry that fits, so few are cached.
    static let completeManySizes = [256, 64, 16, 4, 1]

    /// `rows` completions in one statement, each fenced by its own lease token and found by the
    /// `seq` its token carries (a rowid lookup). Arguments: finished_at, then per row seq, id,
    /// lease token, result. Returns the `seq` and number of dependents of each task it
    /// completed, and when `reporting` the `endedAttemptColumns` after them.
    static func completeMany(rows: Int, reporting: Bool) -> String {
        """
        UPDATE tasks SET state = 'succeeded', result = v.column4, finished_at = ?, lease_owner = NULL, lease_token = NULL, \
        lease_expires_at = NULL FROM (VALUES \(Array(repeating: "(?,?,?,?)", count: rows).joined(separator: ","))) AS v \
        WHERE tasks.seq = v.column1 AND tasks.id = v.column2 AND tasks.state = 'running' AND tasks.lease_token = v.column3 \
        RETURNING tasks.seq, tasks.dependents\(reporting ? ", " + endedAttemptColumns : "")
        """
    }

    static let exists = "SELECT 1 FROM tasks WHERE id = ?"

    /// What a failure needs to decide: `seq, state, lease_token, max_attempts, retry`, then
    /// the `endedAttemptColumns`.
    static let failLookup = "SELECT seq, state, lease_token, max_attempts, retry, \(endedAttemptColumns) FROM tasks WHERE id = ?"

    /// A failed attempt: arguments state, run_at (nil keeps it), finished_at, last_error, the
    /// attempt error as JSON, seq.
    static let fail = """
        UPDATE tasks SET state = ?, run_at = coalesce(?, run_at), finished_at = ?, lease_owner = NULL, lease_token = NULL, \
        lease_expires_at = NULL, last_error = ?, errors = json_insert(errors, '$[#]', json(?)) WHERE seq = ?
        """

    static let heartbeat = "UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND state = 'running' AND lease_token = ?"
    /// Stores a progress report of a current lease, unless the last one is too recent.
    static let heartbeatProgress = """
        UPDATE tasks SET progress = ?, progress_message = ?, progress_at = ?, progress_attempt = attempt \
        WHERE id = ? AND state = 'running' AND lease_token = ? AND (progress_at IS NULL OR progress_at <= ?)
        """
    static let leaseLookup = "SELECT state, lease_token FROM tasks WHERE id = ?"

    static let release = """
        UPDATE tasks SET state = 'ready', attempt = attempt - 1, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL \
        WHERE id = ? AND state = 'running' AND lease_token = ?
        """

    // MARK: Operator actions and reads

    static let stateLookup = "SELECT seq, state FROM tasks WHERE id = ?"

    /// Keeps the lease token so that the running worker's heartbeat can learn of the cancel.
    static let cancel = """
        UPDATE tasks SET state = 'cancelled', finished_at = ?, lease_expires_at = NULL WHERE seq = ? RETURNING \(taskColumns)
        """

    static let retry = """
        UPDATE tasks SET state = 'ready', run_at = ?, max_attempts = max(max_attempts, attempt + 1), finished_at = NULL, \
        result = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE seq = ? RETURNING \(taskColumns)
        """

    static let delete = "DELETE FROM tasks WHERE seq = ?"

    static let get = "SELECT \(taskColumnsWithProgress) FROM tasks WHERE id = ?"

    static func list(hasCursor: Bool, stateCount: Int, hasQueue: Bool, hasKind: Bool, hasTag: Bool = false) -> String {
        var conditions: [String] = []
        if hasCursor { conditions.append("id < ?") }
        if stateCount > 0 { conditions.append("state IN (" + Array(repeating: "?", count: stateCount).joined(separator: ",") + ")") }
        if hasQueue { conditions.append("queue = ?") }
        if hasKind { conditions.append("kind = ?") }
        if hasTag { conditions.append("EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE json_each.value = ?)") }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return "SELECT \(taskColumnsWithProgress) FROM tasks\(filter) ORDER BY id DESC LIMIT ?"
    }

    static let queueCounts = "SELECT queue, state, count(*), min(run_at) FROM tasks GROUP BY queue, state"

    // MARK: Maintenance

    static let expiredLeases = """
        SELECT seq, attempt, max_attempts, retry, kind, id, queue FROM tasks WHERE state = 'running' AND lease_expires_at < ? \
        ORDER BY lease_expires_at LIMIT ?
        """

    static let deleteFinished = """
        DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE \(terminalCondition) AND finished_at < ? AND (dependents = 0 \
        OR NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks c ON c.seq = d.child_seq WHERE d.parent_seq = tasks.seq \
        AND d.parent_id = tasks.id AND NOT \(terminal("c.state")))) LIMIT ?)
        """

    static func nextDue(queueCount: Int) -> String {
        "SELECT run_at FROM tasks WHERE state = 'pending' AND queue IN ("
            + Array(repeating: "?", count: queueCount).joined(separator: ",") + ") ORDER BY run_at LIMIT 1"
    }

    // MARK: Opening

    static let tableCount = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
}
