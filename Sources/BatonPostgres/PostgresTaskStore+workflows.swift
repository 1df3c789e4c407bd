import BatonCore
import Foundation
import Logging
import PostgresNIO

extension PostgresSQL {
    var workflowsTable: String { qualifier + "workflows" }
    var depsTable: String { qualifier + "task_deps" }

    /// Binds: id, name, expected nodes. `joining`: a workflow stored meanwhile is joined
    /// (``NewWorkflow/joinsExisting``).
    func workflowInsert(joining: Bool) -> String {
        "INSERT INTO \(workflowsTable) (id, name, cancel_requested, created_at, expected_nodes) VALUES ($1, $2, false, now(), $3)"
            + (joining ? " ON CONFLICT (id) DO NOTHING" : "")
    }

    /// Locks the parents in id order (concurrent submissions lock in one order: no deadlock)
    /// and counts their new dependents. Binds: parent ids, edge counts. Returns id, state.
    var parentsLock: String {
        """
        WITH locked AS (SELECT p.id FROM \(tasks) AS p WHERE p.id = ANY($1::uuid[]) ORDER BY p.id FOR UPDATE)
        UPDATE \(tasks) AS t SET dependents = t.dependents + c.n FROM unnest($1::uuid[], $2::int[]) AS c(id, n), locked AS l
        WHERE t.id = c.id AND l.id = c.id RETURNING t.id, t.state
        """
    }

    /// Binds: child ids, positions, parent ids, conditions, ignore bits.
    var edgesInsert: String {
        """
        INSERT INTO \(depsTable) (child_id, position, parent_id, condition, ignores)
        SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::int[])
        """
    }

    /// Settles the new edges whose parent had already finished (`baton_settle_from` settles
    /// the open edges of the finished parents among those given: while the enqueue holds the
    /// parents' locks, only its own are open). Binds: parent ids.
    var edgesSettleFinished: String { "SELECT \(qualifier)baton_settle_from($1::uuid[])" }

    /// Binds: child id, position to start after, limit.
    var parents: String {
        """
        SELECT d.position, coalesce(p.node, d.parent_id::text), d.parent_id, coalesce(p.state, d.parent_state), d.condition, \
        p.result, p.last_error FROM \(depsTable) AS d LEFT JOIN \(tasks) AS p ON p.id = d.parent_id
        WHERE d.child_id = $1 AND d.position > $2 ORDER BY d.position LIMIT $3
        """
    }

    var exists: String { "SELECT 1 FROM \(tasks) WHERE id = $1" }

    var workflowGet: String { "SELECT name, cancel_requested, created_at, expected_nodes FROM \(workflowsTable) WHERE id = $1" }
    /// A workflow's members are rows of `workflow_tasks` (migration 009), not an index of tasks.
    var workflowMembersTable: String { qualifier + "workflow_tasks" }
    var workflowNodes: String {
        """
        SELECT coalesce(t.node, t.id::text), t.id, t.kind, t.state, t.blocked_by, t.result, t.last_error \
        FROM \(workflowMembersTable) AS w JOIN \(tasks) AS t ON t.id = w.task_id WHERE w.workflow_id = $1 ORDER BY w.seq
        """
    }
    var workflowCancelRequest: String { "UPDATE \(workflowsTable) SET cancel_requested = true WHERE id = $1 RETURNING id" }
    /// Cancels every live node; the triggers cascade to dependents after the statement.
    var workflowCancelNodes: String {
        """
        UPDATE \(tasks) AS t SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL
        FROM \(workflowMembersTable) AS w WHERE w.workflow_id = $1 AND t.id = w.task_id AND t.state IN \(Self.live)
        """
    }

    /// Whether a task still has a dependent that has not finished. Binds: id.
    var liveDependent: String {
        """
        SELECT 1 FROM \(depsTable) AS d JOIN \(tasks) AS c ON c.id = d.child_id
        WHERE d.parent_id = $1 AND c.state NOT IN \(Self.terminal) LIMIT 1
        """
    }
}

