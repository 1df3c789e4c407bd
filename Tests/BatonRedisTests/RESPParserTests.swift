import BatonRedis
import NIOCore
import PropertyBased
import Testing

/// The RESP2 reader: each type, values split anywhere, and what it refuses.
@Suite("RESP2 parser")
struct RESPParserTests {
    /// A reply as a server writes it (the test's own writer, independent of the parser).
    static func wire(_ value: RESPValue) -> [UInt8] {
        switch value {
        case .simpleString(let text): Array("+\(text)\r\n".utf8)
        case .error(let text): Array("-\(text)\r\n".utf8)
        case .integer(let number): Array(":\(number)\r\n".utf8)
        case .bulkString(nil): Array("$-1\r\n".utf8)
        case .bulkString(let bytes?): Array("$\(bytes.count)\r\n".utf8) + bytes + [13, 10]
        case .array(nil): Array("*-1\r\n".utf8)
        case .array(let elements?): Array("*\(elements.count)\r\n".utf8) + elements.flatMap(wire)
        }
    }

    /// Every value parsed from `bytes` fed in `chunks`-sized pieces, as a connection would.
    static func parseAll(_ bytes: [UInt8], chunks: [Int], parser: RESPParser = RESPParser()) throws -> [RESPValue] {
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        var offset = 0
        var index = 0
        while offset < bytes.count {
            let size = max(1, chunks.isEmpty ? bytes.count : chunks[index % chunks.count])
            index += 1
            buffer.writeBytes(bytes[offset..<min(bytes.count, offset + size)])
            offset += size
            while let value = try parser.parse(&buffer) { values.append(value) }
        }
        #expect(buffer.readableBytes == 0, "bytes left over")
        return values
    }

    @Test func eachTypeAsAServerWritesIt() throws {
        let bytes = Array("+OK\r\n-WRONGTYPE Operation against a key\r\n:-42\r\n$5\r\nh\r\nlo\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n".utf8)
        let values = try Self.parseAll(bytes, chunks: [])
        #expect(
            values == [
                .simpleString("OK"), .error("WRONGTYPE Operation against a key"), .integer(-42), .bulkString(Array("h\r\nlo".utf8)),
                .bulkString([]), .bulkString(nil), .array(nil), .array([]),
            ])
        #expect(values[1].string == nil && values[2].int == -42 && values[3].string == "h\r\nlo" && values[5].isNull)
    }

    /// A stream read's reply: arrays four deep, fed one byte at a time.
    @Test func aStreamReadFedAByteAtATime() throws {
        let entry: RESPValue = .array([
            .bulkString(Array("1-0".utf8)), .array([.bulkString(Array("task".utf8)), .bulkString(Array("{}".utf8))]),
        ])
        let reply: RESPValue = .array([.array([.bulkString(Array("work".utf8)), .array([entry, entry])])])
        #expect(try Self.parseAll(Self.wire(reply) + Self.wire(.integer(1)), chunks: [1]) == [reply, .integer(1)])
    }

    @Test func anIncompleteValueConsumesNothing() throws {
        var buffer = ByteBuffer(bytes: Array("*2\r\n$3\r\nfoo\r\n$3\r\nba".utf8))
        #expect(try RESPParser().parse(&buffer) == nil)
        #expect(buffer.readableBytes == 19)
        buffer.writeBytes(Array("r\r\n".utf8))
        #expect(try RESPParser().parse(&buffer) == .array([.bulkString(Array("foo".utf8)), .bulkString(Array("bar".utf8))]))
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [
        ("?what\r\n", "byte 0x3f where a RESP2 type"),
        (":12x\r\n", "'12x' is not an integer"),
        ("$-2\r\n", "a bulk string of -2 bytes"),
        ("$3\r\nfooXY", "a bulk string not ended by CRLF"),
        ("+OK\rX", "a CR not followed by LF"),
        ("*-5\r\n", "an array of -5 elements"),
        ("$999999999999\r\n", "a bulk string of 999999999999 bytes"),
    ])
    func malformedBytesAreRefusedWithTheReason(_ bytes: String, _ reason: String) {
        var buffer = ByteBuffer(string: bytes)
        #expect {
            _ = try RESPParser().parse(&buffer)
        } throws: { error in
            (error as? RedisError)?.kind == .protocol && "\(error)".contains(reason)
        }
    }

    @Test func limitsOnLinesArraysAndNesting() {
        let parser = RESPParser(maxBulkBytes: 8, maxElements: 3, maxDepth: 2, maxLineBytes: 10)
        for (bytes, reason) in [
            ("$9\r\n", "a bulk string of 9 bytes (the limit is 8)"), ("*4\r\n", "an array of 4 elements (the limit is 3)"),
            ("*1\r\n*1\r\n*1\r\n:1\r\n", "arrays nested more than 2 deep"), ("+0123456789A", "a line longer than 10 bytes"),
        ] {
            var buffer = ByteBuffer(string: bytes)
            #expect(throws: RedisError(.protocol, reason)) { _ = try parser.parse(&buffer) }
        }
    }

    /// Random replies, written as a server writes them and read back in random pieces: the same
    /// values, in order, nothing left over.
    @Test func randomRepliesReadBackInRandomPieces() async {
        await propertyCheck(count: 300, input: Self.replies) { input in
            let (values, chunks) = input
            let bytes = values.flatMap(Self.wire)
            do {
                #expect(try Self.parseAll(bytes, chunks: chunks) == values)
            } catch {
                Issue.record("\(values) in pieces of \(chunks): \(error)")
            }
        }
    }

    static let replies = Generator<([RESPValue], [Int]), AnySequence<([RESPValue], [Int])>>(
        run: { rng in
            let values = (0..<Int.random(in: 1...6, using: &rng)).map { _ in value(depth: 0, &rng) }
            let chunks = (0..<Int.random(in: 1...4, using: &rng)).map { _ in Int.random(in: 1...40, using: &rng) }
            return (values, chunks)
        },
        shrink: { _ in AnySequence([]) })

    static func value<R: RandomNumberGenerator>(depth: Int, _ rng: inout R) -> RESPValue {
        func bytes() -> [UInt8] { (0..<Int.random(in: 0...30, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        func text() -> String { String((0..<Int.random(in: 0...12, using: &rng)).map { _ in "abcXYZ 09-_é".randomElement(using: &rng)! }) }
        switch Int.random(in: 0..<(depth < 3 ? 8 : 6), using: &rng) {
        case 0: return .simpleString(text())
        case 1: return .error("ERR " + text())
        case 2: return .integer(Int64.random(in: .min ... .max, using: &rng))
        case 3: return .bulkString(bytes())
        case 4: return .bulkString(nil)
        case 5: return .array(nil)
        default: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in value(depth: depth + 1, &rng) })
        }
    }

    @Test func commandsAreArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPEncoder.write(["SET", "k", RedisArgument(bytes: [0, 13, 10]), 42], into: &buffer)
        #expect(
            Array(buffer.readableBytesView) == Array("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n".utf8) + [0, 13, 10]
                + Array("\r\n$2\r\n42\r\n".utf8))
    }
}
