import BatonCore
import BatonTesting
import Foundation
import PostgresNIO
import Testing

@testable import BatonPostgres

/// Issue 7 on PostgreSQL beyond the conformance suite: unique and idempotent submits racing
/// from several nodes (each its own pool of connections), the fast path left alone, resumes
/// waking other nodes, and migration 002 on a database that already holds duplicate keys.
@Suite("PostgreSQL scheduling", .serialized, .enabled(if: TestPostgres.enabled(for: "BatonPostgresTests")))
struct PostgresSchedulingTests {
    /// Runs `body` with `count` stores on one schema (the first migrates it; the schema is
    /// dropped afterwards).
    func withNodes<T: Sendable>(
        _ count: Int, _ configuration: PostgresStoreConfiguration, _ body: ([PostgresTaskStore]) async throws -> T
    ) async throws -> T {
        func nest(_ stores: [PostgresTaskStore]) async throws -> T {
            if stores.count == count { return try await body(stores) }
            return try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { try await nest(stores + [$0]) }
        }
        return try await TestPostgres.withStore(configuration) { try await nest([$0]) }
    }

    @Test func concurrentUniqueSubmitsFromThreeNodesCreateOneTask() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await withNodes(3, configuration) { nodes in
            func race(_ n: Int, _ task: @escaping @Sendable (Int) -> NewTask) async throws -> [TaskEnqueueOutcome] {
                try await withThrowingTaskGroup(of: TaskEnqueueOutcome.self) { group in
                    for i in 0..<n {
                        let node = nodes[i % nodes.count]
                        group.addTask { try await node.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: [task(i)])) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            // The default scope: 60 submits at once, one task, 59 duplicates of it.
            let active = try await race(60) { i in NewTask(kind: "k", args: .init(trusted: "{\"i\":\(i)}"), uniqueKey: "once") }
            #expect(Set(active.map(\.tasks[0].id)).count == 1)
            #expect(active.filter { $0.duplicate == [false] }.count == 1)
            #expect(try await nodes[0].all().count == 1)

            // A window: the finished holder still answers every submit within it...
            let holder = active[0].tasks[0]
            _ = try await nodes[1].taskCancel(holder.id)
            let windowed = try await race(30) { _ in NewTask(kind: "k", uniqueKey: "once", uniqueWindow: 60) }
            #expect(windowed.allSatisfy { $0.tasks[0].id == holder.id && $0.duplicate == [true] })
            // ...while the default scope no longer sees it: again exactly one new task.
            let again = try await race(30) { _ in NewTask(kind: "k", uniqueKey: "once") }
            #expect(Set(again.map(\.tasks[0].id)).count == 1)
            #expect(again[0].tasks[0].id != holder.id)
            #expect(try await nodes[2].all().count == 2)
            #expect(nodes.allSatisfy { $0.stats.enqueueStatements == 0 }, "unique submits take the transaction path")
        }
    }

    @Test func concurrentIdempotentSubmitsFromThreeNodesAnswerOneRequest() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await withNodes(3, configuration) { nodes in
            let bodyA = [NewTask(kind: "a", args: .init(trusted: #"{"n":1}"#)), NewTask(kind: "b", uniqueKey: "u"), NewTask(kind: "c")]
            let bodyB = [NewTask(kind: "a", args: .init(trusted: #"{"n":2}"#))]
            // 40 requests at once under one key, half with another body: whichever commits first
            // is the answer; its retries get the same tasks, the other body is refused.
            let results = await withTaskGroup(of: (Int, Result<[TaskID], BatonError>).self) { group in
                for i in 0..<40 {
                    let node = nodes[i % nodes.count]
                    let tasks = i % 2 == 0 ? bodyA : bodyB
                    group.addTask {
                        do {
                            let outcome = try await node.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: tasks, idempotencyKey: "req"))
                            return (i % 2, .success(outcome.tasks.map(\.id)))
                        } catch let error as BatonError {
                            return (i % 2, .failure(error))
                        } catch {
                            return (i % 2, .failure(BatonError(.internal, "\(error)")))
                        }
                    }
                }
                return await group.reduce(into: [(Int, Result<[TaskID], BatonError>)]()) { $0.append($1) }
            }
            let succeeded = results.compactMap { body, result in (try? result.get()).map { (body, $0) } }
            let winner = try #require(succeeded.first?.0)
            #expect(succeeded.allSatisfy { $0.0 == winner }, "only one request body is ever answered")
            #expect(Set(succeeded.map(\.1)).count == 1, "every answer names the same tasks")
            #expect(succeeded.count == 20)
            let refused = results.filter { $0.0 != winner }
            #expect(refused.allSatisfy { if case .failure(let e) = $0.1 { e.code == .idempotencyMismatch } else { false } })
            let expected = winner == 0 ? bodyA.count : bodyB.count
            #expect(succeeded[0].1.count == expected)
            #expect(try await nodes[0].all().count == expected)
            let keys = try await nodes[0].queryForTesting("SELECT count(*) FROM \"\(configuration.schema)\".idempotency_keys")
            #expect(try keys[0].decode(Int.self) == 1)
        }
    }

    @Test func plainBatchesStayOneStatement() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let records = try await store.enqueue((0..<500).map { NewTask(kind: "k\($0 % 7)") })
            #expect(records.count == 500)
            let outcome = try await store.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: [NewTask(kind: "x"), NewTask(kind: "y")]))
            #expect(outcome.duplicate == [false, false])
            #expect(store.stats.enqueueStatements == 2)
            #expect(store.stats.enqueueTransactions == 0)
            // Task ids given by the caller survive the unique path's partial insert.
            let id = TaskID.generate()
            _ = try await store.enqueue(NewTask(kind: "held", uniqueKey: "h"))
            let mixed = try await store.enqueue(NewTask(kind: "mine", id: id), NewTask(kind: "dup", uniqueKey: "h"))
            #expect(mixed[0].id == id && mixed[1].kind == "held")
            #expect(store.stats.enqueueTransactions == 2)
            await expectError(.conflict) { try await store.enqueue(NewTask(kind: "again", uniqueKey: "fresh", id: id)) }
            #expect(try await store.all().filter { $0.uniqueKey == "fresh" }.isEmpty, "nothing half-written")
        }
    }

