/// The canonical JSON form `RawJSON` normalises to, recognised without parsing: text in
/// that form can be sent or stored as it is, and equals what `RawJSON(JSONValue)` writes.
/// ``JSONScanner`` notes the form as it passes a value; this asks it of a whole text.
public enum CanonicalJSON {
    /// Whether compact JSON text is already what `RawJSON(JSONValue)` writes: no whitespace
    /// outside strings, ASCII keys in strictly ascending byte order, strings without escapes,
    /// integers that fit `Int64` (not `-0`), no fractions or exponents (and nested at most as
    /// deep as `JSONDecoder` reads).
    public static func isCanonical(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var s = JSONScanner(UnsafeRawBufferPointer(bytes), maxDepth: 512)
            guard let value = s.valueSpan(depth: 0) else { return false }
            return value.canonical && !value.spaced && value.bytes.count == bytes.count
        }
    }
}
