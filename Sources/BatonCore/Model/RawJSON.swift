import Foundation

/// Validated JSON text carried opaquely: arguments and results are checked once at the edge
/// (well-formed, within the depth limit) and never parsed again on claim or completion.
public struct RawJSON: Sendable, Hashable, CustomStringConvertible {
    /// Compact JSON text.
    public let text: String

    /// Wraps text already known to be valid JSON (read back from a store).
    public init(trusted text: String) { self.text = text }

    /// Parses and validates `text`, normalising it to compact form.
    public init(validating text: String, maxDepth: Int = Limits.defaultMaxJSONDepth) throws(BatonError) {
        try self.init(validating: Data(text.utf8), maxDepth: maxDepth)
    }

    public init(validating data: Data, maxDepth: Int = Limits.defaultMaxJSONDepth) throws(BatonError) {
        if let failure = Self.syntaxFailure(data, maxDepth: maxDepth) {
            throw BatonError.invalidArgument(failure.isDepth ? failure.description : "not valid JSON: \(failure)")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw BatonError.invalidArgument("not valid JSON: \(Self.describe(error))")
        }
        self.init(value)
    }

    /// Checks that `data` is strict JSON nested at most `maxDepth` deep (for whole request
    /// bodies, before a lenient decoder sees them).
    public static func validateSyntax(_ data: some Collection<UInt8>, maxDepth: Int = Limits.defaultMaxJSONDepth) throws(BatonError) {
        if let failure = syntaxFailure(data, maxDepth: maxDepth) {
            throw BatonError.invalidArgument(failure.isDepth ? failure.description : "malformed JSON: \(failure)")
        }
    }

    /// What ``JSONScanner/validate(_:maxDepth:)`` finds wrong with `data`, if anything.
    package static func syntaxFailure(_ data: some Collection<UInt8>, maxDepth: Int) -> JSONScanner.Failure? {
        func check(_ raw: UnsafeRawBufferPointer) -> JSONScanner.Failure? {
            do {
                try JSONScanner.validate(raw, maxDepth: maxDepth)
                return nil
            } catch {
                return error
            }
        }
        if let result = data.withContiguousStorageIfAvailable({ check(UnsafeRawBufferPointer($0)) }) { return result }
        return Array(data).withUnsafeBytes { check($0) }
    }

    public init(_ value: JSONValue) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: every case maps to plain JSON.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        self.text = String(decoding: data, as: UTF8.self)
    }

    /// A JSON string literal of `s`, written directly (no encoder): quotes, backslashes and
    /// control characters escaped, everything else as it is.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// JSON `null`.
    public static let null = RawJSON(trusted: "null")
    public static let emptyObject = RawJSON(trusted: "{}")

    public var description: String { text }
    public var byteCount: Int { text.utf8.count }

    /// Whether the text is a JSON array (it is compact: no leading whitespace).
    public var isArray: Bool { text.utf8.first == UInt8(ascii: "[") }

    /// This array with `values` spliced in front, in order (`pass: prepend`); `nil` if this
    /// is not an array.
    public func prepending(_ values: [RawJSON]) -> RawJSON? {
        guard isArray else { return nil }
        guard !values.isEmpty else { return self }
        let rest = text.dropFirst()
        var out = "["
        out.reserveCapacity(text.utf8.count + values.reduce(0) { $0 + $1.byteCount + 1 })
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            out += value.text
        }
        if rest != "]" { out += "," }
        out += rest
        return RawJSON(trusted: out)
    }

    /// Parses the text (for handlers and tests; the hot path never does).
    public func parsed() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Decodes into a Codable type.
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(T.self, from: Data(text.utf8))
    }

    /// Encodes a value into validated JSON.
    public static func encoding<T: Encodable>(_ value: T) throws -> RawJSON {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return RawJSON(trusted: String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        default:
            return "\(error)"
        }
    }
}

extension RawJSON: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(try JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try parsed().encode(to: encoder)
    }
}
