import BatonCore
import Foundation
import Testing

@testable import BatonWorker

/// The hand-written claim-answer decoder against `JSONDecoder` (with Baton's date strategy):
/// the same values where it answers, and `nil` (so the caller falls back) where it is unsure.
@Suite struct ClaimResponseDecoderTests {
    static func jsonDecoder(_ text: String) throws -> ClaimResponse {
        try BatonJSON.decoder().decode(ClaimResponse.self, from: Data(text.utf8))
    }

    static func fast(_ text: String) -> ClaimResponse? {
        ClaimResponseDecoder.decode(Data(text.utf8))
    }

    /// Tasks with every field set, and with only the required ones, with escapes and
    /// non-ASCII text in every string field.
    static func variedTasks() throws -> [ClaimedTask] {
        let base = Date(timeIntervalSince1970: 1_763_900_000.123)
        let policies: [RetryPolicy?] = [
            nil, RetryPolicy.none, .fixed(.milliseconds(1500)), .fibonacci(base: .seconds(2), cap: .seconds(60)),
            .exponential(base: .seconds(1), cap: .seconds(3600), jitter: true),
            .exponential(base: .milliseconds(250), cap: .seconds(10), jitter: false),
        ]
        let texts = [
            "plain", "quote \" backslash \\ slash / tab \t newline \n", "é ü ß 中文 🎉", "\u{01} control \u{1F}", "",
        ]
        let args = [
            "{}", #"{"a":1,"b":[true,false,null],"c":{"d":"é🎉\"\\\n"}}"#, #"[1,2.5,-3,1e+21,"x"]"#, "null", #""s/l""#,
            #"{"deep":[[[[{"x":[]}]]]]}"#, "12345678901234",
        ]
        var tasks: [ClaimedTask] = []
        for i in 0..<30 {
            let text = texts[i % texts.count]
            let full = i % 2 == 0
            let record = TaskRecord(
                id: .generate(at: base.addingTimeInterval(Double(i))), kind: "kind.\(i)", queue: "q-\(i % 3)",
                args: try RawJSON(validating: args[i % args.count]), priority: 1 + i % 10,
                state: TaskState.allCases[i % TaskState.allCases.count], attempt: i, maxAttempts: 10 + i,
                runAt: base.addingTimeInterval(Double(i) * 0.001), leaseOwner: full ? "worker \(text)" : nil,
                leaseExpiresAt: full ? base.addingTimeInterval(30) : nil, timeout: full ? [0.5, 30, 1e-3, 7200.25][i % 4] : nil,
                retry: policies[i % policies.count], result: full ? try RawJSON(validating: args[(i + 1) % args.count]) : nil,
                lastError: full ? "error: \(text)" : nil,
                errors: full
                    ? [
                        AttemptError(attempt: 1, at: base, message: text),
                        AttemptError(attempt: 2, at: base.addingTimeInterval(-86_400 * 365 * 60), message: "second \(text)"),
                    ] : [],
                uniqueKey: full ? "key/\(text)" : nil, tags: full ? ["a", text, "🎉"] : [],
                createdAt: base.addingTimeInterval(-Double(i)), startedAt: full ? base : nil,
                finishedAt: full ? base.addingTimeInterval(1.999) : nil)
            tasks.append(ClaimedTask(task: record, leaseToken: String(format: "%032x", i * 7919)))
        }
        return tasks
    }

    @Test func sameValuesAsJSONDecoderForWhatTheNodeSends() throws {
        let tasks = try Self.variedTasks()
        for batch in [[], Array(tasks.prefix(1)), tasks] {
            let data = try BatonJSON.encoder().encode(ClaimResponse(tasks: batch))
            let text = String(decoding: data, as: UTF8.self)
            let fast = try #require(Self.fast(text))
            #expect(fast == (try Self.jsonDecoder(text)))
            #expect(fast.tasks.map(\.task.id) == batch.map(\.task.id))
        }
    }

