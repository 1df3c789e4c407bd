import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

/// `--faults` (worker.faults) on a real `baton standalone`: a fraction of attempts fails on
/// purpose, marked, so retries, backoff and dead tasks can be watched.
extension EndToEnd {
    @Suite(.serialized) struct FaultInjectionTests {
        @Test func thirtyPercentFaultsGiveRetriesAndTheExpectedDeadTasks() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess([
                "standalone", "--db", db, "--port", "0", "--poll", "0.05", "--queues", "once,again", "--faults", "0.3",
                "--retry", "fixed", "--backoff", "0.01", "--concurrency", "32",
            ])
            defer { Task { await node.stop() } }
            _ = try await node.url()
            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            // 300 single attempts: each dies with probability 0.3. 100 with four attempts: retried.
            let once = try await store.taskEnqueueMany(
                TaskEnqueueParams(tasks: (0..<300).map { _ in NewTask(kind: "echo", queue: "once", maxAttempts: 1) }))
            let again = try await store.taskEnqueueMany(
                TaskEnqueueParams(tasks: (0..<100).map { _ in NewTask(kind: "echo", queue: "again", maxAttempts: 4) }))
            try await eventually("every task to finish", within: .seconds(60)) { () -> Bool? in
                let counts = try await store.queueCounts()
                let finished = counts.reduce(0) { $0 + $1.count(.succeeded) + $1.count(.failed) }
                return finished == 400 ? true : nil
            }

            var dead = 0
            for task in once {
                let done = try #require(try await store.taskGet(task.id))
                #expect(done.attempt == 1)
                if done.state == .failed {
                    dead += 1
                    #expect(done.errors.count == 1 && done.errors[0].message.hasPrefix("injected fault"), "\(done.errors)")
                } else {
                    #expect(done.state == .succeeded && done.errors.isEmpty)
                }
            }
            // Binomial(300, 0.3): mean 90, standard deviation 7.9; these bounds are 5 of them.
            #expect((50...130).contains(dead), "\(dead) of 300 single attempts died")

            var attempts = 0
            var injected = 0
            var retried = 0
            for task in again {
                let done = try #require(try await store.taskGet(task.id))
                attempts += done.attempt
                injected += done.errors.count
                if done.attempt > 1 { retried += 1 }
                #expect(done.errors.allSatisfy { $0.message.hasPrefix("injected fault") })
                if done.state == .succeeded {
                    #expect(done.errors.count == done.attempt - 1)
                } else {
                    #expect(done.state == .failed && done.attempt == 4 && done.errors.count == 4)
                }
            }
            // About 30 of 100 need a second attempt; about 30% of all attempts fail.
            #expect((12...50).contains(retried), "\(retried) of 100 tasks were retried")
            let share = Double(injected) / Double(attempts)
            #expect(share > 0.18 && share < 0.42, "\(injected) of \(attempts) attempts failed")
        }
    }
}
