import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

/// `baton standalone` as a separate process, driven through the CLI and through the store.
extension EndToEnd {
    @Suite(.serialized) struct StandaloneTests {
        @Test func thousandEchoTasksAllSucceedWithTheirResults() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0", "--concurrency", "50"])
            defer { Task { await node.stop() } }
            _ = try await node.url()

            // A second process on the same file: this test's own store connection.
            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            let tasks = try (0..<1000).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#($0)}"#)) }
            let created = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
            #expect(created.count == 1000)
            try await eventually("1,000 tasks to succeed", within: .seconds(60)) { () -> Bool? in
                try await store.queueCounts().first { $0.name == "default" }?.count(.succeeded) == 1000 ? true : nil
            }
            for task in created {
                let done = try #require(try await store.taskGet(task.id))
                #expect(done.state == .succeeded)
                #expect(done.result == task.args)
                #expect(done.attempt == 1)
            }
            await node.stop()
            #expect(node.exitStatus == 0)
        }

        @Test func cliSubmitWaitReturnsTheResultFromAStandaloneOnTheSameFile() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0"])
            defer { Task { await node.stop() } }
            _ = try await node.url()

            let start = ContinuousClock.now
            let result = try await baton(["submit", "echo", "--args", #"{"hello":"world"}"#, "--db", db, "--wait"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "succeeded\n{\"hello\":\"world\"}\n")
            // Another process's submit is seen within the fallback poll interval (1 s) plus process start-up.
            #expect(ContinuousClock.now - start < .seconds(10))

            let json = try await baton(["submit", "echo", "--args", "[1,2]", "--db", db, "--wait", "--json"])
            let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(json.stdout.utf8))
            #expect(task.state == .succeeded && task.result?.text == "[1,2]")
            let started = try #require(task.startedAt)
            #expect(
                started.timeIntervalSince(task.createdAt) < 1.5, "picked up \(started.timeIntervalSince(task.createdAt)) s after submit")
        }

        @Test func failingTaskEndsFailedAfterExactlyThreeAttempts() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0", "--poll", "0.05"])
            defer { Task { await node.stop() } }
            _ = try await node.url()

            let result = try await baton([
                "submit", "fail", "--args", #"{"message":"boom"}"#, "--max-attempts", "3", "--retry", "fixed", "--backoff", "0.1",
                "--db", db, "--wait",
            ])
            #expect(result.status == 1, "a waited task that ends failed exits 1")
            #expect(result.stdout.hasPrefix("failed\n"))

            let list = try await baton(["list", "--db", db, "--json"])
            let page = try BatonJSON.decoder().decode(TaskPage.self, from: Data(list.stdout.utf8))
            let task = try #require(page.tasks.first)
            #expect(task.state == .failed)
            #expect(task.attempt == 3)
            #expect(task.errors.map(\.attempt) == [1, 2, 3])
            #expect(task.errors.allSatisfy { $0.message.contains("boom") })
            #expect(task.lastError?.contains("boom") == true)
        }

        @Test func theNodesGlobalRetryPolicyAppliesToTasksThatSetNone() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0", "--retry", "fixed", "--backoff", "0.05"])
            defer { Task { await node.stop() } }
            _ = try await node.url()
            let result = try await baton([
                "submit", "fail", "--args", #"{"message":"nope"}"#, "--max-attempts", "4", "--db", db, "--wait", "--json",
            ])
            let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(result.stdout.utf8))
            #expect(task.state == .failed && task.errors.count == 4)
            // The default policy would wait 1, 2 and 4 s (±jitter) between attempts; fixed 0.05 s does not.
            let gaps = zip(task.errors.dropFirst(), task.errors).map { $0.at.timeIntervalSince($1.at) }
            #expect(gaps.allSatisfy { $0 < 0.45 }, "gaps \(gaps)")
        }

        @Test func killedNodesTaskIsRescuedAfterItsLeaseAndSucceedsOnRestart() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let args = ["standalone", "--db", db, "--port", "0", "--lease", "2", "--rescue-interval", "0.2", "--poll", "0.1"]
            let first = try BatonProcess(args)
            _ = try await first.url()

            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            let task = try await store.taskEnqueueMany(
                TaskEnqueueParams(tasks: [
                    NewTask(kind: "sleep", args: try RawJSON(validating: #"{"seconds":1.5}"#), retry: .fixed(.milliseconds(100)))
                ]))[0]
            try await eventually("the sleep task to run") { try await store.taskGet(task.id)?.state == .running ? true : nil }
            first.signal(SIGKILL)
            try await first.waitForExit()
            #expect(try await store.taskGet(task.id)?.state == .running, "nobody finished it")

            let second = try BatonProcess(args)
            defer { Task { await second.stop() } }
            _ = try await second.url()
            let done = try await eventually("the rescued task to succeed", within: .seconds(30)) { () -> TaskRecord? in
                let t = try await store.taskGet(task.id)
                return t?.state == .succeeded ? t : nil
            }
            #expect(done.attempt == 2)
            #expect(done.errors.count == 1)
            #expect(done.errors.first?.message.contains("lease") == true)
            #expect(done.result?.text == #"{"slept":1.5}"#)
        }

        @Test func sigtermDuringWorkLeavesNoTaskRunning() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0", "--shutdown-grace", "1"])
            _ = try await node.url()
            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            let long = try RawJSON(validating: #"{"seconds":60}"#)
            let short = try RawJSON(validating: #"{"seconds":0.3}"#)
            let created = try await store.taskEnqueueMany(
                TaskEnqueueParams(tasks: [
                    NewTask(kind: "sleep", args: long), NewTask(kind: "sleep", args: long), NewTask(kind: "sleep", args: short),
                ]))
            try await eventually("all three to run") { () -> Bool? in
                try await store.queueCounts().first?.count(.running) == 3 ? true : nil
            }
            let start = ContinuousClock.now
            node.signal(SIGTERM)
            let status = try await node.waitForExit(timeout: .seconds(15))
            #expect(status == 0, "\(node.stderr)")
            #expect(ContinuousClock.now - start < .seconds(8))

            let counts = try #require(try await store.queueCounts().first)
            #expect(counts.count(.running) == 0)
            #expect(try await store.taskGet(created[2].id)?.state == .succeeded, "the short task finished within the grace period")
            for id in [created[0].id, created[1].id] {
                let t = try #require(try await store.taskGet(id))
                #expect(t.state == .ready, "released, not lost")
                #expect(t.attempt == 0, "a release uses no attempt")
            }
        }

        @Test func taskOfAKindNobodyServesWaitsReadyAndIsListed() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0", "--poll", "0.1"])
            defer { Task { await node.stop() } }
            _ = try await node.url()
            let submitted = try await baton(["submit", "report.render", "--args", #"{"id":7}"#, "--db", db])
            #expect(submitted.status == 0)
            let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(TaskID(id) != nil)
            try await Task.sleep(for: .milliseconds(800))
            let status = try await baton(["status", id, "--db", db])
            #expect(status.stdout.contains("state     ready"), "\(status.stdout)")
            let list = try await baton(["list", "--db", db, "--state", "ready"])
            #expect(list.stdout.contains(id) && list.stdout.contains("report.render"))
        }
    }
}
