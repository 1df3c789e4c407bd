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

/// Reads `POST /v1/workers/ack` answers without `JSONDecoder`: ``AckResponseWireDecoder``
/// (BatonCore) does the work; `nil` means "decode with `JSONDecoder`".
enum AckResponseDecoder {
    static func decode(_ data: Data) -> AckResponse? {
        data.withUnsafeBytes { AckResponseWireDecoder.decode($0) }
    }
}
