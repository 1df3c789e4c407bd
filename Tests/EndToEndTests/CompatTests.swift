import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

/// The drop-in APIs against real `baton` processes, their clients changed only in the URL
/// (docs/compat.md): the Go Distributed Task Scheduler's README examples run with `curl` as
/// written, and a stand-in scheduler and processor of dist-sched-tasks
/// (`examples/taskq-standin`) run against taskq's routes. `curl` and `python3` are required
/// under CI=true; elsewhere a test without them is skipped.
extension EndToEnd {
    @Suite(.serialized) struct CompatTests {
        static func executable(_ name: String) -> String? {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        static let curl = executable("curl")
        static let python = executable("python3")
        static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"

        static let standin = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/taskq-standin")

        /// The README's two `curl` commands, with `http://localhost:8080` replaced by the node's URL.
        static func readmeCommands(_ url: String) -> (create: [String], status: (String) -> [String]) {
            let create = [
                "-X", "POST", "\(url)/jobs", "-H", "Content-Type: application/json", "-d",
                """
                {
                    "type": "sleep",
                    "payload": {"duration": 5},
                    "priority": 7
                  }
                """,
            ]
            return (create, { id in ["\(url)/jobs/\(id)"] })
        }

        static func json(_ text: String) throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }

        /// `baton standalone` runs the README's sleep job with its in-process workers: created
        /// pending, read back, and completed about 5 s later.
        @Test(.enabled(if: curl != nil || onCI, "curl not found (CI=true makes this a failure)"))
        func readmeCurlExamplesRunUnchangedOnStandalone() async throws {
            let curl = try #require(Self.curl, "curl is required when CI=true")
            let dir = try TempDir()
            let node = try BatonProcess(["standalone", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let commands = Self.readmeCommands(url)

            let created = try await runToEnd(curl, commands.create)
            #expect(created.status == 0, "\(created.stderr)")
            let job = try Self.json(created.stdout)
            let id = try #require(job["id"]?.stringValue, "\(created.stdout)")
            #expect(job["type"] == .string("sleep") && job["payload"] == .object(["duration": .int(5)]) && job["priority"] == .int(7))

            let read = try await runToEnd(curl, commands.status(id))
            #expect(try Self.json(read.stdout)["id"] == .string(id))
            let started = ContinuousClock.now
            let done = try await eventually("the sleep job to complete", within: .seconds(30)) { () -> JSONValue? in
                let status = try await runToEnd(curl, commands.status(id))
                let value = try Self.json(status.stdout)
                return value["status"] == .string("completed") ? value : nil
            }
            #expect(ContinuousClock.now - started >= .seconds(3), "it slept its 5 seconds")
            #expect(done["result"] == .object(["slept": .int(5)]) || done["result"] == .object(["slept": .double(5)]), "\(done)")
        }

        /// `baton serve` with no workers: a worker of the Go scheduler takes the job with
        /// `GET /next-job` and reports it with `POST /jobs/{id}/complete`; `GET /health` answers.
        @Test(.enabled(if: curl != nil || onCI, "curl not found (CI=true makes this a failure)"))
        func readmeCurlExamplesAndAWorkerOnServe() async throws {
            let curl = try #require(Self.curl, "curl is required when CI=true")
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let commands = Self.readmeCommands(url)

            let health = try await runToEnd(curl, ["-sS", "-w", " %{http_code}", "\(url)/health"])
            #expect(health.stdout.hasSuffix(" 200"), "\(health.stdout)")
            let id = try #require(try Self.json(try await runToEnd(curl, commands.create).stdout)["id"]?.stringValue)
            #expect(try Self.json(try await runToEnd(curl, commands.status(id)).stdout)["status"] == .string("pending"))

            let next = try Self.json(try await runToEnd(curl, ["-sS", "\(url)/next-job?worker_id=worker-1"]).stdout)
            #expect(next["id"] == .string(id) && next["status"] == .string("running") && next["worker_id"] == .string("worker-1"))
            let none = try await runToEnd(curl, ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(url)/next-job?worker_id=worker-2"])
            #expect(none.stdout == "204")
            let complete = try await runToEnd(
                curl,
                [
                    "-sS", "-X", "POST", "\(url)/jobs/\(id)/complete", "-H", "Content-Type: application/json", "-d",
                    #"{"worker_id": "worker-1", "result": {"ok": true}}"#,
                ])
            #expect(try Self.json(complete.stdout)["status"] == .string("completed"), "\(complete.stdout)")
            let bad = try await runToEnd(
                curl,
                ["-sS", "-w", " %{http_code}", "-X", "POST", "\(url)/jobs", "-H", "Content-Type: application/json", "-d", #"{"type":"x"}"#])
            #expect(bad.stdout.hasSuffix(" 400") && bad.stdout.contains("not a job type"), "\(bad.stdout)")
        }

        /// A job taken with `GET /next-job` and never completed is rescued when its lease runs
        /// out, by the node's own lease rescue, and a worker takes it again.
        @Test(.enabled(if: curl != nil || onCI, "curl not found (CI=true makes this a failure)"))
        func aJobNeverCompletedIsRescuedAndTakenAgain() async throws {
            let curl = try #require(Self.curl, "curl is required when CI=true")
            let dir = try TempDir()
            let node = try BatonProcess([
                "serve", "--db", dir.path("baton.db"), "--port", "0", "--rescue-interval", "0.2", "--retry", "fixed", "--backoff", "0.1",
            ])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let id = try #require(try Self.json(try await runToEnd(curl, Self.readmeCommands(url).create).stdout)["id"]?.stringValue)
            let first = try Self.json(try await runToEnd(curl, ["-sS", "\(url)/next-job?worker_id=vanishing&lease=0.5"]).stdout)
            #expect(first["id"] == .string(id) && first["attempts"] == .int(1))
            let second = try await eventually("the job to be rescued and taken again", within: .seconds(15)) { () -> JSONValue? in
                let answer = try await runToEnd(curl, ["-sS", "\(url)/next-job?worker_id=second"])
                return answer.stdout.isEmpty ? nil : try Self.json(answer.stdout)
            }
            #expect(second["id"] == .string(id) && second["attempts"] == .int(2) && second["worker_id"] == .string("second"))
            // The vanished worker's late report is refused; the second worker's applies.
            let late = try await runToEnd(
                curl,
                [
                    "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-d", #"{"worker_id":"vanishing"}"#,
                    "-H", "Content-Type: application/json", "\(url)/jobs/\(id)/complete",
                ])
            #expect(late.stdout == "409")
            let done = try await runToEnd(curl, ["-sS", "-X", "POST", "\(url)/jobs/\(id)/complete"])
            #expect(try Self.json(done.stdout)["status"] == .string("completed"), "\(done.stdout)")
        }

        /// The stand-in scheduler enqueues 12 tasks on a period while the stand-in processor
        /// dequeues them by its capabilities, fails every third task's first attempt, and
        /// completes everything: every task ends succeeded, each failed one on its second attempt.
        @Test(.enabled(if: python != nil || onCI, "python3 not found (CI=true makes this a failure)"))
        func taskqStandinSchedulerAndProcessorRunEverything() async throws {
            let python = try #require(Self.python, "python3 is required when CI=true")
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let count = 12

            let processor = try BatonProcess(
                [
                    Self.standin.appendingPathComponent("processor.py").path, "--request-url", "\(url)/v1/tasks/dequeue",
                    "--update-url", "\(url)/v1/tasks/update", "--expect", "\(count)", "--timeout", "60", "--poll", "0.05",
                ], executable: python)
            let scheduler = try await runToEnd(
                python,
                [
                    Self.standin.appendingPathComponent("scheduler.py").path, "--enqueue-url", "\(url)/v1/tasks/enqueue", "--count",
                    "\(count)", "--period", "0.1", "--fail-every", "3",
                ])
            #expect(scheduler.status == 0, "\(scheduler.stderr)")
            let enqueued = try scheduler.stdout.split(separator: "\n").map { try Self.json(String($0)) }
            #expect(enqueued.count == count)
            let uuids = Set(enqueued.compactMap { $0["uuid"]?.stringValue })
            #expect(uuids.count == count)

            let status = try await processor.waitForExit(timeout: .seconds(90))
            #expect(status == 0, "processor stderr:\n\(processor.stderr)")
            let summary = try Self.json(processor.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            let completed = Set(summary["completed"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            let failed = Set(summary["failed"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(completed == uuids)
            #expect(failed.count == count / 3 && failed.isSubset(of: completed), "each failed task was dequeued again and completed")

            let client = BatonClient(servers: [try #require(URL(string: url))])
            for uuid in uuids {
                let task = try await client.get(try #require(TaskID(uuid)))
                #expect(task.state == .succeeded && task.queue == "taskq")
                #expect(task.attempt == (failed.contains(uuid) ? 2 : 1), "\(uuid): attempt \(task.attempt)")
                #expect(task.result != nil && task.result != .null)
            }
        }
    }
}

extension JSONValue {
    fileprivate var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
