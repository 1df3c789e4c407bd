import BatonCore
import Foundation
import Testing

extension StoreConformanceTests {
    @Test(arguments: storeFactories)
    func retentionDeletesOnlyTerminalTasksOlderThanTheCutoff(_ factory: any StoreFactory) async throws {
        try await withStore(factory) { store in
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

    @Test(arguments: storeFactories)
    func nextDueAtIsTheEarliestPendingTaskOfTheQueues(_ factory: any StoreFactory) async throws {
        try await withStore(factory) { store in
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

    @Test(arguments: storeFactories)
    func clockIsCurrent(_ factory: any StoreFactory) async throws {
        try await withStore(factory) { store in
            let now = try await store.now()
            #expect(gap(now, Date()) < 5)
        }
    }
}
