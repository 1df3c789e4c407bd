import BatonCore
import BatonWorker
import Foundation
import Testing

/// The transport seam's conformance suite: what every transport between a node and its
/// workers must do, checked through ``TaskSource`` (the seam `WorkerRuntime` runs on) against
/// a real node. The HTTP worker protocol (BatonServerTests) and SQS (BatonSQSBrokerTests) pass
/// it; Redis and RabbitMQ transports will too.
///
/// The store stays the source of truth: a transport carries claimed tasks to workers and their
/// outcomes back, and every state change is a fenced store transition. So a transport must
/// deliver each ready task once per lease, apply acks only under the current lease, keep a
/// lease alive while its worker heartbeats, and deliver an abandoned task again once its lease
/// ran out, refusing the old lease's outcome.
public enum TransportConformance {
    /// A transport under test, over a running node.
    public struct Harness: Sendable {
        /// The worker side of the transport (its ``TaskSource/run()`` is started by the suite).
        public var source: any TaskSource
        /// The Baton queue this transport carries.
        public var queue: String
        /// Submits tasks to the node.
        public var submit: @Sendable ([NewTask]) async throws -> [TaskRecord]
        /// Reads a task from the node's store.
        public var task: @Sendable (TaskID) async throws -> TaskRecord?
        /// The lease the node gives a task the transport carries until its worker's first
        /// heartbeat (the claim's own for HTTP, the dispatch lease for a broker).
        public var lease: Duration

        public init(
            source: any TaskSource, queue: String, lease: Duration, submit: @escaping @Sendable ([NewTask]) async throws -> [TaskRecord],
            task: @escaping @Sendable (TaskID) async throws -> TaskRecord?
        ) {
            self.source = source
            self.queue = queue
            self.lease = lease
            self.submit = submit
            self.task = task
        }

        func claim(max: Int = 10, wait: Duration = .seconds(2)) async throws -> [ClaimedTask] {
            try await source.claim(worker: "conformance", queues: [queue], kinds: [], max: max, wait: wait, lease: lease)
        }

        /// Claims until `id` arrives under a token other than `except`, ignoring other deliveries.
        func claim(_ id: TaskID, except: String? = nil, within limit: Duration = .seconds(60)) async throws -> ClaimedTask {
            try await eventually("task \(id) delivered", within: limit, every: .milliseconds(10)) { () -> ClaimedTask? in
                try await claim().first { $0.task.id == id && $0.leaseToken != except }
            }
        }

        func state(_ id: TaskID, becomes expected: TaskState, within limit: Duration = .seconds(30)) async throws -> TaskRecord {
            try await eventually("task \(id) to be \(expected)", within: limit, every: .milliseconds(50)) { () -> TaskRecord? in
                let task = try await task(id)
                return task?.state == expected ? task : nil
            }
        }
    }

    public typealias Check = @Sendable (Harness) async throws -> Void

    /// Every check, each given a fresh harness by `with` (which sets a node and the transport
    /// up, runs the check, and tears them down), one after another.
    public static func runAll(_ with: (_ check: @escaping Check) async throws -> Void) async throws {
        let checks: [(String, Check)] = [
            ("delivers each task once and applies its completion", deliversEachTaskOnceAndAppliesItsCompletion),
            ("fences acks by the lease; a failure is retried", fencesAcksByTheLeaseAndRetriesAFailure),
            ("heartbeats keep a lease past its length", heartbeatsKeepALeasePastItsLength),
            ("an abandoned task is delivered again", anAbandonedTaskIsDeliveredAgainAndItsOldLeaseRefused),
        ]
        for (name, check) in checks {
            try await with { harness in
                let running = Task { await harness.source.run() }
                do {
                    try await check(harness)
                } catch {
                    Issue.record("transport conformance, \(name): \(error)")
                }
                harness.source.stop()
                await running.value
            }
        }
    }

