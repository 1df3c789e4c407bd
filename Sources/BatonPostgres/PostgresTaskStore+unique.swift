import BatonCore
import Foundation
import Logging
import PostgresNIO

extension PostgresTaskStore: UniqueTaskStore {
    /// How long an idempotency key answers with its first tasks.
    static let idempotencyKeyLifetimeHours = 24

    /// Inserts the tasks in one transaction. A task whose `unique_key` is held (by an active
    /// task, or within its `unique_window` by any task) is not inserted: the holder is returned
    /// in its place. A known idempotency key returns its first outcome.
    ///
    /// Race-free across connections and nodes: the idempotency key is taken with
    /// `INSERT … ON CONFLICT`, which makes a concurrent request with the same key wait for the
    /// first one's commit and then read its answer; each unique key is held by a transaction
    /// advisory lock from the holder lookup to the commit (and the partial unique index
    /// `tasks_unique_active` backs the default scope). A batch with neither takes the one-statement
    /// path of `taskEnqueueMany`.
    public func taskEnqueueManyOutcome(_ p: TaskEnqueueParams) async throws -> TaskEnqueueOutcome {
        guard !p.tasks.isEmpty else { return TaskEnqueueOutcome(tasks: [], duplicate: []) }
        let linked = p.workflow != nil || p.completing != nil || p.tasks.contains { $0.hasParents || $0.workflowID != nil }
        if p.idempotencyKey == nil && !linked && !p.tasks.contains(where: { $0.uniqueKey != nil }) {
            let tasks = try await taskEnqueueMany(p)
            return TaskEnqueueOutcome(tasks: tasks, duplicate: Array(repeating: false, count: tasks.count))
        }
        for task in p.tasks { try task.validate() }
        let key = p.idempotencyKey
        let hash = key == nil ? "" : try p.fingerprint()
        let insert = try uniqueInsert(p.tasks, linked: linked)
        let (workflow, strictUnique, tasks, completing) = (p.workflow, p.strictUnique, p.tasks, p.completing)
        let sql = self.sql
        let logger = self.logger
        let outcome = try await call("enqueueing \(p.tasks.count) task(s)") { [client] () -> TaskEnqueueOutcome in
            try await client.withTransaction(logger: logger) { connection -> TaskEnqueueOutcome in
                if let key {
                    let claim = PostgresQuery(
                        unsafeSQL: sql.idempotencyClaim,
                        binds: Self.bindings { b in
                            b.append(key)
                            b.append(hash)
                        })
                    if try await connection.query(claim, logger: logger).collect().isEmpty {
                        return try await Self.recorded(key: key, hash: hash, sql: sql, connection: connection, logger: logger)
                    }
                }
                if let completing {
                    let binds = Self.bindings { b in
                        b.append([completing.lease.id.uuid])
                        b.append([completing.lease.token])
                        b.append([completing.result.text])
                    }
                    let rows = try await connection.query(
                        PostgresQuery(unsafeSQL: sql.complete(reporting: false), binds: binds), logger: logger
                    )
                    .collect()
                    let (_, applied, exists) = try rows.first?.decode((Int64, Bool, Bool).self) ?? (Int64(0), false, false)
                    if !applied { throw Self.completionRefused(exists ? .staleLease : .notFound, id: completing.lease.id) }
                }
                if let workflow {
                    do {
                        try await connection.query(
                            PostgresQuery(
                                unsafeSQL: sql.workflowInsert(joining: workflow.joinsExisting),
                                binds: Self.bindings { b in
                                    b.append(workflow.id.uuid)
                                    b.append(workflow.name)
                                    b.append(workflow.expectedNodes)
                                }), logger: logger)
                    } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                        // A workflow's id is chosen by its submitter when it is a Machinery group's UUID.
                        throw BatonError.conflict("workflow \(workflow.id) already exists")
                    }
                }
                var outcome = try await insert.run(on: connection, logger: logger)
                if strictUnique, let i = outcome.duplicate.firstIndex(of: true) {
                    throw BatonError.invalidArgument("unique key '\(tasks[i].uniqueKey ?? "")' is held by task \(outcome.tasks[i].id)")
                }
                if linked {
                    outcome = try await Self.link(tasks, outcome, sql: sql, connection: connection, logger: logger)
                }
                if let key {
                    let record = PostgresQuery(
                        unsafeSQL: sql.idempotencyRecord,
                        binds: Self.bindings { b in
                            b.append(key)
                            b.append(outcome.tasks.map(\.id.uuid))
                            b.append(outcome.duplicate)
                        })
                    try await connection.query(record, logger: logger)
                }
                return outcome
            }
        }
        count { $0.enqueueTransactions += 1 }
        if outcome.duplicate.contains(false) { readySignal.notify() }
        return outcome
    }

    /// The outcome an idempotency key recorded (tasks deleted since are left out), or
    /// `idempotencyMismatch` when it was recorded for a different request.
    private static func recorded(
        key: String, hash: String, sql: PostgresSQL, connection: PostgresConnection, logger: Logger
    ) async throws -> TaskEnqueueOutcome {
        let lookup = PostgresQuery(unsafeSQL: sql.idempotencyLookup, binds: bindings { $0.append(key) })
        // The claim waited for any transaction holding the key: its answer is committed.
        guard let row = try await connection.query(lookup, logger: logger).collect().first else {
            throw BatonError.unavailable("idempotency key '\(key)' expired while it was read; retry the request")
        }
        let (storedHash, ids, flags) = try row.decode((String, [UUID], [Bool]).self)
        guard storedHash == hash else {
            throw BatonError(.idempotencyMismatch, "idempotency key '\(key)' was used with a different request")
        }
        let fetch = PostgresQuery(unsafeSQL: sql.tasksByIDs, binds: bindings { $0.append(ids) })
        var byID: [UUID: TaskRecord] = [:]
        for row in try await connection.query(fetch, logger: logger).collect() {
            let record = try TaskRecord(postgres: row.makeRandomAccess())
            byID[record.id.uuid] = record
        }
        return TaskEnqueueOutcome.recorded(ids: ids, duplicates: flags) { byID[$0] }
    }

    /// Prepares an insert with unique-key checks, to run inside a transaction.
    func uniqueInsert(_ tasks: [NewTask], linked: Bool = false) throws -> UniqueInsert {
        let (query, ids) = try enqueueQuery(tasks, linked: linked)
        return UniqueInsert(tasks: tasks, ids: ids, query: query, linked: linked, sql: sql, schema: configuration.schema, store: self)
    }
}

