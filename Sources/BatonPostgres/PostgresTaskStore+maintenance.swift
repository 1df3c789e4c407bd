import BatonCore
import Foundation
import PostgresNIO

extension PostgresTaskStore {
    /// Treats running tasks whose lease expired as failed attempts, in one transaction: the
    /// expired rows are locked with `SKIP LOCKED` (two rescuers never take the same task),
    /// decided here, and written with one statement.
    public func leaseRescueMany(_ p: LeaseRescueParams) async throws -> [RescuedLease] {
        guard p.limit > 0 else { return [] }
        let sql = self.sql
        let schema = configuration.schema
        let logger = self.logger
        let limit = p.limit
        let policies = p.policies
        let (rescued, retried) = try await call("rescuing expired leases") { [client] () -> ([RescuedLease], Bool) in
            try await client.withTransaction(logger: logger) { connection -> ([RescuedLease], Bool) in
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: sql.expiredLeases, binds: Self.bindings { $0.append(limit) }), logger: logger
                ).collect()
                var records: [FailureRecord] = []
                var rescued: [RescuedLease] = []
                for row in rows {
                    let r = row.makeRandomAccess()
                    let attempt = TaskLifecycle.Attempt(
                        kind: try r[6].decode(String.self), attempt: try r[1].decode(Int.self), maxAttempts: try r[2].decode(Int.self),
                        retry: try ColumnJSON.retry(r[3].decode(String?.self)))
                    let record = try FailureRecord(
                        id: try r[0].decode(UUID.self), queue: try r[4].decode(String.self), attempt, cause: .leaseExpired,
                        message: Self.leaseExpiredMessage, policies: policies, now: try r[5].decode(Date.self))
                    records.append(record)
                    rescued.append(
                        RescuedLease(
                            id: TaskID(uuid: record.id), queue: record.queue, kind: attempt.kind, attempt: attempt.attempt,
                            state: record.state))
                }
                try await Self.record(records, sql: sql, schema: schema, connection: connection, logger: logger)
                return (rescued, records.contains { $0.state == .pending })
            }
        }
        count { $0.rescueTransactions += 1 }
        // Rescued tasks are due now or later: either way the claimers' next wake-up changes.
        if retried { readySignal.notify() }
        return rescued
    }

    public func taskDeleteFinished(_ p: TaskDeleteFinishedParams) async throws -> Int {
        guard p.limit > 0 else { return 0 }
        let query = PostgresQuery(
            unsafeSQL: sql.deleteFinished,
            binds: Self.bindings { b in
                b.append(p.finishedBefore)
                b.append(p.limit)
            })
        return try await call("deleting finished tasks") { [client] in
            try await client.query(query).collect().first?.decode(Int.self) ?? 0
        }
    }

    public func taskNextDueAt(queues: [String]) async throws -> Date? {
        let queues = Array(Set(queues)).sorted()
        guard !queues.isEmpty else { return nil }
        let statement = NextDueStatement(bindings: Self.bindings { $0.append(queues) })
        return try await call("finding the next due task") { [hotClient] in
            try await hotClient.rows(statement).first?.decode(Date?.self) ?? nil
        }
    }
}
