import Foundation

/// Baton's tasks as Machinery's workers take them, and their outcomes as those workers
/// report them: the node's Machinery dispatch sends each claimed task to a Redis list or a
/// RabbitMQ queue as a Machinery signature (what Machinery's brokers carry), and reads the
/// worker's `TaskState` from Machinery's result backend (a string at the signature's UUID in
/// Redis, a message in a queue of that name on RabbitMQ).
///
/// The signature carries what a worker needs to run the task once: its UUID, `Name` (the
/// kind), `RoutingKey` (the list), `Args` and, when the task was traced, a `traceparent`
/// header. `RetryCount` is 0 and there are no callbacks, groups or chords: Baton counts the
/// attempts, backs off and runs the workflow; each attempt is one message.
extension Machinery {
    /// The UUID a task goes by on Machinery's side: its node name when that is the Machinery
    /// UUID it came with (``taskID(_:)`` of it is the task's id), so that a Machinery producer's
    /// `AsyncResult` finds what the worker writes; otherwise the task's id.
    public static func workerUUID(_ task: TaskRecord) -> String {
        if let node = task.node, taskID(node) == task.id { return node }
        return task.id.description
    }

    /// The UUID of one attempt of `task` sent to a Machinery worker over RabbitMQ:
    /// `baton_ID_ATTEMPT`. Machinery's AMQP result backend keeps states as messages that a
    /// reader takes away, so the worker reports under a name of its own, which only the node
    /// reads (a Machinery producer waiting on the task's own UUID would otherwise take them);
    /// the attempt in it tells a late state of an earlier attempt from the current one's.
    public static func attemptUUID(_ task: TaskRecord) -> String {
        "baton_\(task.id)_\(task.attempt)"
    }

    /// The task and attempt an ``attemptUUID(_:)`` names; `nil` for any other name.
    public static func attempt(ofUUID uuid: String) -> (id: TaskID, attempt: Int)? {
        let parts = uuid.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "baton", let id = TaskID(String(parts[1])), let attempt = Int(parts[2]), attempt > 0
        else { return nil }
        return (id, attempt)
    }

