/// The canonical JSON form `RawJSON` normalises to, recognised without parsing: text in
/// that form can be sent or stored as it is, and equals what `RawJSON(JSONValue)` writes.
public enum CanonicalJSON {
    /// Whether compact JSON text is already what `RawJSON(JSONValue)` writes: ASCII keys in
    /// strictly ascending byte order, strings without escapes, integers that fit `Int64`
    /// (not `-0`), no fractions or exponents.
    public static func isCanonical(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var i = 0
            return canonicalValue(bytes, &i) && i == bytes.count
        }
    }

    private static func canonicalValue(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return true
            }
            var previous: UnsafeBufferPointer<UInt8>?
            while true {
                guard let key = canonicalString(b, &i, asciiOnly: true) else { return false }
                if let previous, !previous.lexicographicallyPrecedes(key) { return false }
                previous = key
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
                i += 1
                guard canonicalValue(b, &i), i < b.count else { return false }
                if b[i] == UInt8(ascii: "}") {
                    i += 1
                    return true
                }
                guard b[i] == UInt8(ascii: ",") else { return false }
                i += 1
            }
        case UInt8(ascii: "["):
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                return true
            }
            while true {
                guard canonicalValue(b, &i), i < b.count else { return false }
                if b[i] == UInt8(ascii: "]") {
                    i += 1
                    return true
                }
                guard b[i] == UInt8(ascii: ",") else { return false }
                i += 1
            }
        case UInt8(ascii: "\""):
            return canonicalString(b, &i, asciiOnly: false) != nil
        case UInt8(ascii: "t"): return literal(b, &i, "true")
        case UInt8(ascii: "f"): return literal(b, &i, "false")
        case UInt8(ascii: "n"): return literal(b, &i, "null")
        default:
            return canonicalInteger(b, &i)
        }
    }

    /// A string without escapes or control characters; its contents.
    private static func canonicalString(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, asciiOnly: Bool)
        -> UnsafeBufferPointer<UInt8>?
    {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        let start = i
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return UnsafeBufferPointer(rebasing: b[start..<i - 1])
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || (asciiOnly && c >= 0x80) { return nil }
            i += 1
        }
        return nil
    }

    private static func literal(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { return false }
        i += n
        return true
    }

    private static func canonicalInteger(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        let negative = b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let first = i
        var value: Int64 = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let digit = Int64(b[i] - 0x30)
            let (v, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { return false }
            value = v
            i += 1
        }
        let digits = i - first
        guard digits > 0, !(digits > 1 && b[first] == 0x30), !(negative && value == 0) else { return false }
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") { return false }
        return true
    }
}
