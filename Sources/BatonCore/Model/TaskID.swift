import Foundation

/// A task's identifier: a UUIDv7 (RFC 9562), so identifiers sort by creation time.
///
/// The text form is the lowercase canonical UUID string; comparing two text forms orders
/// tasks by the millisecond they were created, then by their random bits.
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let uuid: UUID

    public init(uuid: UUID) { self.uuid = uuid }

    /// Parses the canonical text form; `nil` if it is not a UUID.
    public init?(_ string: String) {
        guard let uuid = UUID(uuidString: string) else { return nil }
        self.uuid = uuid
    }

    /// A new time-ordered identifier for the given instant.
    public static func generate(at date: Date = Date()) -> TaskID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        var random = SystemRandomNumberGenerator()
        for i in 6..<16 { bytes[i] = UInt8.random(in: 0...255, using: &random) }
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - UInt64(i)))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        let uuid = UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
        return TaskID(uuid: uuid)
    }

    /// The creation time encoded in a UUIDv7, to the millisecond.
    public var timestamp: Date {
        let b = uuid.uuid
        let parts: [UInt8] = [b.0, b.1, b.2, b.3, b.4, b.5]
        let millis = parts.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    public var description: String { uuid.uuidString.lowercased() }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.description < rhs.description }

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
