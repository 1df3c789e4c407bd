import BatonCore
import Foundation
import Testing

extension StoreConformance {
    /// A completion applies only with the current lease token.
    public static func completionIsFencedByTheLeaseToken(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(NewTask(kind: "k"))
            let claimed = try #require(try await store.claim().first)
            let forged = LeaseRef(id: claimed.task.id, token: String(repeating: "0", count: 32))
            let wrong = try await store.ack(.complete(TaskCompletion(lease: forged, result: RawJSON(trusted: "1"))))
            #expect(wrong == .staleLease)
            let unchanged = try await store.require(claimed.task.id)
            #expect(unchanged == claimed.task)

            let result = RawJSON(trusted: #"{"sent":true,"ids":[1,2,3]}"#)
            #expect(try await store.complete(claimed, result: result) == .applied(.succeeded))
            let done = try await store.require(claimed.task.id)
            #expect(done.state == .succeeded)
            #expect(done.result?.text == result.text)
            #expect(done.finishedAt != nil && done.leaseExpiresAt == nil)
            #expect(done.attempt == 1)

            #expect(try await store.complete(claimed) == .staleLease)
            #expect(try await store.fail(claimed.lease) == .staleLease)
            #expect(try await store.require(claimed.task.id).result?.text == result.text)
            let missing = LeaseRef(id: TaskID.generate(), token: claimed.leaseToken)
            #expect(try await store.complete(ClaimedTask(task: claimed.task, leaseToken: "x")) == .staleLease)
            #expect(try await store.fail(missing) == .notFound)
        }
    }

