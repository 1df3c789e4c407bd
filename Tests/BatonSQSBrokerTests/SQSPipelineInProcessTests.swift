import BatonCore
import BatonNode
import BatonSQS
import BatonSQSBroker
import BatonTesting
import BatonWorker
import Foundation
import Testing

/// Dispatch, results and the worker's SQS task source against moto, in one process: the
/// node sends tasks to the work queue, a ``WorkerRuntime`` over ``SQSTaskSource`` runs the
/// built-in kinds, and the node applies what comes back on the results queue.
@Suite("SQS dispatch and results against moto", .serialized)
struct SQSPipelineInProcessTests {
    struct Pipeline {
        let harness: BrokerHarness
        let work: SQSQueue
        let results: SQSQueue
        let dispatch: SQSDispatch
        let resultsRole: SQSResults
        let inFlight: DispatchWindow

        init(
            _ configuration: SQSClientConfiguration, window: Int = 50, lease: Duration = .seconds(60), stringKinds: Set<String> = [],
            fifo: Bool = false
        ) async throws {
            harness = try await BrokerHarness()
            work = try await Moto.createQueue("work", configuration, fifo: fifo)
            results = try await Moto.createQueue("results", configuration, fifo: fifo)
            inFlight = DispatchWindow()
            dispatch = SQSDispatch(
                node: harness.node, queueName: "default", queue: work, inFlight: inFlight, window: window, lease: lease,
                stringKinds: stringKinds, logger: testLogger("dispatch"))
            resultsRole = SQSResults(api: harness.api, queue: results, deadLetter: nil, inFlight: inFlight, logger: testLogger("results"))
        }

        func worker(
            id: String, concurrency: Int = 8, lease: Duration = .seconds(10), register: (HandlerRegistry) -> Void = { _ in }
        ) -> WorkerRuntime {
            let registry = HandlerRegistry()
            BuiltinKinds.register(into: registry, fileRoot: nil)
            register(registry)
            let source = SQSTaskSource(work: work, results: results, logger: testLogger("source"))
            return WorkerRuntime(
                source: source, registry: registry,
                configuration: WorkerConfiguration(id: id, concurrency: concurrency, lease: lease, claimWait: .seconds(2)),
                logger: testLogger("worker"))
        }
    }