extension PostgresTaskStore {
    /// Runs `body` again (up to four more times) when PostgreSQL aborted it as a deadlock
    /// victim. Two transactions that settle edges into the same dependents lock those rows in
    /// their triggers' order, which no statement can choose; the one aborted changed nothing
    /// and, being fenced, is safe to repeat.
    static func retryingDeadlocks<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "40P01" && attempt < 4 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
            }
        }
    }

    /// Adds the edges of the tasks just inserted (by `PostgresSQL.enqueueLinked`, which set
    /// their workflow columns and their dependents among the batch), inside the enqueue's
    /// transaction: the other parents (tasks stored before, or a unique-key holder answering
    /// for a task of the batch) are locked and counted, and the edges of those already
    /// finished settled. Returns the outcome with the tasks as they now are.
    static func link(
        _ tasks: [NewTask], _ outcome: TaskEnqueueOutcome, sql: PostgresSQL, connection: PostgresConnection, logger: Logger
    ) async throws -> TaskEnqueueOutcome {
        // A parent of the batch answered by a unique-key holder is that holder.
        var holders: [TaskID: TaskID] = [:]
        for (task, record) in zip(tasks, outcome.tasks) where task.id != nil && task.id != record.id {
            holders[task.id!] = record.id
        }
        // The tasks this insert stored: their dependents among the batch are counted already.
        var inserted = Set<UUID>()
        for (i, record) in outcome.tasks.enumerated() where !outcome.duplicate[i] { inserted.insert(record.id.uuid) }
        var children: [UUID] = []
        var positions: [Int] = []
        var parentIDs: [UUID] = []
        var conditions: [String] = []
        var ignores: [Int] = []
        var edgesPerOtherParent: [UUID: Int] = [:]
        for (i, task) in tasks.enumerated() where !outcome.duplicate[i] && task.hasParents {
            let child = outcome.tasks[i].id.uuid
            for (position, edge) in task.after.enumerated() {
                let parent: UUID
                if inserted.contains(edge.parent.uuid) {
                    parent = edge.parent.uuid
                } else {
                    parent = (holders[edge.parent] ?? edge.parent).uuid
                    edgesPerOtherParent[parent, default: 0] += 1
                }
                children.append(child)
                positions.append(position)
                parentIDs.append(parent)
                conditions.append(edge.condition.rawValue)
                ignores.append((task.policy ?? .cancel).ignoreBits)
            }
        }
        guard !children.isEmpty else { return outcome }
        let others = edgesPerOtherParent.keys.sorted { $0.uuidString < $1.uuidString }
        if !others.isEmpty {
            let lock = PostgresQuery(
                unsafeSQL: sql.parentsLock,
                binds: bindings { b in
                    b.append(others)
                    b.append(others.map { edgesPerOtherParent[$0]! })
                })
            var found = Set<UUID>()
            for row in try await connection.query(lock, logger: logger).collect() { found.insert(try row.decode((UUID, String).self).0) }
            if let missing = others.first(where: { !found.contains($0) }) {
                throw BatonError.invalidArgument("parent task \(TaskID(uuid: missing)) does not exist")
            }
        }
        let insert = PostgresQuery(
            unsafeSQL: sql.edgesInsert,
            binds: bindings { b in
                b.append(children)
                b.append(positions)
                b.append(parentIDs)
                b.append(conditions)
                b.append(ignores)
            })
        do {
            try await connection.query(insert, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw BatonError.invalidArgument("a task names the same parent twice")
        }
        // Only a parent stored before this insert can have finished.
        guard !others.isEmpty else { return outcome }
        let settle = PostgresQuery(unsafeSQL: sql.edgesSettleFinished, binds: bindings { $0.append(others) })
        try await connection.query(settle, logger: logger)
        // Settled edges may have moved states: read the dependents back.
        let ids = Array(Set(children))
        var updated: [UUID: TaskRecord] = [:]
        let fetch = PostgresQuery(unsafeSQL: sql.tasksByIDs, binds: bindings { $0.append(ids) })
        for row in try await connection.query(fetch, logger: logger).collect() {
            let record = try TaskRecord(postgres: row.makeRandomAccess())
            updated[record.id.uuid] = record
        }
        var result = outcome
        for (i, record) in outcome.tasks.enumerated() where !outcome.duplicate[i] {
            if let now = updated[record.id.uuid] { result.tasks[i] = now }
        }
        return result
    }

    public func taskParents(_ p: TaskParentsParams) async throws -> ParentPage {
        try p.validate()
        let query = PostgresQuery(
            unsafeSQL: sql.parents,
            binds: Self.bindings { b in
                b.append(p.id.uuid)
                b.append(p.cursor ?? -1)
                b.append(p.limit + 1)
            })
        let exists = PostgresQuery(unsafeSQL: sql.exists, binds: Self.bindings { $0.append(p.id.uuid) })
        return try await call("reading the parents of task \(p.id)") { [client] () -> ParentPage in
            let rows = try await client.query(query).collect()
            if rows.isEmpty, try await client.query(exists).collect().isEmpty { throw BatonError.taskNotFound(p.id) }
            var parents: [ParentResult] = []
            var positions: [Int] = []
            for row in rows.prefix(p.limit) {
                let (position, name, id, state, condition, result, lastError) = try row.decode(
                    (Int, String, UUID, String?, String, String?, String?).self)
                guard let condition = DependencyCondition(rawValue: condition) else {
                    throw BatonError(.internal, "task \(p.id) has a malformed edge")
                }
                positions.append(position)
                parents.append(
                    ParentResult(
                        name: name, id: TaskID(uuid: id), state: state.flatMap(TaskState.init(rawValue:)) ?? .waiting, condition: condition,
                        result: result.map { RawJSON(trusted: $0) }, lastError: lastError))
            }
            return ParentPage(parents: parents, nextCursor: rows.count > p.limit ? positions.last.map(String.init) : nil)
        }
    }

    public func workflowGet(_ id: TaskID) async throws -> WorkflowRecord? {
        let sql = self.sql
        return try await call("reading workflow \(id)") { [client] in
            try await Self.workflow(id, sql: sql) { try await client.query($0).collect() }
        }
    }

    public func workflowCancel(_ id: TaskID) async throws -> WorkflowRecord {
        let sql = self.sql
        let logger = self.logger
        let binds = Self.bindings { $0.append(id.uuid) }
        return try await call("cancelling workflow \(id)") { [client] in
            try await Self.retryingDeadlocks {
                try await client.withTransaction(logger: logger) { connection in
                    let marked = try await connection.query(
                        PostgresQuery(unsafeSQL: sql.workflowCancelRequest, binds: binds), logger: logger
                    )
                    .collect()
                    guard !marked.isEmpty else { throw BatonError(.notFound, "workflow \(id) not found") }
                    try await connection.query(PostgresQuery(unsafeSQL: sql.workflowCancelNodes, binds: binds), logger: logger)
                    guard
                        let record = try await Self.workflow(
                            id, sql: sql, run: { try await connection.query($0, logger: logger).collect() })
                    else { throw BatonError(.notFound, "workflow \(id) not found") }
                    return record
                }
            }
        }
    }

    private static func workflow(
        _ id: TaskID, sql: PostgresSQL, run: (PostgresQuery) async throws -> [PostgresRow]
    ) async throws -> WorkflowRecord? {
        let binds = bindings { $0.append(id.uuid) }
        guard let head = try await run(PostgresQuery(unsafeSQL: sql.workflowGet, binds: binds)).first else { return nil }
        let (name, cancelRequested, createdAt, expectedNodes) = try head.decode((String?, Bool, Date, Int?).self)
        var nodes: [WorkflowNode] = []
        for row in try await run(PostgresQuery(unsafeSQL: sql.workflowNodes, binds: binds)) {
            let (node, taskID, kind, stateText, blocked, result, lastError) = try row.decode(
                (String, UUID, String, String, Int, String?, String?).self)
            guard let state = TaskState(rawValue: stateText) else { throw BatonError(.internal, "workflow \(id) has a malformed node") }
            nodes.append(
                WorkflowNode(
                    name: node, id: TaskID(uuid: taskID), kind: kind, state: state, skipped: state == .cancelled && blocked > 0,
                    result: result.map { RawJSON(trusted: $0) }, lastError: lastError))
        }
        return WorkflowRecord(
            id: id, name: name, cancelRequested: cancelRequested, createdAt: createdAt, nodes: nodes, expectedNodes: expectedNodes)
    }

    /// `conflict` when a finished task's result is still needed by a dependent.
    func refuseIfNeeded(_ id: TaskID) async throws {
        let query = PostgresQuery(unsafeSQL: sql.liveDependent, binds: Self.bindings { $0.append(id.uuid) })
        let needed = try await call("reading the dependents of task \(id)") { [client] in
            try await !client.query(query).collect().isEmpty
        }
        if needed { throw BatonError.conflict("task \(id) has dependents that have not finished; they need its result") }
    }
}
