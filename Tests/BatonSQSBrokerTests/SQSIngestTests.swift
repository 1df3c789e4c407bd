import BatonCore
import BatonNode
import BatonSQS
import BatonSQSBroker
import BatonTesting
import Foundation
import Testing

/// The ingest role against moto (`scripts/with-moto.sh`): seed 000's submitter on Baton.
@Suite("SQS ingest against moto", .serialized)
struct SQSIngestTests {
    /// Seed 000's `make test`: `submit:export` notifications with string params.
    static func seed000Message(_ n: Int) -> String {
        #"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"\#(n)"}}"#
    }

    /// 2,000 messages fed a few hundred at a time (moto slows down with depth) become 2,000
    /// tasks, each exactly once, although every 97th message is delivered again after its
    /// tasks committed (its delete skipped, as if the node had stopped between the two).
    @Test func twoThousandSeed000MessagesBecomeTwoThousandTasksExactlyOnce() async throws {
        guard let configuration = Moto.configuration() else { return }
        let submissions = try await Moto.createQueue("submit", configuration)
        let harness = try await BrokerHarness()
        let ingest = SQSIngest(
            api: harness.api, queue: submissions, deadLetter: nil, faults: .init(skipDeleteEvery: 97), logger: testLogger("ingest"))
        let running = harness.start([ingest])
        let clock = ContinuousClock()
        let start = clock.now
        let total = 2000
        for first in stride(from: 0, to: total, by: 250) {
            // Keep the queue shallow: wait until most of what was sent is taken.
            try await eventually("the ingest to catch up", within: .seconds(120), every: .milliseconds(50)) { () -> Bool? in
                ingest.stats.submitted >= first - 50 ? true : nil
            }
            try await Moto.send((first..<min(first + 250, total)).map(Self.seed000Message), to: submissions)
        }
        try await eventually("every message to be taken and deleted", within: .seconds(180), every: .milliseconds(200)) { () -> Bool? in
            let stats = ingest.stats
            guard stats.submitted >= total + stats.skippedDeletes else { return nil }
            return try await Moto.depth(submissions) == 0 ? true : nil
        }
        let elapsed = clock.now - start
        await running.stop()

        let stats = ingest.stats
        #expect(stats.skippedDeletes >= 10, "messages delivered again on purpose: \(stats.skippedDeletes)")
        #expect(stats.redelivered >= stats.skippedDeletes, "\(stats)")
        #expect(stats.rejected == 0 && stats.retried == 0, "\(stats)")
        let tasks = try await harness.allTasks()
        #expect(tasks.count == total)
        #expect(tasks.allSatisfy { $0.kind == "export" && $0.queue == "default" && $0.state == .ready })
        let ids = tasks.compactMap { try? $0.args.parsed()["objectID"]?.stringValue }.compactMap { Int($0) }
        #expect(ids.sorted() == Array(0..<total), "each objectID exactly once")
        print("SQS ingest: \(total) messages (\(stats.skippedDeletes) delivered twice) → \(tasks.count) tasks in \(elapsed)")
    }