    @Test func tasksGoToSQSAndTheirResultsComeBack() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration, window: 40)
        let tasks = try await p.harness.temp.enqueue(
            try (0..<300).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#($0)}"#)) }
                + [NewTask(kind: "fail", args: try RawJSON(validating: #"{"message":"no"}"#), maxAttempts: 1)]
                + [NewTask(kind: "echo", args: try RawJSON(validating: "[1,2,3]"))])
        let running = p.harness.start([p.resultsRole, p.dispatch, p.worker(id: "w1"), p.worker(id: "w2")])
        var peak = 0
        try await eventually("every task to finish", within: .seconds(120), every: .milliseconds(100)) { () -> Bool? in
            peak = max(peak, p.inFlight.count(queue: "default"))
            let counts = try await p.harness.store.queueCounts().first { $0.name == "default" }
            return (counts?.count(.succeeded) ?? 0) + (counts?.count(.failed) ?? 0) == tasks.count ? true : nil
        }
        // Every message consumed: the work messages deleted, the results applied and deleted.
        try await eventually("the queues to drain", within: .seconds(30), every: .milliseconds(200)) { () -> Bool? in
            try await Moto.depth(p.work) + Moto.depth(p.results) == 0 ? true : nil
        }
        await running.stop()
        #expect(peak <= 40, "the window bounds what is in flight (peak \(peak))")
        for task in tasks {
            let done = try #require(try await p.harness.store.taskGet(task.id))
            if task.kind == "fail" {
                #expect(done.state == .failed && done.lastError?.contains("no") == true, "\(done.lastError ?? "")")
            } else {
                #expect(
                    done.state == .succeeded && done.result == task.args && done.attempt == 1, "\(done.state) \(done.result?.text ?? "")")
            }
        }
        // Each task's result applied once. A refused result can only be a second copy of one
        // (SQS delivers at least once; a send retried after a slow answer is sent twice), and it
        // changed nothing: every task above ended on its first attempt with its own result.
        let stats = p.resultsRole.stats
        #expect(stats.applied == tasks.count, "applied \(stats.applied), refused \(stats.refused)")
        if stats.refused > 0 { print("SQS pipeline: \(stats.refused) duplicate result(s) refused") }
    }

    /// `sqs.createQueues`: none of the queues exists; the node's roles and the worker create
    /// them (the results queue a FIFO one, by its name) and tasks submitted on the ingest
    /// queue run through them.
    @Test func queuesThatDoNotExistAreCreated() async throws {
        guard let configuration = Moto.configuration() else { return }
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let names = (ingest: "made-ingest-\(suffix)", work: "made-work-\(suffix)", results: "made-results-\(suffix).fifo")
        let endpoint = try #require(configuration.endpoint)
        var settings = SQSBrokerConfiguration(
            endpoint: endpoint, region: "us-east-1", ingest: try SQSQueueAddress(queueName: names.ingest),
            dispatch: ["default": try SQSQueueAddress(queueName: names.work)], results: try SQSQueueAddress(queueName: names.results))
        settings.createQueues = true
        let harness = try await BrokerHarness()
        let broker = try SQSBroker(configuration: settings, api: harness.api, credentials: Moto.credentials, logger: testLogger("broker"))
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        let worker = WorkerRuntime(
            source: SQSTaskSource(
                work: try settings.queue(
                    try SQSQueueAddress(queueName: names.work), credentials: Moto.credentials, logger: testLogger("q")),
                results: try settings.queue(
                    try SQSQueueAddress(queueName: names.results), credentials: Moto.credentials, logger: testLogger("q")),
                logger: testLogger("source")),
            registry: registry, configuration: WorkerConfiguration(id: "w1", concurrency: 4, claimWait: .seconds(2)),
            logger: testLogger("worker"))
        let running = harness.start(broker.services + [worker])
        let ingest = try #require(broker.ingest)
        // The ingest's queue exists once its role has started.
        let url = try await eventually("the ingest queue to be created", within: .seconds(30)) { () -> String? in
            try? await Moto.client(configuration).getQueueURL(.init(queueName: names.ingest)).queueURL
        }
        #expect(url.hasSuffix("/\(names.ingest)"))
        try await Moto.send((0..<20).map { #"{"kind":"echo","args":{"n":\#($0)}}"# }, to: ingest.queue)
        try await eventually("every task to succeed", within: .seconds(60), every: .milliseconds(100)) { () -> Bool? in
            let counts = try await harness.store.queueCounts().first { $0.name == "default" }
            return counts?.count(.succeeded) == 20 ? true : nil
        }
        await running.stop()
        let client = try Moto.client(configuration)
        let results = try await client.getQueueAttributes(
            .init(queueURL: try await client.getQueueURL(.init(queueName: names.results)).queueURL, attributeNames: ["FifoQueue"]))
        #expect(results.attributes["FifoQueue"] == "true")

        // A queue named by the URL of another account's queue is not made in this one instead.
        let foreign = try settings.queue(
            try SQSQueueAddress("\(endpoint.absoluteString)/999999999999/\(names.work)"), credentials: Moto.credentials,
            logger: testLogger("q"))
        do {
            _ = try await foreign.queueURL()
            Issue.record("a queue of account 999999999999 was taken for the one CreateQueue made")
        } catch let error as BatonError {
            #expect(error.message.contains("own account") && error.message.contains("999999999999"), "\(error.message)")
        }
    }

    /// `sqs.stringKinds`: a marked kind's work message carries only strings in `params`; a
    /// task of it stored with other arguments (bypassing the submit check, as a schedule's
    /// fire would) fails for good with the reason instead of being sent.
    @Test func aStringKindSendsOnlyStringsAndFailsOtherArgumentsForGood() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration, stringKinds: ["export"])
        let good = try await p.harness.temp.enqueue(NewTask(kind: "export", args: try RawJSON(validating: #"{"objectID":"1"}"#)))
        let bad = try await p.harness.temp.enqueue(NewTask(kind: "export", args: try RawJSON(validating: #"{"objectID":1}"#)))
        let running = p.harness.start([p.dispatch])
        let message = try await eventually("the work message", within: .seconds(30)) { () -> SQS.Message? in
            try await Moto.drain(p.work, attributes: false).first
        }
        let failed = try await eventually("the other task to fail", within: .seconds(30)) { () -> TaskRecord? in
            let t = try await p.harness.store.taskGet(bad.id)
            return t?.state == .failed ? t : nil
        }
        await running.stop()
        let body = try JSONDecoder().decode(JSONValue.self, from: Data(message.body.utf8))
        #expect(body["id"] == .string(SQSWire.messageID(try SQSWire.claimedTask(fromWorkMessage: message.body).lease)))
        #expect(body["params"] == .object(["objectID": .string("1"), "attempt": .string("1")]), "\(message.body)")
        #expect(try SQSWire.claimedTask(fromWorkMessage: message.body).task.id == good.id)
        #expect(failed.attempt == 1 && failed.lastError?.contains(#""objectID" is a number"#) == true, "\(failed.lastError ?? "")")
        #expect(try await Moto.depth(p.work) == 0, "only the string task was sent")
    }

    /// A task that runs longer than its dispatch lease keeps it through heartbeats that go
    /// through SQS only (on the results queue): it is not rescued and succeeds at its first
    /// attempt.
    @Test func heartbeatsThroughTheResultsQueueKeepALongTasksLease() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration, lease: .seconds(4))
        let task = try await p.harness.temp.enqueue(NewTask(kind: "sleep", args: try RawJSON(validating: #"{"seconds":9}"#)))
        let running = p.harness.start([p.resultsRole, p.dispatch, p.worker(id: "w1", lease: .seconds(4))])
        let done = try await eventually("the task to finish", within: .seconds(60), every: .milliseconds(100)) { () -> TaskRecord? in
            let t = try await p.harness.store.taskGet(task.id)
            return t?.state.isTerminal == true ? t : nil
        }
        await running.stop()
        #expect(done.state == .succeeded && done.attempt == 1, "\(done.state) attempt \(done.attempt): \(done.errors)")
        #expect(p.resultsRole.stats.heartbeats >= 2, "\(p.resultsRole.stats)")
    }

    /// A worker's control queue: its heartbeats name it, the node answers there with the leases
    /// it did not extend, and the source reports them as the next heartbeat's outcomes, deletes
    /// their work messages, and drops a result that was still to be sent for one of them. A
    /// stop for a lease the worker does not hold is just deleted.
    @Test func aControlQueueStopsTheTasksTheNodeCancelled() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration)
        let control = try await Moto.createQueue("control", configuration)
        let tasks = try await p.harness.temp.enqueue([NewTask(kind: "echo"), NewTask(kind: "echo")])
        let running = p.harness.start([p.resultsRole, p.dispatch])
        let source = SQSTaskSource(work: p.work, results: p.results, control: control, logger: testLogger("source"))
        let listening = Task { await source.run() }
        var claimed: [ClaimedTask] = []
        try await eventually("both tasks to be received", within: .seconds(30)) { () -> Bool? in
            claimed += try await source.claim(worker: "w", queues: [], kinds: [], max: 10, wait: .seconds(1), lease: .seconds(10))
            return claimed.count == 2 ? true : nil
        }
        let leases = try tasks.map { task in try #require(claimed.first { $0.task.id == task.id }).lease }
        let first = try await source.heartbeat(leases, lease: .seconds(10))
        #expect(first.allSatisfy { if case .extended = $0 { true } else { false } }, "\(first)")
        try await Moto.send(
            [SQSWire.stopMessage([SQSWire.Stop(lease: LeaseRef(id: TaskID.generate(), token: "elsewhere"), outcome: .cancelled)])],
            to: control)
        for task in tasks { _ = try await p.harness.api.cancel(task.id) }
        // The next heartbeat is answered on the control queue, which the source reads.
        let unaware = try await source.heartbeat(leases, lease: .seconds(10))
        #expect(unaware.allSatisfy { if case .extended = $0 { true } else { false } }, "\(unaware)")
        try await eventually("the node to answer", within: .seconds(30)) { p.resultsRole.stats.stops == 1 ? true : nil }
        try await eventually("the control messages to be read and deleted", within: .seconds(30), every: .milliseconds(200)) {
            () -> Bool? in
            try await Moto.depth(control) == 0 ? true : nil
        }
        // The first task's handler finished meanwhile: its result is not sent, its message deleted.
        source.ack(.complete(TaskCompletion(lease: leases[0], result: .null)))
        await source.flush()
        // The second one's is stopped by the runtime on the heartbeat's answer.
        #expect(try await source.heartbeat([leases[1]], lease: .seconds(10)) == [.cancelled])
        try await eventually("the work messages to be deleted", within: .seconds(30), every: .milliseconds(200)) { () -> Bool? in
            try await Moto.depth(p.work) == 0 ? true : nil
        }
        #expect(source.heldCount == 0)
        #expect(try await Moto.depth(p.results) == 0)
        source.stop()
        await listening.value
        await running.stop()
        #expect(
            p.resultsRole.stats.stops == 1 && p.resultsRole.stats.applied == 0 && p.resultsRole.stats.refused == 0, "\(p.resultsRole.stats)"
        )
        // Each claim that received tasks checked them first (nothing was cancelled yet).
        #expect(p.resultsRole.stats.checks >= 1, "\(p.resultsRole.stats)")
        for task in tasks { #expect(try await p.harness.store.taskGet(task.id)?.state == .cancelled) }
    }

    /// A result whose lease token is not the task's current one is refused and its message
    /// deleted; the task is unchanged.
    @Test func aStaleResultIsRefusedAndDeleted() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration)
        let task = try await p.harness.temp.enqueue(NewTask(kind: "echo"))
        let running = p.harness.start([p.resultsRole])
        let stale = TaskAck.complete(TaskCompletion(lease: LeaseRef(id: task.id, token: "forged"), result: .null))
        try await Moto.send([SQSWire.resultMessage(stale, attempt: 1)], to: p.results)
        try await eventually("the result to be refused", within: .seconds(30)) { p.resultsRole.stats.refused == 1 ? true : nil }
        try await eventually("its message to be deleted", within: .seconds(30), every: .milliseconds(200)) { () -> Bool? in
            try await Moto.depth(p.results) == 0 ? true : nil
        }
        await running.stop()
        #expect(try await p.harness.store.taskGet(task.id)?.state == .ready)
    }

    /// A work message lost on the way (deleted before any worker saw it) is sent again once
    /// its lease ran out: the rescuer returns the task to `ready`, the dispatch claims it again.
    @Test func aLostMessageIsSentAgainAfterItsLease() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration, lease: .seconds(2))
        let task = try await p.harness.temp.enqueue(NewTask(kind: "echo", args: try RawJSON(validating: #"{"lost":true}"#)))
        let running = p.harness.start([p.resultsRole, p.dispatch])
        // The first message disappears (as if SQS lost it).
        let first = try await eventually("the first work message", within: .seconds(30)) { () -> SQS.Message? in
            try await Moto.drain(p.work, attributes: false).first
        }
        let firstTask = try SQSWire.claimedTask(fromWorkMessage: first.body)
        #expect(firstTask.task.id == task.id && firstTask.task.attempt == 1)
        // Answer what is sent again (on a loaded machine a short lease may run out again before
        // the answer arrives: then the next message is answered) until the task succeeds.
        var answered: [ClaimedTask] = []
        try await eventually("the task to succeed", within: .seconds(60), every: .milliseconds(200)) { () -> Bool? in
            for message in try await Moto.drain(p.work, attributes: false) {
                let claimed = try SQSWire.claimedTask(fromWorkMessage: message.body)
                answered.append(claimed)
                try await Moto.send(
                    [SQSWire.resultMessage(.complete(TaskCompletion(lease: claimed.lease, result: claimed.task.args)), attempt: 2)],
                    to: p.results)
            }
            return try await p.harness.store.taskGet(task.id)?.state == .succeeded ? true : nil
        }
        #expect(!answered.isEmpty && answered.allSatisfy { $0.task.id == task.id && $0.leaseToken != firstTask.leaseToken })
        #expect(answered.allSatisfy { $0.task.attempt >= 2 })
        // A late answer to the lost message is refused by its lease token.
        let refusedBefore = p.resultsRole.stats.refused
        try await Moto.send(
            [SQSWire.resultMessage(.complete(TaskCompletion(lease: firstTask.lease, result: .null)), attempt: 1)], to: p.results)
        try await eventually("the late answer to be refused", within: .seconds(30)) {
            p.resultsRole.stats.refused > refusedBefore ? true : nil
        }
        await running.stop()
        let done = try #require(try await p.harness.store.taskGet(task.id))
        #expect(done.state == .succeeded && done.result?.text == #"{"lost":true}"#)
    }

    /// A dependent run by a worker that reaches only SQS gets its parents' results with its
    /// work message (`baton.parent_results`): `pass: prepend` works, and so do several
    /// parents, in the order the dependent listed them, also when they take most of the
    /// message (two of 100 KB). Parents' results too large to travel with it (three of 100 KB:
    /// more than SQS's 256 KiB) fail the dependent with the reason, instead of hanging.
    @Test func aDependentGetsItsParentsResultsWithItsWorkMessage() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration)
        let big = String(repeating: "x", count: 100_000)
        let first = try await p.harness.temp.enqueue(NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":1}"#)))
        let second = try await p.harness.temp.enqueue(NewTask(kind: "echo", args: try RawJSON(validating: #"["two"]"#)))
        var large: [TaskRecord] = []
        for n in 0..<3 {
            large.append(try await p.harness.temp.enqueue(NewTask(kind: "echo", args: try RawJSON(validating: #"{"big\#(n)":"\#(big)"}"#))))
        }
        let dependent = try await p.harness.temp.enqueue(
            NewTask(
                kind: "echo", args: try RawJSON(validating: "[0]"), after: [.init(parent: second.id), .init(parent: first.id)],
                pass: .prepend))
        let roomy = try await p.harness.temp.enqueue(
            NewTask(kind: "echo", args: try RawJSON(validating: "[]"), after: large.prefix(2).map { .init(parent: $0.id) }, pass: .prepend))
        let starved = try await p.harness.temp.enqueue(
            NewTask(
                kind: "echo", args: try RawJSON(validating: "[]"), maxAttempts: 1, after: large.map { .init(parent: $0.id) }, pass: .prepend
            ))
        let running = p.harness.start([p.resultsRole, p.dispatch, p.worker(id: "w1")])
        let (done, full, failed) = try await eventually("the dependents to end", within: .seconds(60), every: .milliseconds(100)) {
            () -> (TaskRecord, TaskRecord, TaskRecord)? in
            guard let done = try await p.harness.store.taskGet(dependent.id), done.state == .succeeded,
                let full = try await p.harness.store.taskGet(roomy.id), full.state.isTerminal,
                let failed = try await p.harness.store.taskGet(starved.id), failed.state == .failed
            else { return nil }
            return (done, full, failed)
        }
        await running.stop()
        #expect(done.result?.text == #"[["two"],{"n":1},0]"#, "\(done.result?.text ?? "")")
        #expect(full.state == .succeeded, "\(full.lastError ?? "")")
        #expect(
            full.result?.text == #"[{"big0":"\#(big)"},{"big1":"\#(big)"}]"#, "two parents of 100 KB each came with the work message")
        #expect(failed.lastError?.contains("did not come with its SQS work message") == true, "\(failed.lastError ?? "")")
    }

    /// A handler on a worker that reaches only SQS extends its workflow: its follow-up tasks
    /// travel with its result (`baton.follow_ups`) and are stored with its completion; each
    /// stage reads the one before through its work message.
    @Test func followUpsTravelWithTheResultAndAreStoredWithTheCompletion() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration)
        let first = try await p.harness.temp.enqueue(NewTask(kind: "stage", args: RawJSON(.int(1))))
        let worker = p.worker(id: "w1") { registry in
            registry.register("stage") { (n: Int, context: TaskContext) -> Int in
                let before = try await context.parents().first?.result?.text
                if n < 3 {
                    context.followUp(NewTask(kind: "stage", args: RawJSON(.int(Int64(n + 1))), after: [.init(parent: context.taskID)]))
                }
                return n * 10 + (before.flatMap { Int($0) } ?? 0) / 10
            }
        }
        let running = p.harness.start([p.resultsRole, p.dispatch, worker])
        let stages = try await eventually("three stages to succeed", within: .seconds(60), every: .milliseconds(100)) {
            () -> [TaskRecord]? in
            let page = try await p.harness.store.taskList(TaskListParams(kind: "stage", limit: 10))
            return page.tasks.count == 3 && page.tasks.allSatisfy { $0.state == .succeeded } ? page.tasks : nil
        }
        await running.stop()
        let byArgs = Dictionary(uniqueKeysWithValues: stages.map { ($0.args.text, $0) })
        #expect(byArgs["1"]?.id == first.id)
        // Stage n returns 10n plus the stage before's result / 10: 10, 21, 32.
        #expect(["1", "2", "3"].map { byArgs[$0]?.result?.text } == ["10", "21", "32"])
        #expect(byArgs["2"]?.parentCount == 1 && byArgs["3"]?.parentCount == 1)
        #expect(p.resultsRole.stats.rejected == 0)
    }

    /// A worker that reaches only SQS announces itself on the results queue: the node lists it
    /// (transport `sqs`, its queues and kinds) and applies the retry policy its kind declared
    /// (a fixed hour), not Baton's default backoff of seconds.
    @Test func anSQSOnlyWorkerIsListedAndItsKindsRetryPolicyApplies() async throws {
        struct NotYet: Error {}
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration)
        let worker = p.worker(id: "sqs-only", concurrency: 3) { registry in
            registry.register("flaky", retry: .fixed(.seconds(3600))) { (_: JSONValue, _: TaskContext) -> Int in
                throw NotYet()
            }
        }
        let running = p.harness.start([p.resultsRole, p.dispatch, worker])
        let listed = try await eventually("the worker to be listed", within: .seconds(30), every: .milliseconds(100)) {
            () -> WorkerInfo? in try await p.harness.api.workers().workers.first { $0.worker == "sqs-only" }
        }
        #expect(listed.transport == "sqs" && listed.queues == ["default"] && listed.concurrency == 3, "\(listed)")
        #expect(listed.kinds.first { $0.name == "flaky" }?.retry == .fixed(.seconds(3600)), "\(listed.kinds)")
        let task = try await p.harness.temp.enqueue(NewTask(kind: "flaky", maxAttempts: 3))
        let retrying = try await eventually("the task to back off", within: .seconds(30), every: .milliseconds(100)) {
            () -> TaskRecord? in
            let t = try await p.harness.store.taskGet(task.id)
            return t?.state == .pending && t?.lastError != nil ? t : nil
        }
        await running.stop()
        let wait = retrying.runAt.timeIntervalSinceNow
        #expect(wait > 3000 && wait <= 3600, "backs off by the worker's policy, not the default: \(wait) s")
        #expect(p.resultsRole.stats.announcements >= 1 && p.resultsRole.stats.rejected == 0, "\(p.resultsRole.stats)")
    }

    /// FIFO queues (names ending in `.fifo`) both ways: every message gets a group and a
    /// deduplication id (SQS refuses one without them), and the tasks run as on standard
    /// queues, heartbeats and announcements included.
    @Test func fifoQueuesCarryTasksAndResults() async throws {
        guard let configuration = Moto.configuration() else { return }
        let p = try await Pipeline(configuration, window: 20, fifo: true)
        #expect(SQSClient.isFIFO(try await p.work.queueURL()) && !SQSClient.isFIFO("https://sqs.x/1/q-fifo"))
        let tasks = try await p.harness.temp.enqueue(
            try (0..<60).map { NewTask(kind: "echo", args: try RawJSON(validating: #"{"n":\#($0)}"#)) })
        let running = p.harness.start([p.resultsRole, p.dispatch, p.worker(id: "w1"), p.worker(id: "w2")])
        try await eventually("every task to succeed", within: .seconds(60), every: .milliseconds(100)) { () -> Bool? in
            let counts = try await p.harness.store.queueCounts().first { $0.name == "default" }
            return counts?.count(.succeeded) == tasks.count ? true : nil
        }
        let listed = try await eventually("both workers listed", within: .seconds(10)) { () -> [WorkerInfo]? in
            let workers = try await p.harness.api.workers().workers.filter { $0.transport == "sqs" }
            return workers.count == 2 ? workers : nil
        }
        await running.stop()
        #expect(Set(listed.map(\.worker)) == ["w1", "w2"])
        for task in tasks {
            let done = try #require(try await p.harness.store.taskGet(task.id))
            #expect(done.state == .succeeded && done.result == task.args && done.attempt == 1)
        }
        #expect(p.resultsRole.stats.applied == tasks.count && p.resultsRole.stats.rejected == 0, "\(p.resultsRole.stats)")
    }
}
