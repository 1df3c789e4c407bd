import BatonCore
import Foundation
import Testing

extension TaskStore {
    @discardableResult
    func enqueue(_ tasks: NewTask...) async throws -> [TaskRecord] {
        try await taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
    }

    @discardableResult
    func enqueue(_ tasks: [NewTask]) async throws -> [TaskRecord] {
        try await taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
    }

    func claim(
        _ worker: String = "w1", max: Int = 100, queues: [String] = [Defaults.queue], kinds: [String]? = nil,
        lease: Duration = .seconds(30)
    ) async throws -> [ClaimedTask] {
        try await taskClaim(TaskClaimParams(worker: worker, queues: queues, kinds: kinds, max: max, lease: lease))
    }

    func complete(_ claimed: ClaimedTask, result: RawJSON = .null) async throws -> AckOutcome {
        try await ack(.complete(TaskCompletion(lease: claimed.lease, result: result)))
    }

    func fail(_ lease: LeaseRef, _ message: String = "boom", retryable: Bool = true, retryAfter: Duration? = nil) async throws -> AckOutcome
    {
        try await ack(.fail(TaskFailure(lease: lease, message: message, retryable: retryable, retryAfter: retryAfter)))
    }

    func ack(_ ack: TaskAck) async throws -> AckOutcome {
        let outcomes = try await taskAckMany(TaskAckParams(acks: [ack]))
        try #require(outcomes.count == 1)
        return outcomes[0]
    }

    func heartbeat(_ lease: LeaseRef, lease duration: Duration = .seconds(30)) async throws -> HeartbeatOutcome {
        let outcomes = try await taskHeartbeatMany(TaskHeartbeatParams(leases: [lease], lease: duration))
        try #require(outcomes.count == 1)
        return outcomes[0]
    }

    func require(_ id: TaskID) async throws -> TaskRecord {
        try #require(try await taskGet(id), "task \(id) should exist")
    }

    /// Every task, newest first.
    func all() async throws -> [TaskRecord] {
        try await taskList(TaskListParams(limit: TaskListParams.maxLimit)).tasks
    }
}

/// Expects `body` to throw a `BatonError` with `code`.
func expectError<T>(
    _ code: BatonError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected a \(code) error, got none", sourceLocation: sourceLocation)
    } catch let error as BatonError {
        #expect(error.code == code, "got \(error.code): \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a \(code) BatonError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// The absolute difference of two times in seconds.
func gap(_ a: Date, _ b: Date) -> Double { abs(a.timeIntervalSince(b)) }
