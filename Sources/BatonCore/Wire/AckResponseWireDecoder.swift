import Foundation

/// Reads `POST /v1/workers/ack` answers (`{"results": [{"id", "status", "state"?}, ...]}`)
/// without `JSONDecoder`. Returns `nil` for anything it is not sure of (a repeated or missing
/// key, an unexpected type, a state it does not know); the caller then decodes with
/// `JSONDecoder`, which gives the same values or the precise error. Unknown keys are skipped.
/// The worker calls it through `AckResponseDecoder` (BatonWorker); it lives here, over raw
/// bytes, so that the fuzz target (`Fuzz/`) builds with BatonCore alone.
package enum AckResponseWireDecoder {
    package static func decode(_ raw: UnsafeRawBufferPointer) -> AckResponse? {
        var s = JSONScanner(raw, maxDepth: ClaimResponseWireDecoder.maxDepth)
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
