/// A reply in Redis's serialization protocol, version 2 (RESP2), the protocol every Redis
/// server speaks by default. Commands go the other way as arrays of bulk strings
/// (``RESPEncoder``).
public enum RESPValue: Sendable, Hashable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR …`: the server refused the command (``RedisError/Kind/server``).
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3 foo`: binary-safe bytes; `nil` is the null bulk string (`$-1`: no such key).
    case bulkString([UInt8]?)
    /// `*2 …`; `nil` is the null array (`*-1`: a blocking read that timed out).
    case array([RESPValue]?)

    /// A simple or bulk string as UTF-8 text (invalid sequences replaced); `nil` otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// An integer, or a string that is one (Redis answers some counts as bulk strings).
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: string.flatMap { Int64($0) }
        default: nil
        }
    }

    /// The elements of a non-null array.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// A null bulk string or a null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

/// One argument of a command: bytes, sent as a bulk string (binary-safe).
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { bytes = Array(text.utf8) }
    public init<Number: BinaryInteger>(_ number: Number) { bytes = Array(String(number).utf8) }
    public init(stringLiteral text: String) { self.init(text) }
    public init(integerLiteral number: Int) { self.init(number) }
}
