import BatonCore
import Foundation

extension HTTPTaskSource {
    /// Decodes a node's answer: claim answers with ``ClaimResponseDecoder`` and ack answers with
    /// ``AckResponseDecoder`` (the hot path), anything else, or an answer the scanner does not
    /// take, with `JSONDecoder` — unless it nests deeper than 512 levels, which `JSONDecoder`
    /// refuses anyway and on which it may trap (`[` 513 times; see ``JSONNesting``).
    static func decodeResponse<Response: Decodable>(_ type: Response.Type, from data: Data) throws -> Response {
        if Response.self == ClaimResponse.self, let fast = ClaimResponseDecoder.decode(data) as? Response { return fast }
        if Response.self == AckResponse.self, let fast = AckResponseDecoder.decode(data) as? Response { return fast }
        let limit = ClaimResponseDecoder.maxDepth
        if data.withUnsafeBytes({ JSONNesting.exceeds(limit, in: $0) }) {
            throw BatonError.invalidArgument("JSON nested deeper than \(limit) levels")
        }
        return try BatonJSON.decoder().decode(Response.self, from: data)
    }
}

/// Reads `POST /v1/workers/claim` answers without `JSONDecoder`: ``ClaimResponseWireDecoder``
/// (BatonCore) does the work; `nil` means "decode with `JSONDecoder`".
enum ClaimResponseDecoder {
    static let maxDepth = ClaimResponseWireDecoder.maxDepth

    /// The keys of a claimed task, as bits, to refuse a repeated one.
    typealias Field = ClaimResponseWireDecoder.Field

    static func decode(_ data: Data) -> ClaimResponse? {
        data.withUnsafeBytes { ClaimResponseWireDecoder.decode($0) }
    }
}
