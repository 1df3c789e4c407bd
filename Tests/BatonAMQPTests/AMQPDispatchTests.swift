import BatonAMQP
import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonTesting
import BatonWorker
import Foundation
import Testing

/// Tasks carried to workers through a RabbitMQ queue against a real `rabbitmq-server`: the
/// node's dispatch role (``BrokerDispatch`` with a RabbitMQ sender) publishes work messages
/// with confirms, a worker's ``AMQPHTTPTaskSource`` consumes them and reports over the HTTP
/// worker protocol of a real HTTP server.
@Suite("RabbitMQ dispatch against rabbitmq-server", .serialized)
struct AMQPDispatchTests {
    /// A node serving HTTP, dispatching queue `default` to a fresh RabbitMQ queue; `body` runs
    /// with the harness, a way to make worker sources on that queue, and the queue's name.
    static func withDispatch(
        _ server: AMQPConfiguration, lease: Duration = .seconds(2), window: Int = 50,
        _ body: @Sendable (BrokerHarness, @Sendable (Int) -> AMQPHTTPTaskSource, String) async throws -> Void
    ) async throws {
        let harness = try await BrokerHarness()
        let queue = AMQPConnectionTests.name("work")
        var configuration = AMQPBrokerConfiguration()
        configuration.amqp = server
        configuration.dispatch = [("default", queue)]
        configuration.dispatchSettings = DispatchSettings(window: window, lease: lease)
        // Declared here too (as the node declares it), so that its depth can be read at once.
        if let amqp = try? await AMQPConnection.connect(server) {
            _ = try? await amqp.declareQueue(queue)
            await amqp.close()
        }
        do {
            try await harness.serving(try configuration.services(api: harness.api, logger: testLogger("amqp"))) { url in
                try await body(
                    harness,
                    { prefetch in
                        AMQPHTTPTaskSource(amqp: server, queue: queue, prefetch: prefetch, servers: [url], logger: testLogger("source"))
                    },
                    queue)
            }
        } catch {
            await AMQPIngestTests.cleanup(server, queues: [queue])
            throw error
        }
        await AMQPIngestTests.cleanup(server, queues: [queue])
    }

    static func depth(_ server: AMQPConfiguration, _ queue: String) async throws -> UInt32 {
        let amqp = try await AMQPConnection.connect(server)
        defer { Task { await amqp.close() } }
        return try await amqp.declareQueue(queue, passive: true).messageCount
    }

    static func claim(_ source: AMQPHTTPTaskSource, max: Int = 10, wait: Duration = .milliseconds(500)) async throws -> [ClaimedTask] {
        try await source.claim(worker: "w", queues: ["default"], kinds: [], max: max, wait: wait, lease: .seconds(30))
    }

