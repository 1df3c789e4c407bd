import BatonCore
import BatonSQS
import Foundation

/// freundallein/sqs-scheduler's JSON-RPC 2.0 messages as Baton carries them on SQS queues (docs/brokers.md).
///
/// - A **work message** is a request, ``WorkMessage``'s text (the same on every broker):
///   `{"jsonrpc":"2.0","method":"export","params":{"attempt":"1","objectID":"23"},"id":"0193…:…","baton":{…}}`;
///   on SQS, parents' outcomes are inlined while the message stays within 256 KiB.
/// - A **result message** is the response: `{"jsonrpc":"2.0","id":"…","result":{"attempt":"1",…}}`
///   or `{"jsonrpc":"2.0","id":"…","error":{"code":"-32000","message":"…","attempt":"1"}}`;
///   a batch (an array) of them too. The stored result is `result` without `attempt` (or
///   `baton.result` when present); an error's `baton.retryable: false` fails the task for good.
///   `attempt` and `code` may be numbers or strings.
/// - A **heartbeat message** (Baton's own, on the results queue):
///   `{"jsonrpc":"2.0","method":"baton.heartbeat","params":{"leases":["<id>:<token>",…],"lease_ms":30000,"reply_to":"<queue URL>"}}`.
///   `reply_to` is optional: the URL of the worker's control queue (`--sqs-control`), where
///   the node answers. A node that does not know it ignores it; without it nothing is answered.
///   `check` is optional too: an id the worker chose for a heartbeat it sends as it receives
///   tasks, before their handlers start; the node then answers even when it extended every
///   lease, so that the worker knows which tasks to drop and which to run.
/// - An **announce message** (Baton's own, on the results queue): the worker as it announces
///   itself over HTTP (`POST /v1/workers`), so that the node lists it (`GET /v1/workers`,
///   transport `sqs`) and applies its kinds' retry policies:
///   `{"jsonrpc":"2.0","method":"baton.announce","params":{"worker":"w1","queues":["default"],"kinds":[…],"concurrency":8,"running":2}}`.
/// - A **stop message** (Baton's own, on a worker's control queue): the node's answer to a
///   heartbeat that named `reply_to`, sent only when some of its leases were not extended, or
///   when the heartbeat named a `check` (which the answer repeats, its `leases` maybe empty):
///   `{"jsonrpc":"2.0","method":"baton.stop","params":{"leases":[{"id":"<id>:<token>","reason":"cancelled"},…],"check":"…"}}`.
///   `reason` is the heartbeat's outcome as over HTTP (`POST /v1/workers/heartbeat`):
///   `cancelled`, `lost` (the lease is no longer the task's: rescued after it ran out, or the
///   task finished) or `not_found` (no such task). The worker stops those tasks' handlers and
///   deletes their work messages.
public enum SQSWire {
    /// SQS's largest message body: 256 KiB.
    public static let maxMessageBytes = 262_144
    /// The method of a heartbeat message.
    public static let heartbeatMethod = "baton.heartbeat"
    /// The method of an announce message.
    public static let announceMethod = "baton.announce"
    /// The method of a stop message.
    public static let stopMethod = "baton.stop"
    /// The error code Baton's worker sends for a retryable failure.
    public static let retryableErrorCode = "-32000"
    /// The error code Baton's worker sends for a failure that must not be retried.
    public static let permanentErrorCode = "-32001"

    // MARK: Ids and work messages (``WorkMessage``, shared with the other brokers)

    /// The JSON-RPC `id` of a lease: `"<task id>:<lease token>"`.
    public static func messageID(_ lease: LeaseRef) -> String { WorkMessage.id(lease) }

    /// The lease an `id` names, or `nil` when it is not `"<task id>:<lease token>"`.
    public static func lease(fromID text: String) -> LeaseRef? { WorkMessage.lease(fromID: text) }