    /// A signature for a Machinery worker: `task` to run with `args` (its arguments after any
    /// passing of parents' results), sent to `routingKey`, under `uuid` (by default
    /// ``workerUUID(_:)``). Throws, with the reason, when the arguments cannot be Machinery's
    /// (``workerArguments(_:)``).
    public static func workerSignature(_ task: TaskRecord, args: RawJSON, routingKey: String, uuid: String? = nil) throws(BatonError)
        -> String
    {
        let typed = RawJSON(.array(try workerArguments(args))).text
        let headers = task.traceparent.map { #"{"traceparent":"# + RawJSON.quoted($0) + "}" } ?? "{}"
        // Every field, in the order of Go's struct (written directly: this is the dispatch's hot path).
        return #"{"UUID":"# + RawJSON.quoted(uuid ?? workerUUID(task)) + #","Name":"# + RawJSON.quoted(task.kind) + #","RoutingKey":"#
            + RawJSON.quoted(routingKey) + #","ETA":null,"GroupUUID":"","GroupTaskCount":0,"Args":"# + typed + #","Headers":"#
            + headers + #","Priority":0,"Immutable":false,"RetryCount":0,"RetryTimeout":0,"OnSuccess":null,"OnError":null,"#
            + #""ChordCallback":null,"BrokerMessageGroupId":"","SQSReceiptHandle":"","StopTaskDeletionOnError":false,"#
            + #""IgnoreWhenTaskNotRegistered":false}"#
    }

    /// The `PENDING` state Machinery's `SendTask` writes before it sends, for `task` at `uuid`.
    public static func pendingState(uuid: String, task: TaskRecord, at date: Date) -> String {
        #"{"TaskUUID":"# + RawJSON.quoted(uuid) + #","TaskName":"# + RawJSON.quoted(task.kind)
            + #","State":"PENDING","Results":null,"Error":"","CreatedAt":""# + BatonJSON.formatDate(date) + #"","TTL":0}"#
    }

    /// A task's arguments as Machinery's `Args`, `[{"Type", "Value"}]`: a JSON array whose
    /// items are all `{"Type", "Value"}` objects (as Machinery's producers send them, with
    /// `Name` when they have one) is taken as it is; any other array gets each item's type
    /// inferred: `string`, `int64`, `float64`, `bool`, or a slice of one of them (`[]string`,
    /// `[]int64`, `[]float64`, `[]bool`; an empty array is `[]string`); `null` and `{}` (a task
    /// submitted without arguments) are none.
    /// Throws for what Machinery's workers cannot take: a JSON object, or an item that is an
    /// object, `null`, a nested array or an array of mixed types.
    public static func workerArguments(_ args: RawJSON) throws(BatonError) -> [JSONValue] {
        let value: JSONValue
        do {
            value = try args.parsed()
        } catch {
            throw .invalidArgument("the task's args are not JSON")
        }
        switch value {
        case .null:
            return []
        case .object(let members) where members.isEmpty:
            // `{}`: what a task submitted without arguments holds.
            return []
        case .array(let items):
            if !items.isEmpty, items.allSatisfy(isTypedArgument) { return items }
            var typed: [JSONValue] = []
            typed.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard let type = argumentType(item) else {
                    throw .invalidArgument(
                        "argument \(i) cannot be a Machinery argument: a Machinery worker takes strings, numbers, booleans "
                            + "and arrays of one of them, or {\"Type\", \"Value\"} objects")
                }
                typed.append(.object(["Type": .string(type), "Value": item]))
            }
            return typed
        default:
            throw .invalidArgument(
                "a Machinery worker takes its arguments as a JSON array (Machinery's Args are positional), got \(args.text.prefix(40))")
        }
    }

    /// Whether an item is Machinery's `{"Type": "…", "Value": …}` (with `Name` or not).
    static func isTypedArgument(_ item: JSONValue) -> Bool {
        guard case .object(let members) = item, case .string? = members["Type"], members["Value"] != nil else { return false }
        return members.keys.allSatisfy { ["Name", "Type", "Value"].contains($0) }
    }

    /// The Machinery type of a plain JSON value, `nil` when it has none: a scalar's as a
    /// result's (``MachineryTaskResult/inferredType(_:)``), an array's as a slice of its items'.
    static func argumentType(_ value: JSONValue) -> String? {
        switch value {
        case .string, .int, .double, .bool:
            return MachineryTaskResult.inferredType(value)
        case .array(let items):
            let types = Set(
                items.map { item -> String? in
                    switch item {
                    case .string, .int, .double, .bool: MachineryTaskResult.inferredType(item)
                    default: nil
                    }
                })
            if types.isEmpty { return "[]string" }
            if types.contains(nil) { return nil }
            if types == ["int64", "float64"] || types == ["float64"] { return "[]float64" }
            return types.count == 1 ? "[]\(types.first!!)" : nil
        case .null, .object:
            return nil
        }
    }

    /// What a Machinery worker reported for a task, read from its result backend.
    public enum WorkerReport: Sendable, Hashable {
        /// Not finished: `PENDING`, `RECEIVED`, `STARTED` or `RETRY` (a worker's own retry,
        /// `ErrRetryTaskLater`), with the state's name.
        case running(String)
        /// `SUCCESS`: the results as Machinery lists them, `[{"Type", "Value"}]` (`null` when none).
        case succeeded(RawJSON)
        /// `FAILURE`, with the error.
        case failed(String)
    }