    @Test func rabbitMQWithResultsOverHTTPPassesTheTransportConformanceSuite() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        let lease = Duration.seconds(2)
        try await TransportConformance.runAll { check in
            try await Self.withDispatch(server, lease: lease) { harness, source, _ in
                let store = harness.store
                try await check(
                    TransportConformance.Harness(
                        source: source(64), queue: "default", lease: lease,
                        submit: { tasks in try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks)) },
                        task: { id in try await store.taskGet(id) }))
            }
        }
    }

    /// The window bounds the queue: 300 tasks and no consumer leave at most `window` messages,
    /// each a persistent work message of a running task; consumed with a prefetch of 8 (never
    /// more than 8 held at once), every task succeeds once and the queue ends empty.
    @Test func theWindowBoundsTheQueueAndEveryTaskRunsOnce() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        try await Self.withDispatch(server, lease: .seconds(30), window: 20) { harness, makeSource, queue in
            let submitted = try await harness.store.taskEnqueueMany(
                TaskEnqueueParams(tasks: try (0..<300).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#($0)}"#)) }))
            try await eventually("the window filled", within: .seconds(20)) { try await Self.depth(server, queue) == 20 ? true : nil }
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await Self.depth(server, queue) == 20, "more than the window was sent")

            let source = makeSource(8)
            let running = Task { await source.run() }
            var done: [TaskID: Int] = [:]
            var mostHeld = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while done.count < submitted.count && ContinuousClock.now < deadline {
                let claimed = try await Self.claim(source, max: 50)
                mostHeld = max(mostHeld, source.heldCount)
                for task in claimed {
                    done[task.task.id, default: 0] += 1
                    #expect(try await harness.store.taskGet(task.task.id)?.state == .running)
                    source.ack(.complete(TaskCompletion(lease: task.lease, result: task.task.args)))
                }
            }
            await source.flush()
            #expect(done.count == submitted.count && done.values.allSatisfy { $0 == 1 }, "ran \(done.count) of \(submitted.count)")
            #expect(mostHeld <= 8, "held \(mostHeld) messages with a prefetch of 8")
            for task in submitted {
                _ = try await eventually("task \(task.id) succeeded", within: .seconds(30)) { () -> TaskRecord? in
                    let now = try await harness.store.taskGet(task.id)
                    return now?.state == .succeeded && now?.result == task.args ? now : nil
                }
            }
            try await eventually("the queue emptied", within: .seconds(10)) { try await Self.depth(server, queue) == 0 ? true : nil }
            source.stop()
            await running.value
        }
    }

    /// A worker that stops (or loses its connection) holding messages it has not finished hands
    /// them back to RabbitMQ at once: a second worker gets them under the same leases, at
    /// attempt 1, long before the 30 s dispatch lease would have run out, and completes them.
    @Test func messagesHeldByAWorkerThatGoesAwayComeBackAtOnce() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        try await Self.withDispatch(server, lease: .seconds(30)) { harness, makeSource, _ in
            let tasks = try await harness.store.taskEnqueueMany(
                TaskEnqueueParams(tasks: (0..<3).map { _ in NewTask(kind: "echo") }))
            let first = makeSource(3)
            let firstRunning = Task { await first.run() }
            var held: [ClaimedTask] = []
            try await eventually("the first worker took all three", within: .seconds(20)) { () -> Bool? in
                held += try await Self.claim(first)
                return held.count == 3 ? true : nil
            }
            first.stop()
            await firstRunning.value

            let second = makeSource(3)
            let secondRunning = Task { await second.run() }
            let started = ContinuousClock.now
            var again: [ClaimedTask] = []
            try await eventually("the second worker got them", within: .seconds(20)) { () -> Bool? in
                again += try await Self.claim(second)
                return again.count == 3 ? true : nil
            }
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(Set(again.map(\.lease)) == Set(held.map(\.lease)), "the same leases")
            for task in again { second.ack(.complete(TaskCompletion(lease: task.lease, result: .null))) }
            await second.flush()
            for task in tasks {
                let done = try await eventually("task \(task.id) succeeded", within: .seconds(20)) { () -> TaskRecord? in
                    let now = try await harness.store.taskGet(task.id)
                    return now?.state == .succeeded ? now : nil
                }
                #expect(done.attempt == 1)
            }
            second.stop()
            await secondRunning.value
        }
    }

    /// A task cancelled while its message waits in the queue never runs: the worker's first
    /// heartbeat drops it and acknowledges its message. An unreadable message is refused, not run.
    @Test func aTaskCancelledWhileWaitingIsDroppedAndAnUnreadableMessageRefused() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        try await Self.withDispatch(server) { harness, makeSource, queue in
            let tasks = try await harness.store.taskEnqueueMany(TaskEnqueueParams(tasks: [NewTask(kind: "echo"), NewTask(kind: "echo")]))
            try await eventually("both sent", within: .seconds(20)) { try await Self.depth(server, queue) == 2 ? true : nil }
            _ = try await harness.api.cancel(tasks[0].id)
            let amqp = try await AMQPConnection.connect(server)
            try await amqp.enableConfirms()
            try await amqp.publish(Array("not a work message".utf8), exchange: "", routingKey: queue)
            await amqp.close()
            let source = makeSource(10)
            let running = Task { await source.run() }
            var claimed: [ClaimedTask] = []
            for _ in 0..<3 { claimed += try await Self.claim(source, wait: .milliseconds(300)) }
            #expect(claimed.map(\.task.id) == [tasks[1].id])
            #expect(try await harness.store.taskGet(tasks[0].id)?.state == .cancelled)
            #expect(source.heldCount == 1, "only the running task's message is held")
            source.stop()
            await running.value
            #expect(try await Self.depth(server, queue) == 1, "the running task's message went back; the others are gone")
        }
    }

    /// Without RabbitMQ, a worker's claim says so (unavailable), and the node's tasks stay `ready`.
    @Test func withoutRabbitMQTasksStayReadyAndTheWorkerSaysWhy() async throws {
        let nowhere = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:\(try unusedLocalPort())/")
        try await Self.withDispatch(nowhere) { harness, makeSource, _ in
            let task = try #require(try await harness.store.taskEnqueueMany(TaskEnqueueParams(tasks: [NewTask(kind: "echo")])).first)
            do {
                _ = try await Self.claim(makeSource(1), wait: .milliseconds(100))
                Issue.record("a claim without RabbitMQ succeeded")
            } catch let error as BatonError {
                #expect(error.code == .unavailable && error.message.contains("127.0.0.1"), "\(error)")
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await harness.store.taskGet(task.id)?.state == .ready)
        }
    }
}
