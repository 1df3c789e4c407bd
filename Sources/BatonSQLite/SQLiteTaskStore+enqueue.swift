import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore {
    /// Rows per multi-row INSERT: 13 arguments each, well under SQLite's 32,766 variables.
    static let insertChunk = 500

    public func taskEnqueueMany(_ p: TaskEnqueueParams) async throws -> [TaskRecord] {
        guard !p.tasks.isEmpty else { return [] }
        for task in p.tasks { try task.validate() }
        let now = Millis.now()
        var records: [TaskRecord] = []
        records.reserveCapacity(p.tasks.count)
        for task in p.tasks {
            let runAt: Int64
            if let delay = task.delay {
                runAt = now + Millis.clamped((delay * 1000).rounded(.up))
            } else if let at = task.runAt {
                // A time in the past means now: it does not jump the queue ahead of older tasks.
                runAt = max(now, Millis.from(at))
            } else {
                runAt = now
            }
            let state: TaskState = runAt > now ? .pending : .ready
            records.append(
                TaskRecord(
                    id: task.id ?? TaskID.generate(at: Millis.date(now)), kind: task.kind, queue: task.queue, args: task.args,
                    priority: task.priority, state: state, attempt: 0, maxAttempts: task.maxAttempts, runAt: Millis.date(runAt),
                    timeout: task.timeout, retry: task.retry, uniqueKey: task.uniqueKey, tags: task.tags, createdAt: Millis.date(now)))
        }
        var rows: [[(any DatabaseValueConvertible)?]] = []
        rows.reserveCapacity(records.count)
        for record in records {
            rows.append([
                record.id.description, record.kind, record.queue, record.args.text, record.priority, record.state.rawValue,
                record.maxAttempts, Millis.from(record.runAt), record.timeout, try record.retry.map(ColumnJSON.encode),
                record.uniqueKey, record.tags.isEmpty ? "[]" : try ColumnJSON.encode(record.tags), now,
            ])
        }
        let frozenRows = rows.map { StatementArguments($0) }
        let chunks = Self.chunkSizes(frozenRows.count)
        let stored = records
        try await write("enqueueing \(records.count) task(s)") { db in
            var start = 0
            do {
                for size in chunks {
                    let statement = try db.cachedStatement(sql: SQL.insert(rows: size))
                    var arguments = StatementArguments()
                    for row in frozenRows[start..<start + size] { arguments += row }
                    try statement.execute(arguments: arguments)
                    start += size
                }
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw Self.duplicate(stored, from: start, db: db)
            }
        }
        count { $0.enqueueTransactions += 1 }
        // Delayed tasks too: a claimer sleeping until the next due time must learn of an earlier one.
        if !stored.isEmpty { readySignal.notify() }
        return stored
    }

    /// Splits `n` rows into full chunks, then the rest in powers of two, so that only a few
    /// statement shapes are ever prepared and cached.
    static func chunkSizes(_ n: Int) -> [Int] {
        var sizes = Array(repeating: insertChunk, count: n / insertChunk)
        var rest = n % insertChunk
        var power = 256
        while rest > 0 {
            if rest >= power {
                sizes.append(power)
                rest -= power
            }
            power /= 2
        }
        return sizes
    }

    /// Names the id that collided: one repeated within the batch, or one of the rows from
    /// the failed statement on (earlier rows were inserted by this batch) that already exists.
    private static func duplicate(_ records: [TaskRecord], from start: Int, db: Database) -> BatonError {
        var seen = Set<TaskID>()
        for record in records where !seen.insert(record.id).inserted {
            return .conflict("task \(record.id) already exists")
        }
        for record in records[start...] where (try? Int.fetchOne(db, sql: SQL.exists, arguments: [record.id.description])) != nil {
            return .conflict("task \(record.id) already exists")
        }
        return .conflict("a task with one of these ids already exists")
    }
}
