import BatonCore
import Foundation
import Testing

extension StoreConformance {
    /// Claims take the highest priority first, then the earliest `runAt`, then submission order.
    public static func claimOrderIsPriorityThenRunAtThenSubmission(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            // Same priority: c, e, f are ready now (one batch: same run_at, submission order);
            // b and a come due later, b before a although submitted after it.
            let ab = try await store.enqueue(NewTask(kind: "a", delay: 0.4), NewTask(kind: "b", delay: 0.2))
            let (a, b) = (ab[0], ab[1])
            let cef = try await store.enqueue(NewTask(kind: "c"), NewTask(kind: "e"), NewTask(kind: "f"))
            let high = try await store.enqueue(NewTask(kind: "high", priority: 9))[0]
            let low = try await store.enqueue(NewTask(kind: "low", priority: 1))[0]
            #expect(b.runAt < a.runAt)
            #expect(cef[0].runAt == cef[2].runAt)
            let submitted = [a, b] + cef + [high, low]
            let expected = submitted.enumerated().sorted { x, y in
                if x.element.priority != y.element.priority { return x.element.priority > y.element.priority }
                if x.element.runAt != y.element.runAt { return x.element.runAt < y.element.runAt }
                return x.offset < y.offset
            }.map(\.element.id)
            try await Task.sleep(for: .seconds(max(0, a.runAt.timeIntervalSinceNow) + 0.05))
            let claimed = try await store.claim(max: 10)
            #expect(claimed.map(\.task.id) == expected)
            #expect(expected.first == high.id && expected.last == low.id)
            #expect(claimed.allSatisfy { $0.task.state == .running && $0.task.attempt == 1 && $0.task.leaseOwner == "w1" })
            #expect(Set(claimed.map(\.leaseToken)).count == claimed.count)
            #expect(try await store.claim().isEmpty)
        }
    }

    /// A claim takes at most `max` tasks and leases them to the worker for the lease asked for.
    public static func claimRespectsMaxAndSetsTheLease(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue((0..<5).map { _ in NewTask(kind: "k") })
            let before = try await store.now()
            let first = try await store.claim("w1", max: 3, lease: .seconds(10))
            #expect(first.count == 3)
            for claimed in first {
                let expires = try #require(claimed.task.leaseExpiresAt)
                #expect(gap(expires, before.addingTimeInterval(10)) < 1)
                #expect(claimed.task.startedAt != nil)
                let stored = try await store.require(claimed.task.id)
                #expect(stored.state == .running && stored.leaseOwner == "w1" && stored.attempt == 1)
            }
            #expect(try await store.claim("w2", max: 3).count == 2)
            #expect(try await store.claim("w3", max: 3).isEmpty)
        }
    }

    /// ``TaskStore/taskGetWithLease(_:)`` answers a running task's current lease token and
    /// owner, no token before the claim or after the attempt ended, and `nil` for an unknown id.
    public static func taskWithLeaseReadsTheCurrentLease(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let id = try await store.enqueue(NewTask(kind: "k"))[0].id
            let before = try #require(try await store.taskGetWithLease(id))
            #expect(before.task.state == .ready && before.leaseToken == nil)
            let claimed = try #require(try await store.claim("w1").first)
            let running = try #require(try await store.taskGetWithLease(id))
            #expect(running.leaseToken == claimed.leaseToken && running.task.leaseOwner == "w1")
            #expect(running.task == (try await store.require(id)))
            #expect(try await store.complete(claimed) == .applied(.succeeded))
            let done = try #require(try await store.taskGetWithLease(id))
            #expect(done.task.state == .succeeded && done.leaseToken == nil)
            #expect(try await store.taskGetWithLease(TaskID.generate()) == nil)
        }
    }

    /// A delayed task is pending until its `runAt` by the store's clock, and claimable from then on.
    public static func delayedTaskIsNotClaimedEarlyAndIsClaimedOnceDue(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let before = try await store.now()
            let record = try await store.enqueue(NewTask(kind: "later", delay: 0.3))[0]
            let after = try await store.now()
            #expect(record.state == .pending)
            // run_at is the store's clock at the enqueue plus the delay: between these bounds,
            // however long a busy machine took (1 ms slack for millisecond storage).
            #expect(record.runAt >= before.addingTimeInterval(0.3 - 0.001))
            #expect(record.runAt <= after.addingTimeInterval(0.3 + 0.001))
            let early = try await store.claim()
            if try await store.now() < record.runAt {
                #expect(early.isEmpty, "claimed before its run_at")
                #expect(try await store.require(record.id).state == .pending)
            }
            if early.isEmpty {
                let due = try #require(try await store.taskNextDueAt(queues: [Defaults.queue]))
                #expect(due == record.runAt)
                try await Task.sleep(for: .seconds(max(0, due.timeIntervalSinceNow) + 0.05))
            }
            let claimed = early.isEmpty ? try await store.claim() : early
            #expect(claimed.map(\.task.id) == [record.id])
            #expect(try await store.taskNextDueAt(queues: [Defaults.queue]) == nil)
        }
    }

    /// A task with a `runAt` in the future is pending; absurd but valid times and leases are stored, not trapped on.
    public static func runAtInTheFutureIsPending(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let at = Date().addingTimeInterval(3600)
            let record = try await store.enqueue(NewTask(kind: "k", runAt: at))[0]
            #expect(record.state == .pending)
            #expect(gap(record.runAt, at) < 0.002)
            #expect(try await store.claim().isEmpty)

            // The largest valid values are stored, not trapped on (a larger delay is refused).
            let far = try await store.enqueue(
                NewTask(kind: "k", delay: Limits.maxSeconds), NewTask(kind: "k", runAt: .distantFuture))
            #expect(far.allSatisfy { $0.state == .pending && $0.runAt > at })
            try await store.enqueue(NewTask(kind: "now"))
            let claimed = try #require(try await store.claim(lease: .seconds(Int64.max / 2)).first)
            #expect(claimed.task.kind == "now")
            #expect(try await store.fail(claimed.lease, retryAfter: .seconds(Int64.max / 2)) == .applied(.pending))
        }
    }

    /// One claim for several workers serves their shares in order, each up to its `max`.
    public static func sharesAreServedInOrderEachUpToItsMax(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let records = try await store.enqueue((0..<7).map { NewTask(kind: "k", priority: 10 - $0) })
            let claimed = try await store.taskClaim(
                TaskClaimParams(
                    shares: [ClaimShare(worker: "a", max: 2), ClaimShare(worker: "b", max: 3), ClaimShare(worker: "c", max: 4)],
                    queues: [Defaults.queue], kinds: nil, lease: .seconds(30)))
            #expect(claimed.map(\.task.id) == records.map(\.id))
            #expect(claimed.map { $0.task.leaseOwner ?? "-" } == ["a", "a", "b", "b", "b", "c", "c"])
            for owner in ["a", "b", "c"] {
                for task in claimed where task.task.leaseOwner == owner {
                    #expect(try await store.require(task.task.id).leaseOwner == owner)
                }
            }
        }
    }

    /// Claims take only tasks of the queues, and the kinds, they name.
    public static func claimFiltersByQueueAndKind(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let mail = try await store.enqueue(NewTask(kind: "email.send", queue: "mail"))[0]
            let sms = try await store.enqueue(NewTask(kind: "sms.send", queue: "mail"))[0]
            let report = try await store.enqueue(NewTask(kind: "report", queue: "batch", priority: 9))[0]
            #expect(try await store.claim(queues: ["other"]).isEmpty)
            let emails = try await store.claim(queues: ["mail", "batch"], kinds: ["email.send"])
            #expect(emails.map(\.task.id) == [mail.id])
            let both = try await store.claim(queues: ["mail", "batch"])
            #expect(both.map(\.task.id) == [report.id, sms.id])
        }
    }

    /// A task of a kind no claim names stays ready and does not hold up the others.
    public static func taskOfAKindNobodyClaimsStaysReady(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let orphan = try await store.enqueue(NewTask(kind: "nobody.handles.this", priority: 10))[0]
            let handled = try await store.enqueue(NewTask(kind: "handled"))[0]
            let claimed = try await store.claim(max: 10, kinds: ["handled"])
            #expect(claimed.map(\.task.id) == [handled.id])
            #expect(try await store.claim(max: 10, kinds: ["handled", "other"]).isEmpty)
            let stored = try await store.require(orphan.id)
            #expect(stored.state == .ready && stored.attempt == 0)
        }
    }

    /// Concurrent batch claims through two store instances never hand out a task twice.
    public static func concurrentBatchClaimsNeverShareATask(_ factory: any StoreFactory) async throws {
        try await factory.withStore { first in
            let second = try await factory.makeSecondStore(sharing: first)
            do {
                try await claimConcurrently(first, second)
                await factory.dispose(second)
            } catch {
                await factory.dispose(second)
                throw error
            }
        }
    }

    /// 4 claimers through 2 store instances take 10 at a time from 2,000 tasks.
    private static func claimConcurrently(_ first: any TaskStore, _ second: any TaskStore) async throws {
        do {
            let total = 2000
            for batch in 0..<4 {
                try await first.enqueue((0..<(total / 4)).map { NewTask(kind: "k", args: RawJSON(trusted: "[\(batch),\($0)]")) })
            }
            let stores = [first, second, first, second]
            let claims = try await withThrowingTaskGroup(of: [ClaimedTask].self) { group in
                for (i, store) in stores.enumerated() {
                    group.addTask {
                        var mine: [ClaimedTask] = []
                        while true {
                            let batch = try await store.claim("worker-\(i)", max: 10)
                            if batch.isEmpty { return mine }
                            #expect(batch.allSatisfy { $0.task.leaseOwner == "worker-\(i)" })
                            mine += batch
                        }
                    }
                }
                var all: [[ClaimedTask]] = []
                for try await claims in group { all.append(claims) }
                return all
            }
            let ids = claims.flatMap { $0.map(\.task.id) }
            #expect(ids.count == total)
            #expect(Set(ids).count == total)
            let counts = try await first.queueCounts()
            #expect(counts.first?.count(.running) == total)
            #expect(counts.first?.count(.ready) == 0)
        }
    }
}
