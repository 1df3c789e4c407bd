import BatonCore
import BatonNode
import BatonRedis
import BatonRedisBroker
import BatonServer
import BatonTesting
import BatonWorker
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Tasks carried to workers through a Redis work list against a real `redis-server`: the
/// node's dispatch role (``BrokerDispatch`` with a Redis sender) appends work messages, a
/// worker's ``RedisHTTPTaskSource`` takes them and reports over the HTTP worker protocol of a real HTTP
/// server.
@Suite("Redis dispatch against redis-server", .serialized)
struct RedisDispatchTests {
    /// A node serving HTTP, dispatching queue `default` to a fresh Redis list, and a worker's
    /// source on that list; `body` runs with both.
    static func withDispatch(
        _ server: RedisConfiguration, lease: Duration = .seconds(2), window: Int = 50,
        _ body: @Sendable (BrokerHarness, RedisHTTPTaskSource, String) async throws -> Void
    ) async throws {
        let harness = try await BrokerHarness()
        let key = RedisIngestTests.key("work")
        let configuration = RedisBrokerConfiguration(
            redis: server, dispatch: [("default", key)], dispatchSettings: DispatchSettings(window: window, lease: lease))
        try await harness.serving(try configuration.services(api: harness.api, logger: testLogger("redis"))) { url in
            let source = RedisHTTPTaskSource(redis: server, key: key, servers: [url], logger: testLogger("source"))
            try await body(harness, source, key)
        }
    }

    @Test func redisWithResultsOverHTTPPassesTheTransportConformanceSuite() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        let lease = Duration.seconds(2)
        try await TransportConformance.runAll { check in
            try await Self.withDispatch(server, lease: lease) { harness, source, _ in
                let store = harness.store
                try await check(
                    TransportConformance.Harness(
                        source: source, queue: "default", lease: lease,
                        submit: { tasks in try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks)) },
                        task: { id in try await store.taskGet(id) }))
            }
        }
    }

    /// The window bounds what waits in the list: 300 tasks and nobody taking them leave at most
    /// `window` messages in Redis, each one Baton's work message of a running task; taken and
    /// completed, the rest follow, and every task succeeds once.
    @Test func theWindowBoundsTheListAndEveryTaskRunsOnce() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withDispatch(server, lease: .seconds(30), window: 20) { harness, source, key in
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            let submitted = try await harness.store.taskEnqueueMany(
                TaskEnqueueParams(tasks: try (0..<300).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#($0)}"#)) }))
            try await eventually("the window filled", within: .seconds(20)) {
                try await RedisIngestTests.count(redis, "LLEN", key) == 20 ? true : nil
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await RedisIngestTests.count(redis, "LLEN", key) == 20, "more than the window was sent")
            let first = try #require(try await redis.command(["LINDEX", RedisArgument(key), 0]).string)
            let message = try WorkMessage.decode(first).task
            #expect(message.task.kind == "echo" && message.task.attempt == 1)
            #expect(try await harness.store.taskGet(message.task.id)?.state == .running)

            let running = Task { await source.run() }
            var done: [TaskID: Int] = [:]
            let deadline = ContinuousClock.now + .seconds(60)
            while done.count < submitted.count && ContinuousClock.now < deadline {
                for claimed in try await source.claim(
                    worker: "w", queues: ["default"], kinds: [], max: 50, wait: .seconds(1), lease: .seconds(30))
                {
                    done[claimed.task.id, default: 0] += 1
                    source.ack(.complete(TaskCompletion(lease: claimed.lease, result: claimed.task.args)))
                }
            }
            await source.flush()
            #expect(done.count == submitted.count && done.values.allSatisfy { $0 == 1 }, "ran \(done.count) of \(submitted.count)")
            for task in submitted {
                _ = try await eventually("task \(task.id) succeeded", within: .seconds(30)) { () -> TaskRecord? in
                    let now = try await harness.store.taskGet(task.id)
                    return now?.state == .succeeded && now?.result == task.args ? now : nil
                }
            }
            #expect(try await RedisIngestTests.count(redis, "LLEN", key) == 0)
            source.stop()
            await running.value
        }
    }

    /// A task cancelled while its message waits in the list never runs: the worker's first
    /// heartbeat drops it. An unreadable message in the list is dropped, not run.
    @Test func aTaskCancelledWhileWaitingInTheListIsDropped() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withDispatch(server) { harness, source, key in
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            let tasks = try await harness.store.taskEnqueueMany(
                TaskEnqueueParams(tasks: [NewTask(kind: "echo"), NewTask(kind: "echo")]))
            try await eventually("both sent", within: .seconds(20)) {
                try await RedisIngestTests.count(redis, "LLEN", key) == 2 ? true : nil
            }
            _ = try await harness.api.cancel(tasks[0].id)
            _ = try await redis.command(["RPUSH", RedisArgument(key), "not a work message"])
            let running = Task { await source.run() }
            var claimed: [ClaimedTask] = []
            for _ in 0..<3 {
                claimed += try await source.claim(
                    worker: "w", queues: ["default"], kinds: [], max: 10, wait: .milliseconds(200), lease: .seconds(2))
            }
            #expect(claimed.map(\.task.id) == [tasks[1].id])
            #expect(try await harness.store.taskGet(tasks[0].id)?.state == .cancelled)
            #expect(try await RedisIngestTests.count(redis, "LLEN", key) == 0)
            source.stop()
            await running.value
        }
    }

    /// With Redis gone, a worker's claim says so (unavailable), and a node's dispatch keeps its
    /// tasks in the store: they stay `ready`.
    @Test func withoutRedisTasksStayReadyAndTheWorkerSaysWhy() async throws {
        let nowhere = RedisConfiguration(host: "127.0.0.1", port: try unusedLocalPort(), connectTimeout: .milliseconds(500))
        try await Self.withDispatch(nowhere) { harness, source, _ in
            let task = try #require(try await harness.store.taskEnqueueMany(TaskEnqueueParams(tasks: [NewTask(kind: "echo")])).first)
            do {
                _ = try await source.claim(
                    worker: "w", queues: ["default"], kinds: [], max: 1, wait: .milliseconds(100), lease: .seconds(2))
                Issue.record("a claim without Redis succeeded")
            } catch let error as BatonError {
                #expect(error.code == .unavailable && error.message.contains("127.0.0.1"), "\(error)")
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await harness.store.taskGet(task.id)?.state == .ready)
        }
    }
}
