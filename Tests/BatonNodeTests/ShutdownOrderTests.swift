import BatonCore
import BatonNode
import BatonPostgres
import BatonSQLite
import BatonTesting
import BatonWorker
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The node's services stop in the order `NodeServices.services(store:front:workers:)` gives:
/// in-process workers drain (finishing what they can, releasing the rest), the completer
/// writes its last batch, and only then the store's own service closes it. Checked on both
/// stores with a store of the node's own, closed by the group: every attempt the workers
/// finished is recorded, none is left running.
@Suite("Node shutdown order", .serialized)
struct ShutdownOrderTests {
    static let logger = testLogger("shutdown")

    /// Runs a node (store service, completer, maintenance, one in-process worker) on `store`,
    /// lets 40 tasks of 150 ms start, shuts down gracefully mid-run with a grace that lets the
    /// running ones finish, and returns the worker's stats once the group has returned.
    static func runAndStop(store: any NodeStore, storeService: (any Service)?) async throws -> (WorkerStats, [TaskID]) {
        let node = NodeServices(store: store, logger: logger)
        let registry = HandlerRegistry()
        registry.register("slow") { (_: RawJSON, _) -> Int in
            try await Task.sleep(for: .milliseconds(150))
            return 1
        }
        let worker = node.inProcessWorker(
            registry: registry,
            configuration: WorkerConfiguration(id: "drainer", concurrency: 8, shutdownGrace: .seconds(10)))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: node.services(store: storeService, workers: [worker]), logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let ids = try await store.taskEnqueueMany(
                TaskEnqueueParams(tasks: (0..<40).map { _ in NewTask(kind: "slow", maxAttempts: 1) })
            ).map(\.id)
            // Stop once some tasks have finished and others are running.
            let deadline = ContinuousClock.now + .seconds(20)
            while worker.stats.succeeded < 8 || worker.runningCount == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return (worker.stats, ids)
        }
    }

    /// What the store holds after the group closed it, read through a store of its own.
    static func check(_ stats: WorkerStats, _ ids: [TaskID], reading store: any TaskStore) async throws {
        var succeeded = 0
        for id in ids {
            let task = try #require(try await store.taskGet(id))
            #expect(task.state == .succeeded || task.state == .ready, "task left \(task.state)")
            if task.state == .succeeded { succeeded += 1 }
        }
        // Every attempt the worker finished was written by the completer before the store closed.
        #expect(stats.succeeded >= 8)
        #expect(succeeded == stats.succeeded, "the worker finished \(stats.succeeded), the store recorded \(succeeded)")
        #expect(stats.succeeded + stats.released == stats.claimed)
    }

    @Test func sqlite() async throws {
        let directory = try TempDir(prefix: "baton-shutdown")
        defer { directory.remove() }
        let path = directory.path("baton.db")
        let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: path))
        let (stats, ids) = try await Self.runAndStop(store: store, storeService: nil)
        try store.close()
        let reader = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: path))
        defer { try? reader.close() }
        try await Self.check(stats, ids, reading: reader)
    }

    @Test func postgres() async throws {
        let schema = TestPostgres.freshSchema(prefix: "baton_shutdown_")
        guard let configuration = try TestPostgres.configuration(for: "ShutdownOrderTests (PostgreSQL)", schema: schema) else { return }
        // The store is the group's first service: it migrates in `run()` and closes last.
        let store = PostgresTaskStore(configuration: configuration, logger: Self.logger)
        let stats: WorkerStats
        let ids: [TaskID]
        do {
            (stats, ids) = try await Self.runAndStop(store: store, storeService: store)
        } catch {
            await TestPostgres.drop(configuration)
            throw error
        }
        // Read through a store of its own; the schema is dropped afterwards.
        try await TestPostgres.withStore(configuration) { reader in
            try await Self.check(stats, ids, reading: reader)
        }
    }
}
