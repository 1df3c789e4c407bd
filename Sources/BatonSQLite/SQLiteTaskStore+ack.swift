import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore {
    /// One transaction for the whole batch; each ack applies only while its task is running
    /// under the ack's lease token. When no task is acknowledged twice in the batch, the
    /// completions are written by a few multi-row statements (`SQL.completeMany`) instead of
    /// one statement per task; outcomes are the same either way.
    public func taskAckMany(_ p: TaskAckParams) async throws -> [AckOutcome] {
        guard !p.acks.isEmpty else { return [] }
        let policies = TaskLifecycle.RetryPolicies(kinds: p.kindRetry, node: configuration.defaultRetry)
        let distinct = Set(p.acks.lazy.map(\.lease.id)).count == p.acks.count
        let (outcomes, madeDue) = try await write("acknowledging \(p.acks.count) task(s)") { db -> ([AckOutcome], Bool) in
            let now = Millis.now(self.clock)
            var outcomes: [AckOutcome?] = Array(repeating: nil, count: p.acks.count)
            var madeDue = false
            var completions: [(index: Int, seq: Int64, completion: TaskCompletion)] = []
            for (index, ack) in p.acks.enumerated() {
                switch ack {
                case .complete(let completion):
                    if distinct, let seq = LeaseToken.seq(of: completion.lease.token) {
                        completions.append((index, seq, completion))
                    } else {
                        outcomes[index] = try Self.applyCompletion(completion, now: now, db: db)
                    }
                case .fail(let failure):
                    let outcome = try Self.applyFailure(failure, policies: policies, now: now, db: db)
                    if case .applied(.pending) = outcome.ack { madeDue = true }
                    outcomes[index] = outcome.ack
                }
            }
            try Self.applyCompletions(completions, now: now, into: &outcomes, db: db)
            return (outcomes.map { $0 ?? .notFound }, madeDue)
        }
        count { $0.ackTransactions += 1 }
        // A retry changes when the next task is due (or is due at once): wake the claimers.
        if madeDue { readySignal.notify() }
        return outcomes
    }

    private static func applyCompletion(_ completion: TaskCompletion, now: Int64, db: Database) throws -> AckOutcome {
        let statement = try db.cachedStatement(sql: SQL.complete)
        try statement.execute(arguments: [completion.result.text, now, completion.lease.id.description, completion.lease.token])
        return db.changesCount > 0 ? .applied(.succeeded) : try refusal(id: completion.lease.id, db: db)
    }

    /// Completions of distinct tasks whose tokens carry their `seq`, in chunks of `SQL.completeManySizes`.
    private static func applyCompletions(
        _ completions: [(index: Int, seq: Int64, completion: TaskCompletion)], now: Int64, into outcomes: inout [AckOutcome?],
        db: Database
    ) throws {
        var start = 0
        while start < completions.count {
            let remaining = completions.count - start
            let size = SQL.completeManySizes.first { $0 <= remaining } ?? 1
            let chunk = completions[start..<start + size]
            start += size
            var arguments: [(any DatabaseValueConvertible)?] = [now]
            arguments.reserveCapacity(1 + 4 * size)
            var ids: [String] = []
            ids.reserveCapacity(size)
            for (_, seq, completion) in chunk {
                let id = completion.lease.id.description
                ids.append(id)
                arguments.append(seq)
                arguments.append(id)
                arguments.append(completion.lease.token)
                arguments.append(completion.result.text)
            }
            let statement = try db.cachedStatement(sql: SQL.completeMany(rows: size))
            var applied = Set<String>(minimumCapacity: size)
            let rows = try String.fetchCursor(statement, arguments: StatementArguments(arguments))
            while let id = try rows.next() { applied.insert(id) }
            for ((index, _, completion), id) in zip(chunk, ids) {
                outcomes[index] = applied.contains(id) ? .applied(.succeeded) : try refusal(id: completion.lease.id, db: db)
            }
        }
    }

    private static func refusal(id: TaskID, db: Database) throws -> AckOutcome {
        let exists = try Int.fetchOne(db.cachedStatement(sql: SQL.exists), arguments: [id.description]) != nil
        return exists ? .staleLease : .notFound
    }

    private static func applyFailure(
        _ failure: TaskFailure, policies: TaskLifecycle.RetryPolicies, now: Int64, db: Database
    ) throws -> (ack: AckOutcome, dueNow: Bool) {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: SQL.failLookup), arguments: [failure.lease.id.description]) else {
            return (.notFound, false)
        }
        let state: String = row[1]
        let token: String? = row[2]
        guard state == TaskState.running.rawValue, token == failure.lease.token else { return (.staleLease, false) }
        let next = try recordFailure(
            seq: row[0],
            TaskLifecycle.Attempt(kind: row[6], attempt: row[3], maxAttempts: row[4], retry: ColumnJSON.retry(row[5])),
            cause: TaskLifecycle.FailureCause(failure), message: failure.message, policies: policies, now: now, db: db)
        return (.applied(next.state), next.dueNow)
    }

    /// Records a failed attempt of a running task and moves it where ``TaskLifecycle`` decides:
    /// `pending` for a retry, or `failed`. Shared by worker failures and lease rescue.
    static func recordFailure(
        seq: Int64, _ attempt: TaskLifecycle.Attempt, cause: TaskLifecycle.FailureCause, message: String,
        policies: TaskLifecycle.RetryPolicies, now: Int64, db: Database
    ) throws -> (state: TaskState, dueNow: Bool) {
        let nowDate = Millis.date(now)
        let error = try ColumnJSON.encode(AttemptError(attempt: attempt.attempt, at: nowDate, message: message))
        let statement = try db.cachedStatement(sql: SQL.fail)
        switch TaskLifecycle.afterFailure(attempt, cause: cause, policies: policies, now: nowDate) {
        case .retry(let at):
            let runAt = max(now, Millis.from(at))
            try statement.execute(arguments: [TaskState.pending.rawValue, runAt, nil, message, error, seq])
            return (.pending, runAt <= now)
        case .dead:
            try statement.execute(arguments: [TaskState.failed.rawValue, nil, now, message, error, seq])
            return (.failed, false)
        }
    }

    public func taskHeartbeatMany(_ p: TaskHeartbeatParams) async throws -> [HeartbeatOutcome] {
        guard !p.leases.isEmpty else { return [] }
        let leaseMillis = max(1, Millis.of(p.lease))
        return try await write("extending \(p.leases.count) lease(s)") { db in
            let until = Millis.now(self.clock) + leaseMillis
            var outcomes: [HeartbeatOutcome] = []
            outcomes.reserveCapacity(p.leases.count)
            for lease in p.leases {
                try db.cachedStatement(sql: SQL.heartbeat).execute(arguments: [until, lease.id.description, lease.token])
                if db.changesCount > 0 {
                    outcomes.append(.extended(until: Millis.date(until)))
                    continue
                }
                guard let row = try Row.fetchOne(db.cachedStatement(sql: SQL.leaseLookup), arguments: [lease.id.description]) else {
                    outcomes.append(.notFound)
                    continue
                }
                let state: String = row[0]
                let token: String? = row[1]
                outcomes.append(state == TaskState.cancelled.rawValue && token == lease.token ? .cancelled : .lost)
            }
            return outcomes
        }
    }

    public func taskReleaseMany(_ p: TaskReleaseParams) async throws -> Int {
        guard !p.leases.isEmpty else { return 0 }
        let released = try await write("releasing \(p.leases.count) task(s)") { db in
            var released = 0
            for lease in p.leases {
                try db.cachedStatement(sql: SQL.release).execute(arguments: [lease.id.description, lease.token])
                released += db.changesCount
            }
            return released
        }
        if released > 0 { readySignal.notify() }
        return released
    }
}
