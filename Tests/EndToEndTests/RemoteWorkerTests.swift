import BatonClient
import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// `baton serve` with two `baton worker` processes, all over real HTTP.
    @Suite(.serialized) struct RemoteWorkerTests {
        /// Running `sleep` tasks of one worker with their lease tokens, read from the database file
        /// (sleeps, because they cannot finish between this read and the kill).
        static func leases(db: String, owner: String) throws -> [(TaskID, String)] {
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = [
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print(r[0], r[1]) for r in c.execute(\"select id, lease_token from tasks where state='running' and kind='sleep' and lease_owner=?\", (sys.argv[2],))]",
                db, owner,
            ]
            let out = Pipe()
            python.standardOutput = out
            try python.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            python.waitUntilExit()
            return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
                let parts = line.split(separator: " ")
                guard parts.count == 2, let id = TaskID(String(parts[0])) else { return nil }
                return (id, String(parts[1]))
            }
        }

        @Test func tenThousandTasksThroughTwoWorkersOneKilled() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(["serve", "--db", db, "--port", "0", "--rescue-interval", "0.2"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let workerArgs = ["worker", "--server", url, "--concurrency", "16", "--lease", "1"]
            let victim = try BatonProcess(workerArgs + ["--id", "victim"])
            let client = BatonClient(servers: [URL(string: url)!])
            // Slow tasks first, taken by the victim alone, so that it holds some when it is killed (6 s:
            // longer than submitting two batches takes on a loaded machine).
            let sleeps = try await client.submit(
                (0..<8).map { _ in NewTask(kind: "sleep", args: try! RawJSON(validating: #"{"seconds":6}"#), priority: 9) })
            let held = try await eventually("the victim to hold running tasks", within: .seconds(30)) { () -> [(TaskID, String)]? in
                let l = try Self.leases(db: db, owner: "victim")
                return l.isEmpty ? nil : l
            }
            let survivor = try BatonProcess(workerArgs + ["--id", "survivor"])
            defer { Task { await survivor.stop() } }
            var echoes: [TaskRecord] = []
            for batch in 0..<10 {
                echoes += try await client.submit(
                    try (0..<1000).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#(batch * 1000 + $0)}"#)) })
                if batch == 1 {
                    // Mid-run: both workers are draining echoes now.
                    victim.signal(SIGKILL)
                    try await victim.waitForExit()
                }
            }
            #expect(echoes.count == 10_000)

            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            try await eventually("every task to finish", within: .seconds(120)) { () -> Bool? in
                let c = try await store.queueCounts().first { $0.name == "default" }
                return c?.count(.succeeded) == 10_008 ? true : nil
            }
            for task in echoes {
                let done = try #require(try await store.taskGet(task.id))
                #expect(done.state == .succeeded && done.result == task.args)
            }
            for task in sleeps { #expect(try await store.taskGet(task.id)?.state == .succeeded) }
            // The victim's tasks were rescued after its lease and run again by the survivor.
            for (id, _) in held {
                let t = try #require(try await store.taskGet(id))
                #expect(t.state == .succeeded && t.attempt >= 2, "\(t.state) attempt \(t.attempt)")
                #expect(t.errors.first?.message.contains("lease") == true)
            }
            // A late completion with the killed worker's lease token is refused and changes nothing.
            let (lateID, lateToken) = held[0]
            var request = URLRequest(url: URL(string: "\(url)/v1/tasks/\(lateID)/complete")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(#"{"lease_token":"\#(lateToken)","result":{"late":true}}"#.utf8)
            let (body, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 409, "\(String(decoding: body, as: UTF8.self))")
            #expect(try await store.taskGet(lateID)?.result?.text != #"{"late":true}"#)
        }

        @Test func cliSubmitAgainstAServerWaitsForTheResult() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["standalone", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let result = try await baton(["submit", "echo", "--args", #"{"via":"http"}"#, "--server", url, "--wait"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "succeeded\n{\"via\":\"http\"}\n")
            let env = try await baton(["submit", "echo", "--args", "[3]", "--wait"], environment: ["BATON_SERVER": url])
            #expect(env.stdout == "succeeded\n[3]\n", "BATON_SERVER names the node")
        }

        /// The `file` kind's `append` is one `O_APPEND` write: 1,000 appends from two worker
        /// processes (16 tasks at once each) to one file leave 1,000 intact lines, the first
        /// two appends included (no create race).
        @Test func concurrentAppendsFromTwoWorkerProcessesKeepEveryLine() async throws {
            let dir = try TempDir()
            let files = dir.path("files")
            try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let workerArgs = ["worker", "--server", url, "--concurrency", "16", "--file-root", files]
            let first = try BatonProcess(workerArgs + ["--id", "appender-1"])
            defer { Task { await first.stop() } }
            let second = try BatonProcess(workerArgs + ["--id", "appender-2"])
            defer { Task { await second.stop() } }
            let client = BatonClient(servers: [URL(string: url)!])
            // Both workers announced themselves (`GET /v1/workers`) before the tasks go in.
            let workers = try await eventually("both workers to announce themselves") { () -> [WorkerInfo]? in
                let listed = try await client.workers()
                return listed.count == 2 ? listed : nil
            }
            #expect(workers.map(\.worker) == ["appender-1", "appender-2"])
            #expect(workers.allSatisfy { $0.kinds.contains { $0.name == "file" } && $0.concurrency == 16 && $0.transport == "http" })
            // Lines of different lengths, so that an overwrite shows as a torn or missing line.
            let lines = (0..<1000).map { "line \($0) " + String(repeating: "x", count: $0 % 97) }
            let tasks = try await client.submit(
                lines.map { line in
                    NewTask(
                        kind: "file",
                        args: RawJSON(.object(["op": .string("append"), "path": .string("log/out.txt"), "content": .string(line + "\n")])))
                })
            for task in tasks {
                let done = try await client.wait(task.id, timeout: .seconds(60))
                #expect(done.state == .succeeded, "\(done.state): \(done.lastError ?? "")")
            }
            let text = try String(contentsOfFile: files + "/log/out.txt", encoding: .utf8)
            let written = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            #expect(text.hasSuffix("\n"))
            #expect(written.count == 1000)
            #expect(Set(written.map(String.init)) == Set(lines))
        }
    }
}
