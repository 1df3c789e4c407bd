import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore {
    public func taskCancel(_ id: TaskID) async throws -> TaskRecord {
        try await write("cancelling task \(id)") { db in
            let seq = try Self.lookup(id, db: db) { state in
                TaskLifecycle.Transition.cancel.from.contains(state) ? nil : .conflict("task \(id) is already \(state.rawValue)")
            }
            return try Self.single(db.cachedStatement(sql: SQL.cancel), [Millis.now(self.clock), seq], id: id)
        }
    }

    public func taskRetry(_ id: TaskID) async throws -> TaskRecord {
        let work = triggerWork
        let record = try await write("retrying task \(id)") { db in
            var succeeded = false
            let seq = try Self.lookup(id, db: db) { state in
                succeeded = state == .succeeded
                return TaskLifecycle.Transition.operatorRetry.from.contains(state)
                    ? nil : .conflict("task \(id) is \(state.rawValue); only finished tasks can be retried")
            }
            if succeeded {
                work.settlingInBatch = true
                defer { work.settlingInBatch = false }
                try db.cachedStatement(sql: SQL.recordSuccess).execute(arguments: [seq, id.description])
            }
            do {
                return try Self.single(db.cachedStatement(sql: SQL.retry), [Millis.now(self.clock), seq], id: id)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw BatonError.conflict("task \(id) cannot run again: another active task holds its unique key")
            }
        }
        readySignal.notify()
        return record
    }

    public func taskDelete(_ id: TaskID) async throws {
        try await write("deleting task \(id)") { db in
            let seq = try Self.lookup(id, db: db) { state in
                state.isTerminal ? nil : .conflict("task \(id) is \(state.rawValue); only finished tasks can be deleted")
            }
            if try Int.fetchOne(db.cachedStatement(sql: SQL.liveDependent), arguments: [id.description]) != nil {
                throw BatonError.conflict("task \(id) has dependents that have not finished; they need its result")
            }
            try db.cachedStatement(sql: SQL.delete).execute(arguments: [seq])
        }
    }

    public func taskGet(_ id: TaskID) async throws -> TaskRecord? {
        try await read("reading task \(id)") { db in
            try Row.fetchOne(db.cachedStatement(sql: SQL.get), arguments: [id.description]).map(TaskRecord.init(row:))
        }
    }

    public func taskGetWithLease(_ id: TaskID) async throws -> TaskWithLease? {
        try await read("reading task \(id)") { db in
            try Row.fetchOne(db.cachedStatement(sql: SQL.get), arguments: [id.description]).map { row in
                TaskWithLease(task: try TaskRecord(row: row), leaseToken: row[11])
            }
        }
    }

    public func taskLeasesHeld(_ leases: [LeaseRef]) async throws -> Set<LeaseRef> {
        guard !leases.isEmpty else { return [] }
        return try await read("reading \(leases.count) lease(s)") { db in
            var held = Set<LeaseRef>()
            for lease in leases {
                guard let row = try Row.fetchOne(db.cachedStatement(sql: SQL.leaseLookup), arguments: [lease.id.description]) else {
                    continue
                }
                let state: String = row[0]
                let token: String? = row[1]
                if state == TaskState.running.rawValue && token == lease.token { held.insert(lease) }
            }
            return held
        }
    }

    public func taskList(_ p: TaskListParams) async throws -> TaskPage {
        let cursor = try p.validatedCursor()
        let states = Array(Set(p.states ?? [])).map(\.rawValue).sorted()
        let sql = SQL.list(
            hasCursor: cursor != nil, stateCount: states.count, hasQueue: p.queue != nil, hasKind: p.kind != nil, hasTag: p.tag != nil)
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let cursor { arguments.append(cursor.description) }
        for state in states { arguments.append(state) }
        if let queue = p.queue { arguments.append(queue) }
        if let kind = p.kind { arguments.append(kind) }
        if let tag = p.tag { arguments.append(tag) }
        arguments.append(p.limit + 1)  // One more than asked tells whether another page follows.
        let frozen = StatementArguments(arguments)
        var tasks = try await read("listing tasks") { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: frozen).map(TaskRecord.init(row:))
        }
        var nextCursor: String?
        if tasks.count > p.limit {
            tasks.removeLast(tasks.count - p.limit)
            nextCursor = tasks.last?.id.description
        }
        return TaskPage(tasks: tasks, nextCursor: nextCursor)
    }

    public func queueCounts() async throws -> [QueueCounts] {
        QueueCounts.grouping(
            try await read("counting tasks") { db in
                try Row.fetchAll(db.cachedStatement(sql: SQL.queueCounts)).map { row in
                    (row[0], row[1], row[2], (row[3] as Int64?).map(Millis.date))
                }
            })
    }

    /// Finds a task's row, or throws `notFound` or the error `refuse` returns for its state.
    private static func lookup(_ id: TaskID, db: Database, refuse: (TaskState) -> BatonError?) throws -> Int64 {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: SQL.stateLookup), arguments: [id.description]) else {
            throw BatonError.taskNotFound(id)
        }
        let stateText: String = row[1]
        guard let state = TaskState(rawValue: stateText) else {
            throw BatonError(.internal, "task \(id) has unknown state '\(stateText)'")
        }
        if let error = refuse(state) { throw error }
        return row[0]
    }

    private static func single(_ statement: Statement, _ arguments: StatementArguments, id: TaskID) throws -> TaskRecord {
        guard let row = try Row.fetchOne(statement, arguments: arguments) else { throw BatonError.taskNotFound(id) }
        return try TaskRecord(row: row)
    }
}
