import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Maintenance services skip their passes while the node is not the leader.
@Suite("Maintenance leadership")
struct LeadershipTests {
    final class Switch: Leadership {
        let leader = Atomic<Bool>(false)
        func isLeader() async -> Bool { leader.load(ordering: .relaxed) }
    }

    @Test(.timeLimit(.minutes(1)))
    func rescuerAndCleanerWaitForLeadership() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let store = t.store
        var new = echoTask(1)
        new.maxAttempts = 1
        let task = try #require(try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [new])).first)
        _ = try await store.taskClaim(TaskClaimParams(worker: "gone", queues: ["default"], max: 1, lease: .milliseconds(20)))
        let done = try #require(try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [echoTask(2)])).first)
        _ = try await store.taskCancel(done.id)

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let leadership = Switch()
        let rescuer = LeaseRescuer(store: store, interval: .milliseconds(30), leadership: leadership, logger: logger)
        let cleaner = ResultCleaner(store: store, interval: .milliseconds(30), retention: .zero, leadership: leadership, logger: logger)
        let group = ServiceGroup(services: [rescuer, cleaner], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Not leader: several intervals pass, nothing is rescued or cleaned.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await store.taskGet(task.id)?.state == .running)
            #expect(try await store.taskGet(done.id) != nil)
            // Leader: both passes run.
            leadership.leader.store(true, ordering: .relaxed)
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                let rescued = try await store.taskGet(task.id)?.state != .running
                let cleaned = try await store.taskGet(done.id) == nil
                if rescued && cleaned { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            // Rescued (failed: no attempts left), then cleaned with the cancelled one.
            #expect(try await store.taskGet(task.id)?.state != .running)
            #expect(try await store.taskGet(done.id) == nil)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
