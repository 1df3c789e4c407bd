import Foundation

/// Baton's one strict JSON reader over bytes, for the wire bodies on both sides (the node
/// reads submits and acks with it, a worker reads claim and ack answers) and for the syntax
/// check of every other request body (``validate(_:maxDepth:)``).
///
/// It accepts exactly RFC 8259 text in UTF-8, with two refusals that keep what Baton stores
/// readable by Foundation: a number out of `Double`'s range (`1e400`) and a `\u` escape that
/// is a lone UTF-16 surrogate. It reads keys and scalar values and measures nested values
/// without building a tree, so a nested value (a task's args or result) is checked once, in
/// the same pass, and kept as the text it was sent as; while measuring it also notes whether
/// the value is already in Baton's canonical form (``CanonicalJSON``), so a submit body is
/// read in one pass. A decoder built on it gives up (`nil`) on anything it does not handle;
/// when the reason was the syntax, ``failure`` says what and at which byte.
package struct JSONScanner {
    /// Why text is not JSON, and the offset of the byte where the scanner saw it.
    package struct Failure: Error, Equatable, CustomStringConvertible {
        package let message: String
        package let offset: Int
        /// Whether the text nests deeper than the limit (and is otherwise not known to be wrong).
        package let isDepth: Bool

        package var description: String { isDepth ? message : "\(message) at byte \(offset)" }
    }

    package let bytes: UnsafeRawBufferPointer
    package var index = 0
    package let maxDepth: Int
    /// The first syntax error met (decoders' other reasons to give up leave it `nil`).
    package private(set) var failure: Failure?
    /// Whether whitespace was skipped since it was last cleared.
    package var sawSpace = false
    /// Cleared by ``skipValue(depth:)`` when a value it scans is not in canonical form
    /// (whitespace aside, which ``sawSpace`` tells).
    package var canonical = true

    package init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Checks that `bytes` hold one JSON value (and whitespace), nested at most `maxDepth` deep.
    package static func validate(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(Failure) {
        var s = JSONScanner(bytes, maxDepth: maxDepth)
        guard s.skipValue(depth: 0) else { throw s.failure ?? Failure(message: "invalid JSON", offset: s.index, isDepth: false) }
        s.skipWhitespace()
        guard s.atEnd else { throw Failure(message: "unexpected data after the JSON value", offset: s.index, isDepth: false) }
    }

    /// Records the first failure; always `false`, for `return fail(...)`.
    private mutating func fail(_ message: String, isDepth: Bool = false) -> Bool {
        if failure == nil { failure = Failure(message: message, offset: index, isDepth: isDepth) }
        return false
    }

    package var atEnd: Bool { index >= bytes.count }
    package var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    package mutating func skipWhitespace() {
        guard index < bytes.count, Self.isSpace(bytes[index]) else { return }
        sawSpace = true
        index += 1
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
    }

    @inline(__always)
    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    package mutating func consume(_ c: UInt8) -> Bool {
        skipWhitespace()
        guard peek == c else { return false }
        index += 1
        return true
    }

    package mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        skipWhitespace()
        let n = literal.utf8CodeUnitCount
        guard index + n <= bytes.count else { return false }
        for k in 0..<n where bytes[index + k] != literal.utf8Start[k] { return false }
        index += n
        return true
    }

    /// The span of a string's contents (between the quotes), whether it holds escapes and
    /// whether it is all ASCII. The contents are checked as they are passed: valid UTF-8, no
    /// control characters, valid escapes (a `\u` surrogate only in a high-low pair).
    package mutating func stringSpan() -> (UnsafeRawBufferPointer, escaped: Bool, ascii: Bool)? {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        var escaped = false
        var ascii = true
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                let span = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return (span, escaped, ascii)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard escape() else { return nil }
            } else if c >= 0x80 {
                ascii = false
                guard utf8Sequence(lead: c) else { return nil }
            } else if c < 0x20 {
                _ = fail("control character in string")
                return nil
            } else {
                index += 1
            }
        }
        _ = fail("unterminated string")
        return nil
    }

    /// Passes one escape, its backslash next.
    private mutating func escape() -> Bool {
        guard index + 1 < bytes.count else { return fail("unterminated string") }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
            UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
            return true
        case UInt8(ascii: "u"):
            guard let unit = Self.hex4(bytes, index + 2) else {
                index += 2
                return fail("invalid \\u escape")
            }
            switch unit {
            case 0xD800..<0xDC00:
                guard index + 12 <= bytes.count, bytes[index + 6] == UInt8(ascii: "\\"), bytes[index + 7] == UInt8(ascii: "u"),
                    let low = Self.hex4(bytes, index + 8), (0xDC00..<0xE000).contains(low)
                else { return fail("lone UTF-16 surrogate in \\u escape") }
                index += 12
            case 0xDC00..<0xE000:
                return fail("lone UTF-16 surrogate in \\u escape")
            default:
                index += 6
            }
            return true
        default:
            index += 1
            return fail("invalid escape")
        }
    }

    /// Passes a multi-byte UTF-8 sequence, its `lead` byte next: RFC 8259 text is UTF-8, so
    /// overlong forms, surrogates and stray continuation bytes are refused.
    private mutating func utf8Sequence(lead: UInt8) -> Bool {
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
        default: return fail("invalid UTF-8")
        }
        for k in 1...count {
            guard index + k < bytes.count, (k == 1 ? range : 0x80...0xBF).contains(bytes[index + k]) else {
                index += k
                return fail("invalid UTF-8")
            }
        }
        index += count + 1
        return true
    }

    /// The text of UTF-8 bytes; `nil` if they are not valid UTF-8. ASCII (the usual case) is
    /// checked by a plain loop and decoded directly: `String(validating:as:)` is generic and
    /// looks up type metadata on every call.
    package static func utf8(_ span: UnsafeRawBufferPointer) -> String? {
        var ascii = true
        for b in span where b >= 0x80 {
            ascii = false
            break
        }
        return ascii ? String(decoding: span, as: UTF8.self) : String(validating: span, as: UTF8.self)
    }

    /// A string value, escapes decoded.
    package mutating func string() -> String? {
        guard let (span, escaped, _) = stringSpan() else { return nil }
        // The span was checked: its bytes are UTF-8 and its escapes valid.
        return escaped ? Self.unescape(span) : String(decoding: span, as: UTF8.self)
    }

    /// An integer (no fraction or exponent) that fits `Int`.
    package mutating func int() -> Int? {
        skipWhitespace()
        let negative = peek == UInt8(ascii: "-")
        if negative { index += 1 }
        let firstDigit = index
        var value = 0
        while let c = peek, c >= 0x30, c <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int(c - 0x30)) : m.addingReportingOverflow(Int(c - 0x30))
            if o1 || o2 { return nil }
            value = s
            index += 1
        }
        let digits = index - firstDigit
        guard digits > 0, !(digits > 1 && bytes[firstDigit] == 0x30) else { return nil }
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }
        return value
    }

    /// Any JSON number, as `Double` (finite). Not one that reads as 0 without being 0 (`5e-400`):
    /// `JSONDecoder` refuses it where it decodes a `Double`, and so does every decoder built on
    /// this one (kept as text, in arguments or a result, it is valid JSON and stays as sent).
    package mutating func double() -> Double? {
        skipWhitespace()
        let start = index
        guard skipNumber() else { return nil }
        let number = bytes[start..<index]
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: number), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        if value == 0 {
            let mantissa = number.prefix { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }
            if mantissa.contains(where: { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }) { return nil }
        }
        return value
    }

    package mutating func bool() -> Bool? {
        if consumeLiteral("true") { return true }
        if consumeLiteral("false") { return false }
        return nil
    }

    /// A JSON array of `element`s; `nil` if any element is not one.
    package mutating func array<Element>(_ element: (inout JSONScanner) -> Element?) -> [Element]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var items: [Element] = []
        if consume(UInt8(ascii: "]")) { return items }
        repeat {
            guard let item = element(&self) else { return nil }
            items.append(item)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? items : nil
    }

    /// `{"policy", "backoff"?, "cap"?, "jitter"?}` as `RetryPolicy`'s Codable reads it, at
    /// `depth`. With `refusingUnknownKeys` another key gives up (so that `JSONDecoder`
    /// reports it); else it is skipped.
    package mutating func retryPolicy(refusingUnknownKeys: Bool, depth: Int) -> RetryPolicy? {
        guard depth < maxDepth, consume(UInt8(ascii: "{")) else { return nil }
        var name: String?
        var backoff: Double?
        var cap: Double?
        var jitter: Bool?
        if !consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
                switch key {
                case "policy":
                    guard name == nil, let v = string() else { return nil }
                    name = v
                case "backoff":
                    guard backoff == nil, let v = double() else { return nil }
                    backoff = v
                case "cap":
                    guard cap == nil, let v = double() else { return nil }
                    cap = v
                case "jitter":
                    guard jitter == nil, let v = bool() else { return nil }
                    jitter = v
                default:
                    guard !refusingUnknownKeys, skipValue(depth: depth + 1) else { return nil }
                }
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { return nil }
        }
        guard let name else { return nil }
        return try? RetryPolicy.decoded(policy: name, backoff: backoff, cap: cap, jitter: jitter)
    }

    /// An RFC 3339 time, read from its bytes by `BatonJSON.parseMillis` (what `JSONDecoder`
    /// with Baton's date strategy uses too); escaped text is unescaped first.
    package mutating func date() -> Date? {
        guard let (span, escaped, _) = stringSpan() else { return nil }
        if !escaped {
            return BatonJSON.parseMillis(span).map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
        guard let text = Self.unescape(span) else { return nil }
        return BatonJSON.parseDate(text)
    }

    /// One value at `depth`, checked, as it was sent: its bytes, whether it is in canonical
    /// form (``CanonicalJSON``; whitespace aside) and whether it holds whitespace.
    package mutating func valueSpan(depth: Int) -> (bytes: UnsafeRawBufferPointer, canonical: Bool, spaced: Bool)? {
        skipWhitespace()
        let start = index
        sawSpace = false
        canonical = true
        guard skipValue(depth: depth) else { return nil }
        return (UnsafeRawBufferPointer(rebasing: bytes[start..<index]), canonical, sawSpace)
    }

    /// One value at `depth`, checked, as compact text (whitespace outside strings removed).
    package mutating func rawValue(depth: Int) -> String? {
        guard let value = valueSpan(depth: depth) else { return nil }
        return value.spaced ? Self.compact(value.bytes) : String(decoding: value.bytes, as: UTF8.self)
    }

    /// Checked JSON text without its whitespace outside strings.
    package static func compact(_ span: UnsafeRawBufferPointer) -> String {
        var compacted: [UInt8] = []
        compacted.reserveCapacity(span.count)
        var strings = JSONStringState()
        for c in span where !(strings.isOutside(c) && isSpace(c)) {
            compacted.append(c)
        }
        return String(decoding: compacted, as: UTF8.self)
    }

    /// Passes one value at `depth` (0 for a whole text), checking it and noting in
    /// ``canonical`` whether it is in canonical form: ASCII keys without escapes in strictly
    /// ascending byte order, strings without escapes, integers that fit `Int64` (not `-0`).
    package mutating func skipValue(depth: Int) -> Bool {
        skipWhitespace()
        guard let c = peek else { return fail("unexpected end of input") }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "["), depth >= maxDepth {
            return fail("JSON nested deeper than \(maxDepth) levels", isDepth: true)
        }
        switch c {
        case UInt8(ascii: "{"):
            index += 1
            if consume(UInt8(ascii: "}")) { return true }
            var previousKey: UnsafeRawBufferPointer?
            repeat {
                guard let (key, escaped, ascii) = stringSpan() else { return fail("expected a string key") }
                if canonical {
                    if escaped || !ascii || previousKey.map({ !$0.lexicographicallyPrecedes(key) }) == true {
                        canonical = false
                    }
                    previousKey = key
                }
                guard consume(UInt8(ascii: ":")) else { return fail("expected ':'") }
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}")) || fail("expected ',' or '}'")
        case UInt8(ascii: "["):
            index += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]")) || fail("expected ',' or ']'")
        case UInt8(ascii: "\""):
            guard let (_, escaped, _) = stringSpan() else { return false }
            if escaped { canonical = false }
            return true
        case UInt8(ascii: "t"): return consumeLiteral("true") || fail("invalid literal")
        case UInt8(ascii: "f"): return consumeLiteral("false") || fail("invalid literal")
        case UInt8(ascii: "n"): return consumeLiteral("null") || fail("invalid literal")
        default:
            return skipNumber()
        }
    }

    /// Passes a number, noting whether it is canonical. One out of `Double`'s range (`1e400`)
    /// is refused, as `JSONDecoder` refuses it: it is valid RFC 8259 text, but kept as text
    /// (an ack's result, a claimed task's arguments) it would make every Foundation reader of
    /// it fail later.
    private mutating func skipNumber() -> Bool {
        let start = index
        let negative = peek == UInt8(ascii: "-")
        if negative { index += 1 }
        guard let first = peek, first >= 0x30, first <= 0x39 else { return fail(negative ? "invalid number" : "invalid value") }
        index += 1
        let integerDigits = first == 0x30 ? 1 : 1 + skipDigits()
        // Only an exponent or more than 308 integer digits can reach infinity.
        var mayOverflow = integerDigits > 308
        var integral = true
        if peek == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { return fail("invalid number") }
            integral = false
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { return fail("invalid number") }
            mayOverflow = true
            integral = false
        }
        if canonical, !integral || (negative && first == 0x30) || !Self.fitsInt64(bytes, start, negative, integerDigits) {
            canonical = false
        }
        if mayOverflow {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                index = start
                return fail("number out of range")
            }
        }
        return true
    }

    private static let int64Max = Array("9223372036854775807".utf8)
    private static let int64MinMagnitude = Array("9223372036854775808".utf8)

    /// Whether an integer's `digits` digits (after the sign at `start`) fit `Int64`.
    private static func fitsInt64(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ negative: Bool, _ digits: Int) -> Bool {
        if digits < 19 { return true }
        if digits > 19 { return false }
        let from = start + (negative ? 1 : 0)
        let limit = negative ? int64MinMagnitude : int64Max
        return !limit.lexicographicallyPrecedes(bytes[from..<from + 19])
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        var n = 0
        while let c = peek, c >= 0x30, c <= 0x39 {
            index += 1
            n += 1
        }
        return n
    }

    /// Decodes the escapes of a string's contents; `nil` on an invalid escape, a lone
    /// surrogate or invalid UTF-8.
    package static func unescape(_ s: UnsafeRawBufferPointer) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < s.count else { return nil }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hex4(s, i) else { return nil }
                i += 4
                var scalarValue = UInt32(unit)
                if (0xD800..<0xDC00).contains(unit) {
                    guard i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"), let low = hex4(s, i + 2),
                        (0xDC00..<0xE000).contains(low)
                    else { return nil }
                    i += 6
                    scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                out.append(contentsOf: String(Character(scalar)).utf8)
            default:
                return nil
            }
        }
        return out.withUnsafeBytes { Self.utf8($0) }
    }

    private static func hex4(_ s: UnsafeRawBufferPointer, _ i: Int) -> UInt16? {
        guard i + 4 <= s.count else { return nil }
        var v: UInt16 = 0
        for k in 0..<4 {
            let c = s[i + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }
}
