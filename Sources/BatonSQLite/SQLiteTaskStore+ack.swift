import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore {
    /// One transaction for the whole batch; each ack applies only while its task is running
    /// under the ack's lease token. When no task is acknowledged twice in the batch, the
    /// completions are written by a few multi-row statements (`SQL.completeMany`) instead of
    /// one statement per task; outcomes are the same either way.
    public func taskAckMany(_ p: TaskAckParams) async throws -> [AckOutcome] {
        try await acknowledge(p, reporting: false).outcomes
    }

    public func taskAckManyReporting(_ p: TaskAckParams) async throws -> [AckReport] {
        let (outcomes, attempts) = try await acknowledge(p, reporting: true)
        return zip(outcomes, attempts).map { AckReport(outcome: $0, attempt: $1) }
    }

    /// Both ack methods: `attempts` has one entry per ack when `reporting`, none otherwise.
    private func acknowledge(_ p: TaskAckParams, reporting: Bool) async throws -> (outcomes: [AckOutcome], attempts: [EndedAttempt?]) {
        guard !p.acks.isEmpty else { return ([], []) }
        let policies = TaskLifecycle.RetryPolicies(kinds: p.kindRetry, node: p.defaultRetry ?? configuration.defaultRetry)
        let distinct = Set(p.acks.lazy.map(\.lease.id)).count == p.acks.count
        let (outcomes, attempts, madeDue) = try await write("acknowledging \(p.acks.count) task(s)") {
            db -> ([AckOutcome], [EndedAttempt?], Bool) in
            let now = Millis.now(self.clock)
            var outcomes: [AckOutcome?] = Array(repeating: nil, count: p.acks.count)
            var attempts: [EndedAttempt?] = reporting ? Array(repeating: nil, count: p.acks.count) : []
            var madeDue = false
            var completions: [(index: Int, seq: Int64, completion: TaskCompletion)] = []
            for (index, ack) in p.acks.enumerated() {
                switch ack {
                case .complete(let completion):
                    if distinct, let seq = LeaseToken.seq(of: completion.lease.token) {
                        completions.append((index, seq, completion))
                    } else {
                        let applied = try Self.applyCompletion(completion, now: now, db: db)
                        outcomes[index] = applied.ack
                        if reporting { attempts[index] = applied.attempt }
                    }
                case .fail(let failure):
                    let applied = try Self.applyFailure(failure, policies: policies, now: now, db: db)
                    if case .applied(.pending) = applied.ack { madeDue = true }
                    outcomes[index] = applied.ack
                    if reporting { attempts[index] = applied.attempt }
                }
            }
            try Self.applyCompletions(completions, now: now, into: &outcomes, reporting: &attempts, work: self.triggerWork, db: db)
            return (outcomes.map { $0 ?? .notFound }, attempts, madeDue)
        }
        count { $0.ackTransactions += 1 }
        // A retry changes when the next task is due (or is due at once): wake the claimers.
        if madeDue { readySignal.notify() }
        return (outcomes, attempts)
    }

    /// The attempt a transition at `now` ended, from the row's `attempt, queue, kind, started_at`
    /// at `offset`.
    static func endedAttempt(_ row: Row, at offset: Int, now: Int64) -> EndedAttempt {
        let started: Int64? = row[offset + 3]
        return EndedAttempt(
            attempt: row[offset], queue: row[offset + 1], kind: row[offset + 2], ran: started.map { .milliseconds(max(0, now - $0)) })
    }

    private static func applyCompletion(_ completion: TaskCompletion, now: Int64, db: Database) throws -> (
        ack: AckOutcome, attempt: EndedAttempt?
    ) {
        let statement = try db.cachedStatement(sql: SQL.complete)
        let arguments: StatementArguments = [completion.result.text, now, completion.lease.id.description, completion.lease.token]
        guard let row = try Row.fetchOne(statement, arguments: arguments) else {
            return (try refusal(id: completion.lease.id, db: db), nil)
        }
        return (.applied(.succeeded), endedAttempt(row, at: 0, now: now))
    }

    /// Completions of distinct tasks whose tokens carry their `seq`, in chunks of
    /// `SQL.completeManySizes`. Fills `attempts` too when it is not empty. The edges out of the
    /// tasks completed are settled afterwards, for the whole batch at once
    /// (``settleCompleted(_:work:db:)``), not by the triggers row by row.
    private static func applyCompletions(
        _ completions: [(index: Int, seq: Int64, completion: TaskCompletion)], now: Int64, into outcomes: inout [AckOutcome?],
        reporting attempts: inout [EndedAttempt?], work: TriggerWork, db: Database
    ) throws {
        let reporting = !attempts.isEmpty
        var parents: [Int64] = []
        work.settlingInBatch = true
        defer { work.settlingInBatch = false }
        var start = 0
        while start < completions.count {
            let remaining = completions.count - start
            let size = SQL.completeManySizes.first { $0 <= remaining } ?? 1
            let chunk = completions[start..<start + size]
            start += size
            var arguments: [(any DatabaseValueConvertible)?] = [now]
            arguments.reserveCapacity(1 + 4 * size)
            for (_, seq, completion) in chunk {
                arguments.append(seq)
                arguments.append(completion.lease.id.description)
                arguments.append(completion.lease.token)
                arguments.append(completion.result.text)
            }
            let statement = try db.cachedStatement(sql: SQL.completeMany(rows: size, reporting: reporting))
            // The rows completed, by `seq` (one per task, and matched with its id by the
            // statement): an integer key, not the 36-character id, is hashed per row; with the
            // attempt each ended when `reporting`.
            var applied = [Int64: EndedAttempt?](minimumCapacity: size)
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
            while let row = try rows.next() {
                let seq: Int64 = row[0]
                if (row[1] as Int64) > 0 { parents.append(seq) }
                applied.updateValue(reporting ? endedAttempt(row, at: 2, now: now) : nil, forKey: seq)
            }
            for (index, seq, completion) in chunk {
                guard let attempt = applied[seq] else {
                    outcomes[index] = try refusal(id: completion.lease.id, db: db)
                    continue
                }
                outcomes[index] = .applied(.succeeded)
                if reporting { attempts[index] = attempt }
            }
        }
        work.settlingInBatch = false
        if !parents.isEmpty { try settleCompleted(parents, work: work, db: db) }
    }

    /// Settles the open edges out of tasks just completed (`seqs`), as the triggers
    /// `tasks_settle` and `task_deps_settle` would one edge at a time, in two statements for
    /// the whole batch: a dependent of many of them (a chord's body) is written once, not once
    /// per parent.
    /// 1. Each dependent's counter drops by its edges settled here other than those on
    ///    `failure`; the last releases it. Those edges are not written (``SQL/schemaV9``).
    /// 2. The edges on `failure`, which a success can never satisfy, record it; the trigger
    ///    then cancels their dependents (and continues the walk) or not, as their policy says.
    static func settleCompleted(_ seqs: [Int64], work: TriggerWork, db: Database) throws {
        let list = "[" + seqs.map(String.init).joined(separator: ",") + "]"
        try db.cachedStatement(sql: SQL.releaseOnSuccess).execute(arguments: [list])
        try db.cachedStatement(sql: SQL.settleOnSuccess).execute(arguments: [list])
    }

    static func refusal(id: TaskID, db: Database) throws -> AckOutcome {
        let exists = try Int.fetchOne(db.cachedStatement(sql: SQL.exists), arguments: [id.description]) != nil
        return exists ? .staleLease : .notFound
    }

    private static func applyFailure(
        _ failure: TaskFailure, policies: TaskLifecycle.RetryPolicies, now: Int64, db: Database
    ) throws -> (ack: AckOutcome, attempt: EndedAttempt?) {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: SQL.failLookup), arguments: [failure.lease.id.description]) else {
            return (.notFound, nil)
        }
        let state: String = row[1]
        let token: String? = row[2]
        guard state == TaskState.running.rawValue, token == failure.lease.token else { return (.staleLease, nil) }
        let next = try recordFailure(
            seq: row[0],
            TaskLifecycle.Attempt(kind: row[7], attempt: row[5], maxAttempts: row[3], retry: ColumnJSON.retry(row[4])),
            cause: TaskLifecycle.FailureCause(failure), message: failure.message, policies: policies, now: now, db: db)
        return (.applied(next.state), endedAttempt(row, at: 5, now: now))
    }

    /// Records a failed attempt of a running task and moves it where ``TaskLifecycle`` decides:
    /// `pending` for a retry, or `failed`. Shared by worker failures and lease rescue.
    static func recordFailure(
        seq: Int64, _ attempt: TaskLifecycle.Attempt, cause: TaskLifecycle.FailureCause, message: String,
        policies: TaskLifecycle.RetryPolicies, now: Int64, db: Database
    ) throws -> (state: TaskState, dueNow: Bool) {
        let message = Limits.storable(message)
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
                    if let progress = p.progress[lease] {
                        let now = until - leaseMillis
                        try db.cachedStatement(sql: SQL.heartbeatProgress).execute(arguments: [
                            progress.fraction, progress.message.flatMap { $0.isEmpty ? nil : Limits.storable($0) }, now,
                            lease.id.description, lease.token,
                            now - Millis.of(TaskHeartbeatParams.progressInterval),
                        ])
                    }
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
