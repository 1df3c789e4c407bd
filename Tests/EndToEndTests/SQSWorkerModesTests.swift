import BatonClient
import BatonCore
import BatonSQS
import BatonTesting
import Foundation
import Testing

extension EndToEnd.SQSPipelineTests {
    /// A `baton serve` on SQLite in `dir` that sends the `default` queue's tasks to the SQS
    /// queue `work`, with `more` flags.
    static func dispatchingNode(_ endpoint: String, work: String, in dir: TempDir, _ more: [String]) throws -> BatonProcess {
        try BatonProcess(
            ["serve", "--db", dir.path("baton.db"), "--port", "0", "--sqs-endpoint", endpoint, "--sqs-dispatch", "default=\(work)"] + more,
            environment: awsEnvironment)
    }

    /// `baton worker --sqs-work Q --server URL`: tasks from the SQS work queue, everything else
    /// over HTTP. A cancel reaches the running handler through its heartbeat answer and the
    /// work message is deleted; a workflow dependent reads its parent's result; the worker is
    /// listed by `GET /v1/workers`; and results over HTTP free the node's SQS window (a window
    /// of 4 drains 40 tasks well before the 30 s dispatch lease would have freed it).
    @Test func aWorkerTakingTasksFromSQSReportsOverHTTP() async throws {
        guard let endpoint = Self.skipUnlessMoto() else { return }
        let sqs = try Self.client(endpoint)
        let work = try await Self.queue(sqs, "work")
        let dir = try TempDir()
        let node = try Self.dispatchingNode(endpoint, work: work, in: dir, ["--sqs-window", "4", "--sqs-lease", "30"])
        defer { Task { await node.stop() } }
        let url = try await node.url()
        let worker = try BatonProcess(
            [
                "worker", "--sqs-work", work, "--server", url, "--sqs-endpoint", endpoint, "--concurrency", "4", "--lease", "3", "--id",
                "sqs-http",
            ], environment: Self.awsEnvironment)
        defer { Task { await worker.stop() } }
        let client = BatonClient(servers: [URL(string: url)!])
        let clock = ContinuousClock()

        // Results over HTTP free the window.
        let start = clock.now
        let echoes = try await client.submit((0..<40).map { NewTask(kind: "echo", args: RawJSON(trusted: #"{"n":"\#($0)"}"#)) })
        for task in echoes {
            let done = try await client.wait(task.id, timeout: .seconds(25))
            #expect(done.state == .succeeded && done.result == task.args, "\(done.state) \(done.lastError ?? "")")
        }
        let drained = clock.now - start
        #expect(drained < .seconds(25), "40 tasks through a window of 4 took \(drained)")

        // A cancel reaches the running handler; its message is deleted.
        let sleeper = try await client.submit(NewTask(kind: "sleep", args: RawJSON(trusted: #"{"seconds":60}"#)))
        try await eventually("the worker to report progress over HTTP", within: .seconds(20), every: .milliseconds(200)) { () -> Bool? in
            try await client.get(sleeper.id).progress != nil ? true : nil
        }
        try await eventually("GET /v1/workers to list the worker running it", within: .seconds(10), every: .milliseconds(200)) {
            () -> Bool? in
            try await client.workers().contains { $0.worker == "sqs-http" && $0.running == 1 } ? true : nil
        }
        _ = try await client.cancel(sleeper.id)
        try await eventually("the handler to be stopped", within: .seconds(10), every: .milliseconds(100)) { () -> Bool? in
            worker.stderr.contains("task cancelled by an operator: stopping it") ? true : nil
        }
        #expect(try await client.get(sleeper.id).state == .cancelled)
        try await eventually("the work message to be deleted", within: .seconds(10), every: .milliseconds(200)) { () -> Bool? in
            try await Self.depth(sqs, work) == 0 ? true : nil
        }

        // A dependent reads its parent's result (passed in front of its arguments).
        let flow = try await client.submitWorkflow(
            .chain([
                .task(NewTask(kind: "echo", args: RawJSON(trusted: #"{"from":"parent"}"#)), name: "parent"),
                .task(NewTask(kind: "echo", args: RawJSON(trusted: #"["mine"]"#), pass: .prepend), name: "child"),
            ]))
        let done = try await client.waitWorkflow(flow.id, timeout: .seconds(30))
        #expect(done.state == .succeeded, "\(done.counts)")
        #expect(try done.nodes.last?.result?.parsed() == .array([.object(["from": .string("parent")]), .string("mine")]))
        #expect(try await Self.depth(sqs, work) == 0)
        #expect(!worker.stderr.contains("error"), "\(worker.stderr.suffix(2000))")
    }

    /// A task cancelled while its work message waits in the queue (no worker yet) is dropped
    /// by the worker that later receives it, before its handler starts: the worker asks the
    /// node about what it received, deletes the message, and logs it; its handler never runs.
    /// Both ways a worker can ask: over HTTP (`--server`), and, reaching only SQS, by a check
    /// on the results queue answered on its control queue (`--sqs-results`, `--sqs-control`).
    @Test(arguments: ["http", "sqs"])
    func aTaskCancelledWhileItsMessageWaitsIsDroppedBeforeItRuns(_ reports: String) async throws {
        guard let endpoint = Self.skipUnlessMoto() else { return }
        let sqs = try Self.client(endpoint)
        let work = try await Self.queue(sqs, "work")
        let dir = try TempDir()
        var workerReports = ["--server", "<node>"]
        var nodeResults: [String] = []
        if reports == "sqs" {
            let results = try await Self.queue(sqs, "results")
            workerReports = ["--sqs-results", results, "--sqs-control", try await Self.queue(sqs, "control")]
            nodeResults = ["--sqs-results", results]
        }
        let node = try Self.dispatchingNode(endpoint, work: work, in: dir, ["--sqs-lease", "60"] + nodeResults)
        defer { Task { await node.stop() } }
        let url = try await node.url()
        let client = BatonClient(servers: [URL(string: url)!])
        let marker = dir.path("ran")
        let doomed = try await client.submit(
            NewTask(kind: "file", args: RawJSON(trusted: #"{"op":"write","path":"ran","content":"ran"}"#)))
        let kept = try await client.submit(NewTask(kind: "echo", args: RawJSON(trusted: #"{"n":"1"}"#)))
        try await eventually("both tasks dispatched to SQS", within: .seconds(20), every: .milliseconds(100)) { () -> Bool? in
            try await Self.depth(sqs, work) == 2 ? true : nil
        }
        #expect(try await client.cancel(doomed.id).state == .cancelled)

        let worker = try BatonProcess(
            ["worker", "--sqs-work", work] + workerReports.map { $0 == "<node>" ? url : $0 } + [
                "--sqs-endpoint", endpoint, "--concurrency", "4", "--lease", "10", "--file-root", dir.url.path,
            ], environment: Self.awsEnvironment)
        defer { Task { await worker.stop() } }
        #expect(try await client.wait(kept.id, timeout: .seconds(20)).state == .succeeded)
        try await eventually("the cancelled task's message to be deleted", within: .seconds(20), every: .milliseconds(200)) {
            () -> Bool? in
            try await Self.depth(sqs, work) == 0 ? true : nil
        }
        #expect(worker.stderr.contains("dropped before it ran") && worker.stderr.contains("\(doomed.id)"), "\(worker.stderr.suffix(2000))")
        #expect(!worker.stderr.contains("no answer from the node"), "the check was answered: \(worker.stderr.suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: marker), "the cancelled task's handler never ran")
        #expect(try await client.get(doomed.id).state == .cancelled)
    }

    /// Two nodes on one PostgreSQL database: the first sends tasks to SQS through a window of
    /// 4 with a 60 s dispatch lease; the worker takes them from SQS and reports over HTTP to the
    /// second node only. The first learns from the store that they ended, so 24 tasks drain in
    /// seconds, where waiting for the leases would take six windows of 60 s.
    @Test func resultsAppliedByAnotherNodeFreeTheWindow() async throws {
        guard let endpoint = Self.skipUnlessMoto(),
            let store = TestPostgres.storeURL(for: "resultsAppliedByAnotherNodeFreeTheWindow")
        else { return }
        let sqs = try Self.client(endpoint)
        let work = try await Self.queue(sqs, "work")
        let dispatching = try BatonProcess(
            [
                "serve", "--store", store, "--port", "0", "--sqs-endpoint", endpoint, "--sqs-dispatch", "default=\(work)",
                "--sqs-window", "4", "--sqs-lease", "60",
            ], environment: Self.awsEnvironment)
        defer { Task { await dispatching.stop() } }
        _ = try await dispatching.url(timeout: .seconds(60))
        let other = try BatonProcess(["serve", "--store", store, "--port", "0"])
        defer { Task { await other.stop() } }
        let otherURL = try await other.url(timeout: .seconds(60))
        let worker = try BatonProcess(
            [
                "worker", "--sqs-work", work, "--server", otherURL, "--sqs-endpoint", endpoint, "--concurrency", "4", "--lease", "10",
                "--id", "sqs-other-node",
            ], environment: Self.awsEnvironment)
        defer { Task { await worker.stop() } }
        let client = BatonClient(servers: [URL(string: otherURL)!])
        let clock = ContinuousClock()
        let start = clock.now
        let echoes = try await client.submit((0..<24).map { NewTask(kind: "echo", args: RawJSON(trusted: #"{"n":"\#($0)"}"#)) })
        for task in echoes {
            let done = try await client.wait(task.id, timeout: .seconds(50))
            #expect(done.state == .succeeded && done.attempt == 1, "\(done.state) \(done.lastError ?? "")")
        }
        let drained = clock.now - start
        #expect(drained < .seconds(50), "24 tasks through a window of 4 freed by another node took \(drained)")
        #expect(!dispatching.stderr.contains("could not check the dispatch window"), "\(dispatching.stderr.suffix(2000))")
    }

    /// `baton worker --sqs-work Q --sqs-results R --sqs-control C`: the node answers the
    /// worker's heartbeats on its control queue, so a cancel reaches the running handler
    /// although the worker never speaks HTTP: the handler stops within a few seconds (the next
    /// task, queued behind it on a worker of concurrency 1, runs long before the 60 s sleep
    /// would have ended), the task stays `cancelled` with no result sent or applied, and its
    /// work message is deleted (it never comes back).
    @Test func aWorkerReportingOverSQSLearnsOfACancelOnItsControlQueue() async throws {
        guard let endpoint = Self.skipUnlessMoto() else { return }
        let sqs = try Self.client(endpoint)
        let work = try await Self.queue(sqs, "work")
        let results = try await Self.queue(sqs, "results")
        let control = try await Self.queue(sqs, "control")
        let dir = try TempDir()
        let node = try Self.dispatchingNode(endpoint, work: work, in: dir, ["--sqs-results", results, "--sqs-lease", "30"])
        defer { Task { await node.stop() } }
        let url = try await node.url()
        let worker = try BatonProcess(
            [
                "worker", "--sqs-work", work, "--sqs-results", results, "--sqs-control", control, "--sqs-endpoint", endpoint,
                "--concurrency", "1", "--lease", "3", "--id", "sqs-control",
            ], environment: Self.awsEnvironment)
        defer { Task { await worker.stop() } }
        let client = BatonClient(servers: [URL(string: url)!])

        let sleeper = try await client.submit(NewTask(kind: "sleep", args: RawJSON(trusted: #"{"seconds":60}"#)))
        // The worker's heartbeats (lease 3 s) replace the 30 s dispatch lease: its handler runs.
        try await eventually("the worker to heartbeat the sleeping task", within: .seconds(20), every: .milliseconds(200)) {
            () -> Bool? in
            let task = try await client.get(sleeper.id)
            guard task.state == .running, let until = task.leaseExpiresAt else { return nil }
            return until.timeIntervalSinceNow < 10 ? true : nil
        }
        // It reaches the node only through SQS, and announced itself there.
        let listed = try await eventually("GET /v1/workers to list the SQS worker", within: .seconds(10), every: .milliseconds(200)) {
            () -> WorkerInfo? in try await client.workers().first { $0.worker == "sqs-control" }
        }
        #expect(listed.transport == "sqs" && listed.concurrency == 1 && listed.kinds.contains { $0.name == "sleep" }, "\(listed)")
        let next = try await client.submit(NewTask(kind: "echo", args: RawJSON(trusted: #"{"after":"the sleeper"}"#)))
        try await Task.sleep(for: .seconds(1))
        #expect(try await client.get(next.id).state != .succeeded, "concurrency 1: the echo waits behind the sleeper")

        let clock = ContinuousClock()
        let cancelled = clock.now
        _ = try await client.cancel(sleeper.id)
        try await eventually("the handler to be stopped", within: .seconds(10), every: .milliseconds(100)) { () -> Bool? in
            worker.stderr.contains("task cancelled by an operator: stopping it") ? true : nil
        }
        #expect(worker.stderr.contains("the node stopped a task of this worker"), "\(worker.stderr.suffix(2000))")
        let done = try await client.wait(next.id, timeout: .seconds(15))
        #expect(done.state == .succeeded, "\(done.state) \(done.lastError ?? "")")
        let stoppedIn = clock.now - cancelled
        #expect(stoppedIn < .seconds(10), "the next task ran \(stoppedIn) after the cancel")

        // The work message is gone: after more than a lease it has not come back.
        try await eventually("the work queue to drain", within: .seconds(10), every: .milliseconds(200)) { () -> Bool? in
            try await Self.depth(sqs, work) == 0 ? true : nil
        }
        try await Task.sleep(for: .seconds(4))
        #expect(try await Self.depth(sqs, work) == 0)
        #expect(try await Self.depth(sqs, control) == 0, "stop messages are deleted once read")
        let task = try await client.get(sleeper.id)
        #expect(task.state == .cancelled && task.result == nil && task.attempt == 1, "\(task.state) attempt \(task.attempt)")
        // Run once and stopped once: a message that came back would run again, and be stopped
        // as a lost lease.
        let stops = worker.stderr.components(separatedBy: "task cancelled by an operator").count - 1
        #expect(stops == 1 && !worker.stderr.contains("lease lost"), "\(worker.stderr.suffix(2000))")
        // No result was sent for it, so none was refused or applied.
        #expect(!node.stderr.contains("result refused"), "\(node.stderr.suffix(2000))")
        #expect(!worker.stderr.contains("error"), "\(worker.stderr.suffix(2000))")
    }

    /// A control queue is for a worker that reports over SQS: without `--sqs-results` it is a
    /// usage error (no SQS needed).
    @Test func aControlQueueWithoutAResultsQueueIsRefused() async throws {
        let worker = try await baton(
            ["worker", "--sqs-work", "sqs://baton-work", "--sqs-control", "sqs://baton-control", "--server", "http://127.0.0.1:1"],
            environment: Self.awsEnvironment, timeout: .seconds(30))
        #expect(worker.status == 64, "\(worker.stderr)")
        #expect(worker.stderr.contains("sqs.control (--sqs-control)") && worker.stderr.contains("--sqs-results"), "\(worker.stderr)")
    }

    /// `--sqs-string-kinds export`: a submission of `export` whose arguments are not all
    /// strings is refused on submit (over HTTP with a 400, from the submissions queue to the
    /// dead-letter queue with the reason), and the tasks that pass run on a worker written as
    /// freundallein/sqs-scheduler's are (it refuses any param that is not a string).
    @Test func stringKindsAreRefusedOnSubmitAndRunOnAnSQSSchedulerWorker() async throws {
        guard let endpoint = Self.skipUnlessMoto() else { return }
        let python = try #require(BuildVenv.python, "scripts/python-venv.sh installs boto3 (with moto)")
        let sqs = try Self.client(endpoint)
        let submit = try await Self.queue(sqs, "submit")
        let work = try await Self.queue(sqs, "work")
        let results = try await Self.queue(sqs, "results")
        let deadLetter = try await Self.queue(sqs, "dlq")
        let dir = try TempDir()
        let node = try BatonProcess(
            [
                "serve", "--db", dir.path("baton.db"), "--port", "0", "--sqs-endpoint", endpoint, "--sqs-ingest", submit,
                "--sqs-dead-letter", deadLetter, "--sqs-dispatch", "default=\(work)", "--sqs-results", results, "--sqs-string-kinds",
                "export",
            ], environment: Self.awsEnvironment)
        defer { Task { await node.stop() } }
        let url = try await node.url()
        let client = BatonClient(servers: [URL(string: url)!])

        await #expect {
            _ = try await client.submit(NewTask(kind: "export", args: RawJSON(trusted: #"{"objectID":7}"#)))
        } throws: { error in
            "\(error)".contains(#""objectID" is a number"#) && (error as? BatonError)?.code == .invalidArgument
        }
        try await Self.send(sqs, submit, [#"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":8}}"#])
        let rejected = try await eventually("the refused submission in the dead-letter queue", within: .seconds(30)) {
            () -> SQS.Message? in
            try await sqs.receiveMessage(
                .init(queueURL: deadLetter, maxNumberOfMessages: 1, waitTimeSeconds: 1, messageAttributeNames: ["All"])
            ).messages.first
        }
        #expect(rejected.messageAttributes["baton-reason"]?.stringValue?.contains(#""objectID" is a number"#) == true)

        let worker = try BatonProcess(
            [
                BuildVenv.repositoryRoot.appendingPathComponent("examples/sqs-scheduler-worker/worker.py").path, "--work", work,
                "--results", results,
                "--endpoint", endpoint, "--error-rate", "0",
            ], environment: Self.awsEnvironment, executable: python)
        defer { Task { await worker.stop() } }
        let tasks = try await client.submit((0..<10).map { NewTask(kind: "export", args: RawJSON(trusted: #"{"objectID":"\#($0)"}"#)) })
        try await Self.send(sqs, submit, [#"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"10"}}"#])
        for task in tasks {
            let done = try await client.wait(task.id, timeout: .seconds(30))
            #expect(done.state == .succeeded && done.attempt == 1, "\(done.state) \(done.lastError ?? "")")
            let id = try task.args.parsed()["objectID"]?.stringValue ?? "?"
            #expect(try done.result?.parsed() == .object(["exportedID": .string(id), "status": .string("exported")]))
        }
        try await eventually("the submission from SQS to succeed", within: .seconds(30), every: .milliseconds(200)) { () -> Bool? in
            let page = try await client.list(TaskListParams(states: [.succeeded], kind: "export"))
            return page.tasks.count == 11 ? true : nil
        }
        #expect(try await client.list(TaskListParams(kind: "export")).tasks.count == 11, "the refused ones were never stored")
    }
}
