import BatonCore
import Foundation
import NIOCore
import Testing

@testable import BatonServer

@Suite("Fast ack decoder")
struct FastAckDecoderTests {
    static let id = TaskID.generate()

    /// The Codable path's acks for the same body.
    func slow(_ json: String) throws -> [TaskAck] {
        try BatonJSON.decoder().decode(AckBody.self, from: Data(json.utf8)).acks.map { try $0.toAck() }
    }

    func fast(_ json: String) -> [TaskAck]? {
        FastAckDecoder.decode(ByteBuffer(string: json))
    }

    @Test(arguments: [
        #"{"acks":[]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete","result":{"b":[1,2.5,-3e2,true,null],"a":"x\"y\\z\n\u00e9\ud83d\ude00"}}]}"#,
        #"{ "acks" : [ { "id" : "ID" , "lease_token" : "t" , "outcome" : "complete" , "result" : { "k" : [ 1 , "a b" ] } } ] , "extra" : {"x":[1]} }"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete"}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete","result":null}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"fail","error":"boom\ttab","retryable":false,"retry_after_ms":1500}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"fail","error":null,"retryable":null,"retry_after_ms":null,"unknown":{"a":1}}]}"#,
        #"{"acks":[{"outcome":"complete","result":"s","lease_token":"t","id":"ID"},{"id":"ID","lease_token":"u","outcome":"fail"}]}"#,
    ])
    func matchesCodable(_ template: String) throws {
        let json = template.replacingOccurrences(of: "ID", with: Self.id.description)
        let expected = try slow(json)
        let got = try #require(fast(json))
        #expect(got.count == expected.count)
        for (a, b) in zip(got, expected) {
            switch (a, b) {
            case (.complete(let x), .complete(let y)):
                #expect(x.lease == y.lease)
                #expect(try x.result.parsed() == y.result.parsed())
                #expect(!x.result.text.contains(" ") || x.result.text.contains("a b"))
            case (.fail(let x), .fail(let y)):
                #expect(x == y)
            default:
                Issue.record("outcome differs: \(a) vs \(b)")
            }
        }
    }

    @Test(arguments: [
        "", "{", "[]", #"{"acks":{}}"#, #"{"acks":[1]}"#, #"{"acks":[]} x"#,
        #"{"acks":[{"id":"nope","lease_token":"t","outcome":"complete"}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"maybe"}]}"#,
        #"{"acks":[{"id":"ID","outcome":"complete"}]}"#,
        #"{"acks":[{"id":"ID","lease_token":7,"outcome":"complete"}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete","result":{"a":}}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete","result":01}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete","result":"bad \q escape"}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"fail","retry_after_ms":-1}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"fail","retry_after_ms":1.5}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"fail","retryable":"yes"}]}"#,
        #"{"acks":[{"id":"ID","lease_token":"t","outcome":"complete","result":nul}]}"#,
    ])
    func givesUpOnUnusualInput(_ template: String) {
        let json = template.replacingOccurrences(of: "ID", with: Self.id.description)
        #expect(fast(json) == nil)
    }

    @Test func refusesNestingBeyondTheLimit() {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        let json = #"{"acks":[{"id":"\#(Self.id)","lease_token":"t","outcome":"complete","result":\#(deep)}]}"#
        #expect(fast(json) == nil)
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(fast(#"{"acks":[{"id":"\#(Self.id)","lease_token":"t","outcome":"complete","result":\#(ok)}]}"#) != nil)
    }
}
