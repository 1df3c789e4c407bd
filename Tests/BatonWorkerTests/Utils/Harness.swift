import BatonCore
import BatonNode
import BatonSQLite
import BatonTesting
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import BatonWorker

/// A runtime running in a `ServiceGroup`, with the store's dispatcher and completer.
final class RunningWorker: Sendable {
    let runtime: WorkerRuntime
    let group: ServiceGroup
    let completer: TaskCompleter
    let dispatcher: TaskDispatcher
    private let task: Task<Void, any Error>

    init(
        store: any NodeStore, registry: HandlerRegistry, configuration: WorkerConfiguration,
        dispatcher: TaskDispatcher.Configuration = .init(fallbackPoll: .milliseconds(50))
    ) {
        let logger = testLogger("worker")
        let node = NodeServices(store: store, configuration: NodeConfiguration(dispatcher: dispatcher), logger: logger)
        self.dispatcher = node.dispatcher
        self.completer = node.completer
        let runtime = node.inProcessWorker(registry: registry, configuration: configuration)
        self.runtime = runtime
        // As a node runs them: the completer and the dispatcher start first and stop last.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [node.completer, node.dispatcher, runtime], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Triggers a graceful shutdown and waits until the runtime has returned.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

func workerConfig(
    concurrency: Int = 4, lease: Duration = .seconds(30), grace: Duration = .seconds(5), kinds: [String]? = nil
) -> WorkerConfiguration {
    WorkerConfiguration(
        id: "test-worker", kinds: kinds, concurrency: concurrency, lease: lease, claimWait: .seconds(2),
        shutdownGrace: grace)
}

/// Waits until the task reaches one of `states`; fails the test if it does not in time.
@discardableResult
func waitForState(
    _ store: TempStore, _ id: TaskID, _ states: Set<TaskState>, timeout: Duration = .seconds(5),
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> TaskRecord {
    let reached = try await eventually(within: timeout) { states.contains(try await store.get(id).state) }
    let task = try await store.get(id)
    #expect(reached, "task stayed \(task.state), expected \(states)", sourceLocation: sourceLocation)
    return task
}

/// A value shared between a handler and a test.
final class Box<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func get() -> Value { value.withLock { $0 } }
    func set(_ new: Value) { value.withLock { $0 = new } }
    func update<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}

func json(_ text: String) throws -> RawJSON { try RawJSON(validating: text) }
