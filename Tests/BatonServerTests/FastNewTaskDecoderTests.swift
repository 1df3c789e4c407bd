import BatonCore
import Foundation
import NIOCore
import Testing

@testable import BatonServer

/// The submit route's hand-written decoder against `JSONDecoder`: the same `NewTask` values
/// (arguments' text included) where it answers, `nil` where it leaves the body to `JSONDecoder`.
@Suite struct FastNewTaskDecoderTests {
    static func viaDecoder(_ text: String) throws -> [NewTask] {
        try JSONBodyReader.decode([NewTask].self, from: ByteBuffer(string: text))
    }

    static func fast(_ text: String) -> [NewTask]? {
        FastNewTaskDecoder.decodeBatch(ByteBuffer(string: text))
    }

    @Test func sameTasksAsJSONDecoder() throws {
        let args = [
            "{}", #"{"a":1,"b":[true,false,null],"c":{"d":"é🎉 x"}}"#, #"{"b":1,"a":2}"#, #"{ "a" : [ 1 , 2 ] }"#,
            #"{"n":1.5,"m":1e2,"k":-0,"j":1.0}"#, #"{"s":"q\"uote\\ \n \u00e9 \/ \ud83c\udf89"}"#, #"{"B":1,"a":2,"_":3}"#,
            #"{"é":1,"e":2}"#, #"[1,-2,9223372036854775807,-9223372036854775808,9223372036854775808]"#, #""str""#, "42",
            "true", "[]", #"{"a":{"b":{"c":[{"d":[]}]}}}"#, #"{"a":1,"a":2}"#,
        ]
        var items: [String] = []
        for (i, a) in args.enumerated() {
            items.append(#"{"kind":"k\#(i)","args":\#(a)}"#)
        }
        items += [
            #"{"kind":"email.send","queue":"mail","priority":9,"max_attempts":3,"timeout":2.5,"tags":["a","é"],"unique_key":"u/1","unique_window":60,"id":"0190F5E2-7B1C-7D3E-8F00-00000000ABCD"}"#,
            #"{"kind":"k","run_at":"2026-11-23T19:00:00.123Z","retry":{"policy":"exponential","backoff":0.5,"cap":30,"jitter":false}}"#,
            #"{"kind":"k","run_at":"2026-11-23T21:00:00+02:00","retry":{"policy":"fibonacci"}}"#,
            #"{"kind":"k","delay":1e1,"retry":{"policy":"fixed","backoff":3}}"#,
            #"{"kind":"k","retry":{"policy":"none"},"tags":[]}"#,
            #" { "args" : { } , "kind" : "k\u0041" } "#,
        ]
        let body = "[" + items.joined(separator: ",\n ") + "]"
        let fast = try #require(Self.fast(body))
        let expected = try Self.viaDecoder(body)
        #expect(fast == expected)
        for (a, b) in zip(fast, expected) { #expect(a.args.text == b.args.text) }

        // One task, as the single-task body.
        for item in items {
            let one = try #require(FastNewTaskDecoder.decodeOne(ByteBuffer(string: item)))
            #expect(one == (try JSONBodyReader.decode(NewTask.self, from: ByteBuffer(string: item))))
        }
        #expect(Self.fast("[]") == [])
    }

    @Test func unsureBodiesAreLeftToJSONDecoder() {
        let unsure = [
            #"[{"kind":"k","extra":1}]"#,  // unknown field: JSONDecoder's error names it
            #"[{"kind":"k","kind":"j"}]"#,
            #"[{"kind":null}]"#,
            #"[{"args":{}}]"#,  // no kind
            #"[{"kind":"k","args":null}]"#,
            #"[{"kind":"k","priority":5.0}]"#,
            #"[{"kind":"k","priority":"5"}]"#,
            #"[{"kind":"k","priority":99999999999999999999}]"#,
            #"[{"kind":"k","run_at":"tomorrow"}]"#,
            #"[{"kind":"k","id":"nope"}]"#,
            #"[{"kind":"k","retry":{"policy":"sometimes"}}]"#,
            #"[{"kind":"k","retry":{"policy":"fixed","extra":1}}]"#,
            #"[{"kind":"k","tags":[1]}]"#,
            #"[{"kind":"k","delay":1e999}]"#,
            #"[{"kind":"k"}] x"#,
            #"[{"kind":"k"},]"#,
            #"{"kind":"k"}"#,
            #"[1]"#,
            "",
        ]
        for text in unsure { #expect(Self.fast(text) == nil, "\(text)") }
        #expect(FastNewTaskDecoder.decodeOne(ByteBuffer(string: #"[{"kind":"k"}]"#)) == nil)
    }

    @Test func canonicalArgumentsAreRecognised() throws {
        let canonical = ["{}", "[]", "1", "-1", #""é""#, #"{"A":1,"_":[null,true,false],"a":{"b":"c"}}"#]
        for text in canonical {
            #expect(FastNewTaskDecoder.isCanonical(text), "\(text)")
            #expect(try RawJSON(validating: text).text == text)
        }
        let normalised = [#"{"b":1,"a":2}"#, "1.0", "-0", "1e2", #""\n""#, #"{"a":1,"a":2}"#, #"{"é":1}"#, "9223372036854775808"]
        for text in normalised { #expect(!FastNewTaskDecoder.isCanonical(text), "\(text)") }
    }
}
