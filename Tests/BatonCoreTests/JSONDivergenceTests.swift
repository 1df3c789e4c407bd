import BatonCore
import Foundation
import Testing

/// The known divergences between Baton's JSON readers and Foundation's, each shown from both
/// sides. The fuzz target (`Fuzz/JSONFuzz`) tolerates exactly these (its `Divergence` cases);
/// if Foundation changes, a test here fails and the list should be revisited.
@Suite struct JSONDivergenceTests {
    static func serialization(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    static func syntaxOK(_ bytes: [UInt8], maxDepth: Int = Limits.defaultMaxJSONDepth) -> Bool {
        (try? RawJSON.validateSyntax(bytes, maxDepth: maxDepth)) != nil
    }

    static func syntaxOK(_ text: String) -> Bool { syntaxOK(Array(text.utf8)) }

    /// The scanner reading one whole value, as the decoders read a nested one.
    static func scanned(_ text: String) -> String? {
        Array(text.utf8).withUnsafeBytes { raw in
            var s = JSONScanner(raw, maxDepth: Limits.defaultMaxJSONDepth)
            guard let value = s.rawValue(depth: 0) else { return nil }
            s.skipWhitespace()
            return s.atEnd ? value : nil
        }
    }

    @Test(arguments: ["[1,]", #"{"a":1,}"#, #"{"a":[true,],"b":{},}"#])
    func trailingCommas(_ text: String) {
        // Foundation accepts them, JSONDecoder too.
        #expect(Self.serialization(text) != nil)
        #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) != nil)
        // RFC 8259 has none: Baton refuses them everywhere.
        #expect(!Self.syntaxOK(text))
        #expect(Self.scanned(text) == nil)
        #expect(throws: BatonError.self) { try RawJSON(validating: text) }
    }

    @Test func duplicateKeys() throws {
        let text = #"{"a":1,"a":2}"#
        // Everyone accepts it; JSONSerialization keeps the last value, JSONDecoder the first.
        #expect((Self.serialization(text) as? [String: Int]) == ["a": 2])
        #expect(try JSONDecoder().decode([String: Int].self, from: Data(text.utf8)) == ["a": 1])
        #expect(Self.syntaxOK(text))
        // RawJSON normalises through JSONDecoder: the first value.
        #expect(try RawJSON(validating: text).text == #"{"a":1}"#)
        // The scanner keeps the text as sent; the canonical form has strictly ascending keys.
        #expect(Self.scanned(text) == text)
        #expect(!CanonicalJSON.isCanonical(text))
        // JSONDecoder never reads the value it drops, but the syntax check before it does:
        // what Foundation refuses there is refused.
        let hidden = #"{"a":1,"a":"\ud800","b":2,"b":1e400}"#
        #expect(Self.serialization(hidden) == nil)
        #expect((try? JSONDecoder().decode([String: Int].self, from: Data(#"{"a":1,"a":"\ud800"}"#.utf8))) == ["a": 1])
        #expect(throws: BatonError.self) { try RawJSON(validating: hidden) }
        // Baton's decoders leave a repeated field to JSONDecoder.
        Array(#"{"kind":"k","kind":"j"}"#.utf8).withUnsafeBytes { #expect(NewTaskWireDecoder.decodeOne($0) == nil) }
    }

    @Test(arguments: ["1e400", "-1e400", "[0.1e310]", String(repeating: "9", count: 309)])
    func numbersOutOfDoubleRange(_ text: String) {
        // Foundation refuses a number it cannot hold in a Double.
        #expect(Self.serialization(text) == nil)
        #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) == nil)
        // It is RFC 8259 text, but Baton refuses it everywhere too, its syntax check included
        // (so no stored argument or result holds it): not a divergence.
        #expect(!Self.syntaxOK(text))
        #expect(Self.scanned(text) == nil)
        #expect(throws: BatonError.self) { try RawJSON(validating: text) }
    }

    @Test func numbersAtTheEdgeOfDoubleRangeAreRead() throws {
        for text in ["1e308", "1.7976931348623157e308", "1" + String(repeating: "0", count: 308), "1e-400"] {
            #expect(Self.serialization(text) != nil, "\(text)")
            #expect(Self.scanned(text) == text)
            _ = try RawJSON(validating: text)
        }
    }

    @Test(arguments: [#""\ud800""#, #""\udc00""#, #""a\ud800b""#, #""\ud800\u0041""#, #""\udfff\udc00""#])
    func loneSurrogates(_ text: String) {
        // Foundation refuses them, and so do the scanner and RawJSON.
        #expect(Self.serialization(text) == nil)
        #expect(Self.scanned(text) == nil)
        #expect(throws: BatonError.self) { try RawJSON(validating: text) }
        // The syntax check too (the grammar allows any four hex digits): not a divergence.
        #expect(!Self.syntaxOK(text))
    }

    @Test func nestingDepth() {
        func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }
        // Baton's limit (64 for bodies and arguments) is below Foundation's (512).
        #expect(Self.syntaxOK(nested(64)))
        #expect(!Self.syntaxOK(nested(65)))
        #expect(Self.serialization(nested(65)) != nil)
        #expect(Self.serialization(nested(512)) != nil)
        #expect(Self.serialization(nested(513)) == nil)
        // The worker's decoders use 512, as Foundation does.
        #expect(Self.syntaxOK(Array(nested(512).utf8), maxDepth: ClaimResponseWireDecoder.maxDepth))
        #expect(!Self.syntaxOK(Array(nested(513).utf8), maxDepth: ClaimResponseWireDecoder.maxDepth))
    }

    @Test func encodings() {
        // Foundation detects a BOM and UTF-16/32; RFC 8259 §8.1 says UTF-8 without a BOM, as Baton reads.
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("[1]".utf8)
        let utf16: [UInt8] = Array(#"{"kind":"k"}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        for bytes in [bom, utf16] {
            #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil)
            #expect(!Self.syntaxOK(bytes))
        }
    }

    @Test func longNumbers() throws {
        // JSONSerialization keeps them exact (NSDecimalNumber, or UInt64).
        let big = "123456789012345678901234567890"
        #expect(Self.serialization(big) is NSDecimalNumber)
        #expect((Self.serialization("12345678901234567890") as? NSNumber)?.uint64Value == 12_345_678_901_234_567_890)
        // RawJSON normalises numbers as JSONDecoder reads them into JSONValue: Int64, else a Double.
        #expect(try RawJSON(validating: big).text == "1.2345678901234568e+29")
        #expect(try RawJSON(validating: "12345678901234567890").text == "1.2345678901234567e+19")
        // JSONDecoder even reads a long number with a fraction whose nearest Double is whole
        // as the integer before its point.
        #expect(try JSONDecoder().decode(Int64.self, from: Data("12345678901235565.9".utf8)) == 12_345_678_901_235_565)
        #expect(try RawJSON(validating: "12345678901235565.9").text == "12345678901235565")
        // The scanner keeps the text as sent.
        #expect(Self.scanned(big) == big)
    }

    @Test(arguments: ["0e1", "0E2", "-0e1"])
    func zeroWithAnUnsignedExponent(_ text: String) throws {
        // Valid JSON; JSONSerialization reads 0.
        #expect((Self.serialization(text) as? NSNumber)?.doubleValue == 0)
        #expect(Self.syntaxOK(text))
        // Baton's decoders read 0 where a Double is expected.
        let body = #"{"kind":"k","delay":\#(text)}"#
        let fast = Array(body.utf8).withUnsafeBytes { NewTaskWireDecoder.decodeOne($0) }
        #expect(fast?.delay == 0)
    }

    @Test func foundationsJSONDecoderRefusesAZeroWithAnUnsignedExponent() {
        // A Foundation bug: `0e1` and `0E2` are refused as a Double (`0e+1`, `0.0e1`, `-0e1` are read).
        for text in ["0e1", "0E2"] {
            #expect((try? JSONDecoder().decode(Double.self, from: Data(text.utf8))) == nil, "\(text)")
            #expect((try? BatonJSON.requestDecoder().decode(NewTask.self, from: Data(#"{"kind":"k","delay":\#(text)}"#.utf8))) == nil)
        }
        for text in ["0e+1", "0.0e1", "-0e1", "1e1"] {
            #expect((try? JSONDecoder().decode(Double.self, from: Data(text.utf8))) != nil, "\(text)")
        }
    }

    @Test func uFEFFStartingAStringOrFollowingAnEscape() throws {
        // A Foundation bug: JSONSerialization drops U+FEFF (the BOM character) that comes as
        // UTF-8 bytes first in a string or right after an escape; escaped, or elsewhere, it is kept.
        let raw = "\"\u{FEFF}x\""
        #expect(Self.serialization(raw) as? String == "x")
        #expect(Self.serialization("\"a\\n\u{FEFF}b\"") as? String == "a\nb")
        #expect(try JSONDecoder().decode(String.self, from: Data("\"a\\n\u{FEFF}b\"".utf8)) == "a\n\u{FEFF}b")
        #expect(Self.serialization(#""\ufeffx""#) as? String == "\u{FEFF}x")
        #expect(Self.serialization("\"a\u{FEFF}\"") as? String == "a\u{FEFF}")
        // JSONDecoder and Baton keep it; RawJSON writes it unescaped, as JSONEncoder does.
        #expect(try JSONDecoder().decode(String.self, from: Data(raw.utf8)) == "\u{FEFF}x")
        #expect(Self.syntaxOK(raw))
        #expect(Self.scanned(raw) == raw)
        #expect(try RawJSON(validating: #""\ufeffx""#).text == raw)
    }
}
