import BatonCore
import Foundation
import Testing

/// The strict syntax check against byte sequences, including text that is not UTF-8.
struct JSONSyntaxTests {
    @Test(arguments: [
        #"{"a":[1,2,{"b":null}],"c":"x"}"#, "[]", "{}", #""é ✓ 𝄞""#, #"[true,false,-0.5e+3]"#, #"{"k":"\u00e9"}"#,
    ])
    func acceptsJSON(_ text: String) throws {
        try RawJSON.validateSyntax(Array(text.utf8))
    }

    @Test(arguments: [
        "[1,]", #"{"a":1,}"#, "{,}", "[1 2]", #"{"a" 1}"#, "{1:2}", "[", "]", "01", "1.", "-", "nul", #""\x""#,
    ])
    func refusesNonJSON(_ text: String) {
        #expect(throws: BatonError.self) { try RawJSON.validateSyntax(Array(text.utf8)) }
    }

    @Test(
        arguments: [
            [0xFF],  // never valid
            [0x80],  // a continuation byte alone
            [0xC0, 0xAF],  // overlong '/'
            [0xE0, 0x80, 0xAF],  // overlong
            [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
            [0xE2, 0x82],  // cut short
        ] as [[UInt8]])
    func refusesStringsThatAreNotUTF8(_ bytes: [UInt8]) {
        let json = Array(#"{"s":""#.utf8) + bytes + Array(#""}"#.utf8)
        #expect(throws: BatonError.self) { try RawJSON.validateSyntax(json) }
        // Foundation's own reading agrees that this is not text.
        #expect(String(validating: bytes, as: UTF8.self) == nil)
    }

    @Test func acceptsEveryValidUTF8Width() throws {
        for scalar in ["\u{7F}", "\u{80}", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFF}", "\u{10000}", "\u{10FFFF}"] {
            try RawJSON.validateSyntax(Array("[\"\(scalar)\"]".utf8))
        }
    }

    @Test func depthIsLimited() throws {
        let deep = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        try RawJSON.validateSyntax(Array(deep.utf8), maxDepth: 10)
        #expect(throws: BatonError.self) { try RawJSON.validateSyntax(Array(deep.utf8), maxDepth: 9) }
    }
}

/// The scanner's errors name the byte where it saw the problem.
struct JSONScannerErrorTests {
    static func failure(_ text: String, maxDepth: Int = Limits.defaultMaxJSONDepth) -> JSONScanner.Failure? {
        RawJSON.syntaxFailure(Array(text.utf8), maxDepth: maxDepth)
    }

    @Test(arguments: [
        (#"{"a":1,}"#, "expected a string key", 7),
        (#"{"a" 1}"#, "expected ':'", 5),
        ("[1 2]", "expected ',' or ']'", 3),
        (#"{"a":1 "b":2}"#, "expected ',' or '}'", 7),
        ("[tru]", "invalid literal", 1),
        ("[1.]", "invalid number", 3),
        ("[-]", "invalid number", 2),
        ("[", "unexpected end of input", 1),
        ("[x]", "invalid value", 1),
        (#"["a\x"]"#, "invalid escape", 4),
        (#"["\u12G4"]"#, "invalid \\u escape", 4),
        (#"["\ud800"]"#, "lone UTF-16 surrogate in \\u escape", 2),
        (#"["\udc00\ud800"]"#, "lone UTF-16 surrogate in \\u escape", 2),
        ("[\"a\u{1}\"]", "control character in string", 3),
        (#"["abc"#, "unterminated string", 5),
        ("[1e400]", "number out of range", 1),
        ("1 2", "unexpected data after the JSON value", 2),
        ("01", "unexpected data after the JSON value", 1),
    ])
    func namesTheByte(_ text: String, _ message: String, _ offset: Int) throws {
        let failure = try #require(Self.failure(text), "\(text) was accepted")
        #expect(failure.message == message, "\(text)")
        #expect(failure.offset == offset, "\(text)")
        #expect(failure.description == "\(message) at byte \(offset)")
    }

    @Test func invalidUTF8NamesItsByte() throws {
        let bytes: [UInt8] = Array(#"{"s":"ab"#.utf8) + [0xE2, 0x28, 0xA1] + Array(#""}"#.utf8)
        let failure = try #require(RawJSON.syntaxFailure(bytes, maxDepth: 8))
        #expect(failure.message == "invalid UTF-8")
        #expect(failure.offset == 9)
    }

    @Test func depthIsNamedWithoutAnOffset() throws {
        let failure = try #require(Self.failure("[[[1]]]", maxDepth: 2))
        #expect(failure.isDepth)
        #expect(failure.offset == 2)
        #expect(failure.description == "JSON nested deeper than 2 levels")
    }

    @Test func theRequestMessageCarriesTheOffset() {
        let error = #expect(throws: BatonError.self) { try RawJSON.validateSyntax(Array(#"{"a" 1}"#.utf8)) }
        #expect(error?.message == "malformed JSON: expected ':' at byte 5")
    }
}
