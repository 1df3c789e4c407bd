import NIOCore

/// AMQP 0-9-1's frames and the types their payloads are made of (the protocol's section 4.2
/// and its grammar): what ``AMQPConnection`` writes and reads. Only what a client needs:
/// the methods of the classes connection, channel, exchange, queue, basic and confirm.
enum AMQPWire {
    /// The bytes a client opens a connection with.
    static let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]
    static let frameEnd: UInt8 = 0xCE
    /// The frame size a client proposes, and the least any peer must accept.
    static let preferredFrameMax: UInt32 = 131_072
    static let minFrameMax: UInt32 = 4096

    enum FrameType: UInt8 {
        case method = 1
        case header = 2
        case body = 3
        case heartbeat = 8
    }

    struct Frame {
        var type: FrameType
        var channel: UInt16
        var payload: ByteBuffer
    }

    /// A method's class and method ids.
    struct MethodID: Hashable, CustomStringConvertible {
        var classID: UInt16
        var methodID: UInt16
        init(_ classID: UInt16, _ methodID: UInt16) {
            self.classID = classID
            self.methodID = methodID
        }
        var description: String { "\(classID).\(methodID)" }

        static let connectionStart = MethodID(10, 10)
        static let connectionStartOk = MethodID(10, 11)
        static let connectionTune = MethodID(10, 30)
        static let connectionTuneOk = MethodID(10, 31)
        static let connectionOpen = MethodID(10, 40)
        static let connectionOpenOk = MethodID(10, 41)
        static let connectionClose = MethodID(10, 50)
        static let connectionCloseOk = MethodID(10, 51)
        static let connectionBlocked = MethodID(10, 60)
        static let connectionUnblocked = MethodID(10, 61)
        static let channelOpen = MethodID(20, 10)
        static let channelOpenOk = MethodID(20, 11)
        static let channelFlow = MethodID(20, 20)
        static let channelFlowOk = MethodID(20, 21)
        static let channelClose = MethodID(20, 40)
        static let channelCloseOk = MethodID(20, 41)
        static let exchangeDeclare = MethodID(40, 10)
        static let exchangeDeclareOk = MethodID(40, 11)
        static let queueDeclare = MethodID(50, 10)
        static let queueDeclareOk = MethodID(50, 11)
        static let queueBind = MethodID(50, 20)
        static let queueBindOk = MethodID(50, 21)
        static let queuePurge = MethodID(50, 30)
        static let queuePurgeOk = MethodID(50, 31)
        static let queueDelete = MethodID(50, 40)
        static let queueDeleteOk = MethodID(50, 41)
        static let queueUnbind = MethodID(50, 50)
        static let queueUnbindOk = MethodID(50, 51)
        static let basicQos = MethodID(60, 10)
        static let basicQosOk = MethodID(60, 11)
        static let basicConsume = MethodID(60, 20)
        static let basicConsumeOk = MethodID(60, 21)
        static let basicCancel = MethodID(60, 30)
        static let basicCancelOk = MethodID(60, 31)
        static let basicPublish = MethodID(60, 40)
        static let basicReturn = MethodID(60, 50)
        static let basicDeliver = MethodID(60, 60)
        static let basicGet = MethodID(60, 70)
        static let basicGetOk = MethodID(60, 71)
        static let basicGetEmpty = MethodID(60, 72)
        static let basicAck = MethodID(60, 80)
        static let basicReject = MethodID(60, 90)
        static let basicNack = MethodID(60, 120)
        static let confirmSelect = MethodID(85, 10)
        static let confirmSelectOk = MethodID(85, 11)
    }

    /// A method frame's payload, read: its id and the arguments after it.
    struct Method {
        var id: MethodID
        var arguments: ByteBuffer
    }

    // MARK: Writing

    /// A frame around `payload`, appended to `buffer`.
    static func writeFrame(_ type: FrameType, channel: UInt16, payload: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(channel)
        buffer.writeInteger(UInt32(payload.readableBytes))
        var payload = payload
        buffer.writeBuffer(&payload)
        buffer.writeInteger(frameEnd)
    }

    /// A method frame: `arguments` writes the method's arguments after its ids.
    static func writeMethod(
        _ id: MethodID, channel: UInt16, into buffer: inout ByteBuffer, arguments: (inout ByteBuffer) throws(AMQPError) -> Void
    ) throws(AMQPError) {
        var payload = ByteBufferAllocator().buffer(capacity: 64)
        payload.writeInteger(id.classID)
        payload.writeInteger(id.methodID)
        try arguments(&payload)
        writeFrame(.method, channel: channel, payload: payload, into: &buffer)
    }

    /// A message's content: its header frame, then its body in frames of at most `frameMax`.
    static func writeContent(
        classID: UInt16, properties: AMQPProperties, body: ByteBuffer, channel: UInt16, frameMax: UInt32, into buffer: inout ByteBuffer
    ) throws(AMQPError) {
        var header = ByteBufferAllocator().buffer(capacity: 64)
        header.writeInteger(classID)
        header.writeInteger(UInt16(0))
        header.writeInteger(UInt64(body.readableBytes))
        try properties.write(into: &header)
        writeFrame(.header, channel: channel, payload: header, into: &buffer)
        let chunk = Int(frameMax) - 8
        var body = body
        while body.readableBytes > 0 {
            let part = body.readSlice(length: min(chunk, body.readableBytes))!
            writeFrame(.body, channel: channel, payload: part, into: &buffer)
        }
    }

    static func writeShortString(_ text: String, into buffer: inout ByteBuffer) throws(AMQPError) {
        let count = text.utf8.count
        guard count <= 255 else {
            throw AMQPError(.invalidArgument, "'\(text.prefix(40))…' is \(count) bytes; AMQP names are at most 255")
        }
        buffer.writeInteger(UInt8(count))
        buffer.writeString(text)
    }

    static func writeLongString(_ bytes: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }

    /// Bits packed into octets, first bit lowest, as consecutive bit arguments are.
    static func writeBits(_ bits: [Bool], into buffer: inout ByteBuffer) {
        var octet: UInt8 = 0
        for (i, bit) in bits.enumerated() where bit { octet |= 1 << UInt8(i) }
        buffer.writeInteger(octet)
    }

    static func writeTable(_ table: [String: AMQPFieldValue], into buffer: inout ByteBuffer) throws(AMQPError) {
        let sizeAt = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        // Sorted, so that the same table gives the same bytes.
        for (name, value) in table.sorted(by: { $0.key < $1.key }) {
            try writeShortString(name, into: &buffer)
            try value.write(into: &buffer)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - sizeAt - 4), at: sizeAt)
    }

    // MARK: Reading

    static func readInteger<T: FixedWidthInteger>(_ buffer: inout ByteBuffer, as: T.Type = T.self) throws(AMQPError) -> T {
        guard let value = buffer.readInteger(as: T.self) else { throw truncated }
        return value
    }

    static func readShortString(_ buffer: inout ByteBuffer) throws(AMQPError) -> String {
        let count = try readInteger(&buffer, as: UInt8.self)
        guard let text = buffer.readString(length: Int(count)) else { throw truncated }
        return text
    }

    static func readLongBytes(_ buffer: inout ByteBuffer) throws(AMQPError) -> [UInt8] {
        let count = try readInteger(&buffer, as: UInt32.self)
        guard let bytes = buffer.readBytes(length: Int(count)) else { throw truncated }
        return bytes
    }

    static func readLongString(_ buffer: inout ByteBuffer) throws(AMQPError) -> String {
        String(decoding: try readLongBytes(&buffer), as: UTF8.self)
    }

    static func readBits(_ buffer: inout ByteBuffer, count: Int) throws(AMQPError) -> [Bool] {
        let octet = try readInteger(&buffer, as: UInt8.self)
        return (0..<count).map { octet & (1 << UInt8($0)) != 0 }
    }

    static func readTable(_ buffer: inout ByteBuffer) throws(AMQPError) -> [String: AMQPFieldValue] {
        let size = try readInteger(&buffer, as: UInt32.self)
        guard var slice = buffer.readSlice(length: Int(size)) else { throw truncated }
        var table: [String: AMQPFieldValue] = [:]
        while slice.readableBytes > 0 {
            let name = try readShortString(&slice)
            table[name] = try AMQPFieldValue.read(&slice)
        }
        return table
    }

    static func readMethod(_ payload: ByteBuffer) throws(AMQPError) -> Method {
        var payload = payload
        let classID = try readInteger(&payload, as: UInt16.self)
        let methodID = try readInteger(&payload, as: UInt16.self)
        return Method(id: MethodID(classID, methodID), arguments: payload)
    }

    static let truncated = AMQPError(.protocol, "a frame from the server ends before its arguments do")
}

