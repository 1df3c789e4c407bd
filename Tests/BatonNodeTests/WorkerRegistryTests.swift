import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Testing

/// The node's registry of the workers that announced themselves, and the kinds' retry
/// policies it learns from them.
@Suite("Worker registry")
struct WorkerRegistryTests {
    /// Workers silent for longer than `forgetAfter` are no longer listed; their kinds'
    /// policies stay (their tasks may still need rescuing).
    @Test func silentWorkersAreForgottenButTheirPoliciesStay() {
        let registry = WorkerRegistry(forgetAfter: .seconds(60))
        let start = Date()
        registry.announce(
            WorkerAnnouncement(
                worker: "a", queues: ["q"], kinds: [KindAnnouncement(name: "k", retry: .fixed(.seconds(5)))], concurrency: 1),
            transport: "http", at: start)
        registry.announce(WorkerAnnouncement(worker: "b", queues: ["q"], kinds: [], concurrency: 1), transport: "http", at: start + 50)
        #expect(registry.list(at: start + 30).map(\.worker) == ["a", "b"])
        #expect(registry.list(at: start + 90).map(\.worker) == ["b"])
        #expect(registry.kindRetry == ["k": .fixed(.seconds(5))])
        // A later announcement without a policy for the kind clears it.
        registry.announce(
            WorkerAnnouncement(worker: "c", queues: ["q"], kinds: [KindAnnouncement(name: "k")], concurrency: 1), transport: "http",
            at: start + 100)
        #expect(registry.kindRetry.isEmpty)
    }

    /// The rescuer applies the policies the node learned: a vanished worker's task backs off as
    /// its kind says, not as the node's default.
    @Test func rescuerUsesTheAnnouncedKindPolicy() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        t.node.workers.announce(
            WorkerAnnouncement(
                worker: "gone", queues: ["default"], kinds: [KindAnnouncement(name: "slow", retry: .fixed(.seconds(3600)))],
                concurrency: 1), transport: "http")
        let task = try await t.store.taskEnqueueMany(TaskEnqueueParams(tasks: [NewTask(kind: "slow")]))[0]
        _ = try await t.store.taskClaim(TaskClaimParams(worker: "gone", queues: ["default"], max: 1, lease: .milliseconds(20)))
        try await Task.sleep(for: .milliseconds(80))
        let rescuer = LeaseRescuer(store: t.store, interval: .seconds(1), defaultRetry: .fixed(.zero), workers: t.node.workers)
        #expect(try await rescuer.rescueOnce() == 1)
        let rescued = try #require(try await t.store.taskGet(task.id))
        #expect(rescued.state == .pending)
        #expect(rescued.runAt.timeIntervalSinceNow > 3000)
    }
}