    @Test func handWrittenInputsWithWhitespaceEscapesAndUnknownFields() throws {
        let id = "0190f5e2-7b1c-7d3e-8f00-00000000abcd"
        let inputs = [
            // Whitespace everywhere, escaped strings, \u escapes incl. a surrogate pair, escaped slash.
            """
             { "tasks" : [ { "id" : "\(id)", "kind" : "k\\u00e9", "queue" : "q\\/1", "args" : { "b" : [ 1 , 2 ] , "a" : "x y\\ud83c\\udf89" } ,
               "priority" : 5 , "state" : "running" , "attempt" : 1 , "max_attempts" : 3 , "run_at" : "2026-11-23T19:00:00.123Z" ,
               "errors" : [ ] , "tags" : [ "t\\n1" , "\\u4e2d" ] , "created_at" : "2026-11-23T19:00:00Z" , "lease_token" : "tok\\"en" } ] }\t\n
            """,
            // Optional fields as null, unknown fields of every type, dates with an offset and without fraction.
            """
            {"extra":{"nested":[1,{"x":null}]},"tasks":[{"id":"\(id.uppercased())","kind":"k","queue":"q","args":[],"priority":1,
            "state":"running","attempt":2,"max_attempts":5,"run_at":"2026-02-28T23:59:59.999+02:00","errors":[{"attempt":1,
            "at":"2024-02-29T12:00:00Z","message":"m\\u0001","future":true}],"tags":[],"created_at":"1970-01-01T00:00:00.000Z",
            "lease_token":"t","lease_owner":null,"lease_expires_at":null,"timeout":null,"retry":null,"result":null,"last_error":null,
            "unique_key":null,"started_at":null,"finished_at":null,"new_field":"ignored","another":-1.5e3}],"more":true}
            """,
            // Numbers in every form the fields accept; a fixed policy with an extra key.
            """
            {"tasks":[{"id":"\(id)","kind":"k","queue":"q","args":{"n":-0.0,"m":1E2,"z":0},"priority":10,"state":"running",
            "attempt":0,"max_attempts":1000,"run_at":"2000-01-01T00:00:00.000Z","errors":[],"tags":[],
            "created_at":"1999-12-31T23:59:59.999Z","lease_token":"t","timeout":1e2,"retry":{"policy":"fixed","backoff":2,"x":[]}},
            {"id":"\(id.replacingOccurrences(of: "abcd", with: "abce"))","kind":"k","queue":"q","args":"str","priority":1,
            "state":"running","attempt":-1,"max_attempts":1,"run_at":"2000-01-01T00:00:00.000Z","errors":[],"tags":[],
            "created_at":"2000-01-01T00:00:00.000Z","lease_token":"t","timeout":0.25,"retry":{"jitter":false,"policy":"exponential","cap":9}}]}
            """,
            #"{"tasks":[]}"#,
            #"{"other":1,"tasks":[]}"#,
        ]
        for text in inputs {
            let expected = try Self.jsonDecoder(text)
            let fast = try #require(Self.fast(text), "\(text)")
            #expect(fast.tasks.count == expected.tasks.count)
            for (a, b) in zip(fast.tasks, expected.tasks) {
                // Arguments and results: the same JSON (the scanner keeps the text's key order).
                #expect(try a.task.args.parsed() == b.task.args.parsed())
                #expect(try a.task.result?.parsed() == b.task.result?.parsed())
                var a = a
                a.task.args = b.task.args
                a.task.result = b.task.result
                #expect(a == b)
            }
        }
        // Compacted, as the node would store it.
        let compact = try #require(Self.fast(inputs[0])).tasks[0].task.args.text
        #expect(compact == #"{"b":[1,2],"a":"x y\ud83c\udf89"}"#)
    }