    @Test func resumingAQueueWakesClaimersOnAnotherNode() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await withNodes(2, configuration) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await a.queuePause("jobs")
            try await a.enqueue(NewTask(kind: "k", queue: "jobs"))
            #expect(try await b.claim(queues: ["jobs"]).isEmpty)
            #expect(try await b.taskNextDueAt(queues: ["jobs"]) == nil)
            // B's listener fires once when it connects: wait until it listens.
            #expect(await eventually(within: .seconds(5)) { b.readySignal.generation > 0 })
            try await Task.sleep(for: .milliseconds(200))
            let seen = b.readySignal.generation
            try await a.queueResume("jobs")
            #expect(await eventually(within: .seconds(5)) { b.readySignal.generation != seen })
            #expect(try await b.claim(queues: ["jobs"]).count == 1)
            await expectError(.invalidArgument) { try await a.queuePause("bad name!") }
        }
    }

    @Test func migrationTwoKeepsTheOldestActiveHolderOfADuplicatedKey() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let s = "\"\(configuration.schema)\""
            // Back to version 1, where unique keys were not enforced, with duplicates stored.
            for statement in [
                "DROP TABLE \(s).schedules, \(s).paused_queues, \(s).idempotency_keys",
                "DROP INDEX \(s).tasks_unique_active, \(s).tasks_unique_key",
                "DELETE FROM \(s).baton_migrations WHERE version >= 2",
            ] {
                _ = try await store.queryForTesting(statement)
            }
            let old = try await store.enqueue((0..<3).map { _ in NewTask(kind: "k") })
            let finished = try await store.enqueue(NewTask(kind: "done"))[0]
            _ = try await store.taskCancel(finished.id)
            _ = try await store.queryForTesting(
                "UPDATE \(s).tasks SET unique_key = 'dup' WHERE id = ANY($1::uuid[])",
                binds: Self.bindings([finished.id.uuid] + old.map(\.id.uuid)))
            try await store.migrate()
            let holders = try await store.all().filter { $0.uniqueKey == "dup" }.map(\.id)
            #expect(Set(holders) == [old[0].id, finished.id], "the oldest active task and the finished one keep the key")
            let again = try await store.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: [NewTask(kind: "k", uniqueKey: "dup")]))
            #expect(again.duplicate == [true] && again.tasks[0].id == old[0].id)
        }
    }

    static func bindings(_ ids: [UUID]) -> PostgresBindings {
        var b = PostgresBindings()
        b.append(ids)
        return b
    }
}

extension PostgresTaskStore {
    /// Every task, newest first.
    func all() async throws -> [TaskRecord] {
        try await taskList(TaskListParams(limit: TaskListParams.maxLimit)).tasks
    }
}
