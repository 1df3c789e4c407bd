import BatonCore
import BatonNode
import BatonSQLite
import BatonServer
import Foundation
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

/// A node over a fresh SQLite store, its API, and a service group that runs the node's own
/// services (completer, dispatcher, lease rescuer) with the broker roles under test.
public final class BrokerHarness: Sendable {
    public let temp: TempStore
    public let node: NodeServices
    public let api: NodeAPI

    public var store: SQLiteTaskStore { temp.store }

    public init(limits: NodeAPILimits = .init(), rescueInterval: Duration = .milliseconds(200)) async throws {
        temp = try await TempStore.make(prefix: "baton-broker")
        node = NodeServices(
            store: temp.store,
            configuration: NodeConfiguration(dispatcher: .init(fallbackPoll: .milliseconds(100)), rescueInterval: rescueInterval),
            logger: testLogger("node"))
        api = NodeAPI(node: node, limits: limits)
    }

    /// Runs the node's services and `services` until ``Running/stop()``.
    public func start(_ services: [any Service]) -> Running {
        var all: [any Service] = [node.completer, node.dispatcher]
        all += node.maintenance(schedulesUpserted: true)
        all += services
        let group = ServiceGroup(services: all, logger: testLogger("group"))
        let task = Task { _ = try? await group.run() }
        return Running(group: group, task: task)
    }

    public struct Running: Sendable {
        let group: ServiceGroup
        let task: Task<Void, Never>

        /// Graceful shutdown, then waits for every service to stop.
        public func stop() async {
            await group.triggerGracefulShutdown()
            await task.value
        }
    }

    /// Serves the node's HTTP API (on a free loopback port) with its own services and `services`
    /// (a broker's dispatch roles), and runs `body` with the server's URL, as workers that report
    /// over HTTP reach it.
    public func serving(_ services: [any Service], _ body: @Sendable (URL) async throws -> Void) async throws {
        let app = makeApplication(
            node: node, logger: testLogger("server"),
            services: [node.completer, node.dispatcher] + node.maintenance(schedulesUpserted: true) + services)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            try await body(URL(string: "http://127.0.0.1:\(port)")!)
        }
    }

    /// Task `id` once it has ended (succeeded, failed or cancelled).
    public func finished(_ id: TaskID, within: Duration = .seconds(20)) async throws -> TaskRecord {
        try await eventually("task \(id) finished", within: within) { () -> TaskRecord? in
            guard let task = try await self.store.taskGet(id), task.state.isTerminal else { return nil }
            return task
        }
    }

    /// Machinery workers that run ``MachineryWorkerStandIn/retryFunctions()``, whichever broker
    /// and backend carry them: submits `flaky` (3 attempts) and `broken` (2), and checks that the
    /// worker's failure is retried by Baton's policy and that the last one fails the task with
    /// the worker's error. Returns the two tasks' ids.
    @discardableResult
    public func checkMachineryRetries() async throws -> (flaky: TaskID, broken: TaskID) {
        let retry = RetryPolicy.fixed(.milliseconds(100))
        let flaky = try await api.submit(NewTask(kind: "flaky", maxAttempts: 3, retry: retry))
        let broken = try await api.submit(NewTask(kind: "broken", maxAttempts: 2, retry: retry))
        let recovered = try await finished(flaky.id)
        #expect(recovered.state == .succeeded && recovered.attempt == 2)
        #expect(recovered.errors.map(\.message) == ["connection reset"])
        #expect(try recovered.result?.parsed() == .array([.object(["Type": "string", "Value": "done"])]))
        let dead = try await finished(broken.id)
        #expect(dead.state == .failed && dead.attempt == 2)
        #expect(dead.lastError == "division by zero")
        return (flaky.id, broken.id)
    }

    /// Machinery workers that run ``MachineryWorkerStandIn/add``, whichever broker and backend
    /// carry them: submits a task with plain arguments, one with Machinery-typed arguments and
    /// `count` more, and checks that each succeeds at its first attempt with its sum, typed as a
    /// Machinery worker returns it. Returns the first two tasks' ids.
    @discardableResult
    public func checkMachineryAdds(count: Int) async throws -> (plain: TaskID, typed: TaskID) {
        let plain = try await api.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1, 2, 39]")))
        let typed = try await api.submit(
            NewTask(kind: "add", args: try RawJSON(validating: #"[{"Name":"a","Type":"int64","Value":5},{"Type":"int64","Value":6}]"#)))
        let many = try await store.taskEnqueueMany(
            TaskEnqueueParams(tasks: try (0..<count).map { NewTask(kind: "add", args: try RawJSON(validating: "[\($0), 1]")) }))
        let sum = try await finished(plain.id)
        #expect(sum.state == .succeeded && sum.attempt == 1)
        #expect(try sum.result?.parsed() == .array([.object(["Type": .string("int64"), "Value": .int(42)])]))
        #expect(try await finished(typed.id).result?.parsed() == .array([.object(["Type": "int64", "Value": 11])]))
        for (n, task) in many.enumerated() {
            let done = try await finished(task.id)
            #expect(done.state == .succeeded && done.attempt == 1)
            #expect(try done.result?.parsed() == .array([.object(["Type": "int64", "Value": .int(Int64(n + 1))])]))
        }
        return (plain.id, typed.id)
    }

    /// Every task of the store (all pages).
    public func allTasks() async throws -> [TaskRecord] {
        var tasks: [TaskRecord] = []
        var cursor: String?
        repeat {
            var params = TaskListParams()
            params.limit = 1000
            params.cursor = cursor
            let page = try await store.taskList(params)
            tasks += page.tasks
            cursor = page.nextCursor
        } while cursor != nil
        return tasks
    }

    deinit { temp.cleanUp() }
}
