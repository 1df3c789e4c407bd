import BatonCore
import Foundation
import Testing

@testable import BatonWorker

/// A node's answer nested deeper than 512 levels never reaches `JSONDecoder`: Foundation's
/// decoder traps (kills the worker) on `[` 513 times, which the JSON fuzz target found.
@Suite struct DecodeResponseNestingTests {
    @Test func answerThatTrapsFoundationsDecoderIsRefused() {
        for text in [String(repeating: "[", count: 513), #"["]","# + String(repeating: "[", count: 512)] {
            let data = Data(text.utf8)
            #expect(throws: BatonError.self) { try HTTPTaskSource.decodeResponse(ClaimResponse.self, from: data) }
            #expect(throws: BatonError.self) { try HTTPTaskSource.decodeResponse(AckResponse.self, from: data) }
            #expect(throws: BatonError.self) { try HTTPTaskSource.decodeResponse(HeartbeatManyResponse.self, from: data) }
        }
    }

    @Test func answersAtFoundationsNestingLimitAreStillDecoded() throws {
        // 512 levels is Foundation's limit and the worker's: still JSON, still decoded (to an error of type).
        let nested = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: DecodingError.self) { try HTTPTaskSource.decodeResponse(ClaimResponse.self, from: Data(nested.utf8)) }
        let answer = HeartbeatManyResponse(results: [])
        #expect(try HTTPTaskSource.decodeResponse(HeartbeatManyResponse.self, from: BatonJSON.encoder().encode(answer)) == answer)
    }
}
