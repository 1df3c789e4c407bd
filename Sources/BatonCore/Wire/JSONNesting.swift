/// How deep JSON text nests, by a lenient pass over its bytes (brackets outside strings).
package enum JSONNesting {
    /// Whether brackets outside strings open more than `limit` levels at some point. Text that
    /// does is refused by `JSONDecoder` (its limit is 512) — or, for `[` 513 times, traps it:
    /// its nesting error on the last byte computes a source location past the end. So text
    /// from elsewhere is checked with this before `JSONDecoder` reads it.
    package static func exceeds(_ limit: Int, in bytes: UnsafeRawBufferPointer) -> Bool {
        var depth = 0
        var strings = JSONStringState()
        for c in bytes where strings.isOutside(c) {
            switch c {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        return false
    }
}

/// Where JSON text read byte by byte stands: inside a string (its quotes included) or outside.
package struct JSONStringState {
    private var inString = false
    private var escaped = false

    package init() {}

    /// Reads the next byte; whether it stands outside every string (structure or whitespace).
    package mutating func isOutside(_ c: UInt8) -> Bool {
        if inString {
            if escaped {
                escaped = false
            } else if c == UInt8(ascii: "\\") {
                escaped = true
            } else if c == UInt8(ascii: "\"") {
                inString = false
            }
            return false
        }
        if c == UInt8(ascii: "\"") {
            inString = true
            return false
        }
        return true
    }
}
