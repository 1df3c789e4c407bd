import BatonCore

/// Paused queues, for `/v1/queues/...` and the `queue.*` JSON-RPC methods: claims skip a
/// paused queue's tasks; submits still work. (`queues()`, the counts, is with the tasks.)
extension NodeAPI {
    public struct PausedQueues: Codable, Sendable {
        public var paused: [String]
    }

    public func queuePausedList() async throws -> PausedQueues {
        PausedQueues(paused: try await node.store.queuePausedList())
    }

    /// Pauses a queue (whether or not it has tasks); answers every paused queue.
    public func queuePause(_ name: String) async throws -> PausedQueues {
        try Self.checkQueueName(name)
        try await node.store.queuePause(name)
        return try await queuePausedList()
    }

    /// Resumes a queue (one not paused is left as it is); answers every paused queue.
    public func queueResume(_ name: String) async throws -> PausedQueues {
        try Self.checkQueueName(name)
        try await node.store.queueResume(name)
        return try await queuePausedList()
    }

    public static func checkQueueName(_ name: String) throws {
        try NewTask.validateName(name, field: "queue", maxLength: Limits.maxQueueLength)
    }
}
