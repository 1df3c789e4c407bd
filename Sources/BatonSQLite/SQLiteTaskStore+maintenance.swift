import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore {
    static let leaseExpiredMessage = "lease expired (worker vanished)"

    /// Treats running tasks whose lease has expired as failed attempts, in one transaction.
    public func leaseRescueMany(_ p: LeaseRescueParams) async throws -> [RescuedLease] {
        guard p.limit > 0 else { return [] }
        let (rescued, madeDue) = try await write("rescuing expired leases") { db -> ([RescuedLease], Bool) in
            let now = Millis.now(self.clock)
            let expired = try Row.fetchAll(db.cachedStatement(sql: SQL.expiredLeases), arguments: [now, p.limit])
            var madeDue = false
            var rescued: [RescuedLease] = []
            for row in expired {
                let attempt = TaskLifecycle.Attempt(kind: row[4], attempt: row[1], maxAttempts: row[2], retry: try ColumnJSON.retry(row[3]))
                let outcome = try Self.recordFailure(
                    seq: row[0], attempt, cause: .leaseExpired, message: Self.leaseExpiredMessage, policies: p.policies, now: now, db: db)
                madeDue = madeDue || outcome.dueNow
                let idText: String = row[5]
                guard let id = TaskID(idText) else { throw BatonError(.internal, "stored task id '\(idText)' is not valid") }
                rescued.append(RescuedLease(id: id, queue: row[6], kind: attempt.kind, attempt: attempt.attempt, state: outcome.state))
            }
            return (rescued, madeDue)
        }
        // Rescued tasks are due now or later: either way the claimers' next wake-up changes.
        if !rescued.isEmpty || madeDue { readySignal.notify() }
        return rescued
    }

    public func taskDeleteFinished(_ p: TaskDeleteFinishedParams) async throws -> Int {
        guard p.limit > 0 else { return 0 }
        return try await write("deleting finished tasks") { db in
            try db.cachedStatement(sql: SQL.deleteFinished).execute(arguments: [Millis.from(p.finishedBefore), p.limit])
            let deleted = db.changesCount
            // Idempotency keys expire after a day; the cleaner's pass purges them.
            try db.cachedStatement(sql: SQL.idempotencyPurge).execute(arguments: [Millis.now(self.clock) - Self.idempotencyKeyLifetime])
            return deleted
        }
    }

    public func taskNextDueAt(queues: [String]) async throws -> Date? {
        let queues = Array(Set(queues)).sorted()
        guard !queues.isEmpty else { return nil }
        let millis = try await read("finding the next due task") { db in
            try Int64.fetchOne(db.cachedStatement(sql: SQL.nextDue(queueCount: queues.count)), arguments: StatementArguments(queues))
        }
        return millis.map(Millis.date)
    }
}
