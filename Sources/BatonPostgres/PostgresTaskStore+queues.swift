import BatonCore
import Foundation
import PostgresNIO

/// Paused queues: claims skip their tasks (the claim statement checks `paused_queues`).
extension PostgresTaskStore: QueueAdminStore {
    public func queuePause(_ name: String) async throws {
        try NewTask.validateName(name, field: "queue", maxLength: Limits.maxQueueLength)
        let query = PostgresQuery(unsafeSQL: sql.queuePause, binds: Self.bindings { $0.append(name) })
        try await call("pausing queue \(name)") { [client] in
            _ = try await client.query(query).collect()
        }
    }

    /// Its ready tasks are claimable again: the same statement notifies every node's claimers.
    public func queueResume(_ name: String) async throws {
        try NewTask.validateName(name, field: "queue", maxLength: Limits.maxQueueLength)
        let query = PostgresQuery(
            unsafeSQL: sql.queueResume,
            binds: Self.bindings { b in
                b.append(name)
                b.append(configuration.schema)
            })
        try await call("resuming queue \(name)") { [client] in
            _ = try await client.query(query).collect()
        }
        readySignal.notify()
    }

    public func queuePausedList() async throws -> [String] {
        let query = PostgresQuery(unsafeSQL: sql.queuePausedList)
        return try await call("listing paused queues") { [client] in
            try await client.query(query).collect().map { try $0.decode(String.self) }
        }
    }
}
