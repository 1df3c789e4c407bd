import BatonCore
import Foundation
import GRDB
import Synchronization

// MARK: Schema (migration v4): workflows

extension SQL {
    static let taskStatesV4 = "('waiting','pending','ready','running','succeeded','failed','cancelled')"

    /// Whether a settled edge can never be satisfied (and its policy does not ignore that):
    /// `TaskDependency.satisfied` as SQL. The PostgreSQL schema has the same expression.
    static let edgeBlocked = """
        parent_state IS NOT NULL AND NOT (condition = 'always' OR (condition = 'success' AND parent_state = 'succeeded') \
        OR (condition = 'failure' AND parent_state = 'failed') OR (parent_state = 'failed' AND (ignores & 1) <> 0) \
        OR (parent_state = 'cancelled' AND (ignores & 2) <> 0))
        """

    /// The workflow columns v4 adds to the tasks table (described at ``schemaV4``).
    static let workflowColumnsV4 = [
        "workflow_id TEXT", "node TEXT", "parents INTEGER NOT NULL DEFAULT 0", "pass TEXT", "waiting_on INTEGER NOT NULL DEFAULT 0",
        "dependents INTEGER NOT NULL DEFAULT 0", "blocked_by INTEGER NOT NULL DEFAULT 0",
    ]