    @Test func unsureInputsFallBackToJSONDecoder() throws {
        let good =
            #"{"id":"0190f5e2-7b1c-7d3e-8f00-00000000abcd","kind":"k","queue":"q","args":{},"priority":1,"state":"running","attempt":1,"max_attempts":3,"run_at":"2026-11-23T19:00:00.123Z","errors":[],"tags":[],"created_at":"2026-11-23T19:00:00.123Z","lease_token":"t"}"#
        #expect(Self.fast(#"{"tasks":[\#(good)]}"#) != nil)
        func variant(_ from: String, _ to: String) -> String { #"{"tasks":[\#(good.replacingOccurrences(of: from, with: to))]}"# }
        let unsure = [
            variant(#""kind":"k""#, #""kind":"k","kind":"k2""#),  // repeated key
            variant(#""kind":"k""#, #""kind":null"#),  // null where required
            variant(#""attempt":1"#, #""attempt":1.0"#),  // not an integer
            variant(#""attempt":1"#, #""attempt":"1""#),  // wrong type
            variant(#""attempt":1"#, #""attempt":99999999999999999999"#),  // overflow
            variant(#""kind":"k""#, #""kind":"\ud800""#),  // lone surrogate
            variant(#""kind":"k""#, #""kind":"\x""#),  // invalid escape
            variant(#""args":{}"#, #""args":{"a":"\q"}"#),  // invalid escape inside args
            variant(#""args":{}"#, #""args":{"a":01}"#),  // leading zero
            variant(#""args":{}"#, #""args":[1,]"#),  // trailing comma
            variant(#""state":"running""#, #""state":"sleeping""#),  // unknown state
            variant(#""run_at":"2026-11-23T19:00:00.123Z""#, #""run_at":"yesterday""#),  // not a time
            variant(#""id":"0190f5e2-7b1c-7d3e-8f00-00000000abcd""#, #""id":"nope""#),
            variant(#","lease_token":"t""#, ""),  // missing required
            variant(#""tags":[]"#, #""tags":[1]"#),
            variant(#""kind":"k""#, #""retry":{"policy":"sometimes"},"kind":"k""#),
            #"{"tasks":[\#(good)]} x"#,  // trailing garbage
            #"{"tasks":[\#(good)],"tasks":[]}"#,
            #"{"tasks":[\#(good)]"#,
            #"{"task":[]}"#,
            #"[]"#,
            "",
        ]
        for text in unsure {
            #expect(Self.fast(text) == nil, "\(text)")
            // The route the source takes: JSONDecoder's answer, value or error, unchanged.
            let viaSource = Result { try HTTPTaskSource.decodeResponse(ClaimResponse.self, from: Data(text.utf8)) }
            let viaDecoder = Result { try Self.jsonDecoder(text) }
            switch (viaSource, viaDecoder) {
            case (.success(let a), .success(let b)): #expect(a == b)
            case (.failure, .failure): break
            default: Issue.record("fallback differs from JSONDecoder for \(text)")
            }
        }
        // Invalid UTF-8 inside a string.
        var bytes = Array(#"{"tasks":[\#(good.replacingOccurrences(of: #""kind":"k""#, with: #""kind":"k@""#))]}"#.utf8)
        let at = try #require(bytes.firstIndex(of: UInt8(ascii: "@")))
        bytes.replaceSubrange(at...at, with: [0xC3, 0x28])
        #expect(ClaimResponseDecoder.decode(Data(bytes)) == nil)
    }

    @Test func bothPathsReadDatesAlike() throws {
        func text(_ runAt: String) -> String {
            #"{"tasks":[{"id":"0190f5e2-7b1c-7d3e-8f00-00000000abcd","kind":"k","queue":"q","args":null,"priority":1,"state":"running","attempt":1,"max_attempts":3,"run_at":"\#(runAt)","errors":[],"tags":[],"created_at":"2026-11-23T19:00:00.123Z","lease_token":"t"}]}"#
        }
        // Not the node's form, so read by `BatonJSON.parseDate`, as `JSONDecoder` does.
        let offset = text("2026-02-28T19:00:00.1234+02:00")
        let expected = try Self.jsonDecoder(offset)
        #expect(Self.fast(offset) == expected)
        #expect(expected.tasks.first?.task.args == .null)
        // A day that does not exist is refused by both.
        let impossible = text("2026-02-30T19:00:00.123Z")
        #expect(Self.fast(impossible) == nil)
        #expect(throws: DecodingError.self) { try Self.jsonDecoder(impossible) }
    }

    @Test func otherAnswersStillUseJSONDecoder() throws {
        let answer = AckResponse(results: [AckItemResult(id: .generate(), outcome: .applied(.succeeded))])
        let data = try BatonJSON.encoder().encode(answer)
        #expect(try HTTPTaskSource.decodeResponse(AckResponse.self, from: data) == answer)
    }

    @Test func utf8TextAsStringValidatingReadsIt() {
        let inputs: [[UInt8]] = [
            [], Array("plain ascii".utf8), Array("é ü 中文 🎉".utf8), [0x61, 0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xE2, 0x82],
            Array("ok".utf8) + [0xF0, 0x9F, 0x8E], [0x7F, 0x00, 0x41],
        ]
        for bytes in inputs {
            let fast = bytes.withUnsafeBytes { JSONScanner.utf8($0) }
            #expect(fast == String(validating: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test func keysMatchedOnBytesAsOnText() {
        #expect(ClaimResponseDecoder.Field.names.count == ClaimResponseDecoder.Field.allCases.count)
        for name in ClaimResponseDecoder.Field.names {
            let text = String(decoding: name, as: UTF8.self)
            let byBytes = name.withUnsafeBytes { ClaimResponseDecoder.Field($0) }
            #expect(byBytes != nil && byBytes == ClaimResponseDecoder.Field(text), "\(text)")
        }
        for other in ["", "i", "ids", "args_", "Args", "lease", "lease_tokens", "\u{e9}"] {
            #expect(Array(other.utf8).withUnsafeBytes { ClaimResponseDecoder.Field($0) } == nil)
            #expect(ClaimResponseDecoder.Field(other) == nil)
        }
    }

    @Test func canonicalDatesMatchTheFormatter() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let millis = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &rng)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let text = BatonJSON.formatDate(date)
            let parsed = Array(text.utf8).withUnsafeBytes { BatonJSON.parseMillis($0) }
            if millis >= 0 { #expect(parsed == millis, "\(text)") }
            if let parsed { #expect(parsed == millis, "\(text)") }
        }
    }
}
