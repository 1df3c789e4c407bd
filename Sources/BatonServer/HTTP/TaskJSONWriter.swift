import BatonCore
import Foundation

/// Writes tasks as JSON without a `JSONEncoder`: arguments and results are spliced in as the
/// opaque JSON text they already are (never parsed on the hot path), dates are formatted by
/// arithmetic. The output is what `BatonJSON.encoder()` would produce for the same values
/// (same keys, sorted, same date form), so any Codable client reads it.
struct TaskJSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func string(_ s: String) {
        // Most strings (kinds, queues, tokens, owners) need no escape: copied in one append.
        var s = s
        let plain = s.withUTF8 { utf8 -> Bool in
            for b in utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: utf8)
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if !plain { escaped(s) }
    }

    private mutating func escaped(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw(#"\""#)
            case UInt8(ascii: "\\"): raw(#"\\"#)
            case 0x0A: raw(#"\n"#)
            case 0x0D: raw(#"\r"#)
            case 0x09: raw(#"\t"#)
            case 0x08: raw(#"\b"#)
            case 0x0C: raw(#"\f"#)
            case 0..<0x20:
                raw(#"\u00"#)
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func int(_ i: Int) { bytes.append(contentsOf: String(i).utf8) }

    mutating func double(_ d: Double) {
        if d == d.rounded(), abs(d) < 1e15 {
            int(Int(d))
        } else {
            bytes.append(contentsOf: "\(d)".utf8)
        }
    }

    mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    mutating func json(_ j: RawJSON) { bytes.append(contentsOf: j.text.utf8) }

    /// RFC 3339 UTC with milliseconds, as `BatonJSON.formatDate`.
    mutating func date(_ date: Date) {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var days = totalMillis / 86_400_000
        var msOfDay = totalMillis % 86_400_000
        if msOfDay < 0 {
            msOfDay += 86_400_000
            days -= 1
        }
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)

        bytes.append(UInt8(ascii: "\""))
        digits(Int(year), 4)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(month), 2)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(day), 2)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(msOfDay / 3_600_000), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(msOfDay / 60_000 % 60), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(msOfDay / 1000 % 60), 2)
        bytes.append(UInt8(ascii: "."))
        digits(Int(msOfDay % 1000), 3)
        raw("Z\"")
    }

    private mutating func digits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        if v >= divisor * 10 {
            bytes.append(contentsOf: String(v).utf8)
            return
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(v / divisor))
            v %= divisor
            divisor /= 10
        }
    }

    // MARK: Tasks

    mutating func task(_ t: TaskRecord, leaseToken: String? = nil) {
        raw(#"{"args":"#)
        json(t.args)
        raw(#","attempt":"#)
        int(t.attempt)
        raw(#","created_at":"#)
        date(t.createdAt)
        raw(#","errors":["#)
        for (i, e) in t.errors.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            raw(#"{"at":"#)
            date(e.at)
            raw(#","attempt":"#)
            int(e.attempt)
            raw(#","message":"#)
            string(e.message)
            byte(UInt8(ascii: "}"))
        }
        byte(UInt8(ascii: "]"))
        if let d = t.finishedAt {
            raw(#","finished_at":"#)
            date(d)
        }
        raw(#","id":""#)
        bytes.append(contentsOf: t.id.description.utf8)
        raw(#"","kind":"#)
        string(t.kind)
        if let e = t.lastError {
            raw(#","last_error":"#)
            string(e)
        }
        if let d = t.leaseExpiresAt {
            raw(#","lease_expires_at":"#)
            date(d)
        }
        if let o = t.leaseOwner {
            raw(#","lease_owner":"#)
            string(o)
        }
        if let token = leaseToken {
            raw(#","lease_token":"#)
            string(token)
        }
        raw(#","max_attempts":"#)
        int(t.maxAttempts)
        raw(#","priority":"#)
        int(t.priority)
        raw(#","queue":"#)
        string(t.queue)
        if let r = t.result {
            raw(#","result":"#)
            json(r)
        }
        if let r = t.retry {
            raw(#","retry":"#)
            retry(r)
        }
        raw(#","run_at":"#)
        date(t.runAt)
        if let d = t.startedAt {
            raw(#","started_at":"#)
            date(d)
        }
        raw(#","state":""#)
        bytes.append(contentsOf: t.state.rawValue.utf8)
        raw(#"","tags":["#)
        for (i, tag) in t.tags.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            string(tag)
        }
        byte(UInt8(ascii: "]"))
        if let timeout = t.timeout {
            raw(#","timeout":"#)
            double(timeout)
        }
        if let key = t.uniqueKey {
            raw(#","unique_key":"#)
            string(key)
        }
        byte(UInt8(ascii: "}"))
    }

    private mutating func retry(_ r: RetryPolicy) {
        switch r {
        case .exponential(let base, let cap, let jitter):
            raw(#"{"backoff":"#)
            double(base.seconds)
            raw(#","cap":"#)
            double(cap.seconds)
            raw(#","jitter":"#)
            bool(jitter)
            raw(#","policy":"exponential"}"#)
        case .fibonacci(let base, let cap):
            raw(#"{"backoff":"#)
            double(base.seconds)
            raw(#","cap":"#)
            double(cap.seconds)
            raw(#","policy":"fibonacci"}"#)
        case .fixed(let d):
            raw(#"{"backoff":"#)
            double(d.seconds)
            raw(#","policy":"fixed"}"#)
        case .none:
            raw(#"{"policy":"none"}"#)
        }
    }

    /// `[task, task, ...]`
    mutating func tasks(_ ts: [TaskRecord]) {
        byte(UInt8(ascii: "["))
        for (i, t) in ts.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            task(t)
        }
        byte(UInt8(ascii: "]"))
    }

    // MARK: Whole bodies

    static func task(_ t: TaskRecord) -> [UInt8] {
        var w = TaskJSONWriter()
        w.task(t)
        return w.bytes
    }

    /// `{"tasks": [...]}` (a batch submit's answer).
    static func taskList(_ ts: [TaskRecord]) -> [UInt8] {
        var w = TaskJSONWriter(capacity: 64 + ts.count * 400)
        w.raw(#"{"tasks":"#)
        w.tasks(ts)
        w.byte(UInt8(ascii: "}"))
        return w.bytes
    }

    /// `{"next_cursor": ..., "tasks": [...]}`; `next_cursor` is `null` on the last page.
    static func page(_ p: TaskPage) -> [UInt8] {
        var w = TaskJSONWriter(capacity: 64 + p.tasks.count * 400)
        w.raw(#"{"next_cursor":"#)
        if let c = p.nextCursor { w.string(c) } else { w.raw("null") }
        w.raw(#","tasks":"#)
        w.tasks(p.tasks)
        w.byte(UInt8(ascii: "}"))
        return w.bytes
    }

    /// A claim's answer: `{"tasks": [task + lease_token, ...]}`.
    static func claim(_ claimed: [ClaimedTask]) -> [UInt8] {
        var w = TaskJSONWriter(capacity: 16 + claimed.count * 450)
        w.raw(#"{"tasks":["#)
        for (i, c) in claimed.enumerated() {
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            w.task(c.task, leaseToken: c.leaseToken)
        }
        w.raw("]}")
        return w.bytes
    }

    /// A batched ack's answer: `{"results": [{"id", "state"?, "status"}, ...]}`, as `AckResponse` encodes.
    static func ackResults(ids: [TaskID], outcomes: [AckOutcome]) -> [UInt8] {
        var w = TaskJSONWriter(capacity: 16 + ids.count * 90)
        w.raw(#"{"results":["#)
        for (i, (id, outcome)) in zip(ids, outcomes).enumerated() {
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            w.raw(#"{"id":""#)
            w.bytes.append(contentsOf: id.description.utf8)
            switch outcome {
            case .applied(let state):
                w.raw(#"","state":""#)
                w.bytes.append(contentsOf: state.rawValue.utf8)
                w.raw(#"","status":"applied"}"#)
            case .staleLease:
                w.raw(#"","status":"stale_lease"}"#)
            case .notFound:
                w.raw(#"","status":"not_found"}"#)
            }
        }
        w.raw("]}")
        return w.bytes
    }
}
