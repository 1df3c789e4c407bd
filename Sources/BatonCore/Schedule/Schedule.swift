import Foundation

/// When a schedule fires: a cron rule in a time zone, or a fixed interval.
public enum ScheduleRule: Sendable, Hashable {
    case cron(CronExpression, TimeZone)
    /// Every `interval`, on ticks aligned to the Unix epoch (`every: 30s` fires at :00 and :30),
    /// so every node computes the same ticks.
    case every(Duration)

    /// The first tick strictly after `date`.
    public func next(after date: Date) -> Date? {
        switch self {
        case .cron(let expression, let zone):
            return expression.next(after: date, in: zone)
        case .every(let interval):
            let step = interval.seconds
            let n = (date.timeIntervalSince1970 / step).rounded(.down) + 1
            return Date(timeIntervalSince1970: n * step)
        }
    }

    public func next(_ count: Int, after date: Date) -> [Date] {
        var result: [Date] = []
        var from = date
        while result.count < count, let d = next(after: from) {
            result.append(d)
            from = d
        }
        return result
    }

    /// Parses an interval such as `30s`, `5m`, `1h30m`, `1.5h` or `2d`; at least 1 s.
    public static func parseInterval(_ text: String) throws(BatonError) -> Duration {
        let factors: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { throw .invalidArgument("every: empty interval") }
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let n = Double(digits), let factor = factors[String(unit)] else {
                throw .invalidArgument("every: '\(text)' is not an interval such as 30s, 5m or 1h30m (units ms, s, m, h, d)")
            }
            total += n * factor
        }
        guard total >= 1 else { throw .invalidArgument("every: the interval must be at least 1s, got '\(text)'") }
        guard total <= Limits.maxSeconds else {
            throw .invalidArgument("every: the interval must be at most \(Int(Limits.maxSeconds))s, got '\(text)'")
        }
        return .milliseconds(Int64((total * 1000).rounded()))
    }
}

/// What a schedule does with ticks it missed while no node was running it.
public enum MisfirePolicy: Sendable, Hashable {
    /// Drop missed ticks; fire at the next one.
    case skip
    /// One task now for all the missed ticks.
    case once
    /// One task per missed tick, at most `limit` of them.
    case catchUp(limit: Int)

    public static let defaultCatchUpLimit = 100

    public var name: String {
        switch self {
        case .skip: "skip"
        case .once: "once"
        case .catchUp: "catch-up"
        }
    }

    public static func named(_ name: String, limit: Int? = nil) throws(BatonError) -> MisfirePolicy {
        switch name {
        case "skip": return .skip
        case "once": return .once
        case "catch-up", "catchup", "catch_up":
            let l = limit ?? defaultCatchUpLimit
            guard l >= 1 && l <= 10_000 else { throw .invalidArgument("misfire catch-up limit must be 1…10000") }
            return .catchUp(limit: l)
        default:
            throw .invalidArgument("misfire must be skip, once or catch-up, got '\(name)'")
        }
    }

    /// Which ticks get a task when the ticks after `lastFired` up to `now` are due.
    ///
    /// A tick counts as on time while `now` is within `grace` of it; later ones were missed.
    /// Returns the ticks to fire (one task each) and the tick to record as last fired.
    public func ticksToFire(rule: ScheduleRule, lastFired: Date, now: Date, grace: Duration = .seconds(60)) -> (
        fire: [Date], advanceTo: Date?
    ) {
        var due: [Date] = []
        var from = lastFired
        while let t = rule.next(after: from), t <= now {
            due.append(t)
            from = t
            if due.count > 1_000_000 { break }
        }
        guard let latest = due.last else { return ([], nil) }
        switch self {
        case .skip:
            let onTime = now.timeIntervalSince(latest) <= grace.seconds
            return (onTime ? [latest] : [], latest)
        case .once:
            return ([latest], latest)
        case .catchUp(let limit):
            return (Array(due.suffix(limit)), latest)
        }
    }
}