/// An insert of tasks some of which carry unique keys, run inside the caller's transaction:
/// locks each key, reads the keys' holders, then inserts the other tasks with one statement.
struct UniqueInsert: Sendable {
    let tasks: [NewTask]
    let ids: [UUID]
    /// The insert of every task, used as is when no task's key is held.
    let query: PostgresQuery
    /// Whether the insert sets the workflow columns (`PostgresSQL.enqueueLinked`).
    let linked: Bool
    let sql: PostgresSQL
    let schema: String
    let store: PostgresTaskStore

    func run(on connection: PostgresConnection, logger: Logger) async throws -> TaskEnqueueOutcome {
        // The first task of each key decides its window (as in the SQLite store).
        var keys: [String] = []
        var windows: [Double] = []
        var seen = Set<String>()
        for task in tasks {
            guard let key = task.uniqueKey, seen.insert(key).inserted else { continue }
            keys.append(key)
            windows.append(task.uniqueWindow.map(TimeBounds.seconds) ?? -1)
        }
        var holders: [String: TaskRecord] = [:]
        if !keys.isEmpty {
            let sorted = keys.sorted()
            let lock = PostgresQuery(
                unsafeSQL: sql.uniqueLock,
                binds: PostgresTaskStore.bindings { b in
                    b.append(sorted)
                    b.append(schema)
                })
            _ = try await connection.query(lock, logger: logger).collect()
            let lookup = PostgresQuery(
                unsafeSQL: sql.uniqueHolders,
                binds: PostgresTaskStore.bindings { b in
                    b.append(keys)
                    b.append(windows)
                })
            for row in try await connection.query(lookup, logger: logger).collect() {
                let record = try TaskRecord(postgres: row.makeRandomAccess())
                if let key = record.uniqueKey { holders[key] = record }
            }
        }
        // Per task: its holder, an earlier task of the batch with its key, or inserted.
        var source: [Source] = []
        var keep: [Int] = []
        var heldInBatch: [String: Int] = [:]
        for (i, task) in tasks.enumerated() {
            guard let key = task.uniqueKey else {
                keep.append(i)
                source.append(.inserted)
                continue
            }
            if let j = heldInBatch[key] {
                source.append(.batch(j))
            } else if let holder = holders[key] {
                source.append(.holder(holder))
            } else {
                heldInBatch[key] = i
                keep.append(i)
                source.append(.inserted)
            }
        }
        var inserted: [Int: TaskRecord] = [:]
        if !keep.isEmpty {
            // A partial batch gets its insert (and generated ids) anew; ids given by the caller are kept.
            let (query, keptIDs) =
                keep.count == tasks.count ? (self.query, ids) : try store.enqueueQuery(keep.map { tasks[$0] }, linked: linked)
            let rows: [PostgresRow]
            do {
                rows = try await connection.query(query, logger: logger).collect()
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw PostgresTaskStore.duplicate(error, ids: keptIDs)
            }
            let records = try PostgresTaskStore.inserted(rows, order: keptIDs)
            for (position, index) in keep.enumerated() { inserted[index] = records[position] }
        }
        var outcome = TaskEnqueueOutcome(tasks: [], duplicate: [])
        for (i, s) in source.enumerated() {
            switch s {
            case .inserted:
                guard let record = inserted[i] else { throw BatonError(.internal, "task \(i) of the batch was not inserted") }
                outcome.tasks.append(record)
                outcome.duplicate.append(false)
            case .batch(let j):
                guard let record = inserted[j] else { throw BatonError(.internal, "task \(j) of the batch was not inserted") }
                outcome.tasks.append(record)
                outcome.duplicate.append(true)
            case .holder(let record):
                outcome.tasks.append(record)
                outcome.duplicate.append(true)
            }
        }
        return outcome
    }

    private enum Source {
        case inserted
        case batch(Int)
        case holder(TaskRecord)
    }
}
