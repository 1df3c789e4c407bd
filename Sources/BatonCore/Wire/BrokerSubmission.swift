import Foundation

/// What a message on a broker's submissions queue or list asks for, whichever broker carried
/// it (SQS's ingest, Redis's): freundallein/sqs-scheduler's `submit:KIND` notifications,
/// Baton's task JSON, or Machinery's signatures as its brokers send them. Read here, not
/// validated: the node's submit does that.
public enum BrokerSubmission: Sendable {
    /// Tasks: freundallein/sqs-scheduler's `submit:KIND` notifications (one, or a batch),
    /// Baton's task JSON (one task or an array), or an array mixing both.
    case tasks([NewTask])
    /// A Machinery signature as Machinery's brokers send it (the signature's JSON, with its Go
    /// field names), or a Machinery chain, group or chord: one workflow.
    case machinery(JSONValue)

    /// The fields that make an object Machinery's: a signature's `Name` or `UUID`, or the
    /// `Tasks` of a chain or group, the `Group` of a chord. (Baton's task JSON has none.)
    static let machineryMarkers = ["Name", "UUID", "Tasks", "Group"]

    /// A dead letter, as the Redis and AMQP ingests write one: the message refused, with where
    /// it came from, why, and when (`{"source", "reason", "body", "at"}`).
    public static func deadLetter(source: String, reason: String, body: String, at: String) -> String {
        RawJSON(
            .object(["source": .string(source), "reason": .string(reason), "body": .string(body), "at": .string(at)])
        ).text
    }

    /// What a message asks for.
    public static func read(_ body: String) throws(BatonError) -> BrokerSubmission {
        let value = try parse(body)
        if case .object(let members) = value, machineryMarkers.contains(where: { members[$0] != nil }) {
            return .machinery(value)
        }
        return .tasks(try tasks(value))
    }

    /// The tasks a message asks for: freundallein/sqs-scheduler's `submit:KIND` notifications
    /// (one, or a batch), Baton's task JSON (one task or an array), or an array mixing both.
    public static func tasks(_ body: String) throws(BatonError) -> [NewTask] {
        try tasks(try parse(body))
    }

    static func tasks(_ value: JSONValue) throws(BatonError) -> [NewTask] {
        switch value {
        case .array(let items):
            guard !items.isEmpty else { throw .invalidArgument("an empty batch") }
            var tasks: [NewTask] = []
            for (i, item) in items.enumerated() {
                do {
                    tasks.append(try task(item))
                } catch {
                    throw .invalidArgument("[\(i)]: \(error.message)")
                }
            }
            return tasks
        default:
            return [try task(value)]
        }
    }

    static func task(_ value: JSONValue) throws(BatonError) -> NewTask {
        guard case .object(let members) = value else {
            throw .invalidArgument("a submission is a JSON object, got \(value.typeDescription)")
        }
        if members["jsonrpc"] != nil || members["method"] != nil {
            guard members["jsonrpc"] == .string("2.0") else { throw .invalidArgument("jsonrpc must be \"2.0\"") }
            guard case .string(let method)? = members["method"] else { throw .invalidArgument("method must be a string") }
            let params: [String: JSONValue]
            switch members["params"] {
            case nil, .null?: params = [:]
            case .object(let object)?: params = object
            default: throw .invalidArgument("params must be an object (named params)")
            }
            guard let task = SubmitKindCall.task(method: method, params: params) else {
                throw .invalidArgument("the method \(method) is not \(SubmitKindCall.prefix)KIND")
            }
            return task
        }
        do {
            return try BatonJSON.requestDecoder().decode(NewTask.self, from: Data(RawJSON(value).text.utf8))
        } catch let error as DecodingError {
            throw .invalidArgument("not a task: \(DecodingErrorMessage.describe(error))")
        } catch {
            throw .invalidArgument("not a task: \(error)")
        }
    }

    /// Parses a message body: strict JSON, nested at most ``Limits/defaultMaxJSONDepth``.
    public static func parse(_ body: String) throws(BatonError) -> JSONValue {
        let data = Data(body.utf8)
        guard !data.isEmpty else { throw .invalidArgument("the message body is empty") }
        try RawJSON.validateSyntax(data)
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw .invalidArgument("not JSON: \(error)")
        }
    }

    /// Whether a submit's error is the message's own fault (trying it again cannot help: it
    /// goes to the dead letters), rather than the node's (it is tried again).
    public static func isTheMessagesFault(_ error: BatonError) -> Bool {
        [.invalidArgument, .tooLarge, .idempotencyMismatch, .conflict].contains(error.code)
    }
}
