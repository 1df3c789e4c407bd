/// Reads `POST /v1/workers/ack` bodies without `JSONDecoder`, in one pass that also checks
/// their syntax (strictly, nested at most `maxDepth` deep): each `result` is validated and
/// kept as its JSON text, never parsed into a tree and re-encoded. Returns `nil` for
/// anything unusual (wrong types, unknown outcome, negative `retry_after_ms`, bad JSON); the
/// route then checks the syntax (for the byte offset of an error) and decodes with
/// `JSONDecoder` for the exact error message. The node's route calls
/// it through `FastAckDecoder` (BatonServer); it lives here, over raw bytes, so that the fuzz
/// target (`Fuzz/`) builds without NIO.
package enum AckWireDecoder {
    package static func decode(_ raw: UnsafeRawBufferPointer, maxDepth: Int = Limits.defaultMaxJSONDepth) -> [TaskAck]? {
        // The body nests an ack's members three levels deep.
        guard maxDepth > 2 else { return nil }
        var s = JSONScanner(raw, maxDepth: maxDepth)
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var acks: [TaskAck]?
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                if key == "acks" {
                    guard acks == nil, let items = items(&s) else { return nil }
                    acks = items
                } else {
                    guard s.skipValue(depth: 1) else { return nil }
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        s.skipWhitespace()
        guard s.atEnd else { return nil }
        return acks
    }

    private static func items(_ s: inout JSONScanner) -> [TaskAck]? {
        guard s.consume(UInt8(ascii: "[")) else { return nil }
        var acks: [TaskAck] = []
        if s.consume(UInt8(ascii: "]")) { return acks }
        repeat {
            guard let ack = item(&s) else { return nil }
            acks.append(ack)
        } while s.consume(UInt8(ascii: ","))
        guard s.consume(UInt8(ascii: "]")) else { return nil }
        return acks
    }

    private static func item(_ s: inout JSONScanner) -> TaskAck? {
        guard s.consume(UInt8(ascii: "{")) else { return nil }
        var id: TaskID?
        var token: String?
        var outcome: String?
        var result: RawJSON?
        var error: String?
        var retryable: Bool?
        var retryAfterMS: Int?
        // The known keys seen, as bits: a repeated one is left to `JSONDecoder`, which keeps
        // the first value (taking the last here acked with another token, id or outcome).
        var seen = 0
        func first(_ bit: Int) -> Bool {
            defer { seen |= bit }
            return seen & bit == 0
        }
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = s.string(), s.consume(UInt8(ascii: ":")) else { return nil }
                let isNull = s.consumeLiteral("null")
                switch key {
                case "id":
                    guard first(1), !isNull, let text = s.string(), let parsed = TaskID(text) else { return nil }
                    id = parsed
                case "lease_token":
                    guard first(2), !isNull, let text = s.string() else { return nil }
                    token = text
                case "outcome":
                    guard first(4), !isNull, let text = s.string() else { return nil }
                    outcome = text
                case "result":
                    guard first(8) else { return nil }
                    if isNull {
                        result = .null
                    } else {
                        guard let text = s.rawValue(depth: 3) else { return nil }
                        result = RawJSON(trusted: text)
                    }
                case "error":
                    guard first(16) else { return nil }
                    if !isNull {
                        guard let text = s.string() else { return nil }
                        error = text
                    }
                case "retryable":
                    guard first(32) else { return nil }
                    if !isNull {
                        guard let b = s.bool() else { return nil }
                        retryable = b
                    }
                case "retry_after_ms":
                    guard first(64) else { return nil }
                    if !isNull {
                        guard let ms = s.int(), ms >= 0 else { return nil }
                        retryAfterMS = ms
                    }
                default:
                    if !isNull { guard s.skipValue(depth: 3) else { return nil } }
                }
            } while s.consume(UInt8(ascii: ","))
            guard s.consume(UInt8(ascii: "}")) else { return nil }
        }
        guard let id, let token, let outcome else { return nil }
        // The same conversion as the Codable path; what it refuses goes there for its message.
        return try? AckItem(
            id: id, leaseToken: token, outcome: outcome, result: result, error: error, retryable: retryable, retryAfterMS: retryAfterMS
        ).toAck()
    }
}
