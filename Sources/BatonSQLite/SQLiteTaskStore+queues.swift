import BatonCore
import Foundation
import GRDB

/// Paused queues: claims skip their tasks (the claim statement checks `paused_queues`).
extension SQLiteTaskStore: QueueAdminStore {
    public func queuePause(_ name: String) async throws {
        try NewTask.validateName(name, field: "queue", maxLength: Limits.maxQueueLength)
        try await write("pausing queue \(name)") { db in
            try db.cachedStatement(sql: SQL.queuePause).execute(arguments: [name, Millis.now(self.clock)])
        }
    }

    public func queueResume(_ name: String) async throws {
        try NewTask.validateName(name, field: "queue", maxLength: Limits.maxQueueLength)
        try await write("resuming queue \(name)") { db in
            try db.cachedStatement(sql: SQL.queueResume).execute(arguments: [name])
        }
        // Its ready tasks are claimable again.
        readySignal.notify()
    }

    public func queuePausedList() async throws -> [String] {
        try await read("listing paused queues") { db in
            try String.fetchAll(db.cachedStatement(sql: SQL.queuePausedList))
        }
    }
}
