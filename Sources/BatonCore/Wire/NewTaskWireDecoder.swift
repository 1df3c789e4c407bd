import Foundation

/// Reads `POST /v1/tasks` bodies (one task object, or an array of them) without
/// `JSONDecoder`, in the one pass of ``JSONScanner`` that also checks their syntax (strictly,
/// nested at most `maxDepth` deep): the route gives it the request's bytes unchecked. The
/// node's route calls it through `FastNewTaskDecoder` (BatonServer); it lives here, over raw
/// bytes, so that the fuzz target (`Fuzz/`) builds without NIO.
///
/// It yields exactly the `NewTask` values `JSONDecoder` would: arguments already in the
/// canonical form `RawJSON` normalises to (compact, keys in ascending byte order, ASCII keys,
/// integers, strings without escapes), which the scanner notes as it passes them, are kept
/// as their text (compacted if they hold whitespace); any other arguments are normalised as
/// `RawJSON`'s Codable path does. Anything else it is not sure of (an unknown or repeated
/// field, `null`, a number that is not a plain integer where an integer is expected, an
/// unexpected type, a syntax error) makes it answer `nil`, and the route checks the syntax
/// (for the byte offset of an error) and decodes with `JSONDecoder`, which accepts the same
/// or reports the precise error.
package enum NewTaskWireDecoder {
    /// The tasks of a batch body (`[...]`); `nil`: use `JSONDecoder`.
    package static func decodeBatch(_ raw: UnsafeRawBufferPointer, maxDepth: Int = Limits.defaultMaxJSONDepth) -> [NewTask]? {
        // A batch nests a task's arguments two levels deep, and their members three.
        guard maxDepth > 2 else { return nil }
        var s = JSONScanner(raw, maxDepth: maxDepth)
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var tasks: [NewTask] = []
        if !s.consume(UInt8(ascii: "]")) {
            repeat {
                guard let task = task(&s, depth: 1) else { return nil }
                tasks.append(task)
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "]")) else { return nil }
        }
        s.skipWhitespace()
        return s.atEnd ? tasks : nil
    }

    /// The task of a single-task body (`{...}`); `nil`: use `JSONDecoder`.
    package static func decodeOne(_ raw: UnsafeRawBufferPointer, maxDepth: Int = Limits.defaultMaxJSONDepth) -> NewTask? {
        guard maxDepth > 1 else { return nil }
        var s = JSONScanner(raw, maxDepth: maxDepth)
        guard let task = task(&s, depth: 0) else { return nil }
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

    /// A task object at `depth`.
    private static func task(_ s: inout JSONScanner, depth: Int) -> NewTask? {
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var seen = 0
        var task = NewTask(kind: "")
        var hasKind = false
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")), let field = Field(key) else { return nil }
                guard seen & (1 << field.rawValue) == 0 else { return nil }
                seen |= 1 << field.rawValue
                switch field {
                case .kind:
                    guard let v = s.string() else { return nil }
                    task.kind = v
                    hasKind = true
                case .args:
                    guard let v = args(&s, depth: depth + 1) else { return nil }
                    task.args = v
                case .queue:
                    guard let v = s.string() else { return nil }
                    task.queue = v
                case .priority:
                    guard let v = s.int() else { return nil }
                    task.priority = v
                case .maxAttempts:
                    guard let v = s.int() else { return nil }
                    task.maxAttempts = v
                case .runAt:
                    guard let text = s.string(), let date = BatonJSON.parseDate(text) else { return nil }
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
                    guard let v = s.string() else { return nil }
                    task.uniqueKey = v
                case .id:
                    guard let text = s.string(), let id = TaskID(text) else { return nil }
                    task.id = id
                case .tags:
                    guard let v = s.array({ $0.string() }) else { return nil }
                    task.tags = v
                case .retry:
                    guard let v = s.retryPolicy(refusingUnknownKeys: true, depth: depth + 1) else { return nil }
                    task.retry = v
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        return hasKind ? task : nil
    }

    /// The arguments, at `depth`, as `RawJSON`'s Codable path normalises them; `null` is left
    /// to `JSONDecoder`.
    private static func args(_ s: inout JSONScanner, depth: Int) -> RawJSON? {
        s.skipWhitespace()
        guard s.peek != UInt8(ascii: "n"), let value = s.valueSpan(depth: depth) else { return nil }
        if value.canonical {
            return RawJSON(trusted: value.spaced ? JSONScanner.compact(value.bytes) : String(decoding: value.bytes, as: UTF8.self))
        }
        guard let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(value.bytes)) else { return nil }
        return RawJSON(parsed)
    }
}
