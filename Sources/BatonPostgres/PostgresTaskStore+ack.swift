import BatonCore
import Foundation
import Logging
import PostgresNIO

extension PostgresTaskStore {
    static let leaseExpiredMessage = "lease expired (worker vanished)"

    /// A batch of completions only (the hot path) is one statement; a batch with failures is
    /// one transaction: the completions' statement, the failing tasks read `FOR UPDATE`, the
    /// retry decisions made here (`FailureDecision`), then one statement recording them all.
    /// Every ack is fenced by id, `running` and its lease token. A lease acked twice in one
    /// batch gets its first ack; the others are stale (or not found, as the first was), as
    /// when they are applied one after another.
    public func taskAckMany(_ p: TaskAckParams) async throws -> [AckOutcome] {
        try await acknowledge(p, reporting: false).map(\.outcome)
    }

    public func taskAckManyReporting(_ p: TaskAckParams) async throws -> [AckReport] {
        try await acknowledge(p, reporting: true)
    }

    /// Both ack methods; the reports carry no attempt unless `reporting`.
    private func acknowledge(_ p: TaskAckParams, reporting: Bool) async throws -> [AckReport] {
        guard !p.acks.isEmpty else { return [] }
        var reports = [AckReport?](repeating: nil, count: p.acks.count)
        var first: [LeaseRef: Int] = [:]
        var repeats: [(index: Int, first: Int)] = []
        var completions: [(index: Int, c: TaskCompletion)] = []
        var failures: [(index: Int, f: TaskFailure)] = []
        for (index, ack) in p.acks.enumerated() {
            if let earlier = first[ack.lease] {
                repeats.append((index, earlier))
                continue
            }
            first[ack.lease] = index
            switch ack {
            case .complete(let c): completions.append((index, c))
            case .fail(let f): failures.append((index, f))
            }
        }
        let completionBindings: PostgresBindings? =
            completions.isEmpty
            ? nil
            : {
                var binds = PostgresBindings(capacity: 3)
                binds.append(completions.map(\.c.lease.id.uuid))
                binds.append(completions.map(\.c.lease.token))
                binds.append(completions.map(\.c.result.text))
                return binds
            }()
        let failing = failures
        let policies = TaskLifecycle.RetryPolicies(kinds: p.kindRetry, node: p.defaultRetry ?? configuration.defaultRetry)
        let schema = configuration.schema
        let sql = self.sql
        let logger = self.logger
        let (completed, failed) = try await call("acknowledging \(p.acks.count) task(s)") {
            [hotClient] () -> ([AckReport], [AckReport]) in
            try await Self.retryingDeadlocks {
                if failing.isEmpty, let completionBindings {
                    let rows =
                        reporting
                        ? try await hotClient.rows(CompleteReportingStatement(bindings: completionBindings))
                        : try await hotClient.rows(CompleteStatement(bindings: completionBindings))
                    return (try Self.completionReports(rows, reporting: reporting), [])
                }
                return try await hotClient.withTransaction(logger: logger) { connection -> ([AckReport], [AckReport]) in
                    var completed: [AckReport] = []
                    if let completionBindings {
                        let rows =
                            reporting
                            ? try await connection.rows(CompleteReportingStatement(bindings: completionBindings), logger: logger)
                            : try await connection.rows(CompleteStatement(bindings: completionBindings), logger: logger)
                        completed = try Self.completionReports(rows, reporting: reporting)
                    }
                    let failed = try await Self.applyFailures(
                        failing.map(\.f), policies: policies, sql: sql, schema: schema, connection: connection, logger: logger)
                    return (completed, failed)
                }
            }
        }
        for (entry, report) in zip(completions, completed) { reports[entry.index] = report }
        for (entry, report) in zip(failures, failed) { reports[entry.index] = report }
        for (index, earlier) in repeats {
            reports[index] = AckReport(outcome: reports[earlier]?.outcome == .notFound ? .notFound : .staleLease)
        }
        count { $0.ackTransactions += 1 }
        // A retry is due at once or changes when the next task is due; the NOTIFY wakes every
        // node, this wakes this one sooner.
        if failed.contains(where: { $0.outcome == .applied(.pending) }) { readySignal.notify() }
        return reports.map { $0 ?? AckReport(outcome: .notFound) }
    }

