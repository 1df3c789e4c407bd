import Foundation

/// The JSON coders every Baton component uses on the wire: snake_case keys come from each
/// type's `CodingKeys`; dates are RFC 3339 UTC with milliseconds (`2026-11-23T19:00:00.123Z`),
/// and both that form and the one without fractional seconds are accepted.
public enum BatonJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatDate(date))
        }
        return encoder
    }

    /// The decoder of request bodies: as ``decoder()``, and strict where a reader of the
    /// node's answers is lenient for forward compatibility (a retry policy's members are
    /// exactly its policy's; see ``RetryPolicy/decoded(policy:backoff:cap:jitter:)``).
    public static func requestDecoder() -> JSONDecoder {
        let decoder = decoder()
        decoder.userInfo[.batonRequest] = true
        return decoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "'\(text)' is not an RFC 3339 time such as 2026-11-23T19:00:00Z")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-23T19:00:00.123Z`: UTC, milliseconds rounded to the nearest.
    public static func formatDate(_ date: Date) -> String {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(totalMillis >= 0 ? totalMillis / 1000 : (totalMillis - 999) / 1000)
        let millis = Int(totalMillis - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// Parses an RFC 3339 time exactly as the API documents it (`APISchemas.dateTime`):
    /// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9 digits, then `Z` or `±HH:MM`;
    /// upper-case `T` and `Z`; a real calendar date (proleptic Gregorian, years 0000–9999);
    /// seconds up to 59. Rounded to the millisecond, the precision Baton stores. Anything
    /// else is `nil`.
    public static func parseDate(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            parseMillis(UnsafeRawBufferPointer(bytes)).map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
    }

    /// Milliseconds since 1970 of an RFC 3339 time, as ``parseDate(_:)`` reads it.
    public static func parseMillis(_ s: UnsafeRawBufferPointer) -> Int64? {
        func digits(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= s.count else { return nil }
            var v: Int64 = 0
            for i in from..<from + count {
                let c = s[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        func byte(_ i: Int, _ c: Character) -> Bool { i < s.count && s[i] == c.asciiValue! }
        guard s.count >= 20, byte(4, "-"), byte(7, "-"), byte(10, "T"), byte(13, ":"), byte(16, ":"),
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
            let minute = digits(14, 2), let second = digits(17, 2)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), day >= 1, day <= monthDays[Int(month - 1)], hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if byte(i, ".") {
            i += 1
            var count = 0
            while i < s.count, s[i] >= 0x30, s[i] <= 0x39 {
                guard count < 9 else { return nil }
                nanos = nanos * 10 + Int64(s[i] - 0x30)
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<9 { nanos *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if byte(i, "Z") {
            i += 1
        } else if byte(i, "+") || byte(i, "-") {
            let sign: Int64 = s[i] == UInt8(ascii: "-") ? -1 : 1
            guard byte(i + 3, ":"), let h = digits(i + 1, 2), let m = digits(i + 4, 2), h < 24, m < 60 else { return nil }
            offsetMinutes = sign * (h * 60 + m)
            i += 6
        } else {
            return nil
        }
        guard i == s.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm), proleptic Gregorian.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1000 + (nanos + 500_000) / 1_000_000
    }

    /// Rounds to the millisecond, the precision Baton stores.
    static func rounded(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

extension CodingUserInfoKey {
    /// Set by ``BatonJSON/requestDecoder()``: the value decoded is a request to a node.
    public static let batonRequest = CodingUserInfoKey(rawValue: "baton.request")!
}
