import BatonCore
import Foundation
import Testing

@Suite struct CronExpressionTests {
    static func utc(_ text: String) -> Date { BatonJSON.parseDate(text)! }
    static let utcZone = TimeZone(identifier: "UTC")!
    static let newYork = TimeZone(identifier: "America/New_York")!

    /// Expression, start (exclusive), the next fire times (UTC).
    static let table: [(String, String, [String])] = [
        (
            "*/15 * * * *", "2026-01-01T00:07:00Z",
            ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"]
        ),
        ("0 9 * * MON-FRI", "2026-01-02T10:00:00Z", ["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"]),
        ("30 6 1,15 * *", "2026-01-01T07:00:00Z", ["2026-01-15T06:30:00Z", "2026-02-01T06:30:00Z"]),
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        ("0 0 28-31 feb *", "2028-02-27T12:00:00Z", ["2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"]),
        ("0 0 L * *".replacingOccurrences(of: "L", with: "31"), "2026-01-31T00:00:00Z", ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]),
        ("@hourly", "2026-01-01T00:30:00Z", ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]),
        ("@daily", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z"]),
        ("@weekly", "2026-01-07T00:00:00Z", ["2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z"]),
        ("@monthly", "2026-01-15T00:00:00Z", ["2026-02-01T00:00:00Z"]),
        ("@yearly", "2026-06-01T00:00:00Z", ["2027-01-01T00:00:00Z"]),
        ("0 0 1 JAN,jul *", "2026-02-01T00:00:00Z", ["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        ("*/10 * * * * *", "2026-01-01T00:00:05Z", ["2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z"]),
        ("15 30 8 * * *", "2026-01-01T08:30:15Z", ["2026-01-02T08:30:15Z"]),
        ("0 0 13 * FRI", "2026-02-01T00:00:00Z", ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"]),
        ("0 0 * * 7", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        ("0 0 * * sun", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z"]),
        (
            "5/20 * * * *", "2026-01-01T00:00:00Z",
            ["2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"]
        ),
        (
            "10-20/5 3 * * *", "2026-01-01T00:00:00Z",
            ["2026-01-01T03:10:00Z", "2026-01-01T03:15:00Z", "2026-01-01T03:20:00Z", "2026-01-02T03:10:00Z"]
        ),
        ("59 23 31 12 *", "2026-12-31T23:59:00Z", ["2027-12-31T23:59:00Z"]),
    ]

    @Test(arguments: table)
    func nextFireTimes(_ expression: String, _ start: String, _ expected: [String]) throws {
        let cron = try CronExpression(expression)
        let times = cron.next(expected.count, after: Self.utc(start), in: Self.utcZone)
        #expect(times.map(BatonJSON.formatDate) == expected.map { BatonJSON.formatDate(Self.utc($0)) }, "\(expression)")
    }

    @Test func springForwardSkippedTimeFiresAfterTheGap() throws {
        // 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist that day.
        let cron = try CronExpression("30 2 * * *")
        let times = cron.next(3, after: Self.utc("2026-03-07T12:00:00Z"), in: Self.newYork)
        #expect(
            times.map(BatonJSON.formatDate) == [
                "2026-03-08T07:30:00.000Z",  // 03:30 EDT, right after the gap
                "2026-03-09T06:30:00.000Z",  // 02:30 EDT
                "2026-03-10T06:30:00.000Z",
            ])
    }

    @Test func fallBackRepeatedTimeFiresOnce() throws {
        // 2026-11-01: New York clocks go back from 02:00 EDT to 01:00 EST; 01:30 happens twice.
        let cron = try CronExpression("30 1 * * *")
        let times = cron.next(2, after: Self.utc("2026-10-31T12:00:00Z"), in: Self.newYork)
        #expect(times.map(BatonJSON.formatDate) == ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"])
    }

    @Test func localTimeInAZone() throws {
        let cron = try CronExpression("0 9 * * *")
        let winter = cron.next(after: Self.utc("2026-01-10T00:00:00Z"), in: Self.newYork)!
        let summer = cron.next(after: Self.utc("2026-07-10T00:00:00Z"), in: Self.newYork)!
        #expect(BatonJSON.formatDate(winter) == "2026-01-10T14:00:00.000Z")
        #expect(BatonJSON.formatDate(summer) == "2026-07-10T13:00:00.000Z")
    }

    @Test func impossibleDateHasNoNextTime() throws {
        #expect(try CronExpression("0 0 30 2 *").next(after: Self.utc("2026-01-01T00:00:00Z"), in: Self.utcZone) == nil)
    }

    @Test(arguments: [
        ("60 * * * *", "minute field '60': 60 is outside 0-59"),
        ("* 24 * * *", "hour field '24'"),
        ("* * 0 * *", "day-of-month field '0'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * * FUNDAY", "day-of-week field 'FUNDAY'"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-1 * * * *", "runs backwards"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "expected 5 fields"),
        ("@often", "unknown macro"),
        ("1,,2 * * * *", "empty list item"),
        ("61 * * * * *", "second field '61'"),
    ])
    func invalidExpressionsNameTheField(_ expression: String, _ message: String) {
        do {
            _ = try CronExpression(expression)
            Issue.record("accepted '\(expression)'")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}

@Suite struct ScheduleRuleTests {
    @Test func intervalsParse() throws {
        #expect(try ScheduleRule.parseInterval("30s") == .seconds(30))
        #expect(try ScheduleRule.parseInterval("5m") == .seconds(300))
        #expect(try ScheduleRule.parseInterval("1h30m") == .seconds(5400))
        #expect(try ScheduleRule.parseInterval("1.5h") == .seconds(5400))
        #expect(try ScheduleRule.parseInterval("2d") == .seconds(172_800))
        for bad in ["", "30", "s", "10x", "500ms", "-5s"] {
            #expect(throws: BatonError.self, "\(bad)") { try ScheduleRule.parseInterval(bad) }
        }
    }

    @Test func intervalTicksAreEpochAligned() {
        let rule = ScheduleRule.every(.seconds(30))
        let ticks = rule.next(3, after: BatonJSON.parseDate("2026-01-01T00:00:10Z")!)
        #expect(ticks.map(BatonJSON.formatDate) == ["2026-01-01T00:00:30.000Z", "2026-01-01T00:01:00.000Z", "2026-01-01T00:01:30.000Z"])
    }

    @Test func misfirePolicies() {
        let rule = ScheduleRule.every(.seconds(60))
        let last = BatonJSON.parseDate("2026-01-01T00:00:00Z")!
        let now = BatonJSON.parseDate("2026-01-01T00:05:30Z")!  // ticks 00:01 … 00:05 are due
        let skip = MisfirePolicy.skip.ticksToFire(rule: rule, lastFired: last, now: now, grace: .seconds(60))
        #expect(skip.fire.map(BatonJSON.formatDate) == ["2026-01-01T00:05:00.000Z"], "the current tick is on time")
        let late = MisfirePolicy.skip.ticksToFire(rule: rule, lastFired: last, now: now, grace: .seconds(10))
        #expect(late.fire.isEmpty && late.advanceTo.map(BatonJSON.formatDate) == "2026-01-01T00:05:00.000Z")
        let once = MisfirePolicy.once.ticksToFire(rule: rule, lastFired: last, now: now)
        #expect(once.fire.count == 1)
        let catchUp = MisfirePolicy.catchUp(limit: 3).ticksToFire(rule: rule, lastFired: last, now: now)
        #expect(
            catchUp.fire.map(BatonJSON.formatDate) == ["2026-01-01T00:03:00.000Z", "2026-01-01T00:04:00.000Z", "2026-01-01T00:05:00.000Z"])
        let all = MisfirePolicy.catchUp(limit: 100).ticksToFire(rule: rule, lastFired: last, now: now)
        #expect(all.fire.count == 5)
        let none = MisfirePolicy.once.ticksToFire(rule: rule, lastFired: now, now: now)
        #expect(none.fire.isEmpty && none.advanceTo == nil)
    }
}
