import BatonCore
import Foundation
import PostgresNIO

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

    static func retry(_ text: String?) throws -> RetryPolicy? {
        guard let text else { return nil }
        return try decode(RetryPolicy.self, text, column: "retry")
    }
}

extension TaskRecord {
    /// Reads a row selected with `PostgresSQL.columns`, starting at column `offset`.
    /// Arguments and results are carried as they were stored, never parsed.
    init(postgres row: PostgresRandomAccessRow, offset o: Int = 0) throws {
        let id = try row[o + 1].decode(UUID.self)
        let stateText = try row[o + 6].decode(String.self)
        guard let state = TaskState(rawValue: stateText) else {
            throw BatonError(.internal, "task \(id) has unknown state '\(stateText)'")
        }
        let errorsText = try row[o + 17].decode(String.self)
        let tagsText = try row[o + 19].decode(String.self)
        self.init(
            id: TaskID(uuid: id),
            kind: try row[o + 2].decode(String.self),
            queue: try row[o + 3].decode(String.self),
            args: RawJSON(trusted: try row[o + 4].decode(String.self)),
            priority: try row[o + 5].decode(Int.self),
            state: state,
            attempt: try row[o + 7].decode(Int.self),
            maxAttempts: try row[o + 8].decode(Int.self),
            runAt: try row[o + 9].decode(Date.self),
            leaseOwner: try row[o + 10].decode(String?.self),
            leaseExpiresAt: try row[o + 12].decode(Date?.self),
            timeout: try row[o + 13].decode(Double?.self),
            retry: try ColumnJSON.retry(row[o + 14].decode(String?.self)),
            result: try row[o + 15].decode(String?.self).map { RawJSON(trusted: $0) },
            lastError: try row[o + 16].decode(String?.self),
            errors: errorsText == "[]" ? [] : try ColumnJSON.decode([AttemptError].self, errorsText, column: "errors"),
            uniqueKey: try row[o + 18].decode(String?.self),
            tags: tagsText == "[]" ? [] : try ColumnJSON.decode([String].self, tagsText, column: "tags"),
            createdAt: try row[o + 20].decode(Date.self),
            startedAt: try row[o + 21].decode(Date?.self),
            finishedAt: try row[o + 22].decode(Date?.self),
            workflowID: try row[o + 23].decode(UUID?.self).map(TaskID.init(uuid:)),
            node: try row[o + 24].decode(String?.self),
            parentCount: try row[o + 25].decode(Int.self) > 0 ? try row[o + 25].decode(Int.self) : nil,
            pass: try row[o + 26].decode(String?.self).flatMap(ResultPassing.init(rawValue:)),
            traceparent: try row[o + 27].decode(String?.self)
        )
    }

    /// A row selected with `PostgresSQL.columnsWithProgress`: the task and its progress.
    init(postgresWithProgress row: PostgresRandomAccessRow) throws {
        try self.init(postgres: row)
        if let fraction = try row[28].decode(Double?.self) {
            progress = TaskProgress(
                fraction: fraction, message: try row[29].decode(String?.self), attempt: try row[31].decode(Int?.self),
                at: try row[30].decode(Date?.self))
        }
    }
}

extension PostgresRandomAccessRow {
    /// The `seq` column of a row selected with `PostgresSQL.columns`.
    func seq(offset: Int = 0) throws -> Int64 { try self[offset].decode(Int64.self) }

    /// The lease token column of a row selected with `PostgresSQL.columns`.
    func leaseToken(offset: Int = 0) throws -> String? { try self[offset + 11].decode(String?.self) }
}

/// Bounds for the times and durations sent to PostgreSQL, whose timestamps end in the year
/// 294276 and whose intervals at about 292,000 years: absurd but valid inputs (a delay of
/// 10¹³ s, `Date.distantFuture`, a lease of `Int64.max / 2` s) are clamped, never refused.
enum TimeBounds {
    /// About 95,000 years: any duration, added to now, stays a valid timestamp.
    static let maxSeconds = 3e12
    static let minEpoch = -2e11

    /// A non-negative duration in seconds, clamped (NaN counts as zero).
    static func seconds(_ value: Double) -> Double {
        guard !value.isNaN else { return 0 }
        return min(max(value, 0), maxSeconds)
    }

    /// Seconds since 1970, clamped; NaN (the "none" sentinel) stays NaN.
    static func epoch(_ value: Double) -> Double {
        guard !value.isNaN else { return value }
        return min(max(value, minEpoch), maxSeconds)
    }
}