    /// The report in a `TaskState` as Machinery's Redis result backend stores it; `nil` when it
    /// is not one (or names another task than `uuid`).
    public static func workerReport(_ text: String, uuid: String) -> WorkerReport? {
        // Read with the strict scanner (this runs for every state a worker writes); what it is
        // not sure of is parsed in full.
        guard let wire = WorkerStateWire.read(text) else { return parsedReport(text, uuid: uuid) }
        if let named = wire.uuid, !named.isEmpty, named != uuid { return nil }
        switch wire.state {
        case "SUCCESS":
            guard let results = wire.results else { return .succeeded(.null) }
            // Typed as Machinery types them (some versions write `type` and `value`: parsed).
            guard results.hasPrefix("["), !results.contains(#""type""#) else { return parsedReport(text, uuid: uuid) }
            return .succeeded(RawJSON(trusted: results))
        case "FAILURE":
            guard let error = wire.error, !error.isEmpty else { return .failed("the Machinery worker reported FAILURE") }
            return .failed(error)
        default:
            return .running(wire.state)
        }
    }

    /// A worker's `FAILURE` state turned into `RETRY` (its other fields kept), for an attempt
    /// Baton retries: what a producer reads while the task waits for its next attempt, as when
    /// Machinery's own worker retries. `nil` when `text` is not a `FAILURE` state.
    public static func retryState(ofFailure text: String) -> String? {
        guard case .object(var members)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)),
            members["State"] == .string("FAILURE")
        else { return nil }
        members["State"] = .string("RETRY")
        return RawJSON(.object(members)).text
    }

    /// ``workerReport(_:uuid:)`` by a full parse.
    static func parsedReport(_ text: String, uuid: String) -> WorkerReport? {
        guard case .object(let members)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)),
            case .string(let state)? = members["State"]
        else { return nil }
        if case .string(let named)? = members["TaskUUID"], !named.isEmpty, named != uuid { return nil }
        switch state {
        case "SUCCESS":
            guard case .array(let results)? = members["Results"] else { return .succeeded(.null) }
            return .succeeded(
                RawJSON(
                    .array(
                        results.map { item in
                            guard case .object(let result) = item, result["Type"] == nil, case .string(let type)? = result["type"] else {
                                return item
                            }
                            return .object(["Type": .string(type), "Value": result["value"] ?? .null])
                        })))
        case "FAILURE":
            guard case .string(let error)? = members["Error"], !error.isEmpty else {
                return .failed("the Machinery worker reported FAILURE")
            }
            return .failed(error)
        default:
            return .running(state)
        }
    }
}

/// What the node reads of a worker's `TaskState`, with ``JSONScanner`` (no `JSONDecoder`):
/// `nil` for anything it is not sure of (bad syntax, a repeated key, a member of another type
/// than Go writes); the caller then parses the text in full.
struct WorkerStateWire {
    var state: String
    var uuid: String?
    /// `Results` as compact JSON text; `nil` when `null` or absent.
    var results: String?
    var error: String?

    static func read(_ text: String) -> WorkerStateWire? {
        var text = text
        return text.withUTF8 { read(UnsafeRawBufferPointer($0)) }
    }

    static func read(_ raw: UnsafeRawBufferPointer) -> WorkerStateWire? {
        var s = JSONScanner(raw, maxDepth: Limits.defaultMaxJSONDepth)
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var state: String?
        var uuid: String?
        var results: String?
        var error: String?
        var seen: Set<String> = []
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")), seen.insert(key).inserted else { return nil }
                switch key {
                case "State":
                    guard let text = s.string() else { return nil }
                    state = text
                case "TaskUUID":
                    guard let text = s.string() else { return nil }
                    uuid = text
                case "Error":
                    guard let text = s.string() else { return nil }
                    error = text
                case "Results":
                    if !s.consumeLiteral("null") {
                        guard let text = s.rawValue(depth: 1) else { return nil }
                        results = text
                    }
                default:
                    guard s.skipValue(depth: 1) else { return nil }
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        s.skipWhitespace()
        guard s.atEnd, let state else { return nil }
        return WorkerStateWire(state: state, uuid: uuid, results: results, error: error)
    }
}
