import BatonCore
import BatonTesting
import Foundation
import PostgresNIO
import Testing

@testable import BatonPostgres

@Suite("PostgresTaskStore", .serialized, .enabled(if: TestPostgres.enabled(for: "BatonPostgresTests")))
struct PostgresStoreTests {
    // MARK: Migrations

    @Test func migrationsAreIdempotentAndSafeWhenNodesStartAtOnce() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        defer { Task { await TestPostgres.drop(configuration) } }
        // Four stores start at once on a schema that does not exist yet; each migrates twice.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { store in
                        try await store.migrate()
                        _ = try await store.enqueue(NewTask(kind: "k"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let rows = try await TestPostgres.execute(
            "SELECT count(*), max(version) FROM \"\(configuration.schema)\".baton_migrations", configuration)
        let (count, version) = try rows[0].decode((Int, Int).self)
        let latest = try PostgresMigration.bundled().count
        #expect(count == latest && version == latest)
        let tasks = try await TestPostgres.execute("SELECT count(*) FROM \"\(configuration.schema)\".tasks", configuration)
        #expect(try tasks[0].decode(Int.self) == 4)
        await TestPostgres.drop(configuration)
    }

    @Test func schemaFromANewerBatonIsIncompatible() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            _ = try await store.queryForTesting(
                "INSERT INTO \"\(configuration.schema)\".baton_migrations (version, name) VALUES (999, '999_future')")
            await expectError(.storeIncompatible) { try await store.migrate() }
        }
    }

    // MARK: Enqueue and claim

    @Test func enqueueStoresTimesFromTheDatabaseAndClaimsInOrder() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let now = try await store.now()
            let low = try await store.enqueue(NewTask(kind: "low", priority: 1))[0]
            let high = try await store.enqueue(NewTask(kind: "high", priority: 9))[0]
            let second = try await store.enqueue(NewTask(kind: "second", priority: 5))[0]
            let third = try await store.enqueue(NewTask(kind: "third", priority: 5))[0]
            let delayed = try await store.enqueue(NewTask(kind: "delayed", delay: 2))[0]
            #expect(delayed.state == .pending)
            #expect(abs(delayed.runAt.timeIntervalSince(delayed.createdAt) - 2) < 0.01)
            #expect(abs(low.createdAt.timeIntervalSince(now)) < 1)
            #expect(try await store.taskGet(low.id) == low)

            let claimed = try await store.claim(max: 10)
            #expect(claimed.map(\.task.id) == [high.id, second.id, third.id, low.id])
            #expect(claimed.allSatisfy { $0.task.state == .running && $0.task.attempt == 1 && $0.task.leaseOwner == "w1" })
            #expect(Set(claimed.map(\.leaseToken)).count == 4)

            let due = try #require(try await store.taskNextDueAt(queues: [Defaults.queue]))
            #expect(due == delayed.runAt)
            try await Task.sleep(for: .seconds(max(0, delayed.runAt.timeIntervalSince(try await store.now())) + 0.05))
            let late = try await store.claim(max: 10)
            #expect(late.map(\.task.id) == [delayed.id], "a due pending task is claimed directly")
            #expect(try await store.taskNextDueAt(queues: [Defaults.queue]) == nil)
        }
    }

    /// The hot statements run prepared, with one generic plan per session, made with the
    /// statistics of its first call: the plan must read the ready and pending indexes and
    /// update by TID for claims, find completions by id, and read the pending index for the
    /// next due time, on a queue of a dozen tasks
    /// (where a plan left to the statistics seq-scans, and would stay cached while the queue
    /// grows; the hot sessions' `enable_seqscan = off` prevents it) as on a long one.
    @Test(arguments: [12, 2_000]) func hotStatementsKeepTheirIndexesInTheCachedPlan(tasks: Int) async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await store.enqueue((0..<tasks).map { NewTask(kind: "k", priority: 1 + $0 % 10) })
            let claimed = try await store.claim(max: 10)
            _ = try await store.queryForTesting("ANALYZE \"\(configuration.schema)\".tasks")

            let claim = try await store.genericPlanForTesting(
                ClaimStatement.sql, arguments: "'{default}'::text[], '{}'::text[], 10, 30.0, '{w1}'::text[], '{10}'::bigint[]"
            ).joined(separator: "\n")
            #expect(claim.contains("Index Scan using tasks_ready"), "\(claim)")
            #expect(claim.contains("Index Scan using tasks_pending"), "\(claim)")
            #expect(claim.contains("Tid Scan on tasks t"), "\(claim)")
            #expect(!claim.contains("Seq Scan"), "\(claim)")

            let ids = claimed.map { "'\($0.task.id)'" }.joined(separator: ",")
            let tokens = claimed.map { "'\($0.leaseToken)'" }.joined(separator: ",")
            let results = claimed.map { _ in "'null'" }.joined(separator: ",")
            for sql in [CompleteStatement.sql, CompleteReportingStatement.sql] {
                let complete = try await store.genericPlanForTesting(
                    sql, arguments: "ARRAY[\(ids)]::uuid[], ARRAY[\(tokens)]::text[], ARRAY[\(results)]::text[]"
                ).joined(separator: "\n")
                // Rows are found by id, not by hashing every running task from the lease index, and
                // existence is not an EXISTS, which is planned as a hashed subplan over every task.
                #expect(complete.contains("tasks_id_key"), "\(complete)")
                #expect(!complete.contains("tasks_running_lease"), "\(complete)")
                #expect(!complete.contains("Seq Scan"), "\(complete)")
                #expect(!complete.contains("hashed SubPlan"), "\(complete)")
            }

            let nextDue = try await store.genericPlanForTesting(NextDueStatement.sql, arguments: "'{default}'::text[]")
                .joined(separator: "\n")
            #expect(nextDue.contains("tasks_pending"), "\(nextDue)")
            #expect(!nextDue.contains("Seq Scan"), "\(nextDue)")

            // And the prepared statements themselves work on the store's hot connections.
            #expect(try await store.ack(.complete(TaskCompletion(lease: claimed[0].lease, result: .null))) == .applied(.succeeded))
        }
    }

    @Test func migrationThreeDropsTheSeqIndexAndKeepsTasksWorking() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let s = "\"\(configuration.schema)\""
            // Back to version 2, with tasks in every state (version 4 runs again over itself).
            for statement in [
                "ALTER TABLE \(s).tasks ADD PRIMARY KEY (seq)", "DELETE FROM \(s).baton_migrations WHERE version >= 3",
            ] {
                _ = try await store.queryForTesting(statement)
            }
            let tasks = try await store.enqueue((0..<4).map { _ in NewTask(kind: "k", maxAttempts: 2) })
            let running = try await store.claim(max: 2)
            #expect(try await store.ack(.complete(TaskCompletion(lease: running[0].lease, result: .null))) == .applied(.succeeded))
            try await store.migrate()
            let seqIndexes = try await store.queryForTesting(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = '\(configuration.schema)' AND tablename = 'tasks' AND indexdef LIKE '%(seq)'"
            )
            #expect(try seqIndexes.first?.decode(Int.self) == 0)
            // Failing (looked up and written by id now), claiming and completing still work.
            #expect(
                try await store.ack(.fail(TaskFailure(lease: running[1].lease, message: "boom", retryAfter: .seconds(600))))
                    == .applied(.pending))
            let rest = try await store.claim(max: 10)
            #expect(Set(rest.map(\.task.id)) == Set(tasks.dropFirst(2).map(\.id)))
            for claimed in rest {
                #expect(try await store.ack(.complete(TaskCompletion(lease: claimed.lease, result: .null))) == .applied(.succeeded))
            }
            let states = try await store.all().map(\.state)
            #expect(states.filter { $0 == .succeeded }.count == 3 && states.filter { $0 == .pending }.count == 1)
        }
    }

    @Test func migrationNineMovesWorkflowMembersOutOfTheTasksIndexes() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let s = "\"\(configuration.schema)\""
            // Back to version 8, with a workflow stored while members were found by the index.
            for statement in [
                "DROP TABLE \(s).workflow_tasks CASCADE", "DROP TRIGGER tasks_workflow_join ON \(s).tasks",
                "DROP TRIGGER tasks_workflow_join_insert ON \(s).tasks", "DROP TRIGGER tasks_workflow_leave ON \(s).tasks",
                "DELETE FROM \(s).baton_migrations WHERE version >= 9",
            ] {
                _ = try await store.queryForTesting(statement)
            }
            let old = NewWorkflow(id: TaskID.generate(), name: "old")
            let (a, b) = (TaskID.generate(), TaskID.generate())
            _ = try await store.queryForTesting(
                "INSERT INTO \(s).workflows (id, name, created_at) VALUES ('\(old.id)', 'old', now())")
            _ = try await store.queryForTesting(
                """
                INSERT INTO \(s).tasks (id, kind, queue, args, priority, state, max_attempts, run_at, created_at, workflow_id, node) VALUES \
                ('\(a)', 'k', 'default', '{}', 5, 'ready', 3, now(), now(), '\(old.id)', 'a'), \
                ('\(b)', 'k', 'default', '{}', 5, 'ready', 3, now(), now(), '\(old.id)', 'b')
                """)
            try await store.migrate()
            let indexes = try await store.queryForTesting(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = '\(configuration.schema)' AND indexname = 'tasks_workflow'")
            #expect(try indexes.first?.decode(Int.self) == 0)
            #expect(try await store.workflowGet(old.id)?.nodes.map(\.name) == ["a", "b"], "members stored before 9 are kept")
            // Members added after: by the enqueue, and a cancel finds them.
            let new = NewWorkflow(id: TaskID.generate())
            let (x, y) = (TaskID.generate(), TaskID.generate())
            _ = try await store.taskEnqueueMany(
                TaskEnqueueParams(
                    tasks: [
                        NewTask(kind: "x", id: x, workflowID: new.id, node: "x"),
                        NewTask(kind: "y", id: y, after: [.init(parent: x)], workflowID: new.id, node: "y"),
                    ], workflow: new))
            #expect(try await store.workflowGet(new.id)?.nodes.map(\.name) == ["x", "y"])
            // An insert that sets workflow_id itself joins the workflow too.
            _ = try await store.queryForTesting(
                """
                INSERT INTO \(s).tasks (id, kind, queue, args, priority, state, max_attempts, run_at, created_at, workflow_id, node) \
                VALUES ('\(TaskID.generate())', 'k', 'default', '{}', 5, 'ready', 3, now(), now(), '\(old.id)', 'c')
                """)
            #expect(try await store.workflowCancel(old.id).nodes.map(\.state) == [.cancelled, .cancelled, .cancelled])
            // One row per member.
            let members = try await store.queryForTesting("SELECT count(*) FROM \(s).workflow_tasks")
            #expect(try members.first?.decode(Int.self) == 5)
        }
    }

    @Test func edgesLeaveRoomOnTheirPagesForTheirOneUpdate() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let options = try await store.queryForTesting(
                "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = '\"\(configuration.schema)\".task_deps'::regclass")
            #expect(try options.first?.decode(String.self) == "fillfactor=50")
        }
    }

    @Test func sharesGetTheirTasksInClaimOrder() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let records = try await store.enqueue((0..<7).map { NewTask(kind: "k\($0)") })
            let claimed = try await store.taskClaim(
                TaskClaimParams(
                    shares: [ClaimShare(worker: "a", max: 2), ClaimShare(worker: "b", max: 3), ClaimShare(worker: "c", max: 4)],
                    queues: [Defaults.queue], kinds: nil, lease: .seconds(30)))
            #expect(claimed.map(\.task.id) == records.map(\.id))
            #expect(claimed.map { $0.task.leaseOwner ?? "" } == ["a", "a", "b", "b", "b", "c", "c"])
            #expect(store.stats.claimStatements == 1)
        }
    }

    @Test func concurrentClaimersOnSeveralNodesNeverShareATask() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        defer { Task { await TestPostgres.drop(configuration) } }
        let total = 2000
        let ids = try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { store in
            try await store.enqueue((0..<total).map { NewTask(kind: "k", priority: 1 + $0 % 3) }).map(\.id)
        }
        // Three nodes (three pools), each with three claimers taking batches of 25.
        let claimed = try await withThrowingTaskGroup(of: [TaskID].self) { group in
            for node in 0..<3 {
                group.addTask {
                    try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { store in
                        try await withThrowingTaskGroup(of: [TaskID].self) { claimers in
                            for worker in 0..<3 {
                                claimers.addTask {
                                    var mine: [TaskID] = []
                                    while true {
                                        let batch = try await store.claim("n\(node)w\(worker)", max: 25)
                                        if batch.isEmpty { return mine }
                                        mine += batch.map(\.task.id)
                                    }
                                }
                            }
                            var all: [TaskID] = []
                            for try await part in claimers { all += part }
                            return all
                        }
                    }
                }
            }
            var all: [TaskID] = []
            for try await part in group { all += part }
            return all
        }
        #expect(claimed.count == total)
        #expect(Set(claimed) == Set(ids))
        await TestPostgres.drop(configuration)
    }

    // MARK: Acks, heartbeats, rescue

    @Test func acksAreFencedByTheLeaseToken() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "b", maxAttempts: 2, retry: .fixed(.seconds(60))), NewTask(kind: "c"))
            let claimed = try await store.claim(max: 3)
            try #require(claimed.count == 3)
            let (a, b, c) = (claimed[0], claimed[1], claimed[2])
            let forged = LeaseRef(id: a.task.id, token: "forged")
            let outcomes = try await store.taskAckMany(
                TaskAckParams(acks: [
                    .complete(TaskCompletion(lease: forged, result: .null)),
                    .complete(TaskCompletion(lease: a.lease, result: try RawJSON(validating: #"{"ok":true}"#))),
                    .fail(TaskFailure(lease: b.lease, message: "flaky")),
                    .fail(TaskFailure(lease: c.lease, message: "bad input", retryable: false)),
                    .complete(TaskCompletion(lease: LeaseRef(id: TaskID.generate(), token: "x"), result: .null)),
                    .complete(TaskCompletion(lease: a.lease, result: .null)),
                ]))
            #expect(outcomes == [.staleLease, .applied(.succeeded), .applied(.pending), .applied(.failed), .notFound, .staleLease])
            let storedA = try #require(try await store.taskGet(a.task.id))
            #expect(storedA.state == .succeeded && storedA.result?.text == #"{"ok":true}"# && storedA.finishedAt != nil)
            #expect(storedA.leaseOwner == nil && storedA.leaseExpiresAt == nil)
            let storedB = try #require(try await store.taskGet(b.task.id))
            #expect(storedB.state == .pending && storedB.lastError == "flaky" && storedB.errors.map(\.attempt) == [1])
            #expect(abs(storedB.runAt.timeIntervalSince(storedB.errors[0].at) - 60) < 1)
            #expect(try await store.taskGet(c.task.id)?.state == .failed)
            // Acking again with the old token changes nothing.
            #expect(try await store.ack(.complete(TaskCompletion(lease: b.lease, result: .null))) == .staleLease)
            #expect(store.stats.ackTransactions == 2)
        }
    }

    @Test func heartbeatsExtendAndReportCancelAndLoss() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "b"))
            let claimed = try await store.claim(max: 2, lease: .seconds(5))
            _ = try await store.taskCancel(claimed[1].task.id)
            let outcomes = try await store.taskHeartbeatMany(
                TaskHeartbeatParams(
                    leases: [
                        claimed[0].lease, claimed[1].lease, LeaseRef(id: claimed[0].task.id, token: "old"),
                        LeaseRef(id: TaskID.generate(), token: "x"),
                    ],
                    lease: .seconds(60)))
            guard case .extended(let until) = outcomes[0] else {
                Issue.record("expected an extension, got \(outcomes[0])")
                return
            }
            #expect(abs(until.timeIntervalSince(try await store.now()) - 60) < 2)
            #expect(Array(outcomes.dropFirst()) == [.cancelled, .lost, .notFound])
        }
    }

    @Test func expiredLeasesAreRescuedAndTheLateCompletionRefused() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await store.enqueue(NewTask(kind: "once", maxAttempts: 1), NewTask(kind: "again", retry: .fixed(.zero)))
            let claimed = try await store.claim(max: 2, lease: .milliseconds(50))
            try #require(claimed.count == 2)
            try await Task.sleep(for: .milliseconds(150))
            let seen = store.readySignal.generation
            #expect(try await store.leaseRescueMany(LeaseRescueParams()).count == 2)
            #expect(store.readySignal.generation != seen, "a retry due at once wakes claimers")
            #expect(try await store.leaseRescueMany(LeaseRescueParams()).count == 0)
            let once = try #require(try await store.taskGet(claimed[0].task.id))
            #expect(once.state == .failed && once.errors.map(\.message) == [PostgresTaskStore.leaseExpiredMessage])
            #expect(try await store.ack(.complete(TaskCompletion(lease: claimed[1].lease, result: .null))) == .staleLease)
            let again = try await store.claim(max: 5)
            #expect(again.map(\.task.id) == [claimed[1].task.id])
            #expect(again.first?.task.attempt == 2)
        }
    }

    @Test func releaseReturnsTasksWithoutUsingAnAttempt() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "b"))
            let claimed = try await store.claim(max: 2)
            let released = try await store.taskReleaseMany(
                TaskReleaseParams(leases: claimed.map(\.lease) + [LeaseRef(id: claimed[0].task.id, token: "old")]))
            #expect(released == 2)
            let again = try await store.claim(max: 2)
            #expect(again.map(\.task.attempt) == [1, 1])
        }
    }

    @Test func operatorActionsAndListing() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let records = try await store.enqueue((0..<5).map { NewTask(kind: "k\($0 % 2)", queue: $0 < 3 ? "q1" : "q2") })
            await expectError(.conflict) { try await store.taskRetry(records[0].id) }
            await expectError(.conflict) { try await store.taskDelete(records[0].id) }
            let cancelled = try await store.taskCancel(records[0].id)
            #expect(cancelled.state == .cancelled && cancelled.finishedAt != nil)
            await expectError(.conflict) { try await store.taskCancel(records[0].id) }
            await expectError(.notFound) { try await store.taskCancel(TaskID.generate()) }
            let retried = try await store.taskRetry(records[0].id)
            #expect(retried.state == .ready && retried.finishedAt == nil)
            _ = try await store.taskCancel(records[0].id)
            try await store.taskDelete(records[0].id)
            #expect(try await store.taskGet(records[0].id) == nil)

            // Newest first: ids (UUIDv7) order by creation time, then by their random bits.
            let newestFirst = records.dropFirst().map(\.id).sorted(by: >)
            let page1 = try await store.taskList(TaskListParams(limit: 2))
            #expect(page1.tasks.map(\.id) == Array(newestFirst[0..<2]))
            let page2 = try await store.taskList(TaskListParams(limit: 2, cursor: page1.nextCursor))
            #expect(page2.tasks.map(\.id) == Array(newestFirst[2..<4]))
            #expect(page2.nextCursor == nil, "the last page")
            let narrow = try await store.taskList(TaskListParams(states: [.ready], queue: "q2", kind: "k1"))
            #expect(narrow.tasks.map(\.id) == [records[3].id])
            let counts = try await store.queueCounts()
            #expect(counts.map(\.name) == ["q1", "q2"])
            #expect(counts[0].count(.ready) == 2 && counts[1].count(.ready) == 2)
        }
    }

    // MARK: Wake-ups across nodes

    @Test func enqueueOnOneNodeWakesClaimersOnAnother() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { a in
            try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { b in
                // The listener fires once when it (re)connects: wait until B listens.
                #expect(await eventually(within: .seconds(5)) { b.readySignal.generation > 0 })
                try await Task.sleep(for: .milliseconds(100))
                let seen = b.readySignal.generation
                try await a.enqueue(NewTask(kind: "k"))
                let started = ContinuousClock.now
                #expect(await eventually(within: .seconds(5)) { b.readySignal.generation != seen })
                print("NOTIFY wake-up across stores took \(ContinuousClock.now - started)")

                // A delayed task wakes the other node too (its next due time changed).
                let beforeDelayed = b.readySignal.generation
                try await a.enqueue(NewTask(kind: "later", delay: 60))
                #expect(await eventually(within: .seconds(5)) { b.readySignal.generation != beforeDelayed })
                // Notifications of another schema are ignored.
                try await Task.sleep(for: .milliseconds(200))
                let quiet = b.readySignal.generation
                guard let other = try TestPostgres.configuration() else { return }
                _ = try await TestPostgres.withStore(other) { c in try await c.enqueue(NewTask(kind: "elsewhere")) }
                try await Task.sleep(for: .milliseconds(300))
                #expect(b.readySignal.generation == quiet)
            }
        }
    }

    // MARK: Leadership

    @Test func exactlyOneLeaderAndTakeoverWhenTheLeaderGoes() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { keeper in
            let first = PostgresTaskStore(configuration: configuration, logger: TestPostgres.logger)
            let second = PostgresTaskStore(configuration: configuration, logger: TestPostgres.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await first.run() }
                group.addTask { try await second.run() }
                // `keeper` campaigns too: three candidates, one lock.
                let stores = [keeper, first, second]
                func leaders() -> Int { stores.filter { $0.leadership.holdsLeadership }.count }
                #expect(await eventually(within: .seconds(5)) { leaders() == 1 })
                try await Task.sleep(for: .milliseconds(1500))
                #expect(leaders() == 1, "leadership is stable and exclusive")

                let leader = try #require(stores.first { $0.leadership.holdsLeadership })
                leader.shutdown()
                let started = ContinuousClock.now
                let others = stores.filter { $0 !== leader }
                #expect(await eventually(within: .seconds(5)) { others.filter { $0.leadership.holdsLeadership }.count == 1 })
                print("leadership moved in \(ContinuousClock.now - started)")
                #expect(await leader.leadership.isLeader() == false)
                first.shutdown()
                second.shutdown()
                try await group.waitForAll()
            }
        }
    }

    // MARK: Connection loss

    @Test func unreachableDatabaseFailsEveryCallWithinTheDeadline() async throws {
        guard var configuration = try TestPostgres.configuration(callTimeout: .milliseconds(500)) else { return }
        // A port nothing listens on.
        configuration.port = 1
        configuration.connectTimeout = .milliseconds(200)
        let store = PostgresTaskStore(configuration: configuration, logger: TestPostgres.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            for _ in 0..<2 {
                let started = ContinuousClock.now
                await expectError(.unavailable) { try await store.enqueue(NewTask(kind: "k")) }
                await expectError(.unavailable) { try await store.claim() }
                await expectError(.unavailable) { try await store.now() }
                #expect(ContinuousClock.now - started < .seconds(3))
            }
            #expect(await store.leadership.isLeader() == false)
            store.shutdown()
            try await group.waitForAll()
        }
    }

    @Test func storeRecoversWhenItsConnectionsAreKilled() async throws {
        guard let configuration = try TestPostgres.configuration(callTimeout: .seconds(2)) else { return }
        try await TestPostgres.withStore(configuration) { store in
            #expect(await eventually(within: .seconds(5)) { store.leadership.holdsLeadership && store.readySignal.generation > 0 })
            try await store.enqueue(NewTask(kind: "before"))
            // Kill every server process of this store: the pool's, the listener's, the elector's.
            let killed = try await TestPostgres.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '\(configuration.applicationName)'",
                configuration)
            #expect(try killed[0].decode(Int.self) >= 2)
            // The session that held the lock is gone: leadership ends with it, at once.
            #expect(await eventually(within: .seconds(5)) { !store.leadership.holdsLeadership })
            // Calls may fail while the pool notices; they must work again without a restart.
            #expect(
                await eventually(within: .seconds(10)) {
                    (try? await store.enqueue(NewTask(kind: "after"))) != nil
                })
            #expect(await eventually(within: .seconds(5)) { store.leadership.holdsLeadership })
            // The listener is back: a notification from another node wakes this one.
            try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { other in
                try await Task.sleep(for: .milliseconds(1500))
                #expect(store.leadership.holdsLeadership && !other.leadership.holdsLeadership)
                let seen = store.readySignal.generation
                try await other.enqueue(NewTask(kind: "from.elsewhere"))
                #expect(await eventually(within: .seconds(5)) { store.readySignal.generation != seen })
            }
            #expect(try await store.claim(max: 10).count >= 2)
        }
    }
}
