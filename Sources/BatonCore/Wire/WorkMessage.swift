import Foundation

/// Baton's work message: a claimed task as a broker carries it to a worker, in
/// freundallein/sqs-scheduler's JSON-RPC 2.0 form (docs/brokers.md). SQS work queues and Redis
/// work lists carry the same text.
///
/// `method` is the kind, `params` the task's arguments (a JSON object) plus `attempt`, `id` the
/// task id and lease token as one string (`"<task id>:<lease token>"`), which the worker
/// echoes: `{"jsonrpc":"2.0","method":"export","params":{"attempt":"1","objectID":"23"},"id":"0193…:…","baton":{…}}`.
/// `id` and `attempt` are strings, as freundallein/sqs-scheduler's Go worker requires. The
/// optional `baton` member carries what Baton's own worker needs besides: the queue,
/// `max_attempts`, `priority`, `timeout`, the W3C `traceparent` of the submit (when the node
/// traces), a dependent's number of `parents` and how it takes their results (`pass`), the
/// parents' outcomes themselves (`parent_results`) when the broker has room for them, and
/// `args` when the arguments are not an object or hold a member named `attempt` (then
/// `params` holds `attempt` only).
public enum WorkMessage {
    // MARK: Ids

    /// The JSON-RPC `id` of a lease: `"<task id>:<lease token>"`.
    public static func id(_ lease: LeaseRef) -> String { "\(lease.id):\(lease.token)" }

    /// The lease an `id` names, or `nil` when it is not `"<task id>:<lease token>"`.
    public static func lease(fromID text: String) -> LeaseRef? {
        let utf8 = text.utf8
        guard utf8.count > 37 else { return nil }
        let colon = utf8.index(utf8.startIndex, offsetBy: 36)
        guard utf8[colon] == UInt8(ascii: ":"), let id = TaskID(String(text[..<colon])) else { return nil }
        let token = String(text[utf8.index(after: colon)...])
        guard !token.isEmpty else { return nil }
        return LeaseRef(id: id, token: token)
    }

    // MARK: Work messages

    /// The JSON text of a dependent's parents' outcomes for `baton.parent_results`, or `nil`
    /// when it takes more than `maxBytes`.
    public static func inlineParents(_ parents: [ParentResult], maxBytes: Int) -> String? {
        guard let data = try? JSONEncoder().encode(parents), data.count <= maxBytes else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The work message of a claimed task (its body text, compact JSON), with its parents'
    /// outcomes (the text ``inlineParents(_:)`` made) when given.
    public static func text(_ claimed: ClaimedTask, parents: String? = nil) -> String {
        let task = claimed.task
        let args = task.args.text
        let inline = args.hasPrefix("{") && !args.contains("\"attempt\"")
        var out = #"{"jsonrpc":"2.0","method":"# + string(task.kind) + #","params":{"attempt":"# + string(String(task.attempt))
        if inline && args != "{}" { out += "," + args.dropFirst() } else { out += "}" }
        out += #","id":"# + string(id(claimed.lease))
        out += #","baton":{"queue":"# + string(task.queue) + #","max_attempts":\#(task.maxAttempts),"priority":\#(task.priority)"#
        if let timeout = task.timeout { out += #","timeout":\#(timeout)"# }
        if let traceparent = task.traceparent { out += #","traceparent":"# + string(traceparent) }
        if let parents = task.parentCount { out += #","parents":\#(parents)"# }
        if let pass = task.pass { out += #","pass":"# + string(pass.rawValue) }
        if let parents { out += #","parent_results":"# + parents }
        if !inline { out += #","args":"# + args }
        out += "}}"
        return out
    }

    /// The task a work message carries, and its parents' outcomes when the message holds them.
    public static func decode(_ body: String) throws(BatonError) -> (task: ClaimedTask, parents: [ParentResult]?) {
        let value = try parse(body)
        guard case .object(let members) = value, members["jsonrpc"] == .string("2.0") else {
            throw .invalidArgument("not a JSON-RPC 2.0 request object")
        }
        guard case .string(let kind)? = members["method"] else { throw .invalidArgument("the request has no method (the kind)") }
        guard case .string(let idText)? = members["id"], let lease = lease(fromID: idText) else {
            throw .invalidArgument("the request's id is not a Baton task id and lease token (\"<task id>:<lease token>\")")
        }
        var params: [String: JSONValue] = [:]
        switch members["params"] {
        case nil, .null?: break
        case .object(let object)?: params = object
        default: throw .invalidArgument("params must be an object")
        }
        let attempt = try integer(params.removeValue(forKey: "attempt"), field: "params.attempt") ?? 1
        let baton = members["baton"]
        let args: RawJSON
        if let raw = baton?["args"] { args = RawJSON(raw) } else { args = RawJSON(.object(params)) }
        let maxAttempts = try integer(baton?["max_attempts"], field: "baton.max_attempts") ?? max(attempt, Defaults.maxAttempts)
        let priority = try integer(baton?["priority"], field: "baton.priority") ?? Defaults.priority
        let parents = try integer(baton?["parents"], field: "baton.parents")
        if let parents, parents < 0 { throw .invalidArgument("baton.parents must not be negative") }
        var pass: ResultPassing?
        if let text = baton?["pass"]?.stringValue {
            guard let value = ResultPassing(rawValue: text) else {
                throw .invalidArgument("baton.pass \"\(text)\" is not a way to pass results")
            }
            pass = value
        }
        let now = Date()
        let task = TaskRecord(
            id: lease.id, kind: kind, queue: baton?["queue"]?.stringValue ?? Defaults.queue, args: args, priority: priority,
            state: .running, attempt: attempt, maxAttempts: maxAttempts, runAt: now, timeout: baton?["timeout"]?.doubleValue,
            createdAt: now, startedAt: now, parentCount: parents, pass: pass, traceparent: baton?["traceparent"]?.stringValue)
        var parentResults: [ParentResult]?
        if let inline = baton?["parent_results"] {
            do {
                parentResults = try JSONDecoder().decode([ParentResult].self, from: Data(RawJSON(inline).text.utf8))
            } catch {
                throw .invalidArgument("baton.parent_results is not a list of parents' outcomes")
            }
        }
        return (ClaimedTask(task: task, leaseToken: lease.token), parentResults)
    }

    // MARK: Helpers

    /// Parses a message body: strict JSON, nested at most ``Limits/defaultMaxJSONDepth``.
    package static func parse(_ body: String) throws(BatonError) -> JSONValue {
        try BrokerSubmission.parse(body)
    }

    /// An integer given as a number or a string of digits (freundallein/sqs-scheduler sends strings).
    package static func integer(_ value: JSONValue?, field: String) throws(BatonError) -> Int? {
        switch value {
        case nil, .null?: return nil
        case .int(let i)?: return Int(i)
        case .double(let d)? where d == d.rounded() && abs(d) < 1e15: return Int(d)
        case .string(let s)?:
            guard let i = Int(s.trimmingCharacters(in: .whitespaces)) else {
                throw .invalidArgument("\(field) must be an integer, got \"\(s)\"")
            }
            return i
        default: throw .invalidArgument("\(field) must be an integer")
        }
    }

    /// `text` as a JSON string literal.
    package static func string(_ text: String) -> String {
        RawJSON(.string(text)).text
    }
}
