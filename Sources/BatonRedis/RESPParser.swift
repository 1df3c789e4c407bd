import NIOCore

/// Reads RESP2 replies from bytes as they arrive, one value at a time, within limits that keep
/// a broken or hostile server from making the client allocate without bound.
public struct RESPParser: Sendable {
    /// The largest bulk string taken (Redis's own limit, `proto-max-bulk-len`, defaults to 512 MiB).
    public var maxBulkBytes: Int
    /// The most elements an array may announce.
    public var maxElements: Int
    /// How deeply arrays may nest (a stream read is four levels deep).
    public var maxDepth: Int
    /// The longest line (a simple string, an error, an integer or a length) before its CRLF.
    public var maxLineBytes: Int

    public init(maxBulkBytes: Int = 512 << 20, maxElements: Int = 1 << 24, maxDepth: Int = 32, maxLineBytes: Int = 64 << 10) {
        self.maxBulkBytes = maxBulkBytes
        self.maxElements = maxElements
        self.maxDepth = maxDepth
        self.maxLineBytes = maxLineBytes
    }

    /// The value at the front of `buffer`, which is then consumed; `nil` when the value is not
    /// complete yet (nothing is consumed). Throws ``RedisError/Kind/protocol`` for bytes that
    /// are not RESP2 or break a limit: the connection cannot be read further.
    public func parse(_ buffer: inout ByteBuffer) throws(RedisError) -> RESPValue? {
        var view = buffer
        guard let value = try value(&view, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: view.readerIndex)
        return value
    }

    private func value(_ buffer: inout ByteBuffer, depth: Int) throws(RedisError) -> RESPValue? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        var rest = buffer
        rest.moveReaderIndex(forwardBy: 1)
        guard let line = try line(&rest) else { return nil }
        let value: RESPValue
        switch type {
        case UInt8(ascii: "+"):
            value = .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            value = .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            value = .integer(try Self.integer(line, of: "an integer"))
        case UInt8(ascii: "$"):
            let length = try Self.integer(line, of: "a bulk string's length")
            if length == -1 {
                value = .bulkString(nil)
                break
            }
            guard length >= 0, length <= maxBulkBytes else {
                throw RedisError(.protocol, "a bulk string of \(length) bytes (the limit is \(maxBulkBytes))")
            }
            guard rest.readableBytes >= Int(length) + 2, let bytes = rest.readBytes(length: Int(length)) else { return nil }
            guard rest.readInteger(as: UInt16.self) == 0x0D0A else { throw RedisError(.protocol, "a bulk string not ended by CRLF") }
            value = .bulkString(bytes)
        case UInt8(ascii: "*"):
            let count = try Self.integer(line, of: "an array's length")
            if count == -1 {
                value = .array(nil)
                break
            }
            guard count >= 0, count <= maxElements else {
                throw RedisError(.protocol, "an array of \(count) elements (the limit is \(maxElements))")
            }
            guard depth < maxDepth else { throw RedisError(.protocol, "arrays nested more than \(maxDepth) deep") }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(count), rest.readableBytes / 3))
            for _ in 0..<count {
                guard let element = try self.value(&rest, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            value = .array(elements)
        default:
            throw RedisError(.protocol, "byte 0x\(String(type, radix: 16)) where a RESP2 type (+ - : $ *) was expected")
        }
        buffer = rest
        return value
    }

    /// The bytes up to the next CRLF, which is consumed too; `nil` if it has not arrived.
    private func line(_ buffer: inout ByteBuffer) throws(RedisError) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > maxLineBytes { throw RedisError(.protocol, "a line longer than \(maxLineBytes) bytes") }
            return nil
        }
        let length = cr - view.startIndex
        if length > maxLineBytes { throw RedisError(.protocol, "a line longer than \(maxLineBytes) bytes") }
        guard view.count > length + 1 else { return nil }
        guard view[cr + 1] == UInt8(ascii: "\n") else { throw RedisError(.protocol, "a CR not followed by LF") }
        let bytes = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 2)
        return bytes
    }

    private static func integer(_ line: [UInt8], of what: String) throws(RedisError) -> Int64 {
        guard let value = Int64(String(decoding: line, as: UTF8.self)) else {
            throw RedisError(.protocol, "'\(String(decoding: line.prefix(40), as: UTF8.self))' is not \(what)")
        }
        return value
    }
}

/// Writes commands as RESP2 arrays of bulk strings.
public enum RESPEncoder {
    public static func write(_ command: [RedisArgument], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(command.count)\r\n")
        for argument in command {
            buffer.writeString("$\(argument.bytes.count)\r\n")
            buffer.writeBytes(argument.bytes)
            buffer.writeStaticString("\r\n")
        }
    }
}
