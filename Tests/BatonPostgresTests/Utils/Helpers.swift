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

    func claim(_ worker: String = "w1", max: Int = 100, queues: [String] = [Defaults.queue], lease: Duration = .seconds(30))
        async throws -> [ClaimedTask]
    {
        try await taskClaim(TaskClaimParams(worker: worker, queues: queues, max: max, lease: lease))
    }

    func ack(_ ack: TaskAck) async throws -> AckOutcome {
        let outcomes = try await taskAckMany(TaskAckParams(acks: [ack]))
        try #require(outcomes.count == 1)
        return outcomes[0]
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
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