    /// A batch of acks applies each in order and reports each one's outcome.
    public static func batchOfAcksAppliesEachInOrder(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue((0..<4).map { _ in NewTask(kind: "k", maxAttempts: 1) })
            let claimed = try await store.claim()
            let outcomes = try await store.taskAckMany(
                TaskAckParams(acks: [
                    .complete(TaskCompletion(lease: claimed[0].lease, result: RawJSON(trusted: "0"))),
                    .fail(TaskFailure(lease: claimed[1].lease, message: "dead")),
                    .complete(TaskCompletion(lease: LeaseRef(id: claimed[2].task.id, token: "nope"), result: .null)),
                    .complete(TaskCompletion(lease: LeaseRef(id: TaskID.generate(), token: "nope"), result: .null)),
                    .complete(TaskCompletion(lease: claimed[3].lease, result: RawJSON(trusted: "3"))),
                ]))
            #expect(outcomes == [.applied(.succeeded), .applied(.failed), .staleLease, .notFound, .applied(.succeeded)])
            #expect(try await store.require(claimed[2].task.id).state == .running)
        }
    }

    /// The reporting ack has the plain ack's outcomes and says, for each applied ack, which
    /// attempt of which task it ended and how long that attempt ran (claim to ack); for acks
    /// not applied it says nothing. Both completion paths are covered: the batched one, and the
    /// one-by-one path a batch that names a task twice takes.
    public static func reportingAcksSayWhichAttemptTheyEnded(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(
                NewTask(kind: "a", queue: "q1"), NewTask(kind: "b", queue: "q2", maxAttempts: 2, retry: .fixed(.milliseconds(1))),
                NewTask(kind: "c", queue: "q1"))
            let claimed = try await store.claim(max: 3, queues: ["q1", "q2"])
            try #require(claimed.count == 3)
            let byKind = Dictionary(uniqueKeysWithValues: claimed.map { ($0.task.kind, $0) })
            let (a, b, c) = (byKind["a"]!, byKind["b"]!, byKind["c"]!)
            let slept = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(60))

            let reports = try await store.taskAckManyReporting(
                TaskAckParams(acks: [
                    .complete(TaskCompletion(lease: a.lease, result: .null)),
                    .fail(TaskFailure(lease: b.lease, message: "once")),
                    .complete(TaskCompletion(lease: LeaseRef(id: c.task.id, token: "nope"), result: .null)),
                ]))
            let elapsed = ContinuousClock.now - slept
            #expect(reports.map(\.outcome) == [.applied(.succeeded), .applied(.pending), .staleLease])
            #expect(reports[0].attempt?.attempt == 1 && reports[0].attempt?.queue == "q1" && reports[0].attempt?.kind == "a")
            #expect(reports[1].attempt?.attempt == 1 && reports[1].attempt?.queue == "q2" && reports[1].attempt?.kind == "b")
            #expect(reports[2].attempt == nil)
            for report in reports.prefix(2) {
                let ran = try #require(report.attempt?.ran)
                #expect(ran >= .milliseconds(50) && ran <= elapsed + .milliseconds(500), "ran \(ran)")
            }

            // The second attempt of b, acked in a batch that names c twice (one by one).
            var retried: [ClaimedTask] = []
            for _ in 0..<1000 where retried.isEmpty {
                retried = try await store.claim(queues: ["q2"])
                if retried.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            }
            try #require(retried.map(\.task.id) == [b.task.id])
            let again = try await store.taskAckManyReporting(
                TaskAckParams(acks: [
                    .complete(TaskCompletion(lease: c.lease, result: .null)),
                    .complete(TaskCompletion(lease: c.lease, result: .null)),
                    .complete(TaskCompletion(lease: retried[0].lease, result: .null)),
                ]))
            #expect(again.map(\.outcome) == [.applied(.succeeded), .staleLease, .applied(.succeeded)])
            #expect(again[0].attempt?.kind == "c" && again[0].attempt?.attempt == 1 && again[0].attempt?.ran != nil)
            #expect(again[1].attempt == nil)
            #expect(again[2].attempt?.kind == "b" && again[2].attempt?.attempt == 2 && again[2].attempt?.queue == "q2")
        }
    }

    /// A failure retries as the task's policy says until its attempts are exhausted, then the task fails.
    public static func failureRetriesPerPolicyUntilAttemptsAreExhausted(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "flaky", maxAttempts: 3, retry: .fixed(.milliseconds(50))))[0]
            var claimed = try await store.claim()
            for attempt in 1...3 {
                try #require(claimed.count == 1, "attempt \(attempt) should be claimable")
                #expect(claimed[0].task.attempt == attempt)
                let before = try await store.now()
                let outcome = try await store.fail(claimed[0].lease, "failure \(attempt)")
                let after = try await store.now()
                let stored = try await store.require(record.id)
                #expect(stored.errors.count == attempt)
                #expect(stored.lastError == "failure \(attempt)")
                if attempt < 3 {
                    #expect(outcome == .applied(.pending))
                    #expect(stored.state == .pending)
                    #expect(stored.runAt >= before.addingTimeInterval(0.05 - 0.002))
                    #expect(stored.runAt <= after.addingTimeInterval(0.05 + 0.002))
                    #expect(stored.leaseOwner == nil && stored.leaseExpiresAt == nil)
                    claimed = try await claimOnceDue(store, runAt: stored.runAt)
                } else {
                    #expect(outcome == .applied(.failed))
                    #expect(stored.state == .failed)
                    #expect(stored.finishedAt != nil)
                }
            }
            let dead = try await store.require(record.id)
            #expect(dead.errors.map(\.attempt) == [1, 2, 3])
            #expect(dead.errors.map(\.message) == ["failure 1", "failure 2", "failure 3"])
            #expect(dead.attempt == 3)
            #expect(try await store.claim().isEmpty)
        }
    }

    /// A failure marked not retryable fails the task whatever attempts are left.
    public static func notRetryableFailureIsFinal(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "k", maxAttempts: 5, retry: .fixed(.zero)))[0]
            let claimed = try #require(try await store.claim().first)
            #expect(try await store.fail(claimed.lease, "bad input", retryable: false) == .applied(.failed))
            let stored = try await store.require(record.id)
            #expect(stored.state == .failed && stored.errors.count == 1 && stored.lastError == "bad input")
        }
    }

    /// A NUL in what a worker reports (an error message, a progress message) is kept as U+FFFD,
    /// not cut there (SQLite) or refused with the whole batch of acks (PostgreSQL); a key or tag
    /// holding one is refused before anything is stored.
    public static func textHoldingANULIsKeptOrRefused(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "k", maxAttempts: 1))[0]
            let claimed = try #require(try await store.claim().first)
            let progress: [LeaseRef: TaskProgress] = [claimed.lease: TaskProgress(fraction: 0.5, message: "row\u{0}42")]
            _ = try await store.taskHeartbeatMany(TaskHeartbeatParams(leases: [claimed.lease], lease: .seconds(30), progress: progress))
            #expect(try await store.taskGet(record.id)?.progress?.message == "row\u{FFFD}42")
            #expect(try await store.fail(claimed.lease, "exit\u{0}status 2", retryable: false) == .applied(.failed))
            let stored = try await store.require(record.id)
            #expect(stored.lastError == "exit\u{FFFD}status 2" && stored.errors.map(\.message) == ["exit\u{FFFD}status 2"])

            for task in [NewTask(kind: "k", uniqueKey: "a\u{0}b"), NewTask(kind: "k", tags: ["t\u{0}"])] {
                await #expect(throws: BatonError.self) { try await store.enqueue(task) }
            }
            #expect(try await store.taskList(TaskListParams()).tasks.count == 1)
        }
    }

    /// A failure's retry-after overrides the task's retry policy.
    public static func retryAfterOverridesThePolicy(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "k", retry: .fixed(.milliseconds(50))))[0]
            let claimed = try #require(try await store.claim().first)
            let before = try await store.now()
            // 30 s: a loaded machine may stall for seconds between these statements.
            #expect(try await store.fail(claimed.lease, "rate limited", retryAfter: .seconds(30)) == .applied(.pending))
            let stored = try await store.require(record.id)
            #expect(stored.state == .pending)
            #expect(gap(stored.runAt, before.addingTimeInterval(30)) < 5)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await store.claim().isEmpty)
        }
    }

    /// A retry due at once is claimable at once.
    public static func retryDueNowIsClaimableAtOnce(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(NewTask(kind: "k", retry: .fixed(.zero)))
            let claimed = try #require(try await store.claim().first)
            let seen = store.readySignal.generation
            #expect(try await store.fail(claimed.lease) == .applied(.pending))
            #expect(store.readySignal.generation != seen)
            let again = try await store.claim()
            #expect(again.map(\.task.attempt) == [2])
            #expect(again.first?.leaseToken != claimed.leaseToken)
        }
    }

    /// A heartbeat extends the lease; it reports a cancelled task, and a lease that is no longer held.
    public static func heartbeatExtendsThenReportsCancelAndLoss(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "b"))
            let claimed = try await store.claim(lease: .seconds(5))
            let (a, b) = (claimed[0], claimed[1])
            let before = try await store.now()
            guard case .extended(let until) = try await store.heartbeat(a.lease, lease: .seconds(60)) else {
                Issue.record("heartbeat should extend a held lease")
                return
            }
            #expect(gap(until, before.addingTimeInterval(60)) < 1)
            #expect(try await store.require(a.task.id).leaseExpiresAt == until)
            #expect(try await store.heartbeat(LeaseRef(id: a.task.id, token: "forged")) == .lost)
            #expect(try await store.heartbeat(LeaseRef(id: TaskID.generate(), token: a.leaseToken)) == .notFound)

            _ = try await store.taskCancel(a.task.id)
            #expect(try await store.heartbeat(a.lease) == .cancelled)
            #expect(try await store.heartbeat(LeaseRef(id: a.task.id, token: "forged")) == .lost)

            // b's lease expires and is rescued: its heartbeat is then lost.
            let outcomes = try await store.taskHeartbeatMany(TaskHeartbeatParams(leases: [b.lease], lease: .milliseconds(20)))
            guard case .extended = outcomes.first else {
                Issue.record("heartbeat should extend b")
                return
            }
            try await Task.sleep(for: .milliseconds(60))
            let rescued = try await store.leaseRescueMany(LeaseRescueParams(defaultRetry: .fixed(.seconds(10))))
            #expect(rescued == [RescuedLease(id: b.task.id, queue: Defaults.queue, kind: "b", attempt: 1, state: .pending)])
            #expect(try await store.heartbeat(b.lease) == .lost)
        }
    }

    /// `taskLeasesHeld` names the leases that are still their tasks' (running under that
    /// token), and changes nothing: not a finished, cancelled or released task's, not a forged
    /// token, not an unknown task.
    public static func leasesHeldAreTheCurrentOnes(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "b"), NewTask(kind: "c"), NewTask(kind: "d"), NewTask(kind: "e"))
            let claimed = try await store.claim(max: 5, lease: .seconds(30))
            try #require(claimed.count == 5)
            let (running, done, cancelled, released, twice) = (claimed[0], claimed[1], claimed[2], claimed[3], claimed[4])
            #expect(try await store.complete(done) == .applied(.succeeded))
            _ = try await store.taskCancel(cancelled.task.id)
            #expect(try await store.taskReleaseMany(TaskReleaseParams(leases: [released.lease])) == 1)
            let before = try await store.require(running.task.id)
            let asked = [
                running.lease, done.lease, cancelled.lease, released.lease, twice.lease, twice.lease,
                LeaseRef(id: running.task.id, token: "forged"), LeaseRef(id: TaskID.generate(), token: running.leaseToken),
            ]
            #expect(try await store.taskLeasesHeld(asked) == [running.lease, twice.lease])
            #expect(try await store.taskLeasesHeld([]) == [])
            let after = try await store.require(running.task.id)
            #expect(after.leaseExpiresAt == before.leaseExpiresAt && after.state == .running, "a read only")
        }
    }

    /// Progress sent with a heartbeat of a current lease is stored with the attempt that sent
    /// it; a forged lease stores nothing; a second report within the coalescing interval is
    /// dropped, a later one stored; the last progress stays after the task ends.
    public static func heartbeatStoresProgressCoalesced(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.enqueue(NewTask(kind: "p"))
            let claimed = try #require(try await store.claim().first)
            let id = claimed.task.id
            #expect(try await store.taskGet(id)?.progress == nil)
            func report(_ lease: LeaseRef, _ fraction: Double, _ message: String?) async throws -> HeartbeatOutcome? {
                try await store.taskHeartbeatMany(
                    TaskHeartbeatParams(
                        leases: [lease], lease: .seconds(30), progress: [lease: TaskProgress(fraction: fraction, message: message)])
                ).first
            }
            #expect(try await report(LeaseRef(id: id, token: "forged"), 0.9, "forged") == .lost)
            #expect(try await store.taskGet(id)?.progress == nil)

            let before = try await store.now()
            let firstSent = ContinuousClock.now
            guard case .extended = try await report(claimed.lease, 0.25, "a quarter") else {
                Issue.record("the heartbeat should extend the lease")
                return
            }
            let first = try #require(try await store.taskGet(id)?.progress)
            #expect(first.fraction == 0.25 && first.message == "a quarter" && first.attempt == 1)
            #expect(gap(try #require(first.at), before) < 2)
            // Within the interval: dropped (the lease is still extended). On a loaded machine
            // the interval may have passed already; then the report is stored, as it should be.
            guard case .extended = try await report(claimed.lease, 0.3, "too soon") else {
                Issue.record("the heartbeat should extend the lease")
                return
            }
            if ContinuousClock.now - firstSent < TaskHeartbeatParams.progressInterval - .milliseconds(200) {
                #expect(try await store.taskGet(id)?.progress?.message == "a quarter")
            }
            try await Task.sleep(for: TaskHeartbeatParams.progressInterval + .milliseconds(100))
            _ = try await report(claimed.lease, 0.5, nil)
            let second = try #require(try await store.taskGet(id)?.progress)
            #expect(second.fraction == 0.5 && second.message == nil)
            // A listing carries it too; the ended attempt keeps its last progress.
            #expect(try await store.complete(claimed) == .applied(.succeeded))
            let listed = try await store.taskList(TaskListParams()).tasks.first { $0.id == id }
            #expect(listed?.progress?.fraction == 0.5 && listed?.progress?.attempt == 1)
        }
    }

    /// An expired lease is rescued (the attempt fails and retries), and the late completion of the old attempt is refused.
    public static func expiredLeaseIsRescuedAndTheLateCompletionRefused(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let retried = try await store.enqueue(NewTask(kind: "retried", priority: 9))[0]
            let dead = try await store.enqueue(NewTask(kind: "dead", maxAttempts: 1))[0]
            let healthy = try await store.enqueue(NewTask(kind: "healthy", priority: 1))[0]
            let short = try await store.claim(max: 2, lease: .milliseconds(50))
            #expect(short.map(\.task.id) == [retried.id, dead.id])
            let long = try await store.claim(max: 1, lease: .seconds(60))
            #expect(long.map(\.task.id) == [healthy.id])
            try await Task.sleep(for: .milliseconds(120))
            let before = try await store.now()
            #expect(try await store.leaseRescueMany(LeaseRescueParams(defaultRetry: .fixed(.milliseconds(50)))).count == 2)

            let pending = try await store.require(retried.id)
            #expect(pending.state == .pending)
            #expect(pending.errors.map(\.message) == ["lease expired (worker vanished)"])
            #expect(pending.errors.first?.attempt == 1)
            #expect(gap(pending.runAt, before.addingTimeInterval(0.05)) < 0.5)
            let failed = try await store.require(dead.id)
            #expect(failed.state == .failed && failed.errors.count == 1 && failed.finishedAt != nil)
            #expect(try await store.require(healthy.id).state == .running)

            #expect(try await store.complete(short[0]) == .staleLease)
            #expect(try await store.complete(short[1]) == .staleLease)
            #expect(try await store.require(retried.id).state == .pending)
            #expect(try await store.require(dead.id).state == .failed)
            #expect(try await store.leaseRescueMany(LeaseRescueParams()).count == 0)

            let again = try await claimOnceDue(store, runAt: pending.runAt)
            #expect(again.map(\.task.id) == [retried.id])
            #expect(again.first?.task.attempt == 2)
        }
    }

    /// A released task is ready again without using up an attempt.
    public static func releaseReturnsToReadyWithoutUsingAnAttempt(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let record = try await store.enqueue(NewTask(kind: "k"))[0]
            let claimed = try #require(try await store.claim().first)
            #expect(claimed.task.attempt == 1)
            let forged = LeaseRef(id: record.id, token: "forged")
            #expect(try await store.taskReleaseMany(TaskReleaseParams(leases: [forged])) == 0)
            let seen = store.readySignal.generation
            #expect(try await store.taskReleaseMany(TaskReleaseParams(leases: [claimed.lease])) == 1)
            #expect(store.readySignal.generation != seen)
            let released = try await store.require(record.id)
            #expect(released.state == .ready && released.attempt == 0 && released.leaseOwner == nil)
            #expect(try await store.complete(claimed) == .staleLease)
            let again = try await store.claim("w2")
            #expect(again.map(\.task.id) == [record.id])
            #expect(again.first?.task.attempt == 1)
        }
    }

    /// Claims until something comes, checking that nothing came before `runAt` by the store's clock.
    private static func claimOnceDue(_ store: any TaskStore, runAt: Date) async throws -> [ClaimedTask] {
        while true {
            let claimed = try await store.claim()
            let now = try await store.now()
            if !claimed.isEmpty {
                #expect(now >= runAt, "claimed before its run_at")
                return claimed
            }
            if now > runAt.addingTimeInterval(5) {
                Issue.record("nothing claimable 5 s after run_at")
                return []
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