/// A value of an AMQP field table (headers, arguments, the server's properties): the types
/// RabbitMQ reads and writes.
public enum AMQPFieldValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case float(Float)
    case double(Double)
    case decimal(scale: UInt8, value: UInt32)
    case string(String)
    case bytes([UInt8])
    case array([AMQPFieldValue])
    case timestamp(UInt64)
    case table([String: AMQPFieldValue])
    case void

    func write(into buffer: inout ByteBuffer) throws(AMQPError) {
        func tag(_ character: Character) { buffer.writeInteger(character.asciiValue!) }
        switch self {
        case .bool(let value):
            tag("t")
            buffer.writeInteger(UInt8(value ? 1 : 0))
        case .int8(let value):
            tag("b")
            buffer.writeInteger(value)
        case .uint8(let value):
            tag("B")
            buffer.writeInteger(value)
        case .int16(let value):
            tag("s")
            buffer.writeInteger(value)
        case .uint16(let value):
            tag("u")
            buffer.writeInteger(value)
        case .int32(let value):
            tag("I")
            buffer.writeInteger(value)
        case .uint32(let value):
            tag("i")
            buffer.writeInteger(value)
        case .int64(let value):
            tag("l")
            buffer.writeInteger(value)
        case .float(let value):
            tag("f")
            buffer.writeInteger(value.bitPattern)
        case .double(let value):
            tag("d")
            buffer.writeInteger(value.bitPattern)
        case .decimal(let scale, let value):
            tag("D")
            buffer.writeInteger(scale)
            buffer.writeInteger(value)
        case .string(let value):
            tag("S")
            AMQPWire.writeLongString(Array(value.utf8), into: &buffer)
        case .bytes(let value):
            tag("x")
            AMQPWire.writeLongString(value, into: &buffer)
        case .array(let values):
            tag("A")
            let sizeAt = buffer.writerIndex
            buffer.writeInteger(UInt32(0))
            for value in values { try value.write(into: &buffer) }
            buffer.setInteger(UInt32(buffer.writerIndex - sizeAt - 4), at: sizeAt)
        case .timestamp(let value):
            tag("T")
            buffer.writeInteger(value)
        case .table(let table):
            tag("F")
            try AMQPWire.writeTable(table, into: &buffer)
        case .void:
            tag("V")
        }
    }

    static func read(_ buffer: inout ByteBuffer) throws(AMQPError) -> AMQPFieldValue {
        let tag = try AMQPWire.readInteger(&buffer, as: UInt8.self)
        switch Character(Unicode.Scalar(tag)) {
        case "t": return .bool(try AMQPWire.readInteger(&buffer, as: UInt8.self) != 0)
        case "b": return .int8(try AMQPWire.readInteger(&buffer))
        case "B": return .uint8(try AMQPWire.readInteger(&buffer))
        case "s": return .int16(try AMQPWire.readInteger(&buffer))
        case "u": return .uint16(try AMQPWire.readInteger(&buffer))
        case "I": return .int32(try AMQPWire.readInteger(&buffer))
        case "i": return .uint32(try AMQPWire.readInteger(&buffer))
        case "l": return .int64(try AMQPWire.readInteger(&buffer))
        case "L": return .int64(Int64(bitPattern: try AMQPWire.readInteger(&buffer, as: UInt64.self)))
        case "f": return .float(Float(bitPattern: try AMQPWire.readInteger(&buffer)))
        case "d": return .double(Double(bitPattern: try AMQPWire.readInteger(&buffer)))
        case "D": return .decimal(scale: try AMQPWire.readInteger(&buffer), value: try AMQPWire.readInteger(&buffer))
        case "S": return .string(try AMQPWire.readLongString(&buffer))
        case "x": return .bytes(try AMQPWire.readLongBytes(&buffer))
        case "A":
            let size = try AMQPWire.readInteger(&buffer, as: UInt32.self)
            guard var slice = buffer.readSlice(length: Int(size)) else { throw AMQPWire.truncated }
            var values: [AMQPFieldValue] = []
            while slice.readableBytes > 0 { values.append(try read(&slice)) }
            return .array(values)
        case "T": return .timestamp(try AMQPWire.readInteger(&buffer))
        case "F": return .table(try AMQPWire.readTable(&buffer))
        case "V": return .void
        default: throw AMQPError(.protocol, "a field table holds a value of unknown type '\(Unicode.Scalar(tag))'")
        }
    }

    /// The value as text, when it is a string (or bytes of UTF-8).
    public var string: String? {
        switch self {
        case .string(let text): text
        case .bytes(let bytes): String(validating: bytes, as: UTF8.self)
        default: nil
        }
    }
}