    private static func completionReports(_ rows: [PostgresRow], reporting: Bool) throws -> [AckReport] {
        guard reporting else {
            return try rows.map { row in
                let (_, applied, exists) = try row.decode((Int64, Bool, Bool).self)
                return AckReport(outcome: applied ? .applied(.succeeded) : exists ? .staleLease : .notFound)
            }
        }
        return try rows.map { row in
            let r = row.makeRandomAccess()
            guard try r[1].decode(Bool.self) else { return AckReport(outcome: try r[2].decode(Bool.self) ? .staleLease : .notFound) }
            return AckReport(outcome: .applied(.succeeded), attempt: try endedAttempt(r, at: 3))
        }
    }

    /// The ended attempt from the `endedAttemptColumns` at `offset`.
    static func endedAttempt(_ row: PostgresRandomAccessRow, at offset: Int) throws -> EndedAttempt {
        EndedAttempt(
            attempt: try row[offset].decode(Int.self), queue: try row[offset + 1].decode(String.self),
            kind: try row[offset + 2].decode(String.self),
            ran: try row[offset + 3].decode(Double?.self).map { .milliseconds(Int64((max(0, $0) * 1000).rounded())) })
    }

    /// Fails running tasks under their leases, inside the caller's transaction. One outcome
    /// per failure, in order.
    private static func applyFailures(
        _ failures: [TaskFailure], policies: TaskLifecycle.RetryPolicies, sql: PostgresSQL, schema: String,
        connection: PostgresConnection,
        logger: Logger
    ) async throws -> [AckReport] {
        guard !failures.isEmpty else { return [] }
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: sql.failLookup, binds: bindings { $0.append(failures.map(\.lease.id.uuid)) }), logger: logger
        ).collect()
        struct Current {
            var state: String
            var token: String?
            var maxAttempts: Int
            var retry: RetryPolicy?
            var now: Date
            var ended: EndedAttempt
        }
        var current: [UUID: Current] = [:]
        for row in rows {
            let r = row.makeRandomAccess()
            current[try r[1].decode(UUID.self)] = Current(
                state: try r[2].decode(String.self), token: try r[3].decode(String?.self), maxAttempts: try r[4].decode(Int.self),
                retry: try ColumnJSON.retry(r[5].decode(String?.self)), now: try r[6].decode(Date.self), ended: try endedAttempt(r, at: 7))
        }
        var reports: [AckReport] = []
        var records: [FailureRecord] = []
        for failure in failures {
            guard let task = current[failure.lease.id.uuid] else {
                reports.append(AckReport(outcome: .notFound))
                continue
            }
            guard task.state == TaskState.running.rawValue, task.token == failure.lease.token else {
                reports.append(AckReport(outcome: .staleLease))
                continue
            }
            let record = try FailureRecord(
                id: failure.lease.id.uuid, queue: task.ended.queue,
                TaskLifecycle.Attempt(
                    kind: task.ended.kind, attempt: task.ended.attempt, maxAttempts: task.maxAttempts, retry: task.retry),
                cause: TaskLifecycle.FailureCause(failure), message: failure.message, policies: policies, now: task.now)
            records.append(record)
            reports.append(AckReport(outcome: .applied(record.state), attempt: task.ended))
        }
        try await record(records, sql: sql, schema: schema, connection: connection, logger: logger)
        return reports
    }

    /// Writes failed attempts with one statement, and wakes the claimers of every node for the
    /// queues with retries: a retry is due at once, or changes when the next task is due.
    static func record(
        _ records: [FailureRecord], sql: PostgresSQL, schema: String, connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !records.isEmpty else { return }
        let binds = bindings { b in
            b.append(records.map(\.id))
            b.append(records.map(\.state.rawValue))
            b.append(records.map { TimeBounds.epoch($0.runAt?.timeIntervalSince1970 ?? .nan) })
            b.append(records.map(\.message))
            b.append(records.map(\.errorJSON))
        }
        try await connection.query(PostgresQuery(unsafeSQL: sql.recordFailures, binds: binds), logger: logger)
        let retried = Array(Set(records.filter { $0.state == .pending }.map(\.queue)))
        if !retried.isEmpty {
            _ = try await connection.query(
                PostgresQuery(
                    unsafeSQL: sql.notifyQueues,
                    binds: bindings { b in
                        b.append(retried)
                        b.append(schema)
                    }), logger: logger
            ).collect()
        }
    }

    static func bindings(_ build: (inout PostgresBindings) -> Void) -> PostgresBindings {
        var b = PostgresBindings()
        build(&b)
        return b
    }

    // MARK: Heartbeats and releases

    public func taskHeartbeatMany(_ p: TaskHeartbeatParams) async throws -> [HeartbeatOutcome] {
        guard !p.leases.isEmpty else { return [] }
        // A lease named twice gets the same outcome twice: send each once.
        var leases: [LeaseRef] = []
        var position: [LeaseRef: Int] = [:]
        for lease in p.leases where position[lease] == nil {
            position[lease] = leases.count
            leases.append(lease)
        }
        let binds = Self.bindings { b in
            b.append(leases.map(\.id.uuid))
            b.append(leases.map(\.token))
            b.append(max(0.001, TimeBounds.seconds(p.lease.seconds)))
        }
        let query = PostgresQuery(unsafeSQL: sql.heartbeat, binds: binds)
        let frozen = leases
        let outcomes = try await call("extending \(leases.count) lease(s)") { [client] () -> [HeartbeatOutcome] in
            let leases = frozen
            let rows = try await client.query(query).collect()
            var outcomes = [HeartbeatOutcome](repeating: .notFound, count: leases.count)
            for row in rows {
                let (ord, until, state, token) = try row.decode((Int64, Date?, String?, String?).self)
                let index = Int(ord) - 1
                guard leases.indices.contains(index) else { continue }
                if let until {
                    outcomes[index] = .extended(until: until)
                } else if let state {
                    outcomes[index] = state == TaskState.cancelled.rawValue && token == leases[index].token ? .cancelled : .lost
                }
            }
            return outcomes
        }
        count { $0.heartbeatStatements += 1 }
        // Progress of the leases just extended (the statement fences them again).
        let reported = p.progress.filter { lease, _ in
            guard let i = position[lease], case .extended = outcomes[i] else { return false }
            return true
        }
        if !reported.isEmpty {
            let items = Array(reported)
            let progressBinds = Self.bindings { b in
                b.append(items.map(\.key.id.uuid))
                b.append(items.map(\.key.token))
                b.append(items.map(\.value.fraction))
                b.append(items.map { Limits.storable($0.value.message ?? "") })
                b.append(TaskHeartbeatParams.progressInterval.seconds)
            }
            let progressQuery = PostgresQuery(unsafeSQL: sql.heartbeatProgress, binds: progressBinds)
            _ = try await call("storing \(items.count) progress report(s)") { [client] in
                try await client.query(progressQuery).collect().count
            }
        }
        return p.leases.map { outcomes[position[$0]!] }
    }

    public func taskReleaseMany(_ p: TaskReleaseParams) async throws -> Int {
        guard !p.leases.isEmpty else { return 0 }
        let binds = Self.bindings { b in
            b.append(p.leases.map(\.id.uuid))
            b.append(p.leases.map(\.token))
            b.append(configuration.schema)
        }
        let query = PostgresQuery(unsafeSQL: sql.release, binds: binds)
        let released = try await call("releasing \(p.leases.count) task(s)") { [client] () -> Int in
            let rows = try await client.query(query).collect()
            return try rows.first.map { try $0.decode((Int, Int).self).0 } ?? 0
        }
        count { $0.releaseStatements += 1 }
        if released > 0 { readySignal.notify() }
        return released
    }
}

/// A failed attempt, decided by ``TaskLifecycle``: what the task becomes and what is written.
struct FailureRecord: Sendable {
    var id: UUID
    var queue: String
    var state: TaskState
    /// The retry time (for `pending`); `nil` keeps the current `run_at`.
    var runAt: Date?
    var message: String
    var errorJSON: String

    init(
        id: UUID, queue: String, _ attempt: TaskLifecycle.Attempt, cause: TaskLifecycle.FailureCause, message: String,
        policies: TaskLifecycle.RetryPolicies, now: Date
    ) throws {
        self.id = id
        self.queue = queue
        let message = Limits.storable(message)
        self.message = message
        self.errorJSON = try ColumnJSON.encode(AttemptError(attempt: attempt.attempt, at: now, message: message))
        let decision = TaskLifecycle.afterFailure(attempt, cause: cause, policies: policies, now: now)
        state = decision.state
        if case .retry(let at) = decision { runAt = max(now, at) } else { runAt = nil }
    }
}
