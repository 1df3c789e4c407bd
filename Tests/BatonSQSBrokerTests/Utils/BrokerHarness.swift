import BatonCore
import BatonNode
import BatonSQLite
import BatonTesting
import Foundation
import Logging
import ServiceLifecycle

/// A node over a fresh SQLite store, its API, and a service group that runs the node's own
/// services (completer, dispatcher, lease rescuer) with the roles under test.
final class BrokerHarness: Sendable {
    let temp: TempStore
    let node: NodeServices
    let api: NodeAPI

    var store: SQLiteTaskStore { temp.store }

    init(limits: NodeAPILimits = .init(), rescueInterval: Duration = .milliseconds(200)) async throws {
        temp = try await TempStore.make(prefix: "baton-sqs-broker")
        node = NodeServices(
            store: temp.store,
            configuration: NodeConfiguration(dispatcher: .init(fallbackPoll: .milliseconds(100)), rescueInterval: rescueInterval),
            logger: testLogger("node"))
        api = NodeAPI(node: node, limits: limits)
    }

    /// Runs the node's services and `services` until ``Running/stop()``.
    func start(_ services: [any Service]) -> Running {
        var all: [any Service] = [node.completer, node.dispatcher]
        all += node.maintenance(schedulesUpserted: true)
        all += services
        let group = ServiceGroup(services: all, logger: testLogger("group"))
        let task = Task { _ = try? await group.run() }
        return Running(group: group, task: task)
    }

    struct Running: Sendable {
        let group: ServiceGroup
        let task: Task<Void, Never>

        /// Graceful shutdown, then waits for every service to stop.
        func stop() async {
            await group.triggerGracefulShutdown()
            await task.value
        }
    }

    /// Every task of the store (all pages).
    func allTasks() async throws -> [TaskRecord] {
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