    /// Each kind of unreadable message ends in the dead-letter queue with its reason, as a
    /// message attribute and in the log; the good one beside them becomes a task.
    @Test func malformedMessagesGoToTheDeadLetterQueueWithTheReasonLogged() async throws {
        guard let configuration = Moto.configuration() else { return }
        let submissions = try await Moto.createQueue("submit", configuration)
        let deadLetter = try await Moto.createQueue("dlq", configuration)
        let harness = try await BrokerHarness(limits: NodeAPILimits(maxArgsBytes: 2048))
        let logs = CapturedLogs()
        let ingest = SQSIngest(api: harness.api, queue: submissions, deadLetter: deadLetter, logger: logs.logger())
        let bad: [(body: String, reason: String)] = [
            ("this is not JSON", "malformed JSON"),
            (#"{"jsonrpc":"2.0","method":"export","params":{"objectID":"1"}}"#, "not submit:KIND"),
            (#"{"jsonrpc":"2.0","method":"submit:bad kind!"}"#, "may contain only"),
            ("[]", "empty batch"),
            (#"{"kind":"echo","surprise":true}"#, "unknown field 'surprise'"),
            (
                #"{"jsonrpc":"2.0","method":"submit:export","params":{"blob":"\#(String(repeating: "x", count: 4000))"}}"#,
                "more than the limit"
            ),
        ]
        try await Moto.send(bad.map(\.body) + [Self.seed000Message(7)], to: submissions)
        let running = harness.start([ingest])
        try await eventually("every message to be handled", within: .seconds(60), every: .milliseconds(100)) { () -> Bool? in
            ingest.stats.submitted == 1 && ingest.stats.rejected == bad.count ? true : nil
        }
        try await eventually("the submissions queue to be empty", within: .seconds(30), every: .milliseconds(200)) { () -> Bool? in
            try await Moto.depth(submissions) == 0 ? true : nil
        }
        await running.stop()

        let dead = try await Moto.drain(deadLetter)
        #expect(dead.count == bad.count)
        for (body, reason) in bad {
            let message = dead.first { $0.body == body }
            #expect(message != nil, "\(body.prefix(60)) in the dead-letter queue")
            #expect(message?.messageAttributes["baton-reason"]?.stringValue?.contains(reason) == true, "\(reason)")
            #expect(message?.messageAttributes["baton-source"]?.stringValue == submissions.address.description)
            #expect(logs.all.contains { $0.contains("dead-letter") && $0.contains(reason) }, "the log says \(reason)")
        }
        let tasks = try await harness.allTasks()
        #expect(tasks.map(\.args.text) == [#"{"objectID":"7"}"#])
    }

    /// A Machinery producer whose SQS broker URL names the ingest queue's account: its chain
    /// (one message, the steps nested in `OnSuccess`) becomes one workflow under the signatures'
    /// UUIDs; a group member joins the workflow its group's UUID names; a chord's members, one message each (as
    /// Machinery's `SendChord` sends them), join one workflow, whose callback is stored once
    /// both are; a member whose callback has no shareable UUID goes to the dead-letter queue
    /// with the reason.
    @Test func machinerySignaturesAsItsSQSBrokerSendsThemBecomeWorkflows() async throws {
        guard let configuration = Moto.configuration() else { return }
        let submissions = try await Moto.createQueue("machinery_tasks", configuration)
        let deadLetter = try await Moto.createQueue("dlq", configuration)
        let harness = try await BrokerHarness()
        let ingest = SQSIngest(api: harness.api, queue: submissions, deadLetter: deadLetter, logger: testLogger("ingest"))
        let uuids = (0..<8).map { _ in UUID().uuidString.lowercased() }
        func signature(
            _ n: Int, _ name: String, args: [Int], onSuccess: [String] = [], group: String = "", count: Int = 0,
            chordCallback: String = "null"
        ) -> String {
            goSignature(
                "task_\(uuids[n])", name, args: args, routingKey: "machinery_tasks", onSuccess: onSuccess, chordCallback: chordCallback,
                groupUUID: group, groupTaskCount: count)
        }
        let chain = signature(
            0, "add", args: [1, 1], onSuccess: [signature(1, "add", args: [5, 5], onSuccess: [signature(2, "multiply", args: [4])])])
        let groupMember = signature(3, "add", args: [3, 3], group: "group_\(uuids[3])", count: 2)
        let callback = goSignature("chord_\(uuids[5])", "multiply", routingKey: "machinery_tasks")
        let chordMembers = [4, 6].map { signature($0, "add", args: [2, 2], group: "group_\(uuids[7])", count: 2, chordCallback: callback) }
        let unjoinable = signature(
            7, "add", args: [1], group: "group_\(uuids[7])", count: 2, chordCallback: goSignature("callback", "multiply"))
        try await Moto.send([chain, groupMember] + chordMembers + [unjoinable], to: submissions)
        let running = harness.start([ingest])
        try await eventually("every message to be handled", within: .seconds(60), every: .milliseconds(100)) { () -> Bool? in
            ingest.stats.submitted == 4 && ingest.stats.rejected == 1 ? true : nil
        }
        await running.stop()

        let tasks = try await harness.allTasks()
        #expect(tasks.count == 7)
        let byID = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id.description, $0) })
        let steps = uuids[0...2].map { byID[$0] }
        #expect(steps.map { $0?.kind } == ["add", "add", "multiply"], "the chain's steps under their Machinery UUIDs")
        #expect(steps.map { $0?.state } == [.ready, .waiting, .waiting])
        #expect(steps.allSatisfy { $0?.queue == "machinery_tasks" && $0?.workflowID == steps[0]?.workflowID })
        #expect(steps[0]?.args.text == #"[{"Type":"int64","Value":1},{"Type":"int64","Value":1}]"#)
        #expect(byID[uuids[3]]?.state == .ready && byID[uuids[3]]?.workflowID == TaskID(uuids[3]), "the group member, in its group")
        let chord = try await harness.api.workflow(try #require(TaskID(uuids[7])))
        #expect(chord.name == "group_\(uuids[7])" && chord.nodes.count == 3)
        #expect(Set(chord.nodes.map(\.id.description)) == Set([uuids[4], uuids[6], uuids[5]]))
        #expect(byID[uuids[5]]?.state == .waiting && byID[uuids[5]]?.parentCount == 2, "the callback waits for both members")
        let state = try await harness.api.machineryState("task_\(uuids[2])")
        #expect(state.state == "PENDING" && state.taskName == "multiply")
        #expect(try await harness.api.machineryState("chord_\(uuids[5])").taskName == "multiply")

        let dead = try await Moto.drain(deadLetter)
        #expect(dead.map(\.body) == [unjoinable])
        #expect(
            dead.first?.messageAttributes["baton-reason"]?.stringValue?.contains("ChordCallback whose UUID every member shares") == true)
    }

    /// Without a dead-letter queue, an unreadable message stays in its queue (SQS's redrive
    /// policy moves it after its receives run out), with the reason logged.
    @Test func withoutADeadLetterQueueTheMessageStaysForTheRedrivePolicy() async throws {
        guard let configuration = Moto.configuration() else { return }
        let submissions = try await Moto.createQueue("submit", configuration, visibility: 60)
        let harness = try await BrokerHarness()
        let logs = CapturedLogs()
        let ingest = SQSIngest(api: harness.api, queue: submissions, deadLetter: nil, logger: logs.logger())
        try await Moto.send(["{oops"], to: submissions)
        let running = harness.start([ingest])
        try await eventually("the message to be refused", within: .seconds(30)) { ingest.stats.rejected == 1 ? true : nil }
        await running.stop()
        #expect(try await Moto.depth(submissions) == 1, "still in its queue (in flight until its visibility timeout)")
        #expect(logs.all.contains { $0.contains("redrive policy") && $0.contains("malformed JSON") })
    }
}