    /// The tasks table gains the `waiting` state (a CHECK cannot be altered in SQLite: the
    /// table is rebuilt, keeping every row's `seq`) and the workflow columns:
    /// - `workflow_id`, `node`: the workflow and the node's name in it;
    /// - `parents`: how many edges lead into the task; `waiting_on`: how many of them are not
    ///   settled yet (the counter that releases it: O(1) per finished parent);
    /// - `dependents`: how many edges lead out of it (0: its transitions fire no trigger work);
    /// - `blocked_by`: how many settled edges into it can never be satisfied, while it is
    ///   waiting or was cancelled by them (0 for a task cancelled by a request);
    /// - `pass`: how the parents' results reach its arguments.
    ///
    /// The edges are `task_deps`; `blocked` is derived from the parent's final state, the
    /// condition and the dependent's policy (`ignores`: 1 failed, 2 cancelled). Migration v8
    /// keys them by the tasks' `seq` and describes the triggers that keep the counters exact.
    static let schemaV4 =
        [
            createTasks("tasks_v4", stateCheck: "state IN \(taskStatesV4)", later: workflowColumnsV4),
            """
            INSERT INTO tasks_v4 (seq, id, kind, queue, args, priority, state, attempt, max_attempts, run_at, lease_owner, \
            lease_token, lease_expires_at, timeout, retry, result, last_error, errors, unique_key, tags, created_at, started_at, \
            finished_at) SELECT seq, id, kind, queue, args, priority, state, attempt, max_attempts, run_at, lease_owner, lease_token, \
            lease_expires_at, timeout, retry, result, last_error, errors, unique_key, tags, created_at, started_at, finished_at FROM tasks
            """,
            "DROP TABLE tasks",
            "ALTER TABLE tasks_v4 RENAME TO tasks",
        ] + tasksIndexesV4 + [
            """
            CREATE TABLE workflows (
                id TEXT PRIMARY KEY,
                name TEXT,
                cancel_requested INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE task_deps (
                child_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                parent_id TEXT NOT NULL,
                condition TEXT NOT NULL CHECK (condition IN ('success', 'failure', 'always')),
                ignores INTEGER NOT NULL DEFAULT 0,
                parent_state TEXT,
                blocked INTEGER GENERATED ALWAYS AS (\(edgeBlocked)) VIRTUAL,
                PRIMARY KEY (child_id, position)
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX task_deps_edge ON task_deps (parent_id, child_id)",
        ] + workflowTriggers(.byID)

    /// The tasks table's indexes from v4 on (v4 and v8 rebuild the table).
    static let tasksIndexesV4 = [
        "CREATE INDEX tasks_ready ON tasks (queue, priority DESC, run_at, seq) WHERE state = 'ready'",
        "CREATE INDEX tasks_pending ON tasks (run_at) WHERE state = 'pending'",
        "CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE state = 'running'",
        "CREATE INDEX tasks_terminal ON tasks (finished_at) WHERE \(terminalCondition)",
        "CREATE UNIQUE INDEX tasks_unique_active ON tasks (unique_key) WHERE unique_key IS NOT NULL AND state IN \(activeStatesV4)",
        "CREATE INDEX tasks_unique_key ON tasks (unique_key, created_at) WHERE unique_key IS NOT NULL",
        "CREATE INDEX tasks_workflow ON tasks (workflow_id, seq) WHERE workflow_id IS NOT NULL",
    ]

    /// The active states once `waiting` exists: a waiting task holds its unique key too.
    static let activeStatesV4 = "('waiting','pending','ready','running')"

    static func terminal(_ column: String) -> String {
        "(\(column) = 'succeeded' OR \(column) = 'failed' OR \(column) = 'cancelled')"
    }

    /// How the workflow triggers find edges and dependents: by ids (v4) or by `seq` (v8).
    struct EdgeKeys {
        /// The edges out of the task `NEW`.
        var outOfNew: String
        /// The dependent the edge `NEW` leads to, in an `UPDATE tasks`.
        var dependent: String
        /// The dependent `c` of an edge of `task_deps`.
        var dependentOfEdge: String
        /// The edges into the deleted task `OLD`.
        var intoOld: String
        /// The arguments of `baton_cascade` and `baton_reopened` (the dependent).
        var walk: String
        /// Appended to the `WHEN` of `tasks_settle` and of `task_deps_settle`.
        var taskGuard: String
        var edgeGuard: String

        static let byID = EdgeKeys(
            outOfNew: "parent_id = NEW.id", dependent: "id = NEW.child_id", dependentOfEdge: "c.id = task_deps.child_id",
            intoOld: "child_id = OLD.id", walk: "NEW.child_id, dependents", taskGuard: "", edgeGuard: "")
        static let bySeq = EdgeKeys(
            outOfNew: "parent_seq = NEW.seq AND parent_id = NEW.id", dependent: "seq = NEW.child_seq",
            dependentOfEdge: "c.seq = task_deps.child_seq", intoOld: "child_seq = OLD.seq", walk: "seq, id, dependents",
            taskGuard: " AND NOT baton_batch()", edgeGuard: " AND (NOT baton_batch() OR NEW.condition = 'failure')")
    }

    /// The workflow triggers (described at ``schemaV8``) for edges found by `keys`.
    static func workflowTriggers(_ keys: EdgeKeys) -> [String] {
        [
            """
            CREATE TRIGGER tasks_settle AFTER UPDATE OF state ON tasks
            WHEN NEW.dependents > 0 AND \(terminal("NEW.state")) AND NOT \(terminal("OLD.state")) \
            AND NOT (OLD.state = 'waiting' AND NEW.state = 'cancelled' AND NEW.blocked_by > OLD.blocked_by)\(keys.taskGuard)
            BEGIN
                UPDATE task_deps SET parent_state = NEW.state WHERE \(keys.outOfNew) AND parent_state IS NULL;
            END
            """,
            """
            CREATE TRIGGER task_deps_settle AFTER UPDATE OF parent_state ON task_deps
            WHEN OLD.parent_state IS NULL AND NEW.parent_state IS NOT NULL\(keys.edgeGuard)
            BEGIN
                UPDATE tasks SET
                    waiting_on = waiting_on - 1,
                    blocked_by = blocked_by + (CASE WHEN NEW.blocked AND (state = 'waiting' OR (state = 'cancelled' AND blocked_by > 0)) \
            THEN 1 ELSE 0 END),
                    state = CASE WHEN state <> 'waiting' THEN state WHEN NEW.blocked THEN 'cancelled' WHEN waiting_on > 1 THEN 'waiting' \
            WHEN run_at > baton_now() THEN 'pending' ELSE 'ready' END,
                    run_at = CASE WHEN state = 'waiting' AND NOT NEW.blocked AND waiting_on = 1 THEN max(run_at, baton_now()) + baton_ready() \
            ELSE run_at END,
                    finished_at = CASE WHEN state = 'waiting' AND NEW.blocked THEN baton_now() + baton_cascade(\(keys.walk)) \
            ELSE finished_at END,
                    last_error = CASE WHEN state = 'waiting' AND NEW.blocked THEN 'dependency not satisfied: parent ' || NEW.parent_id \
            || ' ended ' || NEW.parent_state || ' (edge on ' || NEW.condition || ')' ELSE last_error END
                WHERE \(keys.dependent);
            END
            """,
            """
            CREATE TRIGGER tasks_reopen AFTER UPDATE OF state ON tasks
            WHEN NEW.dependents > 0 AND \(terminal("OLD.state")) AND NOT \(terminal("NEW.state")) \
            AND NOT (OLD.state = 'cancelled' AND NEW.state = 'waiting')
            BEGIN
                UPDATE task_deps SET parent_state = NULL WHERE \(keys.outOfNew) AND parent_state IS NOT NULL AND EXISTS (
                    SELECT 1 FROM tasks c WHERE \(keys.dependentOfEdge) AND (c.state = 'waiting' OR (c.state = 'cancelled' AND c.blocked_by > 0)));
            END
            """,
            """
            CREATE TRIGGER task_deps_reopen AFTER UPDATE OF parent_state ON task_deps
            WHEN OLD.parent_state IS NOT NULL AND NEW.parent_state IS NULL
            BEGIN
                UPDATE tasks SET
                    waiting_on = waiting_on + 1,
                    blocked_by = blocked_by - (CASE WHEN OLD.blocked AND blocked_by > 0 THEN 1 ELSE 0 END),
                    state = CASE WHEN state = 'cancelled' AND OLD.blocked AND blocked_by = 1 THEN 'waiting' ELSE state END,
                    finished_at = CASE WHEN state = 'cancelled' AND OLD.blocked AND blocked_by = 1 THEN baton_reopened(\(keys.walk)) \
            ELSE finished_at END,
                    last_error = CASE WHEN state = 'cancelled' AND OLD.blocked AND blocked_by = 1 THEN NULL ELSE last_error END
                WHERE \(keys.dependent);
            END
            """,
            // A deleted task takes its incoming edges with it.
            """
            CREATE TRIGGER tasks_delete_edges AFTER DELETE ON tasks WHEN OLD.parents > 0
            BEGIN
                DELETE FROM task_deps WHERE \(keys.intoOld);
            END
            """,
        ]
    }

    // MARK: Schema (migration v8): edges keyed by the tasks' `seq`, a cheaper state check

    /// The states a task may be in, as the tasks table's CHECK from v8 on: a chain of `=`, not
    /// `IN (…)`. SQLite builds a lookup table for an `IN` list each time it evaluates one in a
    /// row's CHECK, which cost about 2 µs per state change: on every claim and completion, and
    /// once more in each release a trigger makes (Benchmarks/analysis.md).
    static let stateCheckV8 = """
        state = 'waiting' OR state = 'pending' OR state = 'ready' OR state = 'running' OR state = 'succeeded' OR state = 'failed' \
        OR state = 'cancelled'
        """

    /// Every column of the tasks table from v6 on, in the table's order.
    static let columnsV8 = """
        seq, id, kind, queue, args, priority, state, attempt, max_attempts, run_at, lease_owner, lease_token, lease_expires_at, \
        timeout, retry, result, last_error, errors, unique_key, tags, created_at, started_at, finished_at, workflow_id, node, \
        parents, pass, waiting_on, dependents, blocked_by, progress, progress_message, progress_at, progress_attempt, trace
        """

    /// The tasks table is rebuilt (every row keeps its `seq`) with ``stateCheckV8``, and
    /// `task_deps` is keyed by the tasks' `seq` instead of their ids. Ids are random, so the
    /// edges of a batch of completing parents, their index entries and their dependents' id
    /// index entries were spread over the whole file: each acknowledged batch dirtied a page
    /// or two per release, all written to the WAL at commit. Tasks submitted together have
    /// neighbouring `seq`s, so their edges are neighbours too (Benchmarks/analysis.md).
    ///
    /// `parent_id` stays, for the listing of a dependent whose parent was deleted (its
    /// `parent_seq` is then 0 for edges migrated from v4) and to check every lookup by
    /// `parent_seq`: a `seq` may be reused once its task is deleted, an id never is. A parent
    /// named twice is refused by ``SQLiteTaskStore/insertEdges(_:records:seqs:duplicate:holders:db:)``.
    ///
    /// Four triggers keep the counters exact inside whatever transaction changes a state
    /// (a fenced completion, a failure, a rescue, a cancel, an operator retry):
    /// 1. `tasks_settle`: a task with dependents finishes → its open edges record its state;
    /// 2. `task_deps_settle`: an edge is settled → the dependent's counter drops; the last one
    ///    releases it (`ready`, or `pending` if its run time is ahead); a blocked one cancels it;
    /// 3. `tasks_reopen`: a finished task with dependents runs again (an operator retry) → the
    ///    edges into dependents still waiting, or cancelled by their dependencies, open again;
    /// 4. `task_deps_reopen`: an edge is opened again → the dependent's counter rises; a
    ///    dependent cancelled only by such edges waits again.
    ///
    /// A cascade does not nest triggers: 1 and 3 skip the moves that 2 and 4 make (a
    /// dependent cancelled by its dependencies, or waiting again), and 2 and 4 name those
    /// dependents to the store instead (`baton_cascade`, `baton_reopened`), which continues the
    /// walk level by level in the same transaction (``drainTriggerWork(_:_:)``). A chain of any
    /// length cascades without reaching SQLite's limit of nested triggers.
    static let schemaV8 =
        [
            "DROP TRIGGER tasks_settle",
            "DROP TRIGGER tasks_reopen",
            "DROP TRIGGER tasks_delete_edges",
            createTasks("tasks_v8", stateCheck: stateCheckV8, later: workflowColumnsV4 + progressColumnsV5 + [traceColumnV6]),
            "INSERT INTO tasks_v8 (\(columnsV8)) SELECT \(columnsV8) FROM tasks",
            """
            CREATE TABLE task_deps_v8 (
                child_seq INTEGER NOT NULL,
                position INTEGER NOT NULL,
                parent_seq INTEGER NOT NULL,
                parent_id TEXT NOT NULL,
                condition TEXT NOT NULL CHECK (condition IN ('success', 'failure', 'always')),
                ignores INTEGER NOT NULL DEFAULT 0,
                parent_state TEXT,
                blocked INTEGER GENERATED ALWAYS AS (\(edgeBlocked)) VIRTUAL,
                PRIMARY KEY (child_seq, position)
            ) WITHOUT ROWID
            """,
            """
            INSERT INTO task_deps_v8 (child_seq, position, parent_seq, parent_id, condition, ignores, parent_state)
            SELECT c.seq, d.position, coalesce(p.seq, 0), d.parent_id, d.condition, d.ignores, d.parent_state
            FROM task_deps d JOIN tasks c ON c.id = d.child_id LEFT JOIN tasks p ON p.id = d.parent_id
            """,
            "DROP TABLE task_deps",
            "DROP TABLE tasks",
            "ALTER TABLE tasks_v8 RENAME TO tasks",
            "ALTER TABLE task_deps_v8 RENAME TO task_deps",
        ] + tasksIndexesV4 + [
            "CREATE INDEX task_deps_parent ON task_deps (parent_seq)"
        ] + workflowTriggers(.bySeq)

    /// From v9 a batch of successes (``SQLiteTaskStore/settleCompleted(_:work:db:)``) leaves the
    /// edges it counted open in the table: `parent_state` stays NULL on an edge on `success` or
    /// `always` whose parent succeeded, and the dependent's counter alone says the edge is
    /// settled. Writing `'succeeded'` into each of those rows cost a chain task about a sixth
    /// of its writer time (Benchmarks/analysis.md). An edge whose `parent_state` is NULL is
    /// therefore open unless its parent succeeded, and nothing needs to tell the two apart:
    /// - a success is counted once: a task leaves `succeeded` only by an operator retry, which
    ///   records the success on such edges first (``recordSuccess``), so the retry re-opens them
    ///   like any settled edge, and its next success counts them again;
    /// - every other end (failed, cancelled, a success through the one-by-one path, a success
    ///   on an edge on `failure`) is still recorded, so the cascade, re-open and `blocked`
    ///   read what they did;
    /// - an edge's `parent_seq` is never reused while the edge exists: a dependent is stored
    ///   after its parents, so its `seq` is larger, and a `seq` is reused only once every task
    ///   at or above it is deleted, the dependent (and with it the edge) included;
    /// - a listing of a dependent whose parent was deleted reads such an edge as `succeeded`.
    ///
    /// The edges on `failure` get a partial index, so that the one statement left in a batch of
    /// successes finds them without reading the others.
    static let schemaV9 = [
        "CREATE INDEX task_deps_failure ON task_deps (parent_seq) WHERE condition = 'failure'"
    ]

    // MARK: Statements

    /// ``SQLiteTaskStore/settleCompleted(_:work:db:)``; argument: the completed tasks' `seq`s
    /// as a JSON array. Each of them just left `running`, and the `seq` of a parent of an edge
    /// is not reused while the edge exists (``schemaV9``), so its `seq` alone names it.
    static let releaseOnSuccess = """
        UPDATE tasks SET
            waiting_on = waiting_on - d.n,
            state = CASE WHEN state <> 'waiting' THEN state WHEN waiting_on > d.n THEN 'waiting' WHEN run_at > baton_now() THEN 'pending' \
        ELSE 'ready' END,
            run_at = CASE WHEN state = 'waiting' AND waiting_on = d.n THEN max(run_at, baton_now()) + baton_ready() ELSE run_at END
        FROM (SELECT child_seq, count(*) AS n FROM task_deps WHERE parent_seq IN (SELECT value FROM json_each(?)) \
        AND parent_state IS NULL AND condition <> 'failure' GROUP BY child_seq) AS d
        WHERE tasks.seq = d.child_seq
        """
    /// Records a success only on the edges it can never satisfy (on `failure`), found through
    /// the partial index of v9; the edges ``releaseOnSuccess`` counted stay as they are (see
    /// ``schemaV9``).
    static let settleOnSuccess = """
        UPDATE task_deps SET parent_state = 'succeeded' WHERE parent_seq IN (SELECT value FROM json_each(?)) \
        AND condition = 'failure' AND parent_state IS NULL
        """
    /// Before an operator retry of a succeeded task: the edges its success settled without a
    /// record get one (the settle trigger stands aside, their dependents were counted then), so
    /// that the retry re-opens them as it re-opens any settled edge. Arguments: its `seq`, id.
    static let recordSuccess = """
        UPDATE task_deps SET parent_state = 'succeeded' WHERE parent_seq = ? AND parent_id = ? AND parent_state IS NULL
        """

    /// Counts a dependent of a stored task: arguments its id. Returns its state and `seq`.
    static let parentLock = "UPDATE tasks SET dependents = dependents + 1 WHERE id = ? RETURNING state, seq"
    static let edgeInsert = """
        INSERT INTO task_deps (child_seq, position, parent_seq, parent_id, condition, ignores) VALUES (?, ?, ?, ?, ?, ?)
        """
    /// Settles an edge whose parent had already finished when the edge was added.
    static let edgeSettle = "UPDATE task_deps SET parent_state = ? WHERE child_seq = ? AND position = ?"

    /// The walk's next steps (``SQLiteTaskStore/drainTriggerWork(_:_:)``): the open edges of a
    /// dependent its dependencies cancelled; the settled edges of one that waits again.
    /// Arguments: its `seq` and id.
    static let cascadeEdges = """
        UPDATE task_deps SET parent_state = 'cancelled' WHERE parent_seq = ? AND parent_id = ? AND parent_state IS NULL
        """
    static let reopenEdges = """
        UPDATE task_deps SET parent_state = NULL WHERE parent_seq = ? AND parent_id = ? AND parent_state IS NOT NULL AND EXISTS (
            SELECT 1 FROM tasks c WHERE c.seq = task_deps.child_seq AND (c.state = 'waiting' OR (c.state = 'cancelled' AND c.blocked_by > 0)))
        """

    static let workflowInsert = "INSERT INTO workflows (id, name, cancel_requested, created_at, expected_nodes) VALUES (?, ?, 0, ?, ?)"
    /// The same, joining a workflow stored meanwhile (``NewWorkflow/joinsExisting``).
    static let workflowInsertOrJoin = workflowInsert + " ON CONFLICT (id) DO NOTHING"
    static let workflowGet = "SELECT name, cancel_requested, created_at, expected_nodes FROM workflows WHERE id = ?"
    static let workflowNodes = """
        SELECT coalesce(node, id), id, kind, state, blocked_by, result, last_error FROM tasks WHERE workflow_id = ? ORDER BY seq
        """
    static let workflowCancelRequest = "UPDATE workflows SET cancel_requested = 1 WHERE id = ?"
    static let workflowLiveNodes = "SELECT id FROM tasks WHERE workflow_id = ? AND state IN \(activeStatesV4) ORDER BY seq"
    static let cancelLive = """
        UPDATE tasks SET state = 'cancelled', finished_at = ?, lease_expires_at = NULL WHERE id = ? AND state IN \(activeStatesV4)
        """

    static let parents = """
        SELECT d.position, coalesce(p.node, d.parent_id), d.parent_id, coalesce(p.state, d.parent_state, 'succeeded'), d.condition, p.result, \
        p.last_error FROM task_deps d LEFT JOIN tasks p ON p.seq = d.parent_seq AND p.id = d.parent_id \
        WHERE d.child_seq = (SELECT seq FROM tasks WHERE id = ?) AND d.position > ? ORDER BY d.position LIMIT ?
        """

    /// Whether a task still has a dependent that has not finished (its result is still needed).
    static let liveDependent = """
        SELECT 1 FROM tasks p JOIN task_deps d ON d.parent_seq = p.seq AND d.parent_id = p.id JOIN tasks c ON c.seq = d.child_seq \
        WHERE p.id = ? AND NOT \(terminal("c.state")) LIMIT 1
        """
}

/// The dependents the triggers of one write transaction named for the walk to continue.
final class TriggerWork: Sendable {
    enum Step: Sendable {
        /// Cancelled by its dependencies: settle its own open edges as `cancelled`.
        case cascade(seq: Int64, id: String)
        /// Waits again: re-open its settled edges.
        case reopen(seq: Int64, id: String)
    }
    private let steps = Mutex<[Step]>([])
    private let batch = Atomic<Bool>(false)
    /// While set, the settle triggers stand aside: the store is settling a batch's edges
    /// itself (``SQLiteTaskStore/settleCompleted(_:work:db:)``). Only the writer sets it.
    var settlingInBatch: Bool {
        get { batch.load(ordering: .relaxed) }
        set { batch.store(newValue, ordering: .relaxed) }
    }
    func add(_ step: Step) { steps.withLock { $0.append(step) } }
    func take() -> [Step] {
        steps.withLock { s in
            defer { s = [] }
            return s
        }
    }
}

extension SQLiteTaskStore {
    /// The SQL functions the workflow triggers call, from the branch of the dependent's update
    /// that makes the move (so each is called only then, with no statement of its own): the
    /// store's clock; a wake-up for the claimers when a task is released (inside the
    /// transaction, as an enqueue does), which adds 0 to the new `run_at`; and the walk's next
    /// steps, for a dependent that has dependents itself: `baton_cascade` adds 0 to the new
    /// `finished_at`, `baton_reopened` is the new `finished_at` (NULL). `baton_batch` holds the
    /// settle triggers off while the store settles a batch's edges itself.
    static func addFunctions(_ db: Database, clock: StoreClock, readySignal: ReadySignal, work: TriggerWork) {
        db.add(function: DatabaseFunction("baton_now", argumentCount: 0, pure: false) { _ in Millis.now(clock) })
        db.add(function: DatabaseFunction("baton_batch", argumentCount: 0, pure: false) { _ in work.settlingInBatch })
        db.add(
            function: DatabaseFunction("baton_ready", argumentCount: 0, pure: false) { _ in
                readySignal.notify()
                return 0
            })
        // Each is called with the dependent's `seq`, id and number of dependents.
        @Sendable func dependent(_ values: [DatabaseValue]) -> (seq: Int64, id: String)? {
            guard let seq = Int64.fromDatabaseValue(values[0]), let id = String.fromDatabaseValue(values[1]),
                (Int.fromDatabaseValue(values[2]) ?? 0) > 0
            else { return nil }
            return (seq, id)
        }
        db.add(
            function: DatabaseFunction("baton_cascade", argumentCount: 3, pure: false) { values in
                if let (seq, id) = dependent(values) { work.add(.cascade(seq: seq, id: id)) }
                return 0
            })
        db.add(
            function: DatabaseFunction("baton_reopened", argumentCount: 3, pure: false) { values in
                if let (seq, id) = dependent(values) { work.add(.reopen(seq: seq, id: id)) }
                return nil
            })
    }

    /// Continues the walks the triggers started, level by level, until none is left: each step
    /// is a statement of its own, whose triggers may name the next level.
    static func drainTriggerWork(_ db: Database, _ work: TriggerWork) throws {
        while true {
            let steps = work.take()
            if steps.isEmpty { return }
            for step in steps {
                switch step {
                case .cascade(let seq, let id): try db.cachedStatement(sql: SQL.cascadeEdges).execute(arguments: [seq, id])
                case .reopen(let seq, let id): try db.cachedStatement(sql: SQL.reopenEdges).execute(arguments: [seq, id])
                }
            }
        }
    }

    /// Adds the edges of the tasks just inserted that have parents (inserted with their
    /// workflow columns and their dependents among the batch; `seqs` by id), inside the
    /// enqueue's transaction. The other parents (tasks stored before, or a unique-key holder
    /// answering for a task of the batch) are counted and checked here, and an edge to one that
    /// has finished is settled at once. Throws `invalidArgument` for a parent that does not
    /// exist or is named twice. Returns the dependents whose edges settled.
    static func insertEdges(
        _ tasks: [NewTask], records: [TaskRecord], seqs: [String: Int64], duplicate: [Bool], holders: [TaskID: TaskID], db: Database
    ) throws -> Set<TaskID> {
        let lock = try db.cachedStatement(sql: SQL.parentLock)
        let insert = try db.cachedStatement(sql: SQL.edgeInsert)
        let settle = try db.cachedStatement(sql: SQL.edgeSettle)
        var settled = Set<TaskID>()
        for (i, (task, record)) in zip(tasks, records).enumerated() where task.hasParents {
            if duplicate[i] { continue }  // a unique-key holder answered for it
            let child = record.id.description
            guard let childSeq = seqs[child] else { throw BatonError(.internal, "task \(record.id) was not inserted") }
            var named = Set<String>()
            for (position, edge) in task.after.enumerated() {
                var stateText: String?
                let parent: String
                let parentSeq: Int64
                if let seq = seqs[edge.parent.description] {
                    parent = edge.parent.description
                    parentSeq = seq
                } else {
                    parent = (holders[edge.parent] ?? edge.parent).description
                    guard let row = try Row.fetchOne(lock, arguments: [parent]) else {
                        throw BatonError.invalidArgument("parent task \(edge.parent) does not exist")
                    }
                    stateText = row[0]
                    parentSeq = row[1]
                }
                guard named.insert(parent).inserted else {
                    throw BatonError.invalidArgument("task \(record.id) names parent \(edge.parent) twice")
                }
                try insert.execute(arguments: [
                    childSeq, position, parentSeq, parent, edge.condition.rawValue, (task.policy ?? .cancel).ignoreBits,
                ])
                if let stateText, let state = TaskState(rawValue: stateText), state.isTerminal {
                    try settle.execute(arguments: [stateText, childSeq, position])
                    settled.insert(record.id)
                }
            }
        }
        return settled
    }

    public func taskParents(_ p: TaskParentsParams) async throws -> ParentPage {
        try p.validate()
        return try await read("reading the parents of task \(p.id)") { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: SQL.parents), arguments: [p.id.description, p.cursor ?? -1, p.limit + 1])
            if rows.isEmpty, try Int.fetchOne(db.cachedStatement(sql: SQL.exists), arguments: [p.id.description]) == nil {
                throw BatonError.taskNotFound(p.id)
            }
            var parents: [ParentResult] = []
            for row in rows.prefix(p.limit) {
                let idText: String = row[2]
                let stateText: String? = row[3]
                let result: String? = row[5]
                guard let id = TaskID(idText), let condition = DependencyCondition(rawValue: row[4]) else {
                    throw BatonError(.internal, "task \(p.id) has a malformed edge")
                }
                parents.append(
                    ParentResult(
                        name: row[1], id: id, state: stateText.flatMap(TaskState.init(rawValue:)) ?? .waiting, condition: condition,
                        result: result.map { RawJSON(trusted: $0) }, lastError: row[6]))
            }
            let next: String? = rows.count > p.limit ? String(rows[p.limit - 1][0] as Int64) : nil
            return ParentPage(parents: parents, nextCursor: next)
        }
    }

    public func workflowGet(_ id: TaskID) async throws -> WorkflowRecord? {
        try await read("reading workflow \(id)") { db in try Self.workflow(id, db: db) }
    }

    public func workflowCancel(_ id: TaskID) async throws -> WorkflowRecord {
        try await write("cancelling workflow \(id)") { db in
            try db.cachedStatement(sql: SQL.workflowCancelRequest).execute(arguments: [id.description])
            guard db.changesCount > 0 else { throw BatonError(.notFound, "workflow \(id) not found") }
            let now = Millis.now(self.clock)
            // One at a time: each cancel's triggers settle its dependents before the next.
            let live = try String.fetchAll(db.cachedStatement(sql: SQL.workflowLiveNodes), arguments: [id.description])
            let cancel = try db.cachedStatement(sql: SQL.cancelLive)
            for node in live { try cancel.execute(arguments: [now, node]) }
            guard let record = try Self.workflow(id, db: db) else { throw BatonError(.notFound, "workflow \(id) not found") }
            return record
        }
    }

    static func workflow(_ id: TaskID, db: Database) throws -> WorkflowRecord? {
        guard let head = try Row.fetchOne(db.cachedStatement(sql: SQL.workflowGet), arguments: [id.description]) else { return nil }
        let nodes = try Row.fetchAll(db.cachedStatement(sql: SQL.workflowNodes), arguments: [id.description]).map { row in
            let idText: String = row[1]
            let stateText: String = row[3]
            let blocked: Int = row[4]
            let result: String? = row[5]
            guard let taskID = TaskID(idText), let state = TaskState(rawValue: stateText) else {
                throw BatonError(.internal, "workflow \(id) has a malformed node")
            }
            return WorkflowNode(
                name: row[0], id: taskID, kind: row[2], state: state, skipped: state == .cancelled && blocked > 0,
                result: result.map { RawJSON(trusted: $0) }, lastError: row[6])
        }
        let cancelRequested: Int = head[1]
        return WorkflowRecord(
            id: id, name: head[0], cancelRequested: cancelRequested != 0, createdAt: Millis.date(head[2]), nodes: nodes,
            expectedNodes: head[3])
    }
}
