import BatonCore
import BatonSQLite
import BatonSQS
import BatonTesting
import Foundation
import Testing

extension EndToEnd.SQSPipelineTests {
    /// The SQS endpoint killed mid-run and started again empty (a private moto: it keeps
    /// nothing, so the queues are made again: by the test, or with `--sqs-create-queues` by
    /// the node and the worker themselves, which also made them at the start): every
    /// submission the node committed ends exactly once `succeeded` with its result; tasks whose
    /// work messages SQS lost are sent again after their (short) leases; the node and the
    /// worker ride out the outage with backed-off retries, no crash and no busy loop.
    @Test(arguments: [false, true])
    func theSQSEndpointRestartedMidRunLosesNothingAcknowledged(batonCreatesTheQueues: Bool) async throws {
        guard let moto = try await MotoServer.start() else { return }
        defer { Task { await moto.stop() } }
        let endpoint = moto.endpoint
        let sqs = try Self.client(endpoint)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let names = ["submit", "work", "results"].map { "baton-restart-\($0)-\(suffix)" }
        func createQueues() async throws -> [String] {
            var urls: [String] = []
            for name in names {
                urls.append(try await sqs.createQueue(.init(queueName: name, attributes: ["VisibilityTimeout": "30"])).queueURL)
            }
            return urls
        }
        /// The queues' URLs once they exist (made by the test, or awaited while Baton makes them).
        func queueURLs() async throws -> [String] {
            guard batonCreatesTheQueues else { return try await createQueues() }
            return try await eventually("Baton to create the queues", within: .seconds(60), every: .milliseconds(100)) { () -> [String]? in
                var urls: [String] = []
                for name in names {
                    guard let url = try? await sqs.getQueueURL(.init(queueName: name)).queueURL else { return nil }
                    urls.append(url)
                }
                return urls
            }
        }
        let (submit, work, results) =
            batonCreatesTheQueues ? names.map { "sqs://\($0)" }.triple : try await queueURLs().triple
        let creating = batonCreatesTheQueues ? ["--sqs-create-queues"] : []
        let dir = try TempDir()
        let db = dir.path("baton.db")
        let node = try BatonProcess(
            [
                "serve", "--db", db, "--port", "0", "--rescue-interval", "0.5", "--retry", "fixed", "--backoff", "0.2",
                "--sqs-endpoint", endpoint, "--sqs-ingest", submit, "--sqs-dispatch", "default=\(work)", "--sqs-results", results,
                "--sqs-window", "40", "--sqs-lease", "4",
            ] + creating, environment: Self.awsEnvironment)
        defer { Task { await node.stop() } }
        _ = try await node.url()
        let worker = try BatonProcess(
            [
                "worker", "--sqs-work", work, "--sqs-results", results, "--sqs-endpoint", endpoint, "--concurrency", "8", "--lease", "3",
            ] + creating, environment: Self.awsEnvironment)
        let urls = try await queueURLs()
        defer { Task { await worker.stop() } }

        let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
        defer { try? store.close() }
        func count(_ state: TaskState) async throws -> Int {
            try await store.queueCounts().first { $0.name == "default" }?.count(state) ?? 0
        }
        // Baton's task JSON, with attempts to spare: an outage may cost a task a rescued attempt or two.
        func bodies(_ range: Range<Int>) -> [String] {
            range.map { #"{"kind":"echo","args":{"objectID":"\#($0)"},"max_attempts":10}"# }
        }
        let (before, after) = (0..<200, 200..<400)
        try await Self.send(sqs, urls[0], bodies(before))
        try await eventually("the run to be under way", within: .seconds(60), every: .milliseconds(50)) { () -> Bool? in
            try await count(.succeeded) >= 60 ? true : nil
        }
        let runningAtKill = try await count(.running)
        let nodeLinesBefore = node.stderr.split(separator: "\n").count
        let workerLinesBefore = worker.stderr.split(separator: "\n").count
        await moto.stop()
        // Down for 3 s: both keep trying, backing off.
        try await Task.sleep(for: .seconds(3))
        let nodeOutage = node.stderr.split(separator: "\n").dropFirst(nodeLinesBefore)
        let workerOutage = worker.stderr.split(separator: "\n").dropFirst(workerLinesBefore)
        #expect(node.isRunning && worker.isRunning)
        #expect(nodeOutage.contains { $0.contains("retrying") }, "the node logs the failures: \(nodeOutage.prefix(5))")
        #expect(nodeOutage.count < 150, "no busy loop: \(nodeOutage.count) lines in 3 s")
        #expect(workerOutage.count < 100, "no busy loop: \(workerOutage.count) lines in 3 s")
        try await moto.start()
        #expect(try await queueURLs() == urls, "the queues are back under the same URLs")
        try await Self.send(sqs, urls[0], bodies(after))

        // Every task the node committed finishes; what SQS lost in flight is sent again.
        try await eventually("every committed task to succeed", within: .seconds(60), every: .milliseconds(250)) { () -> Bool? in
            let committed = try await store.taskList(TaskListParams(limit: 1000)).tasks
            return committed.count >= after.count && committed.allSatisfy({ $0.state == .succeeded }) ? true : nil
        }
        let tasks = try await store.taskList(TaskListParams(limit: 1000)).tasks
        var byObject: [String: Int] = [:]
        for task in tasks {
            #expect(task.state == .succeeded && task.result == task.args, "\(task.state) \(task.lastError ?? "")")
            byObject[try task.args.parsed()["objectID"]?.stringValue ?? "?", default: 0] += 1
        }
        #expect(byObject.values.allSatisfy { $0 == 1 }, "each submission is one task")
        let afterIDs = Set(after.map(String.init))
        #expect(afterIDs.isSubset(of: Set(byObject.keys)), "nothing sent after the restart is lost")
        let resent = tasks.filter { task in task.errors.contains { $0.message.contains("lease expired") } }
        #expect(
            runningAtKill > 0 && !resent.isEmpty, "\(runningAtKill) in flight at the kill; \(resent.count) sent again after their lease")
        // A message whose delete failed comes back after its visibility timeout (60 s for the
        // node's ingest and results messages) and is handled again: the wait covers one return.
        do {
            try await eventually("the SQS queues to drain", within: .seconds(90), every: .milliseconds(500)) { () -> Bool? in
                try await Self.depth(sqs, urls[1]) + Self.depth(sqs, urls[2]) + Self.depth(sqs, urls[0]) == 0 ? true : nil
            }
        } catch {
            var depths: [String] = []
            for (name, url) in zip(names, urls) { depths.append("\(name): \(try await Self.depth(sqs, url))") }
            let warnings = (node.stderr + worker.stderr).split(separator: "\n").filter {
                $0.contains("level=warning") || $0.contains("level=error")
            }
            Issue.record("queues left: \(depths); warnings after the restart: \(warnings.suffix(20))")
            throw error
        }
        let lost = before.count - byObject.keys.filter { (Int($0) ?? before.count) < before.count }.count
        print(
            "SQS endpoint restart\(batonCreatesTheQueues ? " (queues made by Baton)" : ""): \(tasks.count) tasks committed, all succeeded once; \(lost) submissions SQS lost before the node took them; "
                + "\(runningAtKill) in flight at the kill, \(resent.count) sent again after their lease; "
                + "outage logs: node \(nodeOutage.count) lines, worker \(workerOutage.count) lines in 3 s")
    }
}

extension Array where Element == String {
    /// The first three elements.
    fileprivate var triple: (String, String, String) { (self[0], self[1], self[2]) }
}