    /// 30 tasks arrive, each once, running, at attempt 1 with its arguments and a lease token
    /// of its own; completed, each stores its result.
    @Sendable public static func deliversEachTaskOnceAndAppliesItsCompletion(_ h: Harness) async throws {
        let submitted = try await h.submit(
            try (0..<30).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#($0)}"#), queue: h.queue) })
        var delivered: [TaskID: ClaimedTask] = [:]
        var duplicates = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while delivered.count < submitted.count && ContinuousClock.now < deadline {
            for claimed in try await h.claim() {
                if delivered.updateValue(claimed, forKey: claimed.task.id) != nil { duplicates += 1 }
            }
        }
        #expect(delivered.count == submitted.count, "delivered \(delivered.count) of \(submitted.count)")
        #expect(duplicates == 0, "a task was delivered twice under one lease")
        #expect(Set(delivered.values.map(\.leaseToken)).count == delivered.count, "each delivery has its own lease token")
        for task in submitted {
            guard let claimed = delivered[task.id] else { continue }
            #expect(claimed.task.args == task.args && claimed.task.attempt == 1 && claimed.task.kind == "echo")
            h.source.ack(.complete(TaskCompletion(lease: claimed.lease, result: claimed.task.args)))
        }
        await h.source.flush()
        for task in submitted {
            let done = try await h.state(task.id, becomes: .succeeded)
            #expect(done.result == task.args && done.attempt == 1)
        }
    }

    /// A completion under a forged token changes nothing; a retryable failure under the real one
    /// puts the task back for a second attempt, delivered under a new token.
    @Sendable public static func fencesAcksByTheLeaseAndRetriesAFailure(_ h: Harness) async throws {
        let task = try #require(
            try await h.submit([NewTask(kind: "echo", queue: h.queue, maxAttempts: 2, retry: .fixed(.milliseconds(100)))]).first)
        let first = try await h.claim(task.id)
        h.source.ack(.complete(TaskCompletion(lease: LeaseRef(id: task.id, token: "forged-\(first.leaseToken)"), result: .null)))
        await h.source.flush()
        try await Task.sleep(for: h.lease / 4)
        // The real lease kept alive: the failure below must not race the rescuer.
        _ = try await h.source.heartbeat([first.lease], lease: h.lease)
        #expect(try await h.task(task.id)?.state == .running, "a forged lease completed the task")

        h.source.ack(.fail(TaskFailure(lease: first.lease, message: "conformance: first attempt fails")))
        await h.source.flush()
        let second = try await h.claim(task.id, except: first.leaseToken)
        #expect(second.task.attempt == 2)
        h.source.ack(.complete(TaskCompletion(lease: second.lease, result: try RawJSON(validating: "[2]"))))
        await h.source.flush()
        let done = try await h.state(task.id, becomes: .succeeded)
        #expect(done.attempt == 2 && done.errors.first?.message.contains("first attempt fails") == true, "\(done.errors)")
    }

    /// A worker heartbeating its task keeps it for three lease lengths: not rescued, still at
    /// attempt 1, completed under its first lease.
    @Sendable public static func heartbeatsKeepALeasePastItsLength(_ h: Harness) async throws {
        let task = try #require(try await h.submit([NewTask(kind: "echo", queue: h.queue)]).first)
        let claimed = try await h.claim(task.id)
        let until = ContinuousClock.now + h.lease * 3
        while ContinuousClock.now < until {
            let outcomes = try await h.source.heartbeat([claimed.lease], lease: h.lease)
            guard case .extended? = outcomes.first else {
                Issue.record("heartbeat answered \(outcomes)")
                return
            }
            try await Task.sleep(for: h.lease / 4)
        }
        let now = try #require(try await h.task(task.id))
        #expect(now.state == .running && now.attempt == 1, "\(now.state) at attempt \(now.attempt)")
        h.source.ack(.complete(TaskCompletion(lease: claimed.lease, result: .null)))
        await h.source.flush()
        #expect(try await h.state(task.id, becomes: .succeeded).attempt == 1)
    }

    /// A task whose worker vanished (no heartbeat, no ack) is delivered again once its lease
    /// ran out, under a new token; the old lease's completion is refused.
    @Sendable public static func anAbandonedTaskIsDeliveredAgainAndItsOldLeaseRefused(_ h: Harness) async throws {
        let task = try #require(try await h.submit([NewTask(kind: "echo", queue: h.queue, maxAttempts: 3)]).first)
        let abandoned = try await h.claim(task.id)
        let again = try await h.claim(task.id, except: abandoned.leaseToken)
        #expect(again.task.attempt == 2)
        h.source.ack(.complete(TaskCompletion(lease: abandoned.lease, result: try RawJSON(validating: #""stale""#))))
        await h.source.flush()
        try await Task.sleep(for: h.lease / 4)
        _ = try await h.source.heartbeat([again.lease], lease: h.lease)
        #expect(try await h.task(task.id)?.state == .running, "the old lease completed the task")
        h.source.ack(.complete(TaskCompletion(lease: again.lease, result: try RawJSON(validating: #""fresh""#))))
        await h.source.flush()
        let done = try await h.state(task.id, becomes: .succeeded)
        #expect(done.result?.text == #""fresh""# && done.attempt == 2)
    }
}
