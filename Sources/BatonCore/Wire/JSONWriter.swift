import Foundation

/// Writes JSON bytes without `JSONEncoder`, for the hot wire bodies on both sides (the node
/// writes tasks and claims with it, a worker its acks): strings escaped as `JSONEncoder`
/// escapes them, opaque JSON (`RawJSON`) spliced in as its text, dates formatted by
/// arithmetic as `BatonJSON.formatDate` formats them.
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []

    package init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    package mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    package mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// Text that needs no escaping (ids, numbers, canonical JSON), copied as it is.
    package mutating func ascii(_ s: String) { bytes.append(contentsOf: s.utf8) }

    package mutating func string(_ s: String) {
        // Most strings (kinds, queues, tokens, owners) need no escape: copied in one append.
        var s = s
        let plain = s.withUTF8 { utf8 -> Bool in
            for b in utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: utf8)
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if !plain { escaped(s) }
    }

    private mutating func escaped(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw(#"\""#)
            case UInt8(ascii: "\\"): raw(#"\\"#)
            case 0x0A: raw(#"\n"#)
            case 0x0D: raw(#"\r"#)
            case 0x09: raw(#"\t"#)
            case 0x08: raw(#"\b"#)
            case 0x0C: raw(#"\f"#)
            case 0..<0x20:
                raw(#"\u00"#)
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    package mutating func int(_ i: Int) { bytes.append(contentsOf: String(i).utf8) }

    package mutating func double(_ d: Double) {
        if d == d.rounded(), abs(d) < 1e15 {
            int(Int(d))
        } else {
            bytes.append(contentsOf: "\(d)".utf8)
        }
    }

    package mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    package mutating func json(_ j: RawJSON) { bytes.append(contentsOf: j.text.utf8) }

    /// A parsed value, as `JSONEncoder` with sorted keys writes it (numbers in its form, object
    /// keys in ascending order; strings escaped as ``string(_:)`` escapes them, which reads back
    /// to the same string): text that ``NewTaskWireDecoder`` reads, arguments as canonical as
    /// they can be.
    package mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): bool(b)
        case .int(let i): ascii(String(i))
        case .double(let d):
            // JSONEncoder's form: the description, without a trailing ".0".
            let text = d.description
            ascii(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
        case .string(let s): string(s)
        case .array(let items):
            byte(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { byte(UInt8(ascii: ",")) }
                self.value(item)
            }
            byte(UInt8(ascii: "]"))
        case .object(let members):
            byte(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { byte(UInt8(ascii: ",")) }
                string(key)
                byte(UInt8(ascii: ":"))
                self.value(members[key]!)
            }
            byte(UInt8(ascii: "}"))
        }
    }

    /// RFC 3339 UTC with milliseconds, as `BatonJSON.formatDate`.
    package mutating func date(_ date: Date) {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var days = totalMillis / 86_400_000
        var msOfDay = totalMillis % 86_400_000
        if msOfDay < 0 {
            msOfDay += 86_400_000
            days -= 1
        }
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)

        bytes.append(UInt8(ascii: "\""))
        digits(Int(year), 4)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(month), 2)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(day), 2)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(msOfDay / 3_600_000), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(msOfDay / 60_000 % 60), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(msOfDay / 1000 % 60), 2)
        bytes.append(UInt8(ascii: "."))
        digits(Int(msOfDay % 1000), 3)
        raw("Z\"")
    }

    private mutating func digits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        if v >= divisor * 10 {
            bytes.append(contentsOf: String(v).utf8)
            return
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(v / divisor))
            v %= divisor
            divisor /= 10
        }
    }
}
