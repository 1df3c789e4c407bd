import BatonCore
import Foundation

extension HTTPTaskSource {
    /// Decodes a node's answer: claim answers with ``ClaimResponseDecoder`` and ack answers with
    /// ``AckResponseDecoder`` (the hot path), anything else, or an answer the scanner does not
    /// take, with `JSONDecoder`.
    static func decodeResponse<Response: Decodable>(_ type: Response.Type, from data: Data) throws -> Response {
        if Response.self == ClaimResponse.self, let fast = ClaimResponseDecoder.decode(data) as? Response { return fast }
        if Response.self == AckResponse.self, let fast = AckResponseDecoder.decode(data) as? Response { return fast }
        return try BatonJSON.decoder().decode(Response.self, from: data)
    }
}

/// Reads `POST /v1/workers/claim` answers (`{"tasks": [task + lease_token, ...]}`) without
/// `JSONDecoder`: one pass over the bytes, arguments and results kept as the JSON text they
/// were sent as (compacted, never parsed into a tree), dates in the node's own form
/// (`2026-11-23T19:00:00.123Z`) read by arithmetic.
///
/// Returns `nil` for anything it is not sure of (a type it does not expect, a `null` where
/// a value is required, a repeated key, invalid UTF-8, a malformed escape or number, a
/// retry policy with unexpected fields); the caller then decodes with `JSONDecoder`, which
/// gives the same values or the precise error. Unknown keys are skipped, as `JSONDecoder` does.
/// Arguments and results are equal as JSON to what `JSONDecoder` yields; their text is the
/// same whenever the node sends them in canonical form, as it stores them.
enum ClaimResponseDecoder {
    static let maxDepth = 512

    static func decode(_ data: Data) -> ClaimResponse? {
        data.withUnsafeBytes { raw -> ClaimResponse? in
            var s = ByteScanner(raw)
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
    }

    private static func taskList(_ s: inout ByteScanner) -> [ClaimedTask]? {
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
    enum Field: Int, CaseIterable {
        case args, attempt, createdAt, errors, finishedAt, id, kind, lastError, leaseExpiresAt, leaseOwner, leaseToken
        case maxAttempts, priority, queue, result, retry, runAt, startedAt, state, tags, timeout, uniqueKey

        /// The keys' bytes, in `rawValue` order.
        static let names: [[UInt8]] = [
            "args", "attempt", "created_at", "errors", "finished_at", "id", "kind", "last_error", "lease_expires_at", "lease_owner",
            "lease_token", "max_attempts", "priority", "queue", "result", "retry", "run_at", "started_at", "state", "tags", "timeout",
            "unique_key",
        ].map { Array($0.utf8) }

        init?(_ key: UnsafeRawBufferPointer) {
            for (i, name) in Self.names.enumerated() where name.count == key.count && name.first == key.first {
                if name.withUnsafeBytes({ memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }) {
                    self.init(rawValue: i)
                    return
                }
            }
            return nil
        }

        init?(_ key: String) {
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
            default: return nil
            }
        }
    }

    private static func claimedTask(_ s: inout ByteScanner) -> ClaimedTask? {
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
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let (span, escaped) = s.stringSpan() else { return nil }
                // Known keys are matched on their bytes; any other key must still be valid text.
                let field: Field?
                if !escaped, let known = Field(span) {
                    field = known
                } else {
                    guard let key = escaped ? ByteScanner.unescape(span) : ByteScanner.utf8(span) else { return nil }
                    field = Field(key)
                }
                guard s.consume(UInt8(ascii: ":")) else { return nil }
                guard let field else {
                    guard s.skipValue(depth: 2) else { return nil }
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
                    case .finishedAt, .lastError, .leaseExpiresAt, .leaseOwner, .result, .retry, .startedAt, .timeout, .uniqueKey:
                        continue
                    default: return nil
                    }
                }
                switch field {
                case .args:
                    guard let text = s.rawValue() else { return nil }
                    args = RawJSON(trusted: text)
                case .result:
                    guard let text = s.rawValue() else { return nil }
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
                    guard let v = stringArray(&s) else { return nil }
                    tags = v
                case .errors:
                    guard let v = attemptErrors(&s) else { return nil }
                    errors = v
                case .retry:
                    guard let v = retryPolicy(&s) else { return nil }
                    retry = v
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
            createdAt: createdAt, startedAt: startedAt, finishedAt: finishedAt)
        return ClaimedTask(task: task, leaseToken: leaseToken)
    }

