import BatonCore
import Foundation
import GRDB

/// Times are stored as whole milliseconds since 1970.
enum Millis {
    /// About ±146,000 years: far enough for any real time, small enough that sums never overflow.
    static let limit: Double = 4.6e15

    static func from(_ date: Date) -> Int64 { clamped(date.timeIntervalSince1970 * 1000) }

    /// Whole milliseconds, clamped to `±limit` (NaN counts as zero).
    static func clamped(_ millis: Double) -> Int64 {
        guard !millis.isNaN else { return 0 }
        return Int64(min(max(millis.rounded(.down), -limit), limit))
    }
    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    /// The store's clock in whole milliseconds (exact for a manual clock).
    static func now(_ clock: StoreClock) -> Int64 { clock.microsecondsSince1970() / 1000 }
    @available(*, unavailable, message: "read the store's clock: Millis.now(clock)")
    static func now() -> Int64 { fatalError() }
    static func of(_ duration: Duration) -> Int64 {
        clamped(duration.seconds * 1000)
    }
}

/// JSON for the columns that hold small structures (retry policy, errors, tags).
enum ColumnJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try BatonJSON.encoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String, column: String) throws -> T {
        do {
            return try BatonJSON.decoder().decode(type, from: Data(text.utf8))
        } catch {
            throw BatonError(.internal, "stored \(column) is not valid: \(error)")
        }
    }

    static func tags(_ text: String) throws -> [String] {
        text == "[]" ? [] : try decode([String].self, text, column: "tags")
    }

    static func errors(_ text: String) throws -> [AttemptError] {
        text == "[]" ? [] : try decode([AttemptError].self, text, column: "errors")
    }

    static func retry(_ text: String?) throws -> RetryPolicy? {
        guard let text else { return nil }
        return try decode(RetryPolicy.self, text, column: "retry")
    }
}

extension TaskRecord {
    /// Reads a row selected with `SQL.taskColumns`. Arguments and results are carried as
    /// they were stored, never parsed.
    init(row: Row) throws {
        let idText: String = row[1]
        guard let id = TaskID(idText) else { throw BatonError(.internal, "stored task id '\(idText)' is not valid") }
        let stateText: String = row[6]
        guard let state = TaskState(rawValue: stateText) else {
            throw BatonError(.internal, "task \(idText) has unknown state '\(stateText)'")
        }
        let leaseExpiresAt: Int64? = row[12]
        let result: String? = row[15]
        let startedAt: Int64? = row[21]
        let finishedAt: Int64? = row[22]
        let workflowID: String? = row[23]
        let parents: Int = row[25]
        let pass: String? = row[26]
        self.init(
            id: id,
            kind: row[2],
            queue: row[3],
            args: RawJSON(trusted: row[4]),
            priority: row[5],
            state: state,
            attempt: row[7],
            maxAttempts: row[8],
            runAt: Millis.date(row[9]),
            leaseOwner: row[10],
            leaseExpiresAt: leaseExpiresAt.map(Millis.date),
            timeout: row[13],
            retry: try ColumnJSON.retry(row[14]),
            result: result.map { RawJSON(trusted: $0) },
            lastError: row[16],
            errors: try ColumnJSON.errors(row[17]),
            uniqueKey: row[18],
            tags: try ColumnJSON.tags(row[19]),
            createdAt: Millis.date(row[20]),
            startedAt: startedAt.map(Millis.date),
            finishedAt: finishedAt.map(Millis.date),
            workflowID: workflowID.flatMap(TaskID.init),
            node: row[24],
            parentCount: parents > 0 ? parents : nil,
            pass: pass.flatMap(ResultPassing.init(rawValue:))
        )
        traceparent = row[27]
        // Selected with `SQL.taskColumnsWithProgress`: the progress columns follow.
        if row.count > 28, let fraction = row[28] as Double? {
            let at: Int64? = row[30]
            progress = TaskProgress(fraction: fraction, message: row[29], attempt: row[31], at: at.map(Millis.date))
        }
    }
}