/// A message's properties (the basic class's content header), each optional as on the wire.
public struct AMQPProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: [String: AMQPFieldValue]?
    /// 1 transient, 2 persistent (kept on disk by a durable queue).
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageID: String?
    public var timestamp: UInt64?
    public var type: String?
    public var userID: String?
    public var appID: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: [String: AMQPFieldValue]? = nil, deliveryMode: UInt8? = nil,
        priority: UInt8? = nil, correlationID: String? = nil, replyTo: String? = nil, expiration: String? = nil, messageID: String? = nil,
        timestamp: UInt64? = nil, type: String? = nil, userID: String? = nil, appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }

    /// A persistent message (delivery mode 2).
    public static let persistent = AMQPProperties(deliveryMode: 2)

    /// The property flags, then the properties present, in the order of their flag bits
    /// (bit 15 first).
    func write(into buffer: inout ByteBuffer) throws(AMQPError) {
        var flags: UInt16 = 0
        let present: [Bool] = [
            contentType != nil, contentEncoding != nil, headers != nil, deliveryMode != nil, priority != nil, correlationID != nil,
            replyTo != nil, expiration != nil, messageID != nil, timestamp != nil, type != nil, userID != nil, appID != nil,
        ]
        for (i, isPresent) in present.enumerated() where isPresent { flags |= 1 << UInt16(15 - i) }
        buffer.writeInteger(flags)
        if let contentType { try AMQPWire.writeShortString(contentType, into: &buffer) }
        if let contentEncoding { try AMQPWire.writeShortString(contentEncoding, into: &buffer) }
        if let headers { try AMQPWire.writeTable(headers, into: &buffer) }
        if let deliveryMode { buffer.writeInteger(deliveryMode) }
        if let priority { buffer.writeInteger(priority) }
        for text in [correlationID, replyTo, expiration, messageID] {
            if let text { try AMQPWire.writeShortString(text, into: &buffer) }
        }
        if let timestamp { buffer.writeInteger(timestamp) }
        for text in [type, userID, appID] {
            if let text { try AMQPWire.writeShortString(text, into: &buffer) }
        }
    }

    static func read(_ buffer: inout ByteBuffer) throws(AMQPError) -> AMQPProperties {
        let flags = try AMQPWire.readInteger(&buffer, as: UInt16.self)
        // Flags continued in more words (bit 0 set) name no property of the basic class.
        var more = flags
        while more & 1 == 1 { more = try AMQPWire.readInteger(&buffer, as: UInt16.self) }
        func has(_ bit: Int) -> Bool { flags & (1 << UInt16(bit)) != 0 }
        var properties = AMQPProperties()
        if has(15) { properties.contentType = try AMQPWire.readShortString(&buffer) }
        if has(14) { properties.contentEncoding = try AMQPWire.readShortString(&buffer) }
        if has(13) { properties.headers = try AMQPWire.readTable(&buffer) }
        if has(12) { properties.deliveryMode = try AMQPWire.readInteger(&buffer) }
        if has(11) { properties.priority = try AMQPWire.readInteger(&buffer) }
        if has(10) { properties.correlationID = try AMQPWire.readShortString(&buffer) }
        if has(9) { properties.replyTo = try AMQPWire.readShortString(&buffer) }
        if has(8) { properties.expiration = try AMQPWire.readShortString(&buffer) }
        if has(7) { properties.messageID = try AMQPWire.readShortString(&buffer) }
        if has(6) { properties.timestamp = try AMQPWire.readInteger(&buffer) }
        if has(5) { properties.type = try AMQPWire.readShortString(&buffer) }
        if has(4) { properties.userID = try AMQPWire.readShortString(&buffer) }
        if has(3) { properties.appID = try AMQPWire.readShortString(&buffer) }
        if has(2) { _ = try AMQPWire.readShortString(&buffer) }  // the reserved cluster-id
        return properties
    }
}