    private static func stringArray(_ s: inout ByteScanner) -> [String]? {
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var items: [String] = []
        if s.consume(UInt8(ascii: "]")) { return items }
        repeat {
            guard let item = s.string() else { return nil }
            items.append(item)
        } while s.consume(UInt8(ascii: ","))
        guard s.consume(UInt8(ascii: "]")) else { return nil }
        return items
    }

    private static func attemptErrors(_ s: inout ByteScanner) -> [AttemptError]? {
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
                    default: guard s.skipValue(depth: 4) else { return nil }
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

    /// `{"policy", "backoff"?, "cap"?, "jitter"?}` as `RetryPolicy`'s Codable reads it.
    private static func retryPolicy(_ s: inout ByteScanner) -> RetryPolicy? {
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var name: String?
        var backoff: Double?
        var cap: Double?
        var jitter: Bool?
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                switch key {
                case "policy":
                    guard name == nil, let v = s.string() else { return nil }
                    name = v
                case "backoff":
                    guard backoff == nil, let v = s.double() else { return nil }
                    backoff = v
                case "cap":
                    guard cap == nil, let v = s.double() else { return nil }
                    cap = v
                case "jitter":
                    guard jitter == nil, let v = s.bool() else { return nil }
                    jitter = v
                default: guard s.skipValue(depth: 3) else { return nil }
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        guard let name, var policy = try? RetryPolicy.named(name, base: backoff, cap: cap) else { return nil }
        if case .exponential(let b, let c, _) = policy, let jitter { policy = .exponential(base: b, cap: c, jitter: jitter) }
        return policy
    }
}

/// A validating JSON scanner over bytes (the worker's copy of the node's `JSONScanner`, with
/// UTF-8 validation, numbers as `Double` and dates).
struct ByteScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func consume(_ c: UInt8) -> Bool {
        skipWhitespace()
        guard peek == c else { return false }
        index += 1
        return true
    }

    mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        skipWhitespace()
        let n = literal.utf8CodeUnitCount
        guard index + n <= bytes.count else { return false }
        for k in 0..<n where bytes[index + k] != literal.utf8Start[k] { return false }
        index += n
        return true
    }

