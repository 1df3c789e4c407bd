import BatonCore
import Foundation
import Testing

/// Short forms of the store calls for tests: one task or a few, the default queue, worker `w1`,
/// a 30 s lease; single acks and heartbeats return their one outcome.
extension TaskStore {
    /// Submits `tasks` in one batch and returns them as stored.
    @discardableResult
    public func enqueue(_ tasks: NewTask...) async throws -> [TaskRecord] {
        try await taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
    }

    /// Submits `tasks` in one batch and returns them as stored.
    @discardableResult
    public func enqueue(_ tasks: [NewTask]) async throws -> [TaskRecord] {
        try await taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
    }

    /// Claims up to `max` tasks for `worker`.
    public func claim(
        _ worker: String = "w1", max: Int = 100, queues: [String] = [Defaults.queue], kinds: [String]? = nil,
        lease: Duration = .seconds(30)
    ) async throws -> [ClaimedTask] {
        try await taskClaim(TaskClaimParams(worker: worker, queues: queues, kinds: kinds, max: max, lease: lease))
    }

    /// Completes a claimed task with `result`.
    public func complete(_ claimed: ClaimedTask, result: RawJSON = .null) async throws -> AckOutcome {
        try await ack(.complete(TaskCompletion(lease: claimed.lease, result: result)))
    }

    /// Fails the attempt that holds `lease`.
    public func fail(_ lease: LeaseRef, _ message: String = "boom", retryable: Bool = true, retryAfter: Duration? = nil) async throws
        -> AckOutcome
    {
        try await ack(.fail(TaskFailure(lease: lease, message: message, retryable: retryable, retryAfter: retryAfter)))
    }

    /// Applies one ack and returns its outcome.
    public func ack(_ ack: TaskAck) async throws -> AckOutcome {
        let outcomes = try await taskAckMany(TaskAckParams(acks: [ack]))
        try #require(outcomes.count == 1)
        return outcomes[0]
    }

    /// Heartbeats one lease and returns its outcome.
    public func heartbeat(_ lease: LeaseRef, lease duration: Duration = .seconds(30)) async throws -> HeartbeatOutcome {
        let outcomes = try await taskHeartbeatMany(TaskHeartbeatParams(leases: [lease], lease: duration))
        try #require(outcomes.count == 1)
        return outcomes[0]
    }

    /// The task `id`; fails the test when there is none.
    public func require(_ id: TaskID) async throws -> TaskRecord {
        try #require(try await taskGet(id), "task \(id) should exist")
    }

    /// Every task, newest first.
    public func all() async throws -> [TaskRecord] {
        try await taskList(TaskListParams(limit: TaskListParams.maxLimit)).tasks
    }
}

/// The absolute difference of two times in seconds.
public func gap(_ a: Date, _ b: Date) -> Double { abs(a.timeIntervalSince(b)) }
