import Foundation

/// Reads `POST /v1/tasks` bodies (one task object, or an array of them) without
/// `JSONDecoder`, for bodies that already passed the strict syntax and depth check. The
/// node's route calls it through `FastNewTaskDecoder` (BatonServer) on the request's bytes;
/// it lives here, over raw bytes, so that the fuzz target (`Fuzz/`) builds without NIO.
///
/// It yields exactly the `NewTask` values `JSONDecoder` would: arguments already in the
/// canonical form `RawJSON` normalises to (compact, keys in ascending byte order, ASCII keys,
/// integers, strings without escapes) are kept as their text; any other arguments are
/// normalised as `RawJSON`'s Codable path does. Anything else it is not sure of (an unknown
/// or repeated field, `null`, a number that is not a plain integer where an integer is
/// expected, an unexpected type, invalid UTF-8) makes it answer `nil`, and the route decodes
/// with `JSONDecoder`, which accepts the same or reports the precise error.
package enum NewTaskWireDecoder {
    /// The tasks of a batch body (`[...]`); `nil`: use `JSONDecoder`.
    package static func decodeBatch(_ raw: UnsafeRawBufferPointer) -> [NewTask]? {
        var s = JSONScanner(raw, maxDepth: Int.max)
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var tasks: [NewTask] = []
        if !s.consume(UInt8(ascii: "]")) {
            repeat {
                guard let task = task(&s) else { return nil }
                tasks.append(task)
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "]")) else { return nil }
        }
        s.skipWhitespace()
        return s.atEnd ? tasks : nil
    }

    /// The task of a single-task body (`{...}`); `nil`: use `JSONDecoder`.
    package static func decodeOne(_ raw: UnsafeRawBufferPointer) -> NewTask? {
        var s = JSONScanner(raw, maxDepth: Int.max)
        guard let task = task(&s) else { return nil }
        s.skipWhitespace()
        return s.atEnd ? task : nil
    }

    private enum Field: Int {
        case kind, args, queue, priority, runAt, delay, maxAttempts, timeout, retry, uniqueKey, uniqueWindow, tags, id

        init?(_ key: String) {
            switch key {
            case "kind": self = .kind
            case "args": self = .args
            case "queue": self = .queue
            case "priority": self = .priority
            case "run_at": self = .runAt
            case "delay": self = .delay
            case "max_attempts": self = .maxAttempts
            case "timeout": self = .timeout
            case "retry": self = .retry
            case "unique_key": self = .uniqueKey
            case "unique_window": self = .uniqueWindow
            case "tags": self = .tags
            case "id": self = .id
            default: return nil
            }
        }
    }

    private static func task(_ s: inout JSONScanner) -> NewTask? {
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var seen = 0
        var task = NewTask(kind: "")
        var hasKind = false
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.validString(), s.consume(UInt8(ascii: ":")), let field = Field(key) else { return nil }
                guard seen & (1 << field.rawValue) == 0 else { return nil }
                seen |= 1 << field.rawValue
                switch field {
                case .kind:
                    guard let v = s.validString() else { return nil }
                    task.kind = v
                    hasKind = true
                case .args:
                    guard let v = args(&s) else { return nil }
                    task.args = v
                case .queue:
                    guard let v = s.validString() else { return nil }
                    task.queue = v
                case .priority:
                    guard let v = s.int() else { return nil }
                    task.priority = v
                case .maxAttempts:
                    guard let v = s.int() else { return nil }
                    task.maxAttempts = v
                case .runAt:
                    guard let text = s.validString(), let date = BatonJSON.parseDate(text) else { return nil }
                    task.runAt = date
                case .delay:
                    guard let v = s.double() else { return nil }
                    task.delay = v
                case .timeout:
                    guard let v = s.double() else { return nil }
                    task.timeout = v
                case .uniqueWindow:
                    guard let v = s.double() else { return nil }
                    task.uniqueWindow = v
                case .uniqueKey:
                    guard let v = s.validString() else { return nil }
                    task.uniqueKey = v
                case .id:
                    guard let text = s.validString(), let id = TaskID(text) else { return nil }
                    task.id = id
                case .tags:
                    guard let v = s.array({ $0.validString() }) else { return nil }
                    task.tags = v
                case .retry:
                    guard let v = s.retryPolicy(refusingUnknownKeys: true, string: { $0.validString() }) else { return nil }
                    task.retry = v
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        return hasKind ? task : nil
    }

    /// The arguments as `RawJSON`'s Codable path normalises them; `null` is left to `JSONDecoder`.
    private static func args(_ s: inout JSONScanner) -> RawJSON? {
        s.skipWhitespace()
        guard s.peek != UInt8(ascii: "n"), let text = s.rawValue(), !Self.mayBeRepaired(text) else { return nil }
        if isCanonical(text) { return RawJSON(trusted: text) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
        return RawJSON(value)
    }

    /// Whether text holds U+FFFD, as `String(decoding:)` leaves where it repaired invalid
    /// UTF-8 (a body that passed the syntax check has none; a real U+FFFD goes to `JSONDecoder`).
    package static func mayBeRepaired(_ text: String) -> Bool {
        text.utf8.contains(0xEF) && text.unicodeScalars.contains("\u{FFFD}")
    }

    /// Whether compact JSON text is already what `RawJSON(JSONValue)` writes (see ``CanonicalJSON``).
    package static func isCanonical(_ text: String) -> Bool { CanonicalJSON.isCanonical(text) }
}

extension JSONScanner {
    /// A string value, escapes decoded; `nil` on invalid UTF-8 (which `JSONDecoder` refuses).
    package mutating func validString() -> String? {
        guard let text = string(), !NewTaskWireDecoder.mayBeRepaired(text) else { return nil }
        return text
    }
}