    /// The span of a string's contents (between the quotes) and whether it holds escapes.
    mutating func stringSpan() -> (UnsafeRawBufferPointer, escaped: Bool)? {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                let span = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return (span, escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                index += 2
                continue
            }
            if c < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    /// The text of UTF-8 bytes; `nil` if they are not valid UTF-8. ASCII (the usual case) is
    /// checked by a plain loop and decoded directly: `String(validating:as:)` is generic and
    /// looks up type metadata on every call.
    static func utf8(_ span: UnsafeRawBufferPointer) -> String? {
        var ascii = true
        for b in span where b >= 0x80 {
            ascii = false
            break
        }
        return ascii ? String(decoding: span, as: UTF8.self) : String(validating: span, as: UTF8.self)
    }

    /// A string value, escapes decoded; `nil` on invalid UTF-8 or a malformed escape.
    mutating func string() -> String? {
        guard let (span, escaped) = stringSpan() else { return nil }
        return escaped ? Self.unescape(span) : Self.utf8(span)
    }

    /// An integer (no fraction or exponent) that fits `Int`.
    mutating func int() -> Int? {
        skipWhitespace()
        let negative = peek == UInt8(ascii: "-")
        if negative { index += 1 }
        let firstDigit = index
        var value = 0
        while let c = peek, c >= 0x30, c <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int(c - 0x30)) : m.addingReportingOverflow(Int(c - 0x30))
            if o1 || o2 { return nil }
            value = s
            index += 1
        }
        let digits = index - firstDigit
        guard digits > 0, !(digits > 1 && bytes[firstDigit] == 0x30) else { return nil }
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }
        return value
    }

    /// Any JSON number, as `Double` (finite).
    mutating func double() -> Double? {
        skipWhitespace()
        let start = index
        guard skipNumber() else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    mutating func bool() -> Bool? {
        if consumeLiteral("true") { return true }
        if consumeLiteral("false") { return false }
        return nil
    }

    /// An RFC 3339 time: `YYYY-MM-DDTHH:MM:SS.mmmZ` by arithmetic, any other form through
    /// `BatonJSON.parseDate` (as `JSONDecoder` with Baton's date strategy reads it).
    mutating func date() -> Date? {
        guard let (span, escaped) = stringSpan() else { return nil }
        if !escaped, let millis = Self.canonicalMillis(span) {
            return Date(timeIntervalSince1970: Double(millis) / 1000)
        }
        guard let text = escaped ? Self.unescape(span) : Self.utf8(span) else { return nil }
        return BatonJSON.parseDate(text)
    }

    /// Milliseconds since 1970 of `YYYY-MM-DDTHH:MM:SS.mmmZ` with a valid date and time.
    static func canonicalMillis(_ s: UnsafeRawBufferPointer) -> Int64? {
        guard s.count == 24, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"), s[10] == UInt8(ascii: "T"),
            s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":"), s[19] == UInt8(ascii: "."), s[23] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<from + count {
                let c = s[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), let millis = number(20, 3)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), day >= 1, day <= monthDays[Int(month - 1)], hour < 24, minute < 60, second < 60
        else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis
    }

    /// Validates any JSON value and returns it as compact text (whitespace outside strings removed).
    mutating func rawValue() -> String? {
        skipWhitespace()
        let start = index
        guard skipValue(depth: 0) else { return nil }
        let span = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        var needsCompaction = false
        var inString = false
        var escaped = false
        for c in span {
            if inString {
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if c == UInt8(ascii: "\"") {
                inString = true
            } else if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                needsCompaction = true
                break
            }
        }
        if !needsCompaction { return Self.utf8(span) }
        var out: [UInt8] = []
        out.reserveCapacity(span.count)
        inString = false
        escaped = false
        for c in span {
            if inString {
                out.append(c)
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if c == UInt8(ascii: "\"") {
                inString = true
                out.append(c)
            } else if !(c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) {
                out.append(c)
            }
        }
        return out.withUnsafeBytes { Self.utf8($0) }
    }

    /// Skips one value, validating its syntax (strings' escapes included).
    mutating func skipValue(depth: Int) -> Bool {
        skipWhitespace()
        guard let c = peek else { return false }
        switch c {
        case UInt8(ascii: "{"):
            guard depth < ClaimResponseDecoder.maxDepth else { return false }
            index += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                guard skipString(), consume(UInt8(ascii: ":")), skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            guard depth < ClaimResponseDecoder.maxDepth else { return false }
            index += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "t"): return consumeLiteral("true")
        case UInt8(ascii: "f"): return consumeLiteral("false")
        case UInt8(ascii: "n"): return consumeLiteral("null")
        default:
            return skipNumber()
        }
    }

    private mutating func skipString() -> Bool {
        guard let (span, escaped) = stringSpan() else { return false }
        return !escaped || Self.unescape(span) != nil
    }

    private mutating func skipNumber() -> Bool {
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, first >= 0x30, first <= 0x39 else { return false }
        index += 1
        if first != 0x30 { skipDigits() }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { return false }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { return false }
        }
        return true
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        var n = 0
        while let c = peek, c >= 0x30, c <= 0x39 {
            index += 1
            n += 1
        }
        return n
    }

    /// Decodes the escapes of a string's contents; `nil` on an invalid escape, a lone
    /// surrogate or invalid UTF-8.
    static func unescape(_ s: UnsafeRawBufferPointer) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < s.count else { return nil }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hex4(s, i) else { return nil }
                i += 4
                var scalarValue = UInt32(unit)
                if (0xD800..<0xDC00).contains(unit) {
                    guard i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"), let low = hex4(s, i + 2),
                        (0xDC00..<0xE000).contains(low)
                    else { return nil }
                    i += 6
                    scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                out.append(contentsOf: String(Character(scalar)).utf8)
            default:
                return nil
            }
        }
        return out.withUnsafeBytes { Self.utf8($0) }
    }

    private static func hex4(_ s: UnsafeRawBufferPointer, _ i: Int) -> UInt16? {
        guard i + 4 <= s.count else { return nil }
        var v: UInt16 = 0
        for k in 0..<4 {
            let c = s[i + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }
}
