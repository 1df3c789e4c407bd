import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

/// `examples/python-worker/worker.py` against a real `baton serve`. Skipped when `python3` is
/// missing, unless `CI=true`, where a missing `python3` fails the test.
extension EndToEnd {
    @Suite(.serialized) struct PythonWorkerTests {
        static let python: String? = {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }()
        static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"

        /// `examples/python-worker/worker.py`, found from this file's path.
        static let workerScript = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/python-worker/worker.py").path

        @Test(.enabled(if: python != nil || onCI, "python3 not found (CI=true makes this a failure)"))
        func pythonWorkerRunsEveryTaskAndRecordsItsErrors() async throws {
            let python = try #require(Self.python, "python3 is required when CI=true")
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0", "--rescue-interval", "0.2"])
            defer { Task { await node.stop() } }
            let url = try #require(URL(string: try await node.url()))
            let client = BatonClient(servers: [url])

            let adds = try await client.submit(
                (0..<50).map { NewTask(kind: "py.add", args: try! RawJSON(validating: #"{"a": \#($0), "b": \#($0 * 2 + 1)}"#)) })
            let words = ["hello", "Baton", "ünïcode"]
            let uppers = try await client.submit(
                words.map { NewTask(kind: "py.upper", args: try! RawJSON(validating: #"{"text": "\#($0)"}"#)) })
            // Raises ZeroDivisionError on each of its two attempts.
            let div = try await client.submit(
                NewTask(
                    kind: "py.div", args: try RawJSON(validating: #"{"a": 1, "b": 0}"#), maxAttempts: 2, retry: .fixed(.milliseconds(100))))
            // Outlives its 1 s lease: only heartbeats keep it from being rescued.
            let slow = try await client.submit(NewTask(kind: "py.sleep", args: try RawJSON(validating: #"{"seconds": 2.5}"#)))

            // A chord: three additions, then a sum of their results (passed by reference, prepended).
            let chord = try await client.submitWorkflow(
                .chord(
                    header: (1...3).map { .task(NewTask(kind: "py.add", args: try! RawJSON(validating: #"{"a": \#($0), "b": 10}"#))) },
                    body: .task(NewTask(kind: "py.sum", args: try RawJSON(validating: "[100]"), pass: .prepend), name: "sum")))

            let executions = adds.count + uppers.count + 2 + 1 + 4
            let log = dir.url.appendingPathComponent("worker.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [
                Self.workerScript, "--server", url.absoluteString, "--max-tasks", "\(executions)", "--concurrency", "8",
                "--lease", "1", "--wait", "1",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["BATON_TOKEN"] = "e2e-token"
            process.environment = environment
            let output = try FileHandle(forWritingTo: log)
            process.standardOutput = output
            process.standardError = output
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            // It announces itself with its kinds (GET /v1/workers).
            let announced = try await eventually("the Python worker to announce itself", within: .seconds(10)) {
                () -> WorkerInfo? in try await client.workers().first { $0.version == "python-example/1" }
            }
            #expect(Set(announced.kinds.map(\.name)) == ["py.add", "py.upper", "py.div", "py.sleep", "py.sum"])
            #expect(announced.concurrency == 8 && announced.queues == ["default"])

            let exited = try await eventually("the Python worker to exit", within: .seconds(30)) { process.isRunning ? nil : true }
            let workerLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(exited && process.terminationStatus == 0, "worker log:\n\(workerLog)")

            let finished = try await client.workflow(chord.id)
            #expect(finished.state == .succeeded, "\(finished.nodes.map { "\($0.name) \($0.state) \($0.lastError ?? "")" })")
            #expect(finished.nodes.last?.result?.text == "\(11 + 12 + 13 + 100)", "the members' results, prepended to [100]")
            for (index, task) in adds.enumerated() {
                let done = try await client.get(task.id)
                #expect(done.state == .succeeded, "\(done.id): \(done.lastError ?? "")")
                #expect(done.result?.text == "\(index + index * 2 + 1)")
                #expect(done.attempt == 1)
            }
            for (word, task) in zip(words, uppers) {
                let done = try await client.get(task.id)
                #expect(done.state == .succeeded)
                #expect(try done.result?.parsed() == .string(word.uppercased()))
            }
            let failed = try await client.get(div.id)
            #expect(failed.state == .failed)
            #expect(failed.attempt == 2)
            #expect(failed.errors.map(\.message) == ["ZeroDivisionError: division by zero", "ZeroDivisionError: division by zero"])
            #expect(failed.lastError == "ZeroDivisionError: division by zero")
            let slept = try await client.get(slow.id)
            #expect(slept.state == .succeeded && slept.attempt == 1, "\(slept.state) \(slept.errors.map(\.message))")
            #expect(try slept.result?.parsed() == .object(["slept": .double(2.5)]))
            #expect(workerLog.contains("stopped after \(executions) tasks"), "\(workerLog)")
        }
    }
}
