import Foundation

/// Reads `POST /v1/workers/claim` answers (`{"tasks": [task + lease_token, ...]}`) without
/// `JSONDecoder`: one pass over the bytes, arguments and results kept as the JSON text they
/// were sent as (compacted, never parsed into a tree), dates in the node's own form
/// (`2026-11-23T19:00:00.123Z`) read by arithmetic. The worker calls it through
/// `ClaimResponseDecoder` (BatonWorker); it lives here, over raw bytes, so that the fuzz
/// target (`Fuzz/`) builds with BatonCore alone.
///
/// Returns `nil` for anything it is not sure of (a type it does not expect, a `null` where
/// a value is required, a repeated key, invalid UTF-8, a malformed escape or number, a
/// retry policy with unexpected fields); the caller then decodes with `JSONDecoder`, which
/// gives the same values or the precise error. Unknown keys are skipped, as `JSONDecoder` does.
/// Arguments and results are equal as JSON to what `JSONDecoder` yields; their text is the
/// same whenever the node sends them in canonical form, as it stores them.
package enum ClaimResponseWireDecoder {
    package static let maxDepth = 512

    package static func decode(_ raw: UnsafeRawBufferPointer) -> ClaimResponse? {
        var s = JSONScanner(raw, maxDepth: maxDepth)
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var tasks: [ClaimedTask]?
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                if key == "tasks" {
                    guard tasks == nil, let list = taskList(&s) else { return nil }
                    tasks = list
                } else {
                    guard s.skipValue(depth: 1) else { return nil }
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        s.skipWhitespace()
        guard s.atEnd, let tasks else { return nil }
        return ClaimResponse(tasks: tasks)
    }

    private static func taskList(_ s: inout JSONScanner) -> [ClaimedTask]? {
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var tasks: [ClaimedTask] = []
        if s.consume(UInt8(ascii: "]")) { return tasks }
        repeat {
            guard let task = claimedTask(&s) else { return nil }
            tasks.append(task)
        } while s.consume(UInt8(ascii: ","))
        guard s.consume(UInt8(ascii: "]")) else { return nil }
        return tasks
    }

    /// The keys of a claimed task, as bits, to refuse a repeated one.
    package enum Field: Int, CaseIterable {
        case args, attempt, createdAt, errors, finishedAt, id, kind, lastError, leaseExpiresAt, leaseOwner, leaseToken
        case maxAttempts, priority, queue, result, retry, runAt, startedAt, state, tags, timeout, uniqueKey
        case node, parents, pass, workflowID, traceparent

        /// The keys' bytes, in `rawValue` order.
        package static let names: [[UInt8]] = [
            "args", "attempt", "created_at", "errors", "finished_at", "id", "kind", "last_error", "lease_expires_at", "lease_owner",
            "lease_token", "max_attempts", "priority", "queue", "result", "retry", "run_at", "started_at", "state", "tags", "timeout",
            "unique_key", "node", "parents", "pass", "workflow_id", "traceparent",
        ].map { Array($0.utf8) }

        package init?(_ key: UnsafeRawBufferPointer) {
            for (i, name) in Self.names.enumerated() where name.count == key.count && name.first == key.first {
                if name.withUnsafeBytes({ memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }) {
                    self.init(rawValue: i)
                    return
                }
            }
            return nil
        }

        package init?(_ key: String) {
            switch key {
            case "args": self = .args
            case "attempt": self = .attempt
            case "created_at": self = .createdAt
            case "errors": self = .errors
            case "finished_at": self = .finishedAt
            case "id": self = .id
            case "kind": self = .kind
            case "last_error": self = .lastError
            case "lease_expires_at": self = .leaseExpiresAt
            case "lease_owner": self = .leaseOwner
            case "lease_token": self = .leaseToken
            case "max_attempts": self = .maxAttempts
            case "priority": self = .priority
            case "queue": self = .queue
            case "result": self = .result
            case "retry": self = .retry
            case "run_at": self = .runAt
            case "started_at": self = .startedAt
            case "state": self = .state
            case "tags": self = .tags
            case "timeout": self = .timeout
            case "unique_key": self = .uniqueKey
            case "node": self = .node
            case "parents": self = .parents
            case "pass": self = .pass
            case "workflow_id": self = .workflowID
            case "traceparent": self = .traceparent
            default: return nil
            }
        }
    }

    private static func claimedTask(_ s: inout JSONScanner) -> ClaimedTask? {
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var seen = 0
        var args: RawJSON?
        var attempt: Int?
        var createdAt: Date?
        var errors: [AttemptError]?
        var finishedAt: Date?
        var id: TaskID?
        var kind: String?
        var lastError: String?
        var leaseExpiresAt: Date?
        var leaseOwner: String?
        var leaseToken: String?
        var maxAttempts: Int?
        var priority: Int?
        var queue: String?
        var result: RawJSON?
        var retry: RetryPolicy?
        var runAt: Date?
        var startedAt: Date?
        var state: TaskState?
        var tags: [String]?
        var timeout: Double?
        var uniqueKey: String?
        var node: String?
        var parents: Int?
        var pass: ResultPassing?
        var workflowID: TaskID?
        var traceparent: String?
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let (span, escaped, _) = s.stringSpan() else { return nil }
                // Known keys are matched on their bytes; any other key must still be valid text.
                let field: Field?
                if !escaped, let known = Field(span) {
                    field = known
                } else {
                    guard let key = escaped ? JSONScanner.unescape(span) : JSONScanner.utf8(span) else { return nil }
                    field = Field(key)
                }
                guard s.consume(UInt8(ascii: ":")) else { return nil }
                guard let field else {
                    guard s.skipValue(depth: 3) else { return nil }
                    continue
                }
                guard seen & (1 << field.rawValue) == 0 else { return nil }
                seen |= 1 << field.rawValue
                // `null` is "absent" for optional fields and the JSON `null` for `args`;
                // other required fields then fail (fallback).
                if s.consumeLiteral("null") {
                    switch field {
                    case .args:
                        args = .null
                        continue
                    case .finishedAt, .lastError, .leaseExpiresAt, .leaseOwner, .result, .retry, .startedAt, .timeout, .uniqueKey,
                        .node, .parents, .pass, .workflowID, .traceparent:
                        continue
                    default: return nil
                    }
                }
                switch field {
                case .args:
                    guard let text = s.rawValue(depth: 3) else { return nil }
                    args = RawJSON(trusted: text)
                case .result:
                    guard let text = s.rawValue(depth: 3) else { return nil }
                    result = RawJSON(trusted: text)
                case .attempt:
                    guard let v = s.int() else { return nil }
                    attempt = v
                case .maxAttempts:
                    guard let v = s.int() else { return nil }
                    maxAttempts = v
                case .priority:
                    guard let v = s.int() else { return nil }
                    priority = v
                case .timeout:
                    guard let v = s.double() else { return nil }
                    timeout = v
                case .createdAt:
                    guard let v = s.date() else { return nil }
                    createdAt = v
                case .finishedAt:
                    guard let v = s.date() else { return nil }
                    finishedAt = v
                case .leaseExpiresAt:
                    guard let v = s.date() else { return nil }
                    leaseExpiresAt = v
                case .runAt:
                    guard let v = s.date() else { return nil }
                    runAt = v
                case .startedAt:
                    guard let v = s.date() else { return nil }
                    startedAt = v
                case .id:
                    guard let v = s.string(), let parsed = TaskID(v) else { return nil }
                    id = parsed
                case .kind:
                    guard let v = s.string() else { return nil }
                    kind = v
                case .queue:
                    guard let v = s.string() else { return nil }
                    queue = v
                case .lastError:
                    guard let v = s.string() else { return nil }
                    lastError = v
                case .leaseOwner:
                    guard let v = s.string() else { return nil }
                    leaseOwner = v
                case .leaseToken:
                    guard let v = s.string() else { return nil }
                    leaseToken = v
                case .uniqueKey:
                    guard let v = s.string() else { return nil }
                    uniqueKey = v
                case .state:
                    guard let v = s.string(), let parsed = TaskState(rawValue: v) else { return nil }
                    state = parsed
                case .tags:
                    guard let v = s.array({ $0.string() }) else { return nil }
                    tags = v
                case .errors:
                    guard let v = attemptErrors(&s) else { return nil }
                    errors = v
                case .retry:
                    guard let v = s.retryPolicy(refusingUnknownKeys: false, depth: 3) else { return nil }
                    retry = v
                case .node:
                    guard let v = s.string() else { return nil }
                    node = v
                case .parents:
                    guard let v = s.int() else { return nil }
                    parents = v
                case .pass:
                    guard let v = s.string(), let parsed = ResultPassing(rawValue: v) else { return nil }
                    pass = parsed
                case .workflowID:
                    guard let v = s.string(), let parsed = TaskID(v) else { return nil }
                    workflowID = parsed
                case .traceparent:
                    guard let v = s.string() else { return nil }
                    traceparent = v
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        guard let id, let kind, let queue, let args, let priority, let state, let attempt, let maxAttempts, let runAt,
            let errors, let tags, let createdAt, let leaseToken
        else { return nil }
        let task = TaskRecord(
            id: id, kind: kind, queue: queue, args: args, priority: priority, state: state, attempt: attempt,
            maxAttempts: maxAttempts, runAt: runAt, leaseOwner: leaseOwner, leaseExpiresAt: leaseExpiresAt, timeout: timeout,
            retry: retry, result: result, lastError: lastError, errors: errors, uniqueKey: uniqueKey, tags: tags,
            createdAt: createdAt, startedAt: startedAt, finishedAt: finishedAt, workflowID: workflowID, node: node, parentCount: parents,
            pass: pass, traceparent: traceparent)
        return ClaimedTask(task: task, leaseToken: leaseToken)
    }

    private static func attemptErrors(_ s: inout JSONScanner) -> [AttemptError]? {
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var items: [AttemptError] = []
        if s.consume(UInt8(ascii: "]")) { return items }
        repeat {
            guard s.consume(UInt8(ascii: "{")) else { return nil }
            var attempt: Int?
            var at: Date?
            var message: String?
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                    switch key {
                    case "attempt":
                        guard attempt == nil, let v = s.int() else { return nil }
                        attempt = v
                    case "at":
                        guard at == nil, let v = s.date() else { return nil }
                        at = v
                    case "message":
                        guard message == nil, let v = s.string() else { return nil }
                        message = v
                    default: guard s.skipValue(depth: 5) else { return nil }
                    }
                } while s.consume(UInt8(ascii: ","))
                guard s.consume(UInt8(ascii: "}")) else { return nil }
            }
            guard let attempt, let at, let message else { return nil }
            items.append(AttemptError(attempt: attempt, at: at, message: message))
        } while s.consume(UInt8(ascii: ","))
        guard s.consume(UInt8(ascii: "]")) else { return nil }
        return items
    }
}
