/// How deep JSON text nests, by a lenient pass over its bytes (brackets outside strings).
package enum JSONNesting {
    /// Whether brackets outside strings open more than `limit` levels at some point. Text that
    /// does is refused by `JSONDecoder` (its limit is 512) — or, for `[` 513 times, traps it:
    /// its nesting error on the last byte computes a source location past the end. So text
    /// from elsewhere is checked with this before `JSONDecoder` reads it.
    package static func exceeds(_ limit: Int, in bytes: UnsafeRawBufferPointer) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for c in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch c {
            case UInt8(ascii: "\""):
                inString = true
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
