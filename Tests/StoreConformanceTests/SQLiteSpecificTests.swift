import BatonCore
import BatonTesting
import Foundation
import Testing

@testable import BatonSQLite

/// What only the SQLite store does: refusing files that are not Baton's, reopening, counters.
@Suite("SQLite store")
struct SQLiteSpecificTests {
    /// A real SQLite database that is not Baton's: a Baton database, closed (so its WAL is
    /// checkpointed away), whose application id is then changed.
    private func makeDatabase(at path: String, applicationID: Int32) async throws {
        let store = try await SQLiteTaskStore.open(.init(path: path))
        try await store.enqueue(NewTask(kind: "k"))
        try await store.executeForTesting("PRAGMA application_id = \(applicationID)")
        try store.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    /// `sidecars`: whether a read-only look may leave an (empty) WAL and shared-memory file
    /// beside the database, as SQLite does for WAL databases.
    private func expectRefusedUnchanged(_ path: String, sidecars: Bool = false) async throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        await expectError(.storeIncompatible) { try await SQLiteTaskStore.open(.init(path: path)) }
        do {
            _ = try await SQLiteTaskStore.open(.init(path: path))
        } catch let error as BatonError {
            #expect(error.message.contains(path))
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(after == before, "the file must be left byte-for-byte unchanged")
        if !sidecars {
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "no WAL may be created beside it")
            #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        }
    }

    @Test func foreignDatabaseIsRefusedAndLeftUnchanged() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let noID = directory.appendingPathComponent("other.db").path
            try await makeDatabase(at: noID, applicationID: 0)
            try await expectRefusedUnchanged(noID)

            let otherID = directory.appendingPathComponent("other-app.db").path
            try await makeDatabase(at: otherID, applicationID: 0x1234_5678)
            try await expectRefusedUnchanged(otherID)
        }
    }

    @Test func garbageFileIsRefusedAndLeftUnchanged() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let text = directory.appendingPathComponent("notes.txt").path
            try Data("these are my notes, not a database\n".utf8).write(to: URL(fileURLWithPath: text))
            try await expectRefusedUnchanged(text)

            let bytes = Data("SQLite format 3\0".utf8) + Data((0..<4080).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let damaged = directory.appendingPathComponent("damaged.db").path
            try bytes.write(to: URL(fileURLWithPath: damaged))
            let before = try Data(contentsOf: URL(fileURLWithPath: damaged))
            do {
                _ = try await SQLiteTaskStore.open(.init(path: damaged))
                Issue.record("a damaged file must be refused")
            } catch let error as BatonError {
                #expect(error.code == .storeIncompatible || error.code == .unavailable, "\(error)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: damaged)) == before)
        }
    }

    @Test func databaseFromANewerBatonIsRefused() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let path = directory.appendingPathComponent("future.db").path
            let store = try await SQLiteTaskStore.open(.init(path: path))
            try await store.executeForTesting("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
            try store.close()
            try await expectRefusedUnchanged(path, sidecars: true)
        }
    }

    @Test func unusablePathIsUnavailable() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let missing = directory.appendingPathComponent("no/such/dir/baton.db").path
            await expectError(.unavailable) { try await SQLiteTaskStore.open(.init(path: missing)) }
            #expect(!FileManager.default.fileExists(atPath: missing))
            await expectError(.unavailable) { try await SQLiteTaskStore.open(.init(path: directory.path)) }
        }
    }

    @Test func emptyFileIsInitialisedAndReopeningKeepsTasks() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let path = directory.appendingPathComponent("baton.db").path
            try Data().write(to: URL(fileURLWithPath: path))
            let first = try await SQLiteTaskStore.open(.init(path: path, synchronous: .full))
            let records = try await first.enqueue(NewTask(kind: "a"), NewTask(kind: "b", delay: 60))
            let claimed = try await first.claim(max: 1)
            try first.close()

            let second = try await SQLiteTaskStore.open(.init(path: path))
            #expect(try await second.require(records[0].id).state == .running)
            #expect(try await second.require(records[1].id) == records[1])
            #expect(try await second.complete(claimed[0]) == .applied(.succeeded))
            try second.close()
        }
    }

    @Test func statsCountStatementsAndTransactions() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let store = try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("baton.db").path))
            #expect(store.stats == SQLiteStoreStats())
            try await store.enqueue((0..<1200).map { _ in NewTask(kind: "k") })
            #expect(store.stats.enqueueTransactions == 1)

            let claimed = try await store.taskClaim(
                TaskClaimParams(
                    shares: [ClaimShare(worker: "a", max: 5), ClaimShare(worker: "b", max: 5), ClaimShare(worker: "c", max: 5)],
                    queues: [Defaults.queue], kinds: nil, lease: .seconds(30)))
            #expect(claimed.count == 15)
            #expect(store.stats.claimStatements == 1)
            #expect(store.stats.claimTransactions == 1)
            #expect(try await store.claim(max: 2000).count == 1185)
            #expect(store.stats.claimStatements == 2)

            let outcomes = try await store.taskAckMany(
                TaskAckParams(acks: claimed.map { .complete(TaskCompletion(lease: $0.lease, result: .null)) }))
            #expect(outcomes.allSatisfy { $0 == .applied(.succeeded) })
            #expect(store.stats.ackTransactions == 1)
            #expect(store.stats.enqueueTransactions == 1)
            try store.close()
        }
    }

    @Test func busyDatabaseIsUnavailableAfterTheTimeout() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let path = directory.appendingPathComponent("baton.db").path
            let holder = try await SQLiteTaskStore.open(.init(path: path))
            let waiter = try await SQLiteTaskStore.open(.init(path: path, busyTimeout: .milliseconds(100)))
            let (locked, lockedContinuation) = AsyncStream<Void>.makeStream()
            let hold = Task {
                try await holder.holdWriteLockForTesting(.milliseconds(800)) { lockedContinuation.yield() }
            }
            for await _ in locked { break }
            let start = ContinuousClock.now
            await expectError(.unavailable) { try await waiter.enqueue(NewTask(kind: "k")) }
            #expect(ContinuousClock.now - start >= .milliseconds(90), "waits for the busy timeout first")
            try await hold.value
            try await waiter.enqueue(NewTask(kind: "k"))
            #expect(try await holder.all().count == 1)
            try waiter.close()
            try holder.close()
        }
    }

    @Test func hotStatementsUseTheirIndexes() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let store = try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("baton.db").path))
            try await store.enqueue((0..<100).map { NewTask(kind: "k\($0 % 3)", queue: "q\($0 % 4)") })
            let rowid = "SEARCH tasks USING INTEGER PRIMARY KEY"
            let expectations: [(String, String)] = [
                (SQL.claim(shareCount: 1, queueCount: 1, kindCount: 0), "USING INDEX tasks_ready"),
                (SQL.claim(shareCount: 3, queueCount: 2, kindCount: 2), "USING INDEX tasks_ready"),
                (SQL.promoteDue, "USING INDEX tasks_pending"),
                (SQL.expiredLeases, "USING INDEX tasks_running_lease"),
                (SQL.deleteFinished, "USING INDEX tasks_terminal"),
                (SQL.nextDue(queueCount: 2), "USING INDEX tasks_pending"),
                (SQL.complete, "USING INDEX sqlite_autoindex_tasks_1"),
                (SQL.completeMany(rows: 4, reporting: false), rowid),
                (SQL.completeMany(rows: 4, reporting: true), rowid),
                (SQL.heartbeat, "USING INDEX sqlite_autoindex_tasks_1"),
                (SQL.cascadeEdges, "USING INDEX task_deps_parent"),
                (SQL.reopenEdges, "USING INDEX task_deps_parent"),
                (SQL.liveDependent, "USING INDEX task_deps_parent"),
                (SQL.parents, "USING PRIMARY KEY (child_seq=? AND position>?)"),
            ]
            for (sql, access) in expectations {
                let plan = try await store.queryPlanForTesting(sql)
                #expect(
                    plan.contains { $0.contains(access) || $0.contains(access.replacing("USING INDEX", with: "USING COVERING INDEX")) },
                    "\(plan)")
                #expect(!plan.contains { $0 == "SCAN tasks" }, "no full table scan: \(plan)")
            }
            try store.close()
        }
    }

    /// Lease tokens carry the row's `seq`, and batched completions find rows by it: a token
    /// pointing at another task's row is refused and changes neither task, and a token without
    /// a `seq` (as Baton made them before) still completes its task.
    @Test func completionsFindTheirRowByTheTokensSeq() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let store = try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("baton.db").path))
            try await store.enqueue((0..<3).map { _ in NewTask(kind: "k", maxAttempts: 1) })
            let claimed = try await store.claim(max: 3)
            try #require(claimed.count == 3)
            let (a, b, c) = (claimed[0], claimed[1], claimed[2])
            let seqA = try #require(LeaseToken.seq(of: a.leaseToken))
            let seqB = try #require(LeaseToken.seq(of: b.leaseToken))
            #expect(seqA != seqB)
            #expect(a.leaseToken.dropLast(String(seqA).count) == b.leaseToken.dropLast(String(seqB).count), "one prefix per claim")

            // A's id with a token naming B's row, and B's id with its own seq behind a prefix no
            // claim made: both refused, in one batch of distinct acks.
            let crossed = LeaseRef(id: a.task.id, token: a.leaseToken.dropLast(String(seqA).count) + String(seqB))
            var forged = b.leaseToken
            forged.replaceSubrange(
                forged.startIndex..<forged.index(forged.startIndex, offsetBy: 32), with: String(repeating: "0", count: 32))
            let outcomes = try await store.taskAckMany(
                TaskAckParams(acks: [
                    .complete(TaskCompletion(lease: crossed, result: .null)),
                    .complete(TaskCompletion(lease: LeaseRef(id: b.task.id, token: forged), result: .null)),
                ]))
            #expect(outcomes == [.staleLease, .staleLease])
            #expect(try await store.require(a.task.id).state == .running)
            #expect(try await store.require(b.task.id).state == .running)

            // A token in the old form (random hex only) is found by id.
            let oldToken = String(repeating: "ab", count: 16)
            try await store.executeForTesting("UPDATE tasks SET lease_token = '\(oldToken)' WHERE id = '\(c.task.id)'")
            let applied = try await store.taskAckMany(
                TaskAckParams(
                    acks: [a, b].map { .complete(TaskCompletion(lease: $0.lease, result: .null)) } + [
                        .complete(TaskCompletion(lease: LeaseRef(id: c.task.id, token: oldToken), result: .null))
                    ]))
            #expect(applied == [.applied(.succeeded), .applied(.succeeded), .applied(.succeeded)])
            for task in [a, b, c] { #expect(try await store.require(task.task.id).state == .succeeded) }
            try store.close()
        }
    }

    /// A database Baton creates has 16 KiB pages; one created with other pages (an earlier
    /// Baton's 4 KiB) keeps them, and works.
    @Test func newDatabasesGetLargePagesAndOldOnesKeepTheirs() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let fresh = try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("new.db").path))
            #expect(try await fresh.pageSizeForTesting() == SQLiteStoreConfiguration.defaultPageSize)
            #expect(SQLiteStoreConfiguration.defaultPageSize == 16_384)
            try fresh.close()

            let path = directory.appendingPathComponent("old.db").path
            try SQLiteTaskStore.makeDatabaseForTesting(path: path, upTo: "v2", then: [])
            let old = try await SQLiteTaskStore.open(.init(path: path))
            #expect(try await old.pageSizeForTesting() == 4_096)
            let record = try await old.enqueue(NewTask(kind: "a"))[0]
            let claimed = try await old.claim(max: 1)
            #expect(claimed.map(\.task.id) == [record.id])
            #expect(try await old.complete(claimed[0]) == .applied(.succeeded))
            try old.close()
        }
    }

    /// A database written before migration v3 gets the terminal index with its new condition
    /// and keeps its tasks: finished ones are still found by the retention purge, ready ones claimed.
    @Test func migrationV3RebuildsTheTerminalIndex() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let path = directory.appendingPathComponent("old.db").path
            let columns = "id, kind, queue, args, priority, state, max_attempts, run_at, created_at, finished_at"
            let finished = TaskID.generate()
            let ready = TaskID.generate()
            let recent = TaskID.generate()
            try SQLiteTaskStore.makeDatabaseForTesting(
                path: path, upTo: "v2",
                then: [
                    "INSERT INTO tasks (\(columns)) VALUES ('\(finished)', 'k', 'default', '{}', 0, 'succeeded', 1, 0, 0, 1000)",
                    "INSERT INTO tasks (\(columns)) VALUES ('\(recent)', 'k', 'default', '{}', 0, 'failed', 1, 0, 0, 5000)",
                    "INSERT INTO tasks (\(columns)) VALUES ('\(ready)', 'k', 'default', '{}', 0, 'ready', 1, 0, 0, NULL)",
                ])
            let store = try await SQLiteTaskStore.open(.init(path: path))
            let definition = try #require(try await store.indexDefinitionForTesting("tasks_terminal"))
            #expect(definition.contains(SQL.terminalCondition), "\(definition)")
            #expect(!definition.contains(" IN "), "\(definition)")
            let plan = try await store.queryPlanForTesting(SQL.deleteFinished)
            #expect(plan.contains { $0.contains("INDEX tasks_terminal") }, "\(plan)")

            let deleted = try await store.taskDeleteFinished(.init(finishedBefore: Date(timeIntervalSince1970: 2)))
            #expect(deleted == 1)
            #expect(try await store.taskGet(finished) == nil)
            #expect(try await store.taskGet(recent)?.state == .failed)
            let claimed = try await store.taskClaim(.init(worker: "w", queues: ["default"], max: 10))
            #expect(claimed.map(\.task.id) == [ready])
            try store.close()
        }
    }

    /// Migration v8 rebuilds the tasks table and keys the edges by the tasks' `seq`: tasks and
    /// edges stored before it are kept with their conditions and states, an open edge still
    /// releases its dependent, one whose parent was deleted still lists that parent by id, and
    /// the state check still refuses an unknown state.
    @Test func migrationV8KeepsEveryEdge() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let path = directory.appendingPathComponent("old.db").path
            let columns =
                "id, kind, queue, args, priority, state, max_attempts, run_at, created_at, finished_at, parents, waiting_on, dependents"
            let edge = "INSERT INTO task_deps (child_id, position, parent_id, condition, ignores, parent_state) VALUES"
            let (parent, child, orphan, gone, open) = (
                TaskID.generate(), TaskID.generate(), TaskID.generate(), TaskID.generate(), TaskID.generate()
            )
            try SQLiteTaskStore.makeDatabaseForTesting(
                path: path, upTo: "v7",
                then: [
                    "INSERT INTO tasks (\(columns)) VALUES ('\(parent)', 'k', 'default', '{}', 0, 'ready', 1, 0, 0, NULL, 0, 0, 1)",
                    "INSERT INTO tasks (\(columns)) VALUES ('\(child)', 'k', 'default', '{}', 0, 'waiting', 1, 0, 0, NULL, 2, 1, 0)",
                    "INSERT INTO tasks (\(columns)) VALUES ('\(orphan)', 'k', 'default', '{}', 0, 'succeeded', 1, 0, 0, 5, 1, 0, 0)",
                    "INSERT INTO tasks (\(columns)) VALUES ('\(open)', 'k', 'default', '{}', 0, 'succeeded', 1, 0, 0, 5, 0, 0, 1)",
                    "\(edge) ('\(child)', 0, '\(parent)', 'success', 0, NULL)",
                    "\(edge) ('\(child)', 1, '\(open)', 'always', 0, 'succeeded')",
                    "\(edge) ('\(orphan)', 0, '\(gone)', 'success', 0, 'succeeded')",
                ])
            let store = try await SQLiteTaskStore.open(.init(path: path))
            let listed = try await store.taskParents(TaskParentsParams(id: orphan)).parents
            #expect(listed.map(\.id) == [gone] && listed.map(\.state) == [.succeeded])
            let before = try await store.taskParents(TaskParentsParams(id: child)).parents
            #expect(before.map(\.id) == [parent, open] && before.map(\.condition) == [.success, .always])
            let claimed = try await store.taskClaim(.init(worker: "w", queues: ["default"], max: 10))
            #expect(claimed.map(\.task.id) == [parent])
            let lease = try #require(claimed.first?.lease)
            let outcomes = try await store.taskAckMany(
                TaskAckParams(acks: [.complete(TaskCompletion(lease: lease, result: RawJSON(trusted: "7")))]))
            #expect(outcomes == [.applied(.succeeded)])
            #expect(try await store.taskGet(child)?.state == .ready)
            let after = try await store.taskParents(TaskParentsParams(id: child)).parents
            #expect(after.map(\.result?.text) == ["7", nil])
            // The rebuilt table still refuses a state that does not exist.
            await #expect(throws: (any Error).self) { try await store.executeForTesting("UPDATE tasks SET state = 'lost'") }
            #expect(try await store.taskGet(child)?.state == .ready)
            try store.close()
        }
    }

    /// A large batch of completions goes through several multi-row statements; each ack
    /// still gets its own outcome (applied, stale token, cancelled, unknown task), in order.
    @Test func largeAckBatchReportsEachOutcome() async throws {
        try await withTempDir(prefix: "baton-sqlite") { directory in
            let store = try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("baton.db").path))
            try await store.enqueue((0..<300).map { _ in NewTask(kind: "k") })
            let claimed = try await store.taskClaim(.init(worker: "w", queues: ["default"], max: 300))
            #expect(claimed.count == 300)
            _ = try await store.taskCancel(claimed[7].task.id)
            var acks: [TaskAck] = []
            var expected: [AckOutcome] = []
            for (i, task) in claimed.enumerated() {
                let result = RawJSON(trusted: #"{"n": \#(i)}"#)
                if i % 50 == 3 {
                    acks.append(.complete(TaskCompletion(lease: LeaseRef(id: task.task.id, token: "forged"), result: result)))
                    expected.append(.staleLease)
                } else {
                    acks.append(.complete(TaskCompletion(lease: task.lease, result: result)))
                    expected.append(i == 7 ? .staleLease : .applied(.succeeded))
                }
                if i % 100 == 42 {
                    acks.append(.complete(TaskCompletion(lease: LeaseRef(id: TaskID.generate(), token: "t"), result: result)))
                    expected.append(.notFound)
                }
            }
            #expect(try await store.taskAckMany(TaskAckParams(acks: acks)) == expected)
            let stored = try #require(try await store.taskGet(claimed[299].task.id))
            #expect(stored.state == .succeeded)
            #expect(stored.result?.text == #"{"n": 299}"#)
            #expect(try await store.taskGet(claimed[3].task.id)?.state == .running)
            try store.close()
        }
    }
}
