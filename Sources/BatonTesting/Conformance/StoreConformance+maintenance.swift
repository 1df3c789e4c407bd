import BatonCore
import Foundation
import Testing

extension StoreConformance {
    /// The retention purge deletes only finished tasks older than its cutoff.
    public static func retentionDeletesOnlyTerminalTasksOlderThanTheCutoff(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue((0..<3).map { _ in NewTask(kind: "old", maxAttempts: 1) })
            let old = try await store.claim(max: 3)
            #expect(try await store.complete(old[0]) == .applied(.succeeded))
            #expect(try await store.fail(old[1].lease) == .applied(.failed))
            _ = try await store.taskCancel(old[2].task.id)
            try await Task.sleep(for: .milliseconds(30))
            let cutoff = try await store.now()
            try await Task.sleep(for: .milliseconds(30))

            let recent = try await store.enqueue(NewTask(kind: "recent", priority: 9))[0]
            let claimed = try #require(try await store.claim(max: 1).first)
            #expect(claimed.task.id == recent.id)
            #expect(try await store.complete(claimed) == .applied(.succeeded))
            let ready = try await store.enqueue(NewTask(kind: "ready"))[0]
            let pending = try await store.enqueue(NewTask(kind: "pending", delay: 60))[0]
            let running = try await store.enqueue(NewTask(kind: "running", priority: 10))[0]
            #expect(try await store.claim(max: 1).first?.task.id == running.id)

            #expect(try await store.taskDeleteFinished(TaskDeleteFinishedParams(finishedBefore: cutoff, limit: 2)) == 2)
            #expect(try await store.taskDeleteFinished(TaskDeleteFinishedParams(finishedBefore: cutoff)) == 1)
            #expect(try await store.taskDeleteFinished(TaskDeleteFinishedParams(finishedBefore: cutoff)) == 0)
            for task in old { #expect(try await store.taskGet(task.task.id) == nil) }
            let left = Set(try await store.all().map(\.id))
            #expect(left == [recent.id, ready.id, pending.id, running.id])
        }
    }

    /// `taskNextDueAt` is the earliest `runAt` of the pending tasks of the queues named.
    public static func nextDueAtIsTheEarliestPendingTaskOfTheQueues(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            #expect(try await store.taskNextDueAt(queues: ["a", "b"]) == nil)
            try await store.enqueue(NewTask(kind: "k", queue: "a"))
            #expect(try await store.taskNextDueAt(queues: ["a"]) == nil, "ready tasks are not pending")
            let later = try await store.enqueue(NewTask(kind: "k", queue: "a", delay: 120))[0]
            let sooner = try await store.enqueue(NewTask(kind: "k", queue: "b", delay: 60))[0]
            let soonest = try await store.enqueue(NewTask(kind: "k", queue: "c", delay: 30))[0]
            #expect(try await store.taskNextDueAt(queues: ["a"]) == later.runAt)
            #expect(try await store.taskNextDueAt(queues: ["a", "b"]) == sooner.runAt)
            #expect(try await store.taskNextDueAt(queues: ["a", "b", "c"]) == soonest.runAt)
            #expect(try await store.taskNextDueAt(queues: ["z"]) == nil)
            #expect(try await store.taskNextDueAt(queues: []) == nil)
        }
    }

    /// The kinds' policies (from workers' announcements) apply to failures and rescues of tasks
    /// that set none; a task's own policy and a handler's retry-after still win.
    public static func kindRetryPolicyAppliesToFailuresAndRescues(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let kinds: [String: RetryPolicy] = ["slow": .fixed(.seconds(3600)), "never": RetryPolicy.none]
            let slow = try await store.enqueue(NewTask(kind: "slow", maxAttempts: 5))[0]
            let never = try await store.enqueue(NewTask(kind: "never", maxAttempts: 5))[0]
            let own = try await store.enqueue(NewTask(kind: "slow", maxAttempts: 5, retry: .fixed(.seconds(60))))[0]
            let later = try await store.enqueue(NewTask(kind: "slow", maxAttempts: 5))[0]
            let claimed = Dictionary(uniqueKeysWithValues: try await store.claim(max: 4).map { ($0.task.id, $0) })
            try #require(claimed.count == 4)
            func fail(_ task: TaskRecord, retryAfter: Duration? = nil) async throws -> [AckOutcome] {
                let failure = TaskFailure(lease: claimed[task.id]!.lease, message: "boom", retryAfter: retryAfter)
                return try await store.taskAckMany(TaskAckParams(acks: [.fail(failure)], kindRetry: kinds))
            }
            let before = try await store.now()
            #expect(try await fail(slow) == [.applied(.pending)])
            #expect(try await fail(never) == [.applied(.failed)])
            #expect(try await fail(own) == [.applied(.pending)])
            #expect(try await fail(later, retryAfter: .seconds(5)) == [.applied(.pending)])
            #expect(gap(try await store.require(slow.id).runAt, before.addingTimeInterval(3600)) < 5)
            #expect(gap(try await store.require(own.id).runAt, before.addingTimeInterval(60)) < 5)
            #expect(gap(try await store.require(later.id).runAt, before.addingTimeInterval(5)) < 3)

            // A rescue: the node's policy retries at once, the kind's after an hour.
            let rescued = try await store.enqueue(NewTask(kind: "slow", maxAttempts: 5))[0]
            let plain = try await store.enqueue(NewTask(kind: "plain", maxAttempts: 5))[0]
            #expect(try await store.claim(max: 2, lease: .milliseconds(20)).count == 2)
            try await Task.sleep(for: .milliseconds(80))
            let rescueAt = try await store.now()
            #expect(try await store.leaseRescueMany(LeaseRescueParams(defaultRetry: .fixed(.zero), kindRetry: kinds)).count == 2)
            let afterRescue = try await store.require(rescued.id)
            #expect(afterRescue.state == .pending)
            #expect(gap(afterRescue.runAt, rescueAt.addingTimeInterval(3600)) < 5)
            #expect(try await store.require(plain.id).state != .running)
            #expect(gap(try await store.require(plain.id).runAt, rescueAt) < 5)
        }
    }

    /// The store's clock (`now()`) is the current time.
    public static func clockIsCurrent(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let now = try await store.now()
            #expect(gap(now, Date()) < 5)
        }
    }
}
