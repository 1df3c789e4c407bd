import BatonCore
import Foundation
import Testing

extension StoreConformance {
    /// Cancel stops pending, ready and running tasks.
    public static func cancelStopsPendingReadyAndRunningTasks(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let running = try await store.enqueue(NewTask(kind: "running", priority: 9))[0]
            let claimed = try #require(try await store.claim(max: 1).first)
            #expect(claimed.task.id == running.id)
            let ready = try await store.enqueue(NewTask(kind: "ready"))[0]
            let pending = try await store.enqueue(NewTask(kind: "pending", delay: 60))[0]

            for id in [pending.id, ready.id, running.id] {
                let cancelled = try await store.taskCancel(id)
                #expect(cancelled.id == id)
                #expect(cancelled.state == .cancelled)
                #expect(cancelled.finishedAt != nil)
                #expect(try await store.require(id) == cancelled)
            }
            #expect(try await store.complete(claimed) == .staleLease)
            #expect(try await store.require(running.id).state == .cancelled)
            #expect(try await store.claim().isEmpty)
            #expect(try await store.taskNextDueAt(queues: [Defaults.queue]) == nil)

            await expectError(.conflict) { try await store.taskCancel(ready.id) }
            await expectError(.notFound) { try await store.taskCancel(TaskID.generate()) }
        }
    }

    /// Cancelling a finished task is a `conflict`.
    public static func cancelOfAFinishedTaskIsAConflict(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "k"))[0]
            let claimed = try #require(try await store.claim().first)
            #expect(try await store.complete(claimed) == .applied(.succeeded))
            await expectError(.conflict) { try await store.taskCancel(record.id) }
            #expect(try await store.require(record.id).state == .succeeded)
        }
    }

    /// An operator's retry gives a finished task a new attempt.
    public static func operatorRetryGivesAFinishedTaskANewAttempt(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "k", maxAttempts: 1))[0]
            await expectError(.conflict) { try await store.taskRetry(record.id) }
            let claimed = try #require(try await store.claim().first)
            await expectError(.conflict) { try await store.taskRetry(record.id) }
            #expect(try await store.fail(claimed.lease, "first") == .applied(.failed))

            let seen = store.readySignal.generation
            let retried = try await store.taskRetry(record.id)
            #expect(store.readySignal.generation != seen)
            #expect(retried.state == .ready)
            #expect(retried.attempt == 1)
            #expect(retried.maxAttempts == 2)
            #expect(retried.finishedAt == nil && retried.leaseOwner == nil)
            #expect(retried.errors.map(\.message) == ["first"])
            #expect(try await store.require(record.id) == retried)

            let again = try #require(try await store.claim().first)
            #expect(again.task.attempt == 2)
            #expect(try await store.fail(again.lease, "second") == .applied(.failed))
            let dead = try await store.require(record.id)
            #expect(dead.errors.map(\.attempt) == [1, 2])

            let cancelled = try await store.enqueue(NewTask(kind: "c"))[0]
            _ = try await store.taskCancel(cancelled.id)
            #expect(try await store.taskRetry(cancelled.id).state == .ready)
            await expectError(.notFound) { try await store.taskRetry(TaskID.generate()) }
        }
    }

    /// Delete removes finished tasks only.
    public static func deleteRemovesOnlyFinishedTasks(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let done = try await store.enqueue(NewTask(kind: "done", priority: 9))[0]
            let claimed = try #require(try await store.claim(max: 1).first)
            #expect(try await store.complete(claimed) == .applied(.succeeded))
            let waiting = try await store.enqueue(NewTask(kind: "waiting"))[0]

            await expectError(.conflict) { try await store.taskDelete(waiting.id) }
            try await store.taskDelete(done.id)
            #expect(try await store.taskGet(done.id) == nil)
            #expect(try await store.taskGet(waiting.id) != nil)
            await expectError(.notFound) { try await store.taskDelete(done.id) }
        }
    }

    /// Listing pages through the tasks newest first, each task once; the last page has no cursor.
    public static func listPagesNewestFirstWithoutDuplicates(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            var ids: [TaskID] = []
            for i in 0..<25 {
                ids += try await store.enqueue(NewTask(kind: "k\(i % 2)", queue: i % 5 == 0 ? "q5" : "default")).map(\.id)
            }
            var pages: [TaskPage] = []
            var cursor: String?
            repeat {
                let page = try await store.taskList(TaskListParams(limit: 10, cursor: cursor))
                pages.append(page)
                cursor = page.nextCursor
            } while cursor != nil && pages.count < 10
            #expect(pages.map(\.tasks.count) == [10, 10, 5])
            #expect(pages.last?.nextCursor == nil)
            let listed = pages.flatMap(\.tasks).map(\.id)
            #expect(listed == ids.sorted(by: >))
            #expect(Set(listed) == Set(ids))

            let exact = try await store.taskList(TaskListParams(limit: 25))
            #expect(exact.tasks.count == 25 && exact.nextCursor == nil)
            let first = try await store.taskList(TaskListParams(limit: 24))
            #expect(first.nextCursor != nil)
            let last = try await store.taskList(TaskListParams(limit: 24, cursor: first.nextCursor))
            #expect(last.tasks.count == 1 && last.nextCursor == nil)
        }
    }

    /// Listing filters by state, queue and kind.
    public static func listFiltersByStateQueueAndKind(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(
                NewTask(kind: "a", queue: "q1", priority: 9), NewTask(kind: "b", queue: "q1"), NewTask(kind: "a", queue: "q2"),
                NewTask(kind: "b", queue: "q2", delay: 60))
            let claimed = try await store.claim(max: 1, queues: ["q1"])
            #expect(claimed.map(\.task.kind) == ["a"])

            let running = try await store.taskList(TaskListParams(states: [.running]))
            #expect(running.tasks.map(\.id) == claimed.map(\.task.id))
            let waiting = try await store.taskList(TaskListParams(states: [.ready, .pending]))
            #expect(waiting.tasks.count == 3)
            #expect(try await store.taskList(TaskListParams(queue: "q2")).tasks.allSatisfy { $0.queue == "q2" })
            #expect(try await store.taskList(TaskListParams(queue: "q2")).tasks.count == 2)
            let kindA = try await store.taskList(TaskListParams(kind: "a"))
            #expect(kindA.tasks.count == 2 && kindA.tasks.allSatisfy { $0.kind == "a" })
            let narrow = try await store.taskList(TaskListParams(states: [.pending], queue: "q2", kind: "b"))
            #expect(narrow.tasks.count == 1 && narrow.tasks.first?.state == .pending)
            #expect(try await store.taskList(TaskListParams(queue: "none")).tasks.isEmpty)

            await expectError(.invalidArgument) { try await store.taskList(TaskListParams(limit: 0)) }
            await expectError(.invalidArgument) { try await store.taskList(TaskListParams(cursor: "not-a-task-id")) }
        }
    }

    /// Listing by tag finds exactly the tasks that carry it (a whole tag, not a part of one),
    /// with the other filters and paging.
    public static func listFiltersByTag(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let tasks = try await store.enqueue(
                NewTask(kind: "a", tags: ["schedule:nightly", "tick:1"]), NewTask(kind: "b", tags: ["schedule:nightly"]),
                NewTask(kind: "a", tags: ["schedule:nightly-2"]), NewTask(kind: "a", tags: []),
                NewTask(kind: "a", queue: "q2", tags: ["schedule:nightly", "it's \"quoted\""]))
            let nightly = try await store.taskList(TaskListParams(tag: "schedule:nightly"))
            #expect(Set(nightly.tasks.map(\.id)) == [tasks[0].id, tasks[1].id, tasks[4].id])
            #expect(try await store.taskList(TaskListParams(tag: "schedule:night")).tasks.isEmpty)
            #expect(try await store.taskList(TaskListParams(tag: "it's \"quoted\"")).tasks.map(\.id) == [tasks[4].id])
            let narrow = try await store.taskList(TaskListParams(queue: Defaults.queue, kind: "a", tag: "schedule:nightly"))
            #expect(narrow.tasks.map(\.id) == [tasks[0].id])
            let first = try await store.taskList(TaskListParams(limit: 2, tag: "schedule:nightly"))
            let rest = try await store.taskList(TaskListParams(limit: 2, cursor: first.nextCursor, tag: "schedule:nightly"))
            #expect(first.tasks.count == 2 && rest.tasks.count == 1 && rest.nextCursor == nil)
            #expect(Set((first.tasks + rest.tasks).map(\.id)) == Set(nightly.tasks.map(\.id)))
        }
    }

    /// Queue counts cover every queue and state.
    public static func queueCountsCoverEveryQueueAndState(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            #expect(try await store.queueCounts().isEmpty)
            try await store.enqueue(
                NewTask(kind: "k", queue: "zeta"), NewTask(kind: "k", queue: "alpha", priority: 9), NewTask(kind: "k", queue: "alpha"),
                NewTask(kind: "k", queue: "alpha", delay: 60), NewTask(kind: "k", queue: "mid", maxAttempts: 1))
            let claimed = try await store.claim(max: 1, queues: ["alpha"])
            #expect(claimed.count == 1)
            let failing = try #require(try await store.claim(max: 1, queues: ["mid"]).first)
            #expect(try await store.fail(failing.lease) == .applied(.failed))

            let counts = try await store.queueCounts()
            #expect(counts.map(\.name) == ["alpha", "mid", "zeta"])
            let alpha = counts[0]
            #expect(alpha.count(.running) == 1 && alpha.count(.ready) == 1 && alpha.count(.pending) == 1)
            #expect(alpha.count(.succeeded) == 0 && alpha.counts.count == TaskState.allCases.count)
            #expect(counts[1].count(.failed) == 1 && counts[1].count(.ready) == 0)
            #expect(counts[2].count(.ready) == 1)
        }
    }
}