/// A message the server delivered (to a consumer, or in answer to a get).
public struct AMQPMessage: Sendable {
    /// The number to acknowledge it by, on the channel it came on.
    public var deliveryTag: UInt64
    /// Whether it may have been delivered before (to this or another consumer) and not acknowledged.
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var properties: AMQPProperties
    public var body: [UInt8]

    /// The body as text, when it is UTF-8.
    public var text: String? { String(validating: body, as: UTF8.self) }
}

/// Reads frames from bytes: the 7-byte header, the payload, the end octet.
struct AMQPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = AMQPWire.Frame
    /// The largest frame accepted (the negotiated maximum can only be lower).
    var maxFrame = Int(AMQPWire.preferredFrameMax)

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 7 else { return .needMoreData }
        let start = buffer.readerIndex
        let typeByte: UInt8 = buffer.getInteger(at: start)!
        let channel: UInt16 = buffer.getInteger(at: start + 1)!
        let size = Int(buffer.getInteger(at: start + 3, as: UInt32.self)!)
        if typeByte == 0x41 {  // 'A': the server refused the protocol version, answering its own header
            throw AMQPError(.protocol, "the server does not speak AMQP 0-9-1")
        }
        guard let type = AMQPWire.FrameType(rawValue: typeByte) else {
            throw AMQPError(.protocol, "a frame of unknown type \(typeByte)")
        }
        guard size <= maxFrame else { throw AMQPError(.protocol, "a frame of \(size) bytes, more than \(maxFrame)") }
        guard buffer.readableBytes >= 8 + size else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 7)
        let payload = buffer.readSlice(length: size)!
        let end: UInt8 = buffer.readInteger()!
        guard end == AMQPWire.frameEnd else { throw AMQPError(.protocol, "a frame that does not end with 0xCE") }
        context.fireChannelRead(Self.wrapInboundOut(AMQPWire.Frame(type: type, channel: channel, payload: payload)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
