/// A strict RFC 8259 syntax check over UTF-8 bytes, without building a tree.
///
/// Foundation's decoder accepts some non-JSON (trailing commas, for one); Baton validates
/// arguments once at the edge with this, so what it stores is always standard JSON.
enum JSONSyntax {
    struct Failure: Error {
        let message: String
    }

    static func validate(_ bytes: some Collection<UInt8>, maxDepth: Int) throws(Failure) {
        let buffer = Array(bytes)
        var parser = Parser(bytes: buffer, maxDepth: maxDepth)
        parser.skipSpace()
        try parser.value(depth: 0)
        parser.skipSpace()
        if parser.index != buffer.count { throw parser.fail("unexpected data after the JSON value") }
    }

    private struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var index = 0

        init(bytes: [UInt8], maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func fail(_ what: String) -> Failure { Failure(message: "\(what) at byte \(index)") }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(Failure) {
            guard peek == byte else { throw fail("expected '\(Character(UnicodeScalar(byte)))'") }
            index += 1
        }

        mutating func literal(_ text: String) throws(Failure) {
            for b in text.utf8 {
                guard peek == b else { throw fail("invalid literal") }
                index += 1
            }
        }

        mutating func value(depth: Int) throws(Failure) {
            guard let b = peek else { throw fail("unexpected end of input") }
            switch b {
            case UInt8(ascii: "{"): try members(until: UInt8(ascii: "}"), keyed: true, depth: depth)
            case UInt8(ascii: "["): try members(until: UInt8(ascii: "]"), keyed: false, depth: depth)
            case UInt8(ascii: "\""):
                try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default:
                try number()
            }
        }

        /// An object (`keyed`: `"name": value` members) or an array, its opening bracket next.
        mutating func members(until close: UInt8, keyed: Bool, depth: Int) throws(Failure) {
            guard depth < maxDepth else { throw Failure(message: "JSON nested deeper than \(maxDepth) levels") }
            index += 1
            skipSpace()
            if peek == close {
                index += 1
                return
            }
            while true {
                skipSpace()
                if keyed {
                    try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                }
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect(close)
                return
            }
        }

        /// The rest of a multi-byte UTF-8 sequence after its `lead` byte: RFC 8259 text is
        /// UTF-8, so overlong forms, surrogates and stray continuation bytes are refused.
        mutating func utf8Sequence(lead: UInt8) throws(Failure) {
            let count: Int
            var range: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: count = 1
            case 0xE0: (count, range) = (2, 0xA0...0xBF)
            case 0xED: (count, range) = (2, 0x80...0x9F)
            case 0xE1...0xEF: count = 2
            case 0xF0: (count, range) = (3, 0x90...0xBF)
            case 0xF4: (count, range) = (3, 0x80...0x8F)
            case 0xF1...0xF3: count = 3
            default: throw fail("invalid UTF-8")
            }
            for i in 0..<count {
                guard let b = peek, (i == 0 ? range : 0x80...0xBF).contains(b) else { throw fail("invalid UTF-8") }
                index += 1
            }
        }

        mutating func digits() -> Int {
            let start = index
            while let b = peek, b >= 0x30 && b <= 0x39 { index += 1 }
            return index - start
        }

        mutating func number() throws(Failure) {
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, first >= 0x30 && first <= 0x39 else { throw fail("invalid value") }
            if first == 0x30 {
                index += 1
            } else {
                _ = digits()
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("invalid number") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("invalid number") }
            }
        }

        mutating func string() throws(Failure) {
            try expect(UInt8(ascii: "\""))
            while let b = peek {
                index += 1
                switch b {
                case UInt8(ascii: "\""):
                    return
                case UInt8(ascii: "\\"):
                    guard let e = peek else { throw fail("unterminated string") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let h = peek, (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66) else {
                                throw fail("invalid \\u escape")
                            }
                            index += 1
                        }
                    default:
                        throw fail("invalid escape")
                    }
                case 0x00..<0x20:
                    throw fail("control character in string")
                case 0x80...0xFF:
                    try utf8Sequence(lead: b)
                default:
                    break
                }
            }
            throw fail("unterminated string")
        }
    }
}