    /// The bytes of parents' outcomes (`baton.parent_results`) that fit in a work message
    /// whose body without them is `bare`: what is left of SQS's 256 KiB. A worker without a way
    /// to the node reads its parents' outcomes only from there; beyond it the worker must reach
    /// the node (`--server`) to read them.
    public static func parentsRoom(_ bare: String) -> Int {
        max(0, maxMessageBytes - bare.utf8.count - #","parent_results":"#.utf8.count)
    }

    /// The JSON text of a dependent's parents' outcomes for `baton.parent_results`, or `nil`
    /// when it takes more than `maxBytes`.
    public static func inlineParents(_ parents: [ParentResult], maxBytes: Int) -> String? {
        WorkMessage.inlineParents(parents, maxBytes: maxBytes)
    }

    /// The work message of a claimed task (``WorkMessage/text(_:parents:)``).
    public static func workMessage(_ claimed: ClaimedTask, parents: String? = nil) -> String {
        WorkMessage.text(claimed, parents: parents)
    }

    /// The task a work message carries, with the lease its `id` names, as a worker runs it.
    public static func claimedTask(fromWorkMessage body: String) throws(BatonError) -> ClaimedTask {
        try WorkMessage.decode(body).task
    }

    /// The task a work message carries, and its parents' outcomes when the message holds them.
    public static func work(fromMessage body: String) throws(BatonError) -> (task: ClaimedTask, parents: [ParentResult]?) {
        try WorkMessage.decode(body)
    }

    // MARK: Result messages

    /// The JSON text of follow-up tasks for ``resultMessage(_:attempt:followUps:)``.
    public static func followUpsText(_ followUps: [NewTask]) throws -> String {
        String(decoding: try JSONEncoder().encode(followUps), as: UTF8.self)
    }

    /// The result message of an ack (what a worker sends to the results queue). A completion
    /// may carry follow-up tasks (`baton.follow_ups`, the text ``followUpsText(_:)`` made),
    /// which the node stores in the same transaction as the completion.
    public static func resultMessage(_ ack: TaskAck, attempt: Int, followUps: String? = nil) -> String {
        var out = #"{"jsonrpc":"2.0","id":"# + string(messageID(ack.lease))
        let attemptText = string(String(attempt))
        switch ack {
        case .complete(let completion):
            let result = completion.result.text
            let inline = result.hasPrefix("{") && !result.contains("\"attempt\"")
            out += #","result":{"attempt":"# + attemptText
            if inline && result != "{}" { out += "," + result.dropFirst() } else { out += "}" }
            switch (inline, followUps) {
            case (true, nil): break
            case (true, let followUps?): out += #","baton":{"follow_ups":"# + followUps + "}"
            case (false, nil): out += #","baton":{"result":"# + result + "}"
            case (false, let followUps?): out += #","baton":{"result":"# + result + #","follow_ups":"# + followUps + "}"
            }
        case .fail(let failure):
            let code = failure.retryable ? retryableErrorCode : permanentErrorCode
            out += #","error":{"code":"# + string(code) + #","message":"# + string(failure.message) + #","attempt":"# + attemptText + "}"
            out += #","baton":{"retryable":\#(failure.retryable)"#
            if let after = failure.retryAfter { out += #","retry_after_ms":\#(after.inMilliseconds)"# }
            out += "}"
        }
        out += "}"
        return out
    }

    /// A heartbeat message for these leases; `replyTo` is the URL of the worker's control
    /// queue, where the node answers with a stop message (``stopMessage(_:check:)``), always when
    /// the heartbeat names a `check`.
    public static func heartbeatMessage(_ leases: [LeaseRef], lease: Duration, replyTo: String? = nil, check: String? = nil) -> String {
        let ids = leases.map { string(messageID($0)) }.joined(separator: ",")
        var out = #"{"jsonrpc":"2.0","method":"# + string(heartbeatMethod)
        out += #","params":{"leases":[\#(ids)],"lease_ms":\#(lease.inMilliseconds)"#
        if let replyTo { out += #","reply_to":"# + string(replyTo) }
        if let check { out += #","check":"# + string(check) }
        out += "}}"
        return out
    }

    /// An announce message: the worker as it announces itself over HTTP.
    public static func announceMessage(_ announcement: WorkerAnnouncement) throws -> String {
        let params = String(decoding: try BatonJSON.encoder().encode(announcement), as: UTF8.self)
        return #"{"jsonrpc":"2.0","method":"# + string(announceMethod) + #","params":"# + params + "}"
    }

    /// What a message on the results queue asks the node to do.
    public enum ResultsMessage: Sendable, Hashable {
        /// Completions and failures, fenced by their leases.
        case acks([TaskAck])
        /// A completion with follow-up tasks, stored together (a response of its own).
        case completeWithFollowUps(TaskCompletion, [NewTask])
        /// Extend these leases by `lease` (`nil`: the node's default lease), and send the
        /// leases not extended to the queue URL `replyTo`, if any: always when `check` is set,
        /// repeating it.
        case heartbeat([LeaseRef], lease: Duration?, replyTo: String?, check: String? = nil)
        /// Record the worker (validated).
        case announce(WorkerAnnouncement)
    }

    /// Reads a results-queue message: a response, a batch of responses, a heartbeat or an
    /// announcement.
    public static func resultsMessage(_ body: String) throws(BatonError) -> ResultsMessage {
        let value = try parse(body)
        switch value {
        case .array(let items):
            guard !items.isEmpty else { throw .invalidArgument("an empty batch") }
            var acks: [TaskAck] = []
            for (i, item) in items.enumerated() {
                do throws(BatonError) {
                    if item["baton"]?["follow_ups"] != nil {
                        throw BatonError.invalidArgument("a response with baton.follow_ups must be a message of its own")
                    }
                    acks.append(try ack(item))
                } catch {
                    throw .invalidArgument("[\(i)]: \(error.message)")
                }
            }
            return .acks(acks)
        case .object(let members) where members["method"] != nil:
            guard members["jsonrpc"] == .string("2.0"),
                members["method"] == .string(heartbeatMethod) || members["method"] == .string(announceMethod)
            else {
                throw .invalidArgument("a request on the results queue must be \(heartbeatMethod) or \(announceMethod)")
            }
            if members["method"] == .string(announceMethod) { return .announce(try announcement(members["params"])) }
            guard case .array(let items)? = members["params"]?["leases"] else { throw .invalidArgument("params.leases must be an array") }
            var leases: [LeaseRef] = []
            for item in items {
                guard let text = item.stringValue, let lease = lease(fromID: text) else {
                    throw .invalidArgument("params.leases holds \(item), not \"<task id>:<lease token>\"")
                }
                leases.append(lease)
            }
            let ms = try integer(members["params"]?["lease_ms"], field: "params.lease_ms")
            if let ms, ms <= 0 { throw .invalidArgument("params.lease_ms must be positive") }
            let check = try checkID(members["params"]?["check"])
            return .heartbeat(
                leases, lease: ms.map { .milliseconds($0) }, replyTo: try replyTo(members["params"]?["reply_to"]), check: check)
        default:
            let single = try ack(value)
            guard let followUps = value["baton"]?["follow_ups"] else { return .acks([single]) }
            guard case .complete(let completion) = single else {
                throw .invalidArgument("baton.follow_ups comes only with a result, not an error")
            }
            do {
                return .completeWithFollowUps(
                    completion, try JSONDecoder().decode([NewTask].self, from: Data(RawJSON(followUps).text.utf8)))
            } catch {
                throw .invalidArgument("baton.follow_ups is not a list of tasks: \(error)")
            }
        }
    }

    /// An announce message's `params`, decoded and validated.
    static func announcement(_ params: JSONValue?) throws(BatonError) -> WorkerAnnouncement {
        guard let params, case .object = params else {
            throw .invalidArgument("params must be the worker's announcement (an object)")
        }
        let announcement: WorkerAnnouncement
        do {
            announcement = try BatonJSON.decoder().decode(WorkerAnnouncement.self, from: Data(RawJSON(params).text.utf8))
        } catch {
            throw .invalidArgument("params is not a worker's announcement: \(error)")
        }
        try announcement.validate()
        return announcement
    }

    /// One JSON-RPC response as an ack.
    static func ack(_ value: JSONValue) throws(BatonError) -> TaskAck {
        guard case .object(let members) = value, members["jsonrpc"] == .string("2.0") else {
            throw .invalidArgument("not a JSON-RPC 2.0 response object")
        }
        guard let idValue = members["id"] else { throw .invalidArgument("the response has no id") }
        guard let idText = idValue.stringValue, let lease = lease(fromID: idText) else {
            throw .invalidArgument("the response's id \(RawJSON(idValue).text) is not a Baton task id and lease token")
        }
        let baton = members["baton"]
        switch (members["result"], members["error"]) {
        case (let result?, nil):
            if let raw = baton?["result"] { return .complete(TaskCompletion(lease: lease, result: RawJSON(raw))) }
            guard case .object(var object) = result else {
                return .complete(TaskCompletion(lease: lease, result: RawJSON(result)))
            }
            object.removeValue(forKey: "attempt")
            return .complete(TaskCompletion(lease: lease, result: RawJSON(.object(object))))
        case (nil, let error?):
            let message: String
            switch error {
            case .object(let object):
                let code = object["code"].map { $0.stringValue ?? RawJSON($0).text }
                let text = object["message"]?.stringValue
                message = text.map { t in code.map { "\(t) (code \($0))" } ?? t } ?? "error code \(code ?? "none")"
            case .string(let text):
                message = text
            default:
                message = RawJSON(error).text
            }
            let retryable: Bool
            switch baton?["retryable"] {
            case nil, .null?: retryable = true
            case .bool(let b)?: retryable = b
            default: throw .invalidArgument("baton.retryable must be true or false")
            }
            let after = try integer(baton?["retry_after_ms"], field: "baton.retry_after_ms")
            if let after, after < 0 { throw .invalidArgument("baton.retry_after_ms must not be negative") }
            return .fail(TaskFailure(lease: lease, message: message, retryable: retryable, retryAfter: after.map { .milliseconds($0) }))
        default:
            throw .invalidArgument("a response has either result or error")
        }
    }

    /// A heartbeat's `reply_to`: absent, or the URL of an SQS queue (`https://HOST/ACCOUNT/QUEUE`).
    static func replyTo(_ value: JSONValue?) throws(BatonError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            guard let address = try? SQSQueueAddress(text), let url = address.queueURL else {
                throw .invalidArgument(
                    "params.reply_to must be the URL of an SQS queue (http(s)://HOST/ACCOUNT/QUEUE), got \(string(text))")
            }
            return url
        default: throw .invalidArgument("params.reply_to must be a string, the URL of an SQS queue")
        }
    }

    /// A heartbeat's or stop message's `check`: absent, or a string of 1 to 80 characters.
    static func checkID(_ value: JSONValue?) throws(BatonError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)? where (1...80).contains(text.count): return text
        default: throw .invalidArgument("params.check must be a string of 1 to 80 characters")
        }
    }

    // MARK: Stop messages

    /// One lease a node did not extend, and why (its heartbeat's outcome: never `extended`).
    public struct Stop: Sendable, Hashable {
        public var lease: LeaseRef
        public var outcome: HeartbeatOutcome
        public init(lease: LeaseRef, outcome: HeartbeatOutcome) {
            self.lease = lease
            self.outcome = outcome
        }
    }

    /// The stop message telling a worker that these leases were not extended; with the `check`
    /// of the heartbeat it answers, if it named one.
    public static func stopMessage(_ stops: [Stop], check: String? = nil) -> String {
        let items = stops.map { stop in
            #"{"id":"# + string(messageID(stop.lease)) + #","reason":"#
                + string(HeartbeatItemResult(id: stop.lease.id, outcome: stop.outcome).status) + "}"
        }
        let checked = check.map { #","check":"# + string($0) } ?? ""
        return #"{"jsonrpc":"2.0","method":"# + string(stopMethod) + #","params":{"leases":[\#(items.joined(separator: ","))]\#(checked)}}"#
    }

    /// A control-queue message: the leases a stop message names, and the check it answers.
    public struct ControlMessage: Sendable, Hashable {
        public var stops: [Stop]
        public var check: String?
    }

    /// Reads a control-queue message: the leases a stop message names, with their reasons. A
    /// reason this worker does not know is read as `lost` (the lease is not the task's).
    public static func stops(fromControlMessage body: String) throws(BatonError) -> [Stop] {
        try controlMessage(body).stops
    }

    /// Reads a control-queue message (``stops(fromControlMessage:)``) with its `check`.
    public static func controlMessage(_ body: String) throws(BatonError) -> ControlMessage {
        let value = try parse(body)
        guard case .object(let members) = value, members["jsonrpc"] == .string("2.0") else {
            throw .invalidArgument("not a JSON-RPC 2.0 request object")
        }
        guard members["method"] == .string(stopMethod) else {
            throw .invalidArgument("a message on the control queue must be \(stopMethod)")
        }
        guard case .array(let items)? = members["params"]?["leases"] else { throw .invalidArgument("params.leases must be an array") }
        var stops: [Stop] = []
        for (i, item) in items.enumerated() {
            guard let text = item["id"]?.stringValue, let lease = lease(fromID: text) else {
                throw .invalidArgument("params.leases[\(i)].id is not \"<task id>:<lease token>\"")
            }
            guard let reason = item["reason"]?.stringValue else {
                throw .invalidArgument("params.leases[\(i)].reason must be a string")
            }
            let outcome = HeartbeatItemResult(id: lease.id, status: reason).outcome
            if case .extended = outcome {
                throw .invalidArgument("params.leases[\(i)].reason \"\(reason)\" does not stop a task")
            }
            stops.append(Stop(lease: lease, outcome: outcome))
        }
        return ControlMessage(stops: stops, check: try checkID(members["params"]?["check"]))
    }

    // MARK: Helpers

    static func parse(_ body: String) throws(BatonError) -> JSONValue { try WorkMessage.parse(body) }

    static func integer(_ value: JSONValue?, field: String) throws(BatonError) -> Int? {
        try WorkMessage.integer(value, field: field)
    }

    static func string(_ text: String) -> String { WorkMessage.string(text) }
}
