import BatonCore
import BatonSQLite
import BatonSQS
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// Seed 000's pipeline on real processes through moto (`scripts/with-moto.sh`): `baton serve`
    /// ingests `submit:KIND` messages from a submissions queue, dispatches the tasks to a work
    /// queue, and applies what two `baton worker --sqs-work` processes send to the results queue.
    /// Without `BATON_TEST_SQS_ENDPOINT` the tests print why they are skipped (under `CI=true`
    /// they fail).
    @Suite(.serialized) struct SQSPipelineTests {
        /// What every process gets: moto's keys, and no instance metadata lookups.
        static let awsEnvironment = [
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]

        static func skipUnlessMoto(_ test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
            TestServer.sqsEndpoint(for: test, sourceLocation: sourceLocation)
        }

        static func client(_ endpoint: String) throws -> SQSClient {
            try SQSClient(
                configuration: SQSClientConfiguration(region: "us-east-1", endpoint: URL(string: endpoint)!, requestTimeout: .seconds(15)),
                credentials: StaticCredentialProvider(accessKeyID: "testing", secretAccessKey: "testing"), environment: [:])
        }

        /// A fresh queue; its URL.
        static func queue(_ sqs: SQSClient, _ prefix: String) async throws -> String {
            let name = "baton-e2e-\(prefix)-" + UUID().uuidString.prefix(8).lowercased()
            return try await sqs.createQueue(.init(queueName: name, attributes: ["VisibilityTimeout": "30"])).queueURL
        }

        static func depth(_ sqs: SQSClient, _ url: String) async throws -> Int {
            let a = try await sqs.getQueueAttributes(
                .init(queueURL: url, attributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
            ).attributes
            return (Int(a["ApproximateNumberOfMessages"] ?? "0") ?? 0) + (Int(a["ApproximateNumberOfMessagesNotVisible"] ?? "0") ?? 0)
        }

        static func send(_ sqs: SQSClient, _ url: String, _ bodies: [String]) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, start) in stride(from: 0, to: bodies.count, by: 10).enumerated() {
                    if n >= 4 { _ = try await group.next() }
                    let chunk = Array(bodies[start..<min(start + 10, bodies.count)])
                    group.addTask {
                        let entries = chunk.enumerated().map { SQS.SendMessageBatchEntry(id: "e\($0.offset)", messageBody: $0.element) }
                        let result = try await sqs.sendMessageBatch(.init(queueURL: url, entries: entries))
                        #expect(result.failed.isEmpty)
                    }
                }
                try await group.waitForAll()
            }
        }

        /// Refused SQS settings stop a node or worker at once, saying why (no SQS needed).
        @Test func refusedSQSSettingsSayWhy() async throws {
            let dir = try TempDir()
            let worker = try await baton(["worker", "--sqs-work", "sqs://baton work"], environment: Self.awsEnvironment)
            #expect(worker.status != 0, "\(worker.stderr)")
            #expect(worker.stderr.contains("sqs.work"), "\(worker.stderr)")
            let node = try await baton(
                [
                    "serve", "--db", dir.path("baton.db"), "--port", "0", "--sqs-dispatch", "default=ftp://nowhere/1/q", "--sqs-results",
                    "sqs://r",
                ],
                environment: Self.awsEnvironment)
            #expect(node.status != 0)
            #expect(node.stderr.contains("sqs.dispatch") && node.stderr.contains("does not name an SQS queue"), "\(node.stderr)")
        }

        /// 2,000 seed-000 messages (`submit:echo` with string params; a message delivered twice
        /// is covered by `SQSIngestTests`) through SQS both ways with two worker processes, one
        /// of them SIGKILLed mid-run: every task exactly once, all `succeeded` with their
        /// results stored (a late result of the killed worker's is refused by its lease token).
        @Test func seed000PipelineThroughSQSWithTwoWorkersOneKilled() async throws {
            guard let endpoint = Self.skipUnlessMoto() else { return }
            let sqs = try Self.client(endpoint)
            let submit = try await Self.queue(sqs, "submit")
            let work = try await Self.queue(sqs, "work")
            let results = try await Self.queue(sqs, "results")
            let deadLetter = try await Self.queue(sqs, "dlq")
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(
                [
                    "serve", "--db", db, "--port", "0", "--rescue-interval", "0.5", "--sqs-endpoint", endpoint, "--sqs-ingest", submit,
                    "--sqs-dispatch", "default=\(work)", "--sqs-results", results, "--sqs-dead-letter", deadLetter, "--sqs-window", "100",
                    "--sqs-lease", "60",
                ], environment: Self.awsEnvironment)
            defer { Task { await node.stop() } }
            _ = try await node.url()
            let workerArgs = [
                "worker", "--sqs-work", work, "--sqs-results", results, "--sqs-endpoint", endpoint, "--concurrency", "16", "--lease", "10",
            ]
            let victim = try BatonProcess(workerArgs + ["--id", "victim"], environment: Self.awsEnvironment)
            defer { Task { await victim.stop() } }
            let survivor = try BatonProcess(workerArgs + ["--id", "survivor"], environment: Self.awsEnvironment)
            defer { Task { await survivor.stop() } }

            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            func count(_ state: TaskState) async throws -> Int {
                try await store.queueCounts().first { $0.name == "default" }?.count(state) ?? 0
            }
            let clock = ContinuousClock()
            let start = clock.now
            let total = 2000
            for first in stride(from: 0, to: total, by: 250) {
                // Shallow queues: wait until the node has taken most of what was sent.
                try await eventually("the node to take the submissions", within: .seconds(120), every: .milliseconds(200)) { () -> Bool? in
                    try await Self.depth(sqs, submit) < 100 ? true : nil
                }
                let bodies = (first..<min(first + 250, total)).map {
                    #"{"jsonrpc":"2.0","method":"submit:echo","params":{"objectID":"\#($0)"}}"#
                }
                try await Self.send(sqs, submit, bodies)
                if first == 500 {
                    // Mid-run: the victim holds tasks (running, or results not sent yet).
                    victim.signal(SIGKILL)
                    try await victim.waitForExit()
                }
            }
            try await eventually("every task to succeed", within: .seconds(240), every: .milliseconds(500)) { () -> Bool? in
                try await count(.succeeded) == total ? true : nil
            }
            let elapsed = clock.now - start
            var all: [TaskRecord] = []
            var cursor: String?
            repeat {
                let page = try await store.taskList(TaskListParams(limit: 1000, cursor: cursor))
                all += page.tasks
                cursor = page.nextCursor
            } while cursor != nil
            #expect(all.count == total, "each message became exactly one task")
            var seen = Set<String>()
            for task in all {
                #expect(task.state == .succeeded && task.kind == "echo")
                #expect(task.result == task.args, "the result stored: \(task.result?.text ?? "none")")
                if let id = try task.args.parsed()["objectID"]?.stringValue { seen.insert(id) }
            }
            #expect(seen.count == total)
            let retried = all.filter { $0.attempt > 1 }.count
            // Every queue drained: nothing left behind, nothing dead-lettered.
            try await eventually("the SQS queues to drain", within: .seconds(60), every: .milliseconds(500)) { () -> Bool? in
                let left = try await Self.depth(sqs, work) + Self.depth(sqs, results) + Self.depth(sqs, submit)
                return left == 0 ? true : nil
            }
            #expect(try await Self.depth(sqs, deadLetter) == 0)
            let refused = node.stderr.components(separatedBy: "result refused").count - 1
            print("SQS pipeline: \(total) tasks in \(elapsed); \(retried) ran again after the kill; \(refused) stale results refused")
            try store.close()
        }

        /// The node SIGKILLed mid-run and started again on the same database: SQS keeps what
        /// was in flight (submissions not yet committed, results not yet applied), the new node
        /// takes over (a dispatched task's lease is in the store), and every message still
        /// becomes exactly one task, all `succeeded`.
        @Test func aNodeKilledMidRunAndRestartedLosesAndDuplicatesNothing() async throws {
            guard let endpoint = Self.skipUnlessMoto() else { return }
            let sqs = try Self.client(endpoint)
            let submit = try await Self.queue(sqs, "submit")
            let work = try await Self.queue(sqs, "work")
            let results = try await Self.queue(sqs, "results")
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let nodeArgs = [
                "serve", "--db", db, "--port", "0", "--rescue-interval", "0.5", "--sqs-endpoint", endpoint, "--sqs-ingest", submit,
                "--sqs-dispatch", "default=\(work)", "--sqs-results", results, "--sqs-window", "50", "--sqs-lease", "20",
            ]
            let first = try BatonProcess(nodeArgs, environment: Self.awsEnvironment)
            defer { Task { await first.stop() } }
            _ = try await first.url()
            let worker = try BatonProcess(
                [
                    "worker", "--sqs-work", work, "--sqs-results", results, "--sqs-endpoint", endpoint, "--concurrency", "8", "--lease",
                    "10",
                ],
                environment: Self.awsEnvironment)
            defer { Task { await worker.stop() } }

            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            func count(_ state: TaskState) async throws -> Int {
                try await store.queueCounts().first { $0.name == "default" }?.count(state) ?? 0
            }
            let total = 600
            let bodies = (0..<total).map { #"{"jsonrpc":"2.0","method":"submit:echo","params":{"objectID":"\#($0)"}}"# }
            try await Self.send(sqs, submit, Array(bodies[..<300]))
            // Kill the node while it ingests, dispatches and applies results.
            try await eventually("the node to be mid-run", within: .seconds(60), every: .milliseconds(50)) { () -> Bool? in
                try await count(.succeeded) >= 50 ? true : nil
            }
            first.signal(SIGKILL)
            _ = try await first.waitForExit()
            try await Self.send(sqs, submit, Array(bodies[300...]))
            let second = try BatonProcess(nodeArgs, environment: Self.awsEnvironment)
            defer { Task { await second.stop() } }
            _ = try await second.url()

            try await eventually("every task to succeed", within: .seconds(240), every: .milliseconds(500)) { () -> Bool? in
                try await count(.succeeded) == total ? true : nil
            }
            let page = try await store.taskList(TaskListParams(limit: 1000))
            #expect(page.tasks.count == total, "each message became exactly one task")
            var seen = Set<String>()
            for task in page.tasks {
                #expect(task.state == .succeeded && task.result == task.args)
                if let id = try task.args.parsed()["objectID"]?.stringValue { seen.insert(id) }
            }
            #expect(seen.count == total)
            try await eventually("the SQS queues to drain", within: .seconds(60), every: .milliseconds(500)) { () -> Bool? in
                try await Self.depth(sqs, work) + Self.depth(sqs, results) + Self.depth(sqs, submit) == 0 ? true : nil
            }
            try store.close()
        }

        /// A worker written as freundallein/sqs-scheduler's own are, knowing nothing of Baton
        /// (`examples/sqs-scheduler-worker/worker.py`: boto3, JSON-RPC with string params and
        /// ids, 20% random errors), against a node that ingests, dispatches and applies results:
        /// every submission becomes one task that succeeds, some after retries, with the
        /// worker's result stored.
        @Test func freundalleinStyleWorkerWithBoto3() async throws {
            guard let endpoint = Self.skipUnlessMoto() else { return }
            let python = try #require(BuildVenv.python, "scripts/python-venv.sh installs boto3 (with moto)")
            let sqs = try Self.client(endpoint)
            let submit = try await Self.queue(sqs, "submit")
            let work = try await Self.queue(sqs, "work")
            let results = try await Self.queue(sqs, "results")
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess(
                [
                    "serve", "--db", db, "--port", "0", "--retry", "fixed", "--backoff", "0.2", "--sqs-endpoint", endpoint, "--sqs-ingest",
                    submit, "--sqs-dispatch", "default=\(work)", "--sqs-results", results, "--sqs-lease", "30",
                ], environment: Self.awsEnvironment)
            defer { Task { await node.stop() } }
            _ = try await node.url()
            let worker = try BatonProcess(
                [
                    BuildVenv.repositoryRoot.appendingPathComponent("examples/sqs-scheduler-worker/worker.py").path, "--work", work,
                    "--results", results,
                    "--endpoint", endpoint, "--error-rate", "0.2",
                ], environment: Self.awsEnvironment, executable: python)
            defer { Task { await worker.stop() } }

            let total = 200
            try await Self.send(
                sqs, submit, (0..<total).map { #"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"\#($0)"}}"# })
            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            try await eventually("every task to succeed", within: .seconds(180), every: .milliseconds(500)) { () -> Bool? in
                try await store.queueCounts().first { $0.name == "default" }?.count(.succeeded) == total ? true : nil
            }
            let tasks = try await store.taskList(TaskListParams(limit: 1000)).tasks
            #expect(tasks.count == total)
            var seen = Set<String>()
            for task in tasks {
                let id = try task.args.parsed()["objectID"]?.stringValue ?? "?"
                seen.insert(id)
                #expect(task.kind == "export" && task.state == .succeeded)
                #expect(
                    try task.result?.parsed() == .object(["exportedID": .string(id), "status": .string("exported")]),
                    "\(task.result?.text ?? "")")
            }
            #expect(seen.count == total)
            let retried = tasks.filter { $0.attempt > 1 }
            #expect(!retried.isEmpty, "20% random errors retried some tasks")
            #expect(retried.allSatisfy { $0.errors.first?.message.contains("random error") == true })
            try store.close()
        }
    }
}
