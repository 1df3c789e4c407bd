import BatonCore
import Foundation

/// The node's answers written without a `JSONEncoder` (`JSONWriter`): arguments and results
/// are spliced in as the opaque JSON text they already are (never parsed on the hot path).
/// The output is what `BatonJSON.encoder()` would produce for the same values (same keys,
/// sorted, same date form), so any Codable client reads it.
typealias TaskJSONWriter = JSONWriter

extension JSONWriter {
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
        ascii(t.id.description)
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
        if let n = t.node {
            raw(#","node":"#)
            string(n)
        }
        if let n = t.parentCount {
            raw(#","parents":"#)
            int(n)
        }
        if let p = t.pass {
            raw(#","pass":""#)
            ascii(p.rawValue)
            byte(UInt8(ascii: "\""))
        }
        raw(#","priority":"#)
        int(t.priority)
        if let p = t.progress { progress(p) }
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
        ascii(t.state.rawValue)
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
        if let traceparent = t.traceparent {
            raw(#","traceparent":"#)
            string(traceparent)
        }
        if let key = t.uniqueKey {
            raw(#","unique_key":"#)
            string(key)
        }
        if let w = t.workflowID {
            raw(#","workflow_id":""#)
            ascii(w.description)
            byte(UInt8(ascii: "\""))
        }
        byte(UInt8(ascii: "}"))
    }

    /// `"progress":{…}` with its keys sorted, as the encoder writes them.
    private mutating func progress(_ p: TaskProgress) {
        raw(#","progress":{"#)
        var first = true
        func key(_ name: String) {
            if !first { byte(UInt8(ascii: ",")) }
            first = false
            ascii("\"\(name)\":")
        }
        if let at = p.at {
            key("at")
            date(at)
        }
        if let attempt = p.attempt {
            key("attempt")
            int(attempt)
        }
        key("fraction")
        double(p.fraction)
        if let message = p.message {
            key("message")
            string(message)
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
            w.ascii(id.description)
            switch outcome {
            case .applied(let state):
                w.raw(#"","state":""#)
                w.ascii(state.rawValue)
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
