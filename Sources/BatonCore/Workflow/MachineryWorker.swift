import Foundation

/// Baton's tasks as Machinery's workers take them, and their outcomes as those workers
/// report them: the node's Machinery dispatch sends each claimed task to a Redis list as a
/// Machinery signature (what Machinery's Redis broker carries), and reads the worker's
/// `TaskState` from Machinery's Redis result backend (a string at the signature's UUID).
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

    /// A signature for a Machinery worker: `task` to run with `args` (its arguments after any
    /// passing of parents' results), sent to `routingKey`. Throws, with the reason, when the
    /// arguments cannot be Machinery's (``workerArguments(_:)``).
    public static func workerSignature(_ task: TaskRecord, args: RawJSON, routingKey: String) throws(BatonError) -> String {
        let typed = RawJSON(.array(try workerArguments(args))).text
        let headers = task.traceparent.map { #"{"traceparent":"# + RawJSON.quoted($0) + "}" } ?? "{}"
        // Every field, in the order of Go's struct (written directly: this is the dispatch's hot path).
        return #"{"UUID":"# + RawJSON.quoted(workerUUID(task)) + #","Name":"# + RawJSON.quoted(task.kind) + #","RoutingKey":"#
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
            if !items.isEmpty, items.allSatisfy(isTypedArgument) {
                return items.map { item in
                    guard case .object(let members) = item else { return item }
                    return .object(members.filter { ["Name", "Type", "Value"].contains($0.key) })
                }
            }
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

    /// The Machinery type of a plain JSON value, `nil` when it has none.
    static func argumentType(_ value: JSONValue) -> String? {
        switch value {
        case .string: return "string"
        case .int: return "int64"
        case .double: return "float64"
        case .bool: return "bool"
        case .array(let items):
            let types = Set(
                items.map { item -> String? in
                    switch item {
                    case .string, .int, .double, .bool: argumentType(item)
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
        let bytes = Array(text.utf8)
        // The members read without parsing their values (this runs for every state a worker
        // writes); what is not in the plain form Go writes is parsed in full.
        guard let members = TopLevelMembers(bytes), let state = members.plainString("State") else { return parsedReport(text, uuid: uuid) }
        if let named = members.plainString("TaskUUID"), !named.isEmpty, named != uuid { return nil }
        switch state {
        case "SUCCESS":
            guard let results = members["Results"], !results.elementsEqual("null".utf8) else { return .succeeded(.null) }
            // Typed as Machinery types them (some versions write `type` and `value`: parsed).
            guard results.first == UInt8(ascii: "["), results.firstRange(of: Array(#""type""#.utf8)) == nil,
                let raw = try? RawJSON(validating: Data(results))
            else { return parsedReport(text, uuid: uuid) }
            return .succeeded(raw)
        case "FAILURE":
            return parsedReport(text, uuid: uuid)
        default:
            return .running(state)
        }
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

/// The members of a JSON object's text, each key with its value's bytes, found by skipping
/// over values rather than parsing them; `nil` for text that is not an object of that form
/// (the caller parses it in full, which also judges its syntax).
struct TopLevelMembers {
    private var spans: [String: ArraySlice<UInt8>] = [:]

    init?(_ bytes: [UInt8]) {
        var i = 0
        func space() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
        /// Past a string starting at `i` (a quote); false if it does not end.
        func string() -> Bool {
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""):
                    i += 1
                    return true
                default: i += 1
                }
            }
            return false
        }
        /// Past a value starting at `i`.
        func value() -> Bool {
            guard i < bytes.count else { return false }
            switch bytes[i] {
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                var depth = 0
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "\""): guard string() else { return false }
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        depth += 1
                        i += 1
                    case UInt8(ascii: "]"), UInt8(ascii: "}"):
                        depth -= 1
                        i += 1
                        if depth == 0 { return true }
                    default: i += 1
                    }
                }
                return false
            default:
                let start = i
                while i < bytes.count,
                    ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[i])
                {
                    i += 1
                }
                return i > start
            }
        }
        space()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        space()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return }
        while true {
            space()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            let keyStart = i + 1
            guard string() else { return nil }
            let key = bytes[keyStart..<(i - 1)]
            guard !key.contains(UInt8(ascii: "\\")) else { return nil }
            space()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            space()
            let valueStart = i
            guard value() else { return nil }
            spans[String(decoding: key, as: UTF8.self)] = bytes[valueStart..<i]
            space()
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "}") { return }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    subscript(key: String) -> ArraySlice<UInt8>? { spans[key] }

    /// A member that is a string without escapes, unquoted; `nil` otherwise.
    func plainString(_ key: String) -> String? {
        guard let span = spans[key], span.count >= 2, span.first == UInt8(ascii: "\""), span.last == UInt8(ascii: "\""),
            !span.contains(UInt8(ascii: "\\"))
        else { return nil }
        return String(decoding: span.dropFirst().dropLast(), as: UTF8.self)
    }
}
