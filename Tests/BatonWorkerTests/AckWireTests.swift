import BatonCore
import Foundation
import Testing

@testable import BatonWorker

/// The hand-written ack body writer and ack-answer reader against `JSONEncoder`/`JSONDecoder`
/// (Baton's coders): the same bytes or values where they answer, `nil` where they are unsure.
@Suite struct AckWireTests {
    static let texts = [
        "plain", "quote \" backslash \\ slash / tab \t newline \n cr \r", "é ü ß 中文 🎉", "\u{01} control \u{1F} \u{08}\u{0C}", "",
    ]

    /// Completions with canonical results and failures with every optional field set or not.
    static func variedAcks() throws -> [TaskAck] {
        let results = ["null", "{}", #"{"a":1,"b":[true,false,null],"c":{"d":"é🎉"}}"#, "[]", "-12", #""s/l""#]
        var acks: [TaskAck] = []
        for i in 0..<40 {
            let lease = LeaseRef(id: .generate(), token: i % 7 == 0 ? "token \(texts[i % texts.count])" : String(format: "%032x", i))
            if i % 3 == 0 {
                let retryAfter: Duration? = [nil, .milliseconds(1500), .zero, .seconds(3600)][i % 4]
                acks.append(
                    .fail(TaskFailure(lease: lease, message: texts[i % texts.count], retryable: i % 2 == 0, retryAfter: retryAfter)))
            } else {
                acks.append(.complete(TaskCompletion(lease: lease, result: try RawJSON(validating: results[i % results.count]))))
            }
        }
        return acks
    }

    @Test func bodyIsWhatJSONEncoderWrites() throws {
        let acks = try Self.variedAcks()
        let fast = try #require(AckRequestWriter.body(acks))
        let encoded = try BatonJSON.encoder().encode(AckBody(acks: acks.map(AckItem.init)))
        #expect(String(decoding: fast, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
        let decoded = try BatonJSON.decoder().decode(AckBody.self, from: Data(fast))
        #expect(try decoded.acks.map { try $0.toAck() } == acks)
        #expect(AckRequestWriter.body([]).map { String(decoding: $0, as: UTF8.self) } == #"{"acks":[]}"#)
    }

    @Test func nonCanonicalResultsAreLeftToJSONEncoder() throws {
        for text in [#"{"b":1,"a":2}"#, #"{ "a": 1 }"#, "1.5", #""esc\"aped""#, "1e3"] {
            let ack = TaskAck.complete(TaskCompletion(lease: LeaseRef(id: .generate(), token: "t"), result: RawJSON(trusted: text)))
            #expect(AckRequestWriter.body([ack]) == nil, "\(text)")
        }
    }

    static func jsonDecoder(_ text: String) throws -> AckResponse {
        try BatonJSON.decoder().decode(AckResponse.self, from: Data(text.utf8))
    }

    @Test func answersReadAsJSONDecoderReadsThem() throws {
        let ids = (0..<4).map { _ in TaskID.generate() }
        let outcomes: [AckOutcome] = [.applied(.succeeded), .staleLease, .notFound, .applied(.pending)]
        let response = AckResponse(results: zip(ids, outcomes).map { AckItemResult(id: $0, outcome: $1) })
        let encoded = String(decoding: try BatonJSON.encoder().encode(response), as: UTF8.self)
        let node =
            "{\"results\":["
            + zip(ids, outcomes).map { id, outcome in
                switch outcome {
                case .applied(let s): "{\"id\":\"\(id)\",\"state\":\"\(s.rawValue)\",\"status\":\"applied\"}"
                case .staleLease: "{\"id\":\"\(id)\",\"status\":\"stale_lease\"}"
                case .notFound: "{\"id\":\"\(id)\",\"status\":\"not_found\"}"
                }
            }.joined(separator: ",") + "]}"
        let spaced =
            " { \"extra\" : [1, {\"x\": null}], \"results\" : [ {\"status\":\"applied\", \"id\":\"\(ids[0])\", \"state\": null, \"more\": {}} ] } "
        for text in [encoded, node, spaced, #"{"results":[]}"#] {
            let fast = try #require(AckResponseDecoder.decode(Data(text.utf8)), "\(text)")
            #expect(fast == (try Self.jsonDecoder(text)), "\(text)")
        }
        #expect(AckResponseDecoder.decode(Data(node.utf8))?.results.map(\.outcome) == outcomes)
    }

    @Test func unsureAnswersAreLeftToJSONDecoder() throws {
        let id = TaskID.generate()
        for text in [
            "", "{}", #"{"results":null}"#, #"{"results":[{"status":"applied"}]}"#, #"{"results":[{"id":"nope","status":"applied"}]}"#,
            #"{"results":[{"id":"\#(id)","status":"applied","state":"bogus"}]}"#,
            #"{"results":[{"id":"\#(id)","status":1}]}"#, #"{"results":[{"id":"\#(id)","status":"a","status":"b"}]}"#,
            #"{"results":[],"results":[]}"#, #"{"results":[]} x"#, #"{"results":[{"id":"\#(id)","status":"applied"}]"#,
        ] {
            #expect(AckResponseDecoder.decode(Data(text.utf8)) == nil, "\(text)")
        }
    }
}
