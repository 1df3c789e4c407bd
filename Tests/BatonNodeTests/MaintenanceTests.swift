import BatonCore
import BatonNode
import BatonSQLite
import BatonTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

@Suite("Maintenance services")
struct MaintenanceTests {
    @Test func rescuerRescuesExpiredLease() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let store = t.store
        let tasks = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [echoTask(1), echoTask(2)]))
        let short = try await store.taskClaim(TaskClaimParams(worker: "gone", queues: ["default"], max: 1, lease: .milliseconds(50)))
        let long = try await store.taskClaim(TaskClaimParams(worker: "alive", queues: ["default"], max: 1, lease: .seconds(60)))
        #expect(short.count == 1 && long.count == 1)
        try await Task.sleep(for: .milliseconds(120))

        let rescuer = LeaseRescuer(store: store, interval: .milliseconds(50), defaultRetry: .fixed(.zero))
        #expect(try await rescuer.rescueOnce() == 1)
        let rescued = try #require(try await store.taskGet(short[0].task.id))
        #expect(rescued.state == .pending || rescued.state == .ready)
        #expect(rescued.errors.count == 1)
        #expect(try await store.taskGet(long[0].task.id)?.state == .running)
        #expect(tasks.count == 2)
        // Nothing left to rescue.
        #expect(try await rescuer.rescueOnce() == 0)
    }

    @Test func rescuerServiceRunsPeriodicallyAndStopsOnShutdown() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let store = t.store
        var new = echoTask(1)
        new.maxAttempts = 1
        let task = try #require(try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [new])).first)
        _ = try await store.taskClaim(TaskClaimParams(worker: "gone", queues: ["default"], max: 1, lease: .milliseconds(30)))

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let rescuer = LeaseRescuer(store: store, interval: .milliseconds(40), logger: logger)
        let group = ServiceGroup(services: [rescuer], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(5)
            while try await store.taskGet(task.id)?.state != .failed, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await store.taskGet(task.id)?.state == .failed)
            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(ContinuousClock.now - start < .seconds(5), "stops at once")
        }
    }

    @Test func cleanerDeletesOldTerminalTasksOnly() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let store = t.store
        let tasks = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: (0..<3).map { echoTask($0) }))
        let old = tasks[0]
        _ = try await store.taskCancel(old.id)
        try await Task.sleep(for: .milliseconds(1500))
        let recent = tasks[1]
        _ = try await store.taskCancel(recent.id)
        let waiting = tasks[2]

        // `old` finished 1.5 s ago, `recent` just now: a 1 s retention splits them even when a
        // loaded machine takes a while between these lines.
        let cleaner = ResultCleaner(store: store, interval: .seconds(60), retention: .seconds(1))
        #expect(try await cleaner.cleanOnce() == 1)
        #expect(try await store.taskGet(old.id) == nil)
        #expect(try await store.taskGet(recent.id)?.state == .cancelled)
        #expect(try await store.taskGet(waiting.id)?.state == .ready)
    }

    @Test func cleanerServiceStopsPromptlyOnShutdown() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let cleaner = ResultCleaner(store: t.store, interval: .seconds(3600), logger: logger)
        let group = ServiceGroup(services: [cleaner], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(100))
            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(ContinuousClock.now - start < .seconds(5), "stops at once, not after its 1 h interval")
        }
    }
}
