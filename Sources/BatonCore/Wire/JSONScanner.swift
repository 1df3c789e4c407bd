import Foundation

/// A small validating JSON scanner over bytes, for the hot wire bodies on both sides (the
/// node reads submits and acks with it, a worker reads claim and ack answers).
///
/// It reads keys and scalar values and measures nested values without building a tree, so a
/// nested value (a task's args or result) is checked once and kept as the compact JSON text
/// it was sent as. Strings must be UTF-8. Any input it does not understand makes it give up
/// (`nil`); callers then fall back to `JSONDecoder`, which produces the precise error.
package struct JSONScanner {
    package let bytes: UnsafeRawBufferPointer
    package var index = 0
    package let maxDepth: Int

    package init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    package var atEnd: Bool { index >= bytes.count }
    package var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

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

    /// The span of a string's contents (between the quotes) and whether it holds escapes.
    package mutating func stringSpan() -> (UnsafeRawBufferPointer, escaped: Bool)? {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                let span = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return (span, escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                index += 2
                continue
            }
            if c < 0x20 { return nil }
            index += 1
        }
        return nil
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

    /// A string value, escapes decoded; `nil` on invalid UTF-8 or a malformed escape.
    package mutating func string() -> String? {
        guard let (span, escaped) = stringSpan() else { return nil }
        return escaped ? Self.unescape(span) : Self.utf8(span)
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

    /// Any JSON number, as `Double` (finite).
    package mutating func double() -> Double? {
        skipWhitespace()
        let start = index
        guard skipNumber() else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
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

    /// `{"policy", "backoff"?, "cap"?, "jitter"?}` as `RetryPolicy`'s Codable reads it. With
    /// `refusingUnknownKeys` another key gives up (so that `JSONDecoder` reports it); else it
    /// is skipped. `string` reads the string values (and keys).
    package mutating func retryPolicy(
        refusingUnknownKeys: Bool, string: (inout JSONScanner) -> String? = { $0.string() }
    ) -> RetryPolicy? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var name: String?
        var backoff: Double?
        var cap: Double?
        var jitter: Bool?
        if !consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = string(&self), consume(UInt8(ascii: ":")) else { return nil }
                switch key {
                case "policy":
                    guard name == nil, let v = string(&self) else { return nil }
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
                    guard !refusingUnknownKeys, skipValue(depth: 1) else { return nil }
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
        guard let (span, escaped) = stringSpan() else { return nil }
        if !escaped {
            return BatonJSON.parseMillis(span).map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
        guard let text = Self.unescape(span) else { return nil }
        return BatonJSON.parseDate(text)
    }

    /// Validates any JSON value and returns it as compact text (whitespace outside strings removed).
    package mutating func rawValue() -> String? {
        skipWhitespace()
        let start = index
        guard skipValue(depth: 0) else { return nil }
        let span = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        // One pass; a copy is made only from the first whitespace outside a string on.
        var compacted: [UInt8]?
        var inString = false
        var escaped = false
        for (i, c) in span.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if c == UInt8(ascii: "\"") {
                inString = true
            } else if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                if compacted == nil {
                    compacted = Array(span[..<i])
                    compacted!.reserveCapacity(span.count)
                }
                continue
            }
            compacted?.append(c)
        }
        guard let compacted else { return Self.utf8(span) }
        return compacted.withUnsafeBytes { Self.utf8($0) }
    }

    /// Skips one value, validating its syntax (strings' escapes included).
    package mutating func skipValue(depth: Int) -> Bool {
        skipWhitespace()
        guard let c = peek else { return false }
        switch c {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { return false }
            index += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                guard skipString(), consume(UInt8(ascii: ":")), skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            guard depth < maxDepth else { return false }
            index += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "t"): return consumeLiteral("true")
        case UInt8(ascii: "f"): return consumeLiteral("false")
        case UInt8(ascii: "n"): return consumeLiteral("null")
        default:
            return skipNumber()
        }
    }

    private mutating func skipString() -> Bool {
        guard let (span, escaped) = stringSpan() else { return false }
        return !escaped || Self.unescape(span) != nil
    }

    /// Skips a number. One out of `Double`'s range (`1e400`) is refused, as `JSONDecoder`
    /// refuses it: it is valid RFC 8259 text, but kept as text (an ack's result, a claimed
    /// task's arguments) it would make every Foundation reader of it fail later.
    private mutating func skipNumber() -> Bool {
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, first >= 0x30, first <= 0x39 else { return false }
        index += 1
        // Only an exponent or more than 308 integer digits can reach infinity.
        var mayOverflow = first != 0x30 && skipDigits() >= 308
        if peek == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { return false }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { return false }
            mayOverflow = true
        }
        if mayOverflow {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else { return false }
        }
        return true
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
