import BatonCore
import Foundation
import Testing

@testable import BatonSQSBroker

/// Seed 000's message forms as Baton writes and reads them (no SQS needed).
@Suite struct SQSWireTests {
    static let lease = LeaseRef(id: TaskID.generate(), token: "0b6f5a2e-54a3-4c0e-9f55-0f1d0c3a7b11.42")

    static func claimed(args: String, kind: String = "export", attempt: Int = 2) throws -> ClaimedTask {
        let task = TaskRecord(
            id: lease.id, kind: kind, queue: "mail", args: try RawJSON(validating: args), priority: 7, state: .running, attempt: attempt,
            maxAttempts: 10, runAt: Date(), timeout: 12.5, createdAt: Date())
        return ClaimedTask(task: task, leaseToken: lease.token)
    }

    static func object(_ text: String) throws -> [String: JSONValue] {
        guard case .object(let members) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            Issue.record("not an object: \(text)")
            return [:]
        }
        return members
    }

    @Test func theIDCarriesTaskIDAndLeaseToken() {
        let text = SQSWire.messageID(Self.lease)
        #expect(text == "\(Self.lease.id):\(Self.lease.token)")
        #expect(SQSWire.lease(fromID: text) == Self.lease)
        #expect(SQSWire.lease(fromID: "\(Self.lease.id):") == nil)
        #expect(SQSWire.lease(fromID: "42") == nil)
        #expect(SQSWire.lease(fromID: "not-a-uuid-at-all-but-36-characters:tok") == nil)
    }

    /// Seed 000's Go worker reads `id` and every param as strings: Baton sends strings.
    @Test func aWorkMessageIsSeed000sRequestWithStringIDAndAttempt() throws {
        let body = SQSWire.workMessage(try Self.claimed(args: #"{"objectID":"23"}"#))
        let members = try Self.object(body)
        #expect(members["jsonrpc"] == .string("2.0"))
        #expect(members["method"] == .string("export"))
        #expect(members["id"] == .string(SQSWire.messageID(Self.lease)))
        #expect(members["params"] == .object(["objectID": .string("23"), "attempt": .string("2")]))
        #expect(members["baton"]?["queue"] == .string("mail"))
        #expect(members["baton"]?["args"] == nil, "object arguments travel in params only")

        let back = try SQSWire.claimedTask(fromWorkMessage: body)
        #expect(back.lease == Self.lease)
        #expect(back.task.kind == "export" && back.task.queue == "mail" && back.task.attempt == 2)
        #expect(back.task.maxAttempts == 10 && back.task.priority == 7 && back.task.timeout == 12.5)
        #expect(back.task.args.text == #"{"objectID":"23"}"#)
    }

    /// A workflow dependent carries its number of parents and how it takes their results, so
    /// that a worker reporting over HTTP reads them before its handler runs.
    @Test func aDependentCarriesItsParentsAndPass() throws {
        var claimed = try Self.claimed(args: #"["mine"]"#)
        claimed.task.parentCount = 2
        claimed.task.pass = .prependItems
        let body = SQSWire.workMessage(claimed)
        #expect(try Self.object(body)["baton"]?["parents"] == .int(2))
        #expect(try Self.object(body)["baton"]?["pass"] == .string("prepend_items"))
        let back = try SQSWire.claimedTask(fromWorkMessage: body)
        #expect(back.task.parentCount == 2 && back.task.pass == .prependItems && back.task.args == claimed.task.args)
        let plain = try SQSWire.claimedTask(fromWorkMessage: SQSWire.workMessage(try Self.claimed(args: "{}")))
        #expect(plain.task.parentCount == nil && plain.task.pass == nil)
        #expect(throws: BatonError.self) {
            try SQSWire.claimedTask(fromWorkMessage: body.replacingOccurrences(of: #""prepend_items""#, with: #""sideways""#))
        }
    }

    @Test(arguments: [#"[1,2,3]"#, #"{"attempt":5,"x":1}"#, #""text""#, "{}", #"{"nested":{"attempt":1}}"#])
    func argumentsThatAreNotAPlainObjectTravelWhole(_ args: String) throws {
        let claimed = try Self.claimed(args: args)
        let body = SQSWire.workMessage(claimed)
        let back = try SQSWire.claimedTask(fromWorkMessage: body)
        #expect(back.task.args == claimed.task.args, "\(body)")
        #expect(try Self.object(body)["params"]?["attempt"] == .string("2"))
    }

    @Test func aWorkMessageBatonCannotReadIsRefusedWithItsReason() {
        for (body, reason) in [
            ("nope", "JSON"), (#"{"jsonrpc":"2.0","method":"export","params":{},"id":"7"}"#, "lease token"),
            (#"{"jsonrpc":"2.0","params":{},"id":"7"}"#, "method"),
        ] {
            #expect(throws: BatonError.self) { try SQSWire.claimedTask(fromWorkMessage: body) }
            do {
                _ = try SQSWire.claimedTask(fromWorkMessage: body)
            } catch {
                #expect(error.message.contains(reason), "\(error.message)")
            }
        }
    }

    @Test func resultsRoundTrip() throws {
        let complete = TaskAck.complete(TaskCompletion(lease: Self.lease, result: try RawJSON(validating: #"{"exported":"23"}"#)))
        let body = SQSWire.resultMessage(complete, attempt: 3)
        #expect(try Self.object(body)["result"] == .object(["exported": .string("23"), "attempt": .string("3")]))
        #expect(try SQSWire.resultsMessage(body) == .acks([complete]))

        let array = TaskAck.complete(TaskCompletion(lease: Self.lease, result: try RawJSON(validating: "[1,2]")))
        #expect(try SQSWire.resultsMessage(SQSWire.resultMessage(array, attempt: 1)) == .acks([array]))

        let fail = TaskAck.fail(TaskFailure(lease: Self.lease, message: "disk full", retryable: false, retryAfter: .seconds(3)))
        let failBody = SQSWire.resultMessage(fail, attempt: 1)
        #expect(try Self.object(failBody)["error"]?["code"] == .string(SQSWire.permanentErrorCode))
        guard case .acks(let acks) = try SQSWire.resultsMessage(failBody), case .fail(let f)? = acks.first else {
            Issue.record("not a failure")
            return
        }
        #expect(f.lease == Self.lease && !f.retryable && f.retryAfter == .seconds(3) && f.message.hasPrefix("disk full"))
    }

    /// What seed 000's own worker sends: numbers or strings, no `baton` member.
    @Test func seed000ResponsesAreAccepted() throws {
        let id = SQSWire.messageID(Self.lease)
        let ok = #"{"jsonrpc":"2.0","result":{"result":"success","attempt":1},"id":"\#(id)"}"#
        #expect(
            try SQSWire.resultsMessage(ok)
                == .acks([.complete(TaskCompletion(lease: Self.lease, result: RawJSON(trusted: #"{"result":"success"}"#)))]))
        let bad = #"{"jsonrpc":"2.0","error":{"code":"-1234","message":"something bad happened","attempt":"1"},"id":"\#(id)"}"#
        #expect(
            try SQSWire.resultsMessage(bad)
                == .acks([.fail(TaskFailure(lease: Self.lease, message: "something bad happened (code -1234)", retryable: true))]))
        // A batch of responses.
        guard case .acks(let two) = try SQSWire.resultsMessage("[\(ok),\(bad)]") else {
            Issue.record("not acks")
            return
        }
        #expect(two.count == 2)
        // A numeric id cannot carry a lease.
        #expect(throws: BatonError.self) { try SQSWire.resultsMessage(#"{"jsonrpc":"2.0","result":{},"id":1}"#) }
    }

    @Test func heartbeatsRoundTrip() throws {
        let other = LeaseRef(id: TaskID.generate(), token: "t2")
        let body = SQSWire.heartbeatMessage([Self.lease, other], lease: .seconds(30))
        #expect(try Self.object(body)["params"]?["reply_to"] == nil, "no reply_to unless asked: \(body)")
        #expect(try SQSWire.resultsMessage(body) == .heartbeat([Self.lease, other], lease: .seconds(30), replyTo: nil))
    }

    /// A worker with a control queue names it in `reply_to`; an old heartbeat has none.
    @Test func aHeartbeatNamesTheControlQueue() throws {
        let control = "http://127.0.0.1:5000/123456789012/baton-control"
        let body = SQSWire.heartbeatMessage([Self.lease], lease: .seconds(3), replyTo: control)
        let members = try Self.object(body)
        #expect(members["method"] == .string("baton.heartbeat"))
        #expect(members["params"]?["reply_to"] == .string(control))
        #expect(members["params"]?["lease_ms"] == .int(3000))
        #expect(try SQSWire.resultsMessage(body) == .heartbeat([Self.lease], lease: .seconds(3), replyTo: control))
        let old = #"{"jsonrpc":"2.0","method":"baton.heartbeat","params":{"leases":["\#(SQSWire.messageID(Self.lease))"]}}"#
        #expect(try SQSWire.resultsMessage(old) == .heartbeat([Self.lease], lease: nil, replyTo: nil))
    }

    /// A worker's check of the tasks it just received: the heartbeat names it, the node's
    /// answer repeats it, with no lease when it extended them all.
    @Test func aCheckIsNamedByTheHeartbeatAndRepeatedByTheAnswer() throws {
        let control = "http://127.0.0.1:5000/123456789012/baton-control"
        let body = SQSWire.heartbeatMessage([Self.lease], lease: .seconds(9), replyTo: control, check: "c-1")
        #expect(try Self.object(body)["params"]?["check"] == .string("c-1"))
        #expect(try SQSWire.resultsMessage(body) == .heartbeat([Self.lease], lease: .seconds(9), replyTo: control, check: "c-1"))
        let none = SQSWire.stopMessage([], check: "c-1")
        #expect(try SQSWire.controlMessage(none) == SQSWire.ControlMessage(stops: [], check: "c-1"), "\(none)")
        let one = SQSWire.stopMessage([SQSWire.Stop(lease: Self.lease, outcome: .cancelled)], check: "c-2")
        #expect(
            try SQSWire.controlMessage(one) == SQSWire.ControlMessage(stops: [.init(lease: Self.lease, outcome: .cancelled)], check: "c-2"))
        #expect(try SQSWire.controlMessage(SQSWire.stopMessage([])).check == nil)
        for bad in [#""check":7"#, #""check":"""#, #""check":"\#(String(repeating: "x", count: 81))""#] {
            let heartbeat = #"{"jsonrpc":"2.0","method":"baton.heartbeat","params":{"leases":[],\#(bad)}}"#
            #expect(throws: BatonError.invalidArgument("params.check must be a string of 1 to 80 characters")) {
                try SQSWire.resultsMessage(heartbeat)
            }
            let stop = #"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[],\#(bad)}}"#
            #expect(throws: BatonError.invalidArgument("params.check must be a string of 1 to 80 characters")) {
                try SQSWire.controlMessage(stop)
            }
        }
    }

    @Test(arguments: [
        (#""reply_to":7"#, "must be a string"), (#""reply_to":"sqs://control""#, "URL of an SQS queue"),
        (#""reply_to":"http://127.0.0.1:5000/control""#, "URL of an SQS queue"), (#""reply_to":"ftp://h/1/q""#, "URL of an SQS queue"),
    ])
    func aBadReplyToIsRefusedWithTheReason(_ member: String, _ reason: String) {
        let body = #"{"jsonrpc":"2.0","method":"baton.heartbeat","params":{"leases":["\#(SQSWire.messageID(Self.lease))"],\#(member)}}"#
        do {
            _ = try SQSWire.resultsMessage(body)
            Issue.record("\(body) was accepted")
        } catch {
            #expect(error.message.contains("params.reply_to") && error.message.contains(reason), "\(error.message)")
        }
    }

    /// A worker's announcement travels whole, retry policies too; one the node would refuse
    /// over HTTP is refused here with the same reason.
    @Test func announcementsRoundTripAndAreValidated() throws {
        let announcement = WorkerAnnouncement(
            worker: "w1", queues: ["default", "bulk"], kinds: [KindAnnouncement(name: "k", retry: .fixed(.seconds(90)))],
            concurrency: 4, running: 2, version: "baton/test")
        let body = try SQSWire.announceMessage(announcement)
        #expect(try SQSWire.resultsMessage(body) == .announce(announcement), "\(body)")
        for (bad, reason) in [
            (
                #"{"jsonrpc":"2.0","method":"baton.announce","params":{"worker":"w","queues":[],"kinds":[],"concurrency":1,"running":0}}"#,
                "queues"
            ),
            (#"{"jsonrpc":"2.0","method":"baton.announce","params":["w"]}"#, "announcement"),
            (#"{"jsonrpc":"2.0","method":"baton.announce","params":{"worker":"w"}}"#, "announcement"),
            (#"{"jsonrpc":"2.0","method":"baton.hello","params":{}}"#, "baton.announce"),
        ] {
            #expect(throws: BatonError.self, "\(bad)") { try SQSWire.resultsMessage(bad) }
            do {
                _ = try SQSWire.resultsMessage(bad)
            } catch {
                #expect(error.message.contains(reason), "\(error.message)")
            }
        }
    }

    /// The node's answer on a control queue: the leases it did not extend, with why.
    @Test func stopMessagesRoundTrip() throws {
        let rescued = LeaseRef(id: TaskID.generate(), token: "t2")
        let gone = LeaseRef(id: TaskID.generate(), token: "t3")
        let stops = [
            SQSWire.Stop(lease: Self.lease, outcome: .cancelled), SQSWire.Stop(lease: rescued, outcome: .lost),
            SQSWire.Stop(lease: gone, outcome: .notFound),
        ]
        let body = SQSWire.stopMessage(stops)
        #expect(
            body
                == #"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[{"id":"\#(SQSWire.messageID(Self.lease))","reason":"cancelled"},"#
                + #"{"id":"\#(SQSWire.messageID(rescued))","reason":"lost"},{"id":"\#(SQSWire.messageID(gone))","reason":"not_found"}]}}"#)
        #expect(try SQSWire.stops(fromControlMessage: body) == stops)
        // A reason a newer node may add reads as lost: the lease is not the task's.
        let newer = #"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[{"id":"\#(SQSWire.messageID(gone))","reason":"moved"}]}}"#
        #expect(try SQSWire.stops(fromControlMessage: newer) == [SQSWire.Stop(lease: gone, outcome: .lost)])
        #expect(try SQSWire.stops(fromControlMessage: #"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[]}}"#).isEmpty)
    }

    @Test(arguments: [
        ("not json", "JSON"), (#"{"jsonrpc":"2.0","method":"baton.heartbeat","params":{"leases":[]}}"#, "baton.stop"),
        (#"{"method":"baton.stop","params":{"leases":[]}}"#, "JSON-RPC 2.0"),
        (#"{"jsonrpc":"2.0","method":"baton.stop","params":{}}"#, "params.leases must be an array"),
        (#"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[{"id":"42","reason":"cancelled"}]}}"#, "params.leases[0].id"),
        (#"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":["x"]}}"#, "params.leases[0].id"),
    ])
    func malformedStopMessagesAreRefusedWithTheReason(_ body: String, _ reason: String) {
        do {
            _ = try SQSWire.stops(fromControlMessage: body)
            Issue.record("\(body) was accepted")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func aStopMessageNeedsAReasonThatStops() {
        let id = SQSWire.messageID(Self.lease)
        for (item, reason) in [
            (#"{"id":"\#(id)"}"#, "reason must be a string"), (#"{"id":"\#(id)","reason":"extended"}"#, "does not stop"),
        ] {
            let body = #"{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[\#(item)]}}"#
            #expect(throws: BatonError.self) { try SQSWire.stops(fromControlMessage: body) }
            do {
                _ = try SQSWire.stops(fromControlMessage: body)
            } catch {
                #expect(error.message.contains(reason), "\(error.message)")
            }
        }
    }

    @Test func submissionsInEveryAcceptedForm() throws {
        let one = try BrokerSubmission.tasks(#"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"23"}}"#)
        #expect(one.map(\.kind) == ["export"] && one[0].args.text == #"{"objectID":"23"}"# && one[0].queue == "default")
        let batch = try BrokerSubmission.tasks(
            #"[{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"1"}},{"jsonrpc":"2.0","method":"submit:noop"}]"#)
        #expect(batch.map(\.kind) == ["export", "noop"] && batch[1].args == .emptyObject)
        let task = try BrokerSubmission.tasks(#"{"kind":"email.send","args":{"to":"a@b.c"},"queue":"mail","priority":9}"#)
        #expect(task.map(\.kind) == ["email.send"] && task[0].queue == "mail" && task[0].priority == 9)
        let tasks = try BrokerSubmission.tasks(#"[{"kind":"echo","args":[1]},{"kind":"echo"}]"#)
        #expect(tasks.count == 2)
    }

    /// Machinery's signatures (its SQS broker sends each as a message), chains, groups and
    /// chords are one workflow each; every other form is tasks.
    @Test func machineryBodiesAreWorkflows() throws {
        for body in [
            #"{"UUID":"task_1","Name":"add","Args":[]}"#, #"{"Name":"add"}"#, #"{"Tasks":[]}"#,
            #"{"Group":{"Tasks":[]},"Callback":null}"#,
        ] {
            guard case .machinery(let value) = try BrokerSubmission.read(body) else {
                Issue.record("\(body) is not read as Machinery's")
                continue
            }
            #expect(value == (try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))))
        }
        for body in [#"{"kind":"echo"}"#, #"[{"UUID":"x"}]"#, #"{"jsonrpc":"2.0","method":"submit:export"}"#] {
            if case .machinery = try? BrokerSubmission.read(body) { Issue.record("\(body) is read as Machinery's") }
        }
    }

    @Test(arguments: [
        ("not json", "JSON"), ("[]", "empty"), ("42", "object"),
        (#"{"jsonrpc":"2.0","method":"export","params":{}}"#, "submit:KIND"),
        (#"{"jsonrpc":"2.0","method":"submit:x","params":[1]}"#, "params"),
        (#"{"jsonrpc":"1.0","method":"submit:x"}"#, "2.0"),
        (#"{"kind":"echo","bogus":1}"#, "bogus"),
        (#"[{"kind":"echo"},7]"#, "[1]"),
    ])
    func malformedSubmissionsAreRefusedWithTheReason(_ body: String, _ reason: String) {
        do {
            _ = try BrokerSubmission.tasks(body)
            Issue.record("\(body) was accepted")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    /// A dependent's parents' outcomes travel in `baton.parent_results` when they are small,
    /// and come back as they were; too large, they are left out; malformed, the message is
    /// refused.
    @Test func parentsResultsTravelWithTheWorkMessageWhenSmall() throws {
        let parents = [
            ParentResult(
                name: "fetch", id: TaskID.generate(), state: .succeeded, condition: .success,
                result: try RawJSON(validating: #"{"rows":3}"#),
                lastError: nil),
            ParentResult(name: "check", id: TaskID.generate(), state: .failed, condition: .always, result: nil, lastError: "boom"),
        ]
        let claimed = try Self.claimed(args: #"{"a":"1"}"#)
        let bare = SQSWire.workMessage(claimed)
        let room = SQSWire.parentsRoom(bare)
        let inline = try #require(SQSWire.inlineParents(parents, maxBytes: room))
        let body = SQSWire.workMessage(claimed, parents: inline)
        let (task, read) = try SQSWire.work(fromMessage: body)
        #expect(read == parents)
        #expect(task.task.args.text == #"{"a":"1"}"#)
        #expect(try SQSWire.work(fromMessage: SQSWire.workMessage(try Self.claimed(args: "{}"))).parents == nil)

        // The room is what is left of SQS's 256 KiB: a message filled to it is exactly the limit.
        func parent(resultBytes: Int) -> ParentResult {
            ParentResult(
                name: "big", id: TaskID.generate(), state: .succeeded, condition: .success,
                result: RawJSON(.string(String(repeating: "x", count: resultBytes))), lastError: nil)
        }
        let overhead = try #require(SQSWire.inlineParents([parent(resultBytes: 0)], maxBytes: room)).utf8.count
        let filled = try #require(SQSWire.inlineParents([parent(resultBytes: room - overhead)], maxBytes: room))
        #expect(SQSWire.workMessage(claimed, parents: filled).utf8.count == SQSWire.maxMessageBytes)
        #expect(SQSWire.inlineParents([parent(resultBytes: room - overhead + 1)], maxBytes: room) == nil)

        let malformed = body.replacingOccurrences(of: #""parent_results":["#, with: #""parent_results":[7,"#)
        #expect(throws: BatonError.self) { try SQSWire.work(fromMessage: malformed) }
    }

    /// `SendMessageBatch` takes ten messages and 256 KiB in all: chunks respect both.
    @Test func sendBatchesStayWithinSQSLimits() {
        #expect(SQSDispatch.chunks(Array(repeating: 10, count: 25), bytes: { $0 }).map(\.count) == [10, 10, 5])
        let sizes = [100_000, 100_000, 100_000, 200_000, 262_144, 1, 1]
        let chunks = SQSDispatch.chunks(sizes, bytes: { $0 })
        #expect(chunks == [[100_000, 100_000], [100_000], [200_000], [262_144], [1, 1]])
        #expect(chunks.allSatisfy { $0.reduce(0, +) <= SQSWire.maxMessageBytes })
        #expect(SQSDispatch.chunks([Int](), bytes: { $0 }).isEmpty)
    }

    /// A completion's follow-up tasks travel in `baton.follow_ups` and come back as they were;
    /// they are refused in a batch, with an error, and when they are not tasks.
    @Test func followUpsTravelWithAResult() throws {
        let completion = TaskCompletion(lease: Self.lease, result: try RawJSON(validating: #"{"rows":3}"#))
        let followUps = [
            NewTask(kind: "report", args: try RawJSON(validating: #"{"rows":3}"#), priority: 9, after: [.init(parent: Self.lease.id)]),
            NewTask(kind: "notify", queue: "mail"),
        ]
        let text = try SQSWire.followUpsText(followUps)
        for result in [#"{"rows":3}"#, "[1,2]"] {
            let c = TaskCompletion(lease: Self.lease, result: try RawJSON(validating: result))
            let body = SQSWire.resultMessage(.complete(c), attempt: 2, followUps: text)
            #expect(try SQSWire.resultsMessage(body) == .completeWithFollowUps(c, followUps), "\(body)")
        }
        let single = SQSWire.resultMessage(.complete(completion), attempt: 1, followUps: text)
        #expect(throws: BatonError.self) { try SQSWire.resultsMessage("[\(single)]") }
        let failure = SQSWire.resultMessage(.fail(TaskFailure(lease: Self.lease, message: "no", retryable: true)), attempt: 1)
        let failureWithFollowUps = failure.replacingOccurrences(of: #""baton":{"#, with: #""baton":{"follow_ups":[],"#)
        #expect(throws: BatonError.self) { try SQSWire.resultsMessage(failureWithFollowUps) }
        let notTasks = single.replacingOccurrences(of: text, with: #"[{"queue":"x"}]"#)
        #expect(throws: BatonError.self) { try SQSWire.resultsMessage(notTasks) }
    }
}
