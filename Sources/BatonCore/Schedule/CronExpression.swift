import Foundation

/// A cron rule: 5 fields (`minute hour day-of-month month day-of-week`) or 6 with seconds
/// first, with ranges (`1-5`), steps (`*/15`, `10-50/10`, `5/10`), lists (`1,15,30`), names of
/// months (`JAN`–`DEC`) and days (`SUN`–`SAT`, with 0 and 7 both Sunday), and the macros
/// `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`.
///
/// As in classic cron, when both day-of-month and day-of-week are restricted a day matches
/// if either does. Times are wall-clock times in the schedule's time zone: a time that a
/// daylight-saving change skips fires at the first instant after the gap, and a time that
/// a change repeats fires once, at its first occurrence.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    public let source: String
    let seconds: Set<Int>
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool
    /// Whether the expression has a seconds field (6 fields).
    public let hasSeconds: Bool

    public var description: String { source }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses an expression; the error names the field at fault.
    public init(_ text: String) throws(BatonError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw .invalidArgument(
                    "cron: unknown macro '\(trimmed)' (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)")
            }
            expanded = macro
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw .invalidArgument(
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got \(fields.count) in '\(text)'"
            )
        }
        hasSeconds = fields.count == 6
        if !hasSeconds { fields.insert("0", at: 0) }
        source = trimmed
        seconds = try Self.parseField(fields[0], name: "second", range: 0...59)
        minutes = try Self.parseField(fields[1], name: "minute", range: 0...59)
        hours = try Self.parseField(fields[2], name: "hour", range: 0...23)
        daysOfMonth = try Self.parseField(fields[3], name: "day-of-month", range: 1...31)
        months = try Self.parseField(fields[4], name: "month", range: 1...12, names: Self.monthNames, nameBase: 1)
        var dow = try Self.parseField(fields[5], name: "day-of-week", range: 0...7, names: Self.dayNames, nameBase: 0)
        if dow.remove(7) != nil { dow.insert(0) }
        daysOfWeek = dow
        domRestricted = !fields[3].hasPrefix("*") && fields[3] != "?"
        dowRestricted = !fields[5].hasPrefix("*") && fields[5] != "?"
    }

    static func parseField(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], nameBase: Int = 0)
        throws(BatonError) -> Set<Int>
    {
        func fail(_ why: String) -> BatonError {
            .invalidArgument("cron: invalid \(name) field '\(text)': \(why)")
        }
        func value(_ token: String) throws(BatonError) -> Int {
            if let n = Int(token) {
                guard range.contains(n) else { throw fail("\(n) is outside \(range.lowerBound)-\(range.upperBound)") }
                return n
            }
            if let index = names.firstIndex(of: token.uppercased()) { return index + nameBase }
            throw fail("'\(token)' is not a number\(names.isEmpty ? "" : " or a name")")
        }
        guard !text.isEmpty else { throw fail("empty") }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw fail("empty list item") }
            var base = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                base = String(part[..<slash])
                let stepText = String(part[part.index(after: slash)...])
                guard let s = Int(stepText), s > 0 else { throw fail("step '\(stepText)' must be a positive number") }
                step = s
            }
            var low: Int
            var high: Int
            if base == "*" || base == "?" {
                (low, high) = (range.lowerBound, range.upperBound)
                if name == "day-of-week" { high = 6 }
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]))
                high = try value(String(base[base.index(after: dash)...]))
                guard low <= high else { throw fail("range \(low)-\(high) runs backwards") }
            } else {
                low = try value(base)
                // `5/10` means from 5 to the end in steps of 10.
                high = part.contains("/") ? range.upperBound : low
            }
            for v in stride(from: low, through: high, by: step) { result.insert(v) }
        }
        return result
    }

    /// Whether the day (given its day of month, weekday 0=Sunday and month) matches.
    func dayMatches(day: Int, weekday: Int, month: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday)
        if domRestricted && dowRestricted { return dom || dow }
        if domRestricted { return dom }
        if dowRestricted { return dow }
        return true
    }

    /// The first fire time strictly after `date`, in `timeZone`; `nil` if none within 8 years
    /// (e.g. `0 0 30 2 *`, the 30th of February).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let startInstant = date.addingTimeInterval(1)
        var c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: startInstant)
        var wall = WallTime(year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!, second: c.second!)
        if !hasSeconds && wall.second != 0 { wall.advanceMinute() }
        let limitYear = wall.year + 8
        while wall.year <= limitYear {
            if !months.contains(wall.month) {
                wall.advanceMonth()
                continue
            }
            if wall.day > WallTime.daysIn(month: wall.month, year: wall.year)
                || !dayMatches(day: wall.day, weekday: wall.weekday, month: wall.month)
            {
                wall.advanceDay()
                continue
            }
            if !hours.contains(wall.hour) {
                wall.advanceHour()
                continue
            }
            if !minutes.contains(wall.minute) {
                wall.advanceMinute()
                continue
            }
            if !seconds.contains(wall.second) {
                wall.advanceSecond()
                continue
            }
            c = DateComponents(year: wall.year, month: wall.month, day: wall.day, hour: wall.hour, minute: wall.minute, second: wall.second)
            if let instant = calendar.date(from: c), instant > date {
                // A repeated wall time (clocks set back) resolves to its first occurrence; if
                // that is already past, this candidate is not a new fire time.
                return instant
            }
            wall.advanceSecond()
        }
        return nil
    }

    /// The next `count` fire times after `date`.
    public func next(_ count: Int, after date: Date, in timeZone: TimeZone) -> [Date] {
        var result: [Date] = []
        var from = date
        while result.count < count, let d = next(after: from, in: timeZone) {
            result.append(d)
            from = d
        }
        return result
    }
}

/// A wall-clock time with carrying arithmetic, independent of any time zone's offsets.
struct WallTime {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// 0 = Sunday (Sakamoto's method).
    var weekday: Int {
        let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        return (y + y / 4 - y / 100 + y / 400 + t[month - 1] + day) % 7
    }

    mutating func advanceMonth() {
        (day, hour, minute, second) = (1, 0, 0, 0)
        month += 1
        if month > 12 {
            month = 1
            year += 1
        }
    }

    mutating func advanceDay() {
        (hour, minute, second) = (0, 0, 0)
        day += 1
        if day > Self.daysIn(month: month, year: year) {
            day = 1
            month += 1
            if month > 12 {
                month = 1
                year += 1
            }
        }
    }

    mutating func advanceHour() {
        (minute, second) = (0, 0)
        hour += 1
        if hour > 23 { advanceDay() }
    }

    mutating func advanceMinute() {
        second = 0
        minute += 1
        if minute > 59 {
            minute = 0
            advanceHour()
        }
    }

    mutating func advanceSecond() {
        second += 1
        if second > 59 {
            second = 0
            advanceMinute()
        }
    }
}
