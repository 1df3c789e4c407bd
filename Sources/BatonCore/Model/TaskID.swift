import Foundation

/// A task's identifier: a UUIDv7 (RFC 9562), so identifiers sort by creation time.
///
/// The text form is the lowercase canonical UUID string; comparing two text forms orders
/// tasks by the millisecond they were created, then by their random bits.
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let uuid: UUID

    public init(uuid: UUID) { self.uuid = uuid }

    /// Parses the canonical text form (either case); `nil` if it is not a UUID.
    public init?(_ string: String) {
        var string = string
        if let uuid = string.withUTF8({ Self.parse($0) }) {
            self.uuid = uuid
            return
        }
        guard let uuid = UUID(uuidString: string) else { return nil }
        self.uuid = uuid
    }

    /// A new time-ordered identifier for the given instant: 48 bits of Unix milliseconds,
    /// the version and variant, and 74 random bits (drawn with two calls to the system
    /// generator, not one per byte).
    public static func generate(at date: Date = Date()) -> TaskID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var random = SystemRandomNumberGenerator()
        // High word: millis (48 bits), version 7, 12 random bits. Low word: variant, 62 random bits.
        let high = (millis << 16) | 0x7000 | (random.next() & 0x0FFF)
        let low = (random.next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return TaskID(high: high, low: low)
    }

    init(high: UInt64, low: UInt64) {
        func b(_ word: UInt64, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> (8 * (7 - i))) }
        uuid = UUID(
            uuid: (
                b(high, 0), b(high, 1), b(high, 2), b(high, 3), b(high, 4), b(high, 5), b(high, 6), b(high, 7),
                b(low, 0), b(low, 1), b(low, 2), b(low, 3), b(low, 4), b(low, 5), b(low, 6), b(low, 7)
            ))
    }

    /// The 128 bits as two big-endian words.
    var words: (high: UInt64, low: UInt64) {
        let u = uuid.uuid
        let high =
            UInt64(u.0) << 56 | UInt64(u.1) << 48 | UInt64(u.2) << 40 | UInt64(u.3) << 32 | UInt64(u.4) << 24
            | UInt64(u.5) << 16 | UInt64(u.6) << 8 | UInt64(u.7)
        let low =
            UInt64(u.8) << 56 | UInt64(u.9) << 48 | UInt64(u.10) << 40 | UInt64(u.11) << 32 | UInt64(u.12) << 24
            | UInt64(u.13) << 16 | UInt64(u.14) << 8 | UInt64(u.15)
        return (high, low)
    }

    /// The creation time encoded in a UUIDv7, to the millisecond.
    public var timestamp: Date {
        Date(timeIntervalSince1970: Double(words.high >> 16) / 1000)
    }

    /// The lowercase canonical form, written by arithmetic (no `sprintf`, no lowercasing copy).
    public var description: String {
        let (high, low) = words
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var out = 0
            func put(_ word: UInt64, _ nibbles: ClosedRange<Int>) {
                for n in nibbles {
                    buffer[out] = Self.hexDigits[Int((word >> UInt64(4 * (15 - n))) & 0xF)]
                    out += 1
                }
            }
            func dash() {
                buffer[out] = UInt8(ascii: "-")
                out += 1
            }
            put(high, 0...7)
            dash()
            put(high, 8...11)
            dash()
            put(high, 12...15)
            dash()
            put(low, 0...3)
            dash()
            put(low, 4...15)
            return out
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `8-4-4-4-12` hex digits of either case; `nil` for anything else.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard text.count == 36 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var nibbles = 0
        for (i, c) in text.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c &- 0x30
            case 0x61...0x66: d = c &- 0x61 &+ 10
            case 0x41...0x46: d = c &- 0x41 &+ 10
            default: return nil
            }
            if nibbles < 16 { high = high << 4 | UInt64(d) } else { low = low << 4 | UInt64(d) }
            nibbles += 1
        }
        return TaskID(high: high, low: low).uuid
    }

    /// The order of the text forms: the same as the order of the 128 bits.
    public static func < (lhs: TaskID, rhs: TaskID) -> Bool {
        let (a, b) = (lhs.words, rhs.words)
        return a.high != b.high ? a.high < b.high : a.low < b.low
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = TaskID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a task id (a UUID)")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
