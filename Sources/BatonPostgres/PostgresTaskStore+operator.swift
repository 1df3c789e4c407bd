import BatonCore
import Foundation
import PostgresNIO

extension PostgresTaskStore {
    public func taskCancel(_ id: TaskID) async throws -> TaskRecord {
        let query = PostgresQuery(unsafeSQL: sql.cancel, binds: Self.bindings { $0.append(id.uuid) })
        let record = try await call("cancelling task \(id)") { [client] () -> TaskRecord? in
            try await client.query(query).collect().first.map { try TaskRecord(postgres: $0.makeRandomAccess()) }
        }
        if let record { return record }
        let state = try await currentState(id)
        throw BatonError.conflict("task \(id) is already \(state.rawValue)")
    }

    public func taskRetry(_ id: TaskID) async throws -> TaskRecord {
        let query = PostgresQuery(
            unsafeSQL: sql.retry,
            binds: Self.bindings { b in
                b.append(id.uuid)
                b.append(configuration.schema)
            })
        let record = try await call("retrying task \(id)") { [client] () -> TaskRecord? in
            try await client.query(query).collect().first.map { try TaskRecord(postgres: $0.makeRandomAccess()) }
        }
        if let record {
            readySignal.notify()
            return record
        }
        let state = try await currentState(id)
        throw BatonError.conflict("task \(id) is \(state.rawValue); only finished tasks can be retried")
    }

    public func taskDelete(_ id: TaskID) async throws {
        try await refuseIfNeeded(id)
        let query = PostgresQuery(unsafeSQL: sql.delete, binds: Self.bindings { $0.append(id.uuid) })
        let deleted = try await call("deleting task \(id)") { [client] in
            try await !client.query(query).collect().isEmpty
        }
        if deleted { return }
        let state = try await currentState(id)
        throw BatonError.conflict("task \(id) is \(state.rawValue); only finished tasks can be deleted")
    }

    /// The task's state, or `notFound`.
    private func currentState(_ id: TaskID) async throws -> TaskState {
        let query = PostgresQuery(unsafeSQL: sql.stateOf, binds: Self.bindings { $0.append(id.uuid) })
        let text = try await call("reading task \(id)") { [client] in
            try await client.query(query).collect().first?.decode(String.self)
        }
        guard let text else { throw BatonError.taskNotFound(id) }
        guard let state = TaskState(rawValue: text) else { throw BatonError(.internal, "task \(id) has unknown state '\(text)'") }
        return state
    }

    public func taskGet(_ id: TaskID) async throws -> TaskRecord? {
        let query = PostgresQuery(unsafeSQL: sql.get, binds: Self.bindings { $0.append(id.uuid) })
        return try await call("reading task \(id)") { [client] in
            try await client.query(query).collect().first.map { try TaskRecord(postgresWithProgress: $0.makeRandomAccess()) }
        }
    }

    public func taskGetWithLease(_ id: TaskID) async throws -> TaskWithLease? {
        let query = PostgresQuery(unsafeSQL: sql.get, binds: Self.bindings { $0.append(id.uuid) })
        return try await call("reading task \(id)") { [client] in
            try await client.query(query).collect().first.map { row in
                let row = row.makeRandomAccess()
                return TaskWithLease(task: try TaskRecord(postgresWithProgress: row), leaseToken: try row.leaseToken())
            }
        }
    }

    public func taskLeasesHeld(_ leases: [LeaseRef]) async throws -> Set<LeaseRef> {
        guard !leases.isEmpty else { return [] }
        let binds = Self.bindings { b in
            b.append(leases.map(\.id.uuid))
            b.append(leases.map(\.token))
        }
        let query = PostgresQuery(unsafeSQL: sql.leasesHeld, binds: binds)
        let frozen = leases
        return try await call("reading \(leases.count) lease(s)") { [client] in
            var held = Set<LeaseRef>()
            for try await ord in try await client.query(query).decode(Int64.self) {
                let index = Int(ord) - 1
                if frozen.indices.contains(index) { held.insert(frozen[index]) }
            }
            return held
        }
    }

    public func taskList(_ p: TaskListParams) async throws -> TaskPage {
        let cursor = try p.validatedCursor()
        let states = Array(Set(p.states ?? [])).map(\.rawValue).sorted()
        let text = sql.list(
            hasCursor: cursor != nil, hasStates: !states.isEmpty, hasQueue: p.queue != nil, hasKind: p.kind != nil, hasTag: p.tag != nil)
        let binds = Self.bindings { b in
            if let cursor { b.append(cursor.uuid) }
            if !states.isEmpty { b.append(states) }
            if let queue = p.queue { b.append(queue) }
            if let kind = p.kind { b.append(kind) }
            if let tag = p.tag { b.append(tag) }
            b.append(p.limit + 1)  // One more than asked tells whether another page follows.
        }
        let query = PostgresQuery(unsafeSQL: text, binds: binds)
        var tasks = try await call("listing tasks") { [client] in
            try await client.query(query).collect().map { try TaskRecord(postgresWithProgress: $0.makeRandomAccess()) }
        }
        var nextCursor: String?
        if tasks.count > p.limit {
            tasks.removeLast(tasks.count - p.limit)
            nextCursor = tasks.last?.id.description
        }
        return TaskPage(tasks: tasks, nextCursor: nextCursor)
    }

    public func queueCounts() async throws -> [QueueCounts] {
        let query = PostgresQuery(unsafeSQL: sql.queueCounts)
        return QueueCounts.grouping(
            try await call("counting tasks") { [client] in
                try await client.query(query).collect().map { try $0.decode((String, String, Int, Date?).self) }
            })
    }
}
