import BatonCore
import Foundation

/// Writes `POST /v1/workers/ack` bodies without `JSONEncoder`: the same keys, sorted, and the
/// same values as `BatonJSON.encoder()` writes for an ``AckBody``; results are spliced in as
/// their text when it is already canonical (as `RawJSON`'s Codable path would re-encode it).
enum AckRequestWriter {
    /// The body, or `nil` when a result is not in canonical form (the caller then encodes
    /// with `JSONEncoder`, which normalises it).
    static func body(_ acks: [TaskAck]) -> [UInt8]? {
        var w = JSONWriter(capacity: 16 + acks.count * 128)
        w.raw(#"{"acks":["#)
        for (i, ack) in acks.enumerated() {
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            let item = AckItem(ack)
            w.byte(UInt8(ascii: "{"))
            if let error = item.error {
                w.raw(#""error":"#)
                w.string(error)
                w.byte(UInt8(ascii: ","))
            }
            w.raw(#""id":""#)
            w.ascii(item.id.description)
            w.raw(#"","lease_token":"#)
            w.string(item.leaseToken)
            w.raw(#","outcome":"#)
            w.string(item.outcome)
            if let result = item.result {
                guard CanonicalJSON.isCanonical(result.text) else { return nil }
                w.raw(#","result":"#)
                w.ascii(result.text)
            }
            if let ms = item.retryAfterMS {
                w.raw(#","retry_after_ms":"#)
                w.ascii(String(ms))
            }
            if let retryable = item.retryable {
                w.raw(retryable ? #","retryable":true"# : #","retryable":false"#)
            }
            w.byte(UInt8(ascii: "}"))
        }
        w.raw("]}")
        return w.bytes
    }
}

/// Reads `POST /v1/workers/ack` answers (`{"results": [{"id", "status", "state"?}, ...]}`)
/// without `JSONDecoder`. Returns `nil` for anything it is not sure of (a repeated or missing
/// key, an unexpected type, a state it does not know); the caller then decodes with
/// `JSONDecoder`, which gives the same values or the precise error. Unknown keys are skipped.
enum AckResponseDecoder {
    static func decode(_ data: Data) -> AckResponse? {
        data.withUnsafeBytes { raw -> AckResponse? in
            var s = JSONScanner(raw, maxDepth: ClaimResponseDecoder.maxDepth)
            guard s.consume(UInt8(ascii: "{")) else { return nil }
            var results: [AckItemResult]?
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                    if key == "results" {
                        guard results == nil, let list = resultList(&s) else { return nil }
                        results = list
                    } else {
                        guard s.skipValue(depth: 1) else { return nil }
                    }
                } while s.consume(UInt8(ascii: ","))
                guard s.consume(UInt8(ascii: "}")) else { return nil }
            }
            s.skipWhitespace()
            guard s.atEnd, let results else { return nil }
            return AckResponse(results: results)
        }
    }

    private static func resultList(_ s: inout JSONScanner) -> [AckItemResult]? {
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var results: [AckItemResult] = []
        if s.consume(UInt8(ascii: "]")) { return results }
        repeat {
            guard let result = item(&s) else { return nil }
            results.append(result)
        } while s.consume(UInt8(ascii: ","))
        guard s.consume(UInt8(ascii: "]")) else { return nil }
        return results
    }

    private static func item(_ s: inout JSONScanner) -> AckItemResult? {
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var id: TaskID?
        var status: String?
        var state: TaskState?
        var sawState = false
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                switch key {
                case "id":
                    guard id == nil, let text = s.string(), let parsed = TaskID(text) else { return nil }
                    id = parsed
                case "status":
                    guard status == nil, let text = s.string() else { return nil }
                    status = text
                case "state":
                    guard !sawState else { return nil }
                    sawState = true
                    if !s.consumeLiteral("null") {
                        guard let text = s.string(), let parsed = TaskState(rawValue: text) else { return nil }
                        state = parsed
                    }
                default:
                    guard s.skipValue(depth: 3) else { return nil }
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        guard let id, let status else { return nil }
        var result = AckItemResult(id: id, outcome: .notFound)
        result.status = status
        result.state = state
        return result
    }
}
