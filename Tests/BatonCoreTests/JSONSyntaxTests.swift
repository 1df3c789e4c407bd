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
