import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore: UniqueTaskStore {
    /// Rows per multi-row INSERT: 14 arguments each, well under SQLite's 32,766 variables.
    static let insertChunk = 500

    /// How long an idempotency key answers with its first tasks: 24 h, in milliseconds.
    static let idempotencyKeyLifetime: Int64 = 24 * 3600 * 1000

    public func taskEnqueueMany(_ p: TaskEnqueueParams) async throws -> [TaskRecord] {
        try await taskEnqueueManyOutcome(p).tasks
    }

    /// Inserts the tasks in one write transaction. A task whose `unique_key` is held (by an
    /// active task, or within its `unique_window` by any task) is not inserted: the holder is
    /// returned in its place. A known idempotency key returns its first outcome.
    public func taskEnqueueManyOutcome(_ p: TaskEnqueueParams) async throws -> TaskEnqueueOutcome {
        guard !p.tasks.isEmpty else { return TaskEnqueueOutcome(tasks: [], duplicate: []) }
        for task in p.tasks { try task.validate() }
        let prepared = try Self.prepare(p.tasks, now: Millis.now(self.clock))
        let key = p.idempotencyKey
        let hash = key == nil ? "" : try p.fingerprint()
        let outcome = try await write("enqueueing \(prepared.records.count) task(s)") { db in
            if let key {
                let since = prepared.now - Self.idempotencyKeyLifetime
                if let row = try Row.fetchOne(db.cachedStatement(sql: SQL.idempotencyLookup), arguments: [key, since]) {
                    let storedHash: String = row[0]
                    guard storedHash == hash else {
                        throw BatonError(.idempotencyMismatch, "idempotency key '\(key)' was used with a different request")
                    }
                    return try Self.recorded(ids: row[1], duplicates: row[2], db: db)
                }
            }
            if let completion = p.completing {
                let arguments: StatementArguments = [
                    completion.result.text, prepared.now, completion.lease.id.description, completion.lease.token,
                ]
                if try Row.fetchOne(db.cachedStatement(sql: SQL.complete), arguments: arguments) == nil {
                    throw Self.completionRefused(try Self.refusal(id: completion.lease.id, db: db), id: completion.lease.id)
                }
            }
            if let workflow = p.workflow {
                do {
                    try db.cachedStatement(sql: workflow.joinsExisting ? SQL.workflowInsertOrJoin : SQL.workflowInsert).execute(arguments: [
                        workflow.id.description, workflow.name, prepared.now, workflow.expectedNodes,
                    ])
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    // A workflow's id is chosen by its submitter when it is a Machinery group's UUID.
                    throw BatonError.conflict("workflow \(workflow.id) already exists")
                }
            }
            var (outcome, seqs) = try Self.insert(prepared, db: db)
            if p.strictUnique, let i = outcome.duplicate.firstIndex(of: true) {
                let key = p.tasks[i].uniqueKey ?? ""
                throw BatonError.invalidArgument("unique key '\(key)' is held by task \(outcome.tasks[i].id)")
            }
            if prepared.hasParents {
                var holders: [TaskID: TaskID] = [:]
                for (record, stored) in zip(prepared.records, outcome.tasks) where record.id != stored.id { holders[record.id] = stored.id }
                let settled = try Self.insertEdges(
                    p.tasks, records: outcome.tasks, seqs: seqs, duplicate: outcome.duplicate, holders: holders, db: db)
                // Edges to parents that had finished settled at once: their dependents may have moved.
                if !settled.isEmpty {
                    let get = try db.cachedStatement(sql: SQL.get)
                    for i in outcome.tasks.indices where !outcome.duplicate[i] && settled.contains(outcome.tasks[i].id) {
                        if let row = try Row.fetchOne(get, arguments: [outcome.tasks[i].id.description]) {
                            outcome.tasks[i] = try TaskRecord(row: row)
                        }
                    }
                }
            }
            if let key {
                try db.cachedStatement(sql: SQL.idempotencyRecord).execute(arguments: [
                    key, hash, try ColumnJSON.encode(outcome.tasks.map(\.id.description)), try ColumnJSON.encode(outcome.duplicate),
                    prepared.now,
                ])
            }
            // Delayed tasks too: a claimer sleeping until the next due time must learn of an
            // earlier one. Woken from inside the transaction: every claim is a write on this
            // same serialized connection, so a woken claimer's claim runs after this commit,
            // and the claimer does not wait for the hop back to this caller (≈0.1 ms of pick-up
            // latency, measured). A transaction that then fails only wakes claimers for nothing.
            if outcome.duplicate.contains(false) { self.readySignal.notify() }
            return outcome
        }
        count { $0.enqueueTransactions += 1 }
        return outcome
    }

    /// Tasks as they will be stored, with their rows, computed before the transaction.
    struct PreparedEnqueue: Sendable {
        var records: [TaskRecord]
        var rows: [StatementArguments]
        /// Per task, the unique window in milliseconds (`nil`: while active).
        var windows: [Int64?]
        var now: Int64
        /// Whether a task waits for parents or belongs to a workflow (edges to add): the rows
        /// are then inserted with their workflow columns (``linkRows``).
        var hasParents: Bool
        /// Per task, when ``hasParents``: its workflow columns but the last (its dependents
        /// among the tasks inserted, counted at insert) and its edges' parents.
        var linkRows: [StatementArguments] = []
        var parents: [[TaskID]] = []
    }

    static func prepare(_ tasks: [NewTask], now: Int64) throws -> PreparedEnqueue {
        var records: [TaskRecord] = []
        records.reserveCapacity(tasks.count)
        for task in tasks {
            let runAt: Int64
            if let delay = task.delay {
                runAt = now + Millis.clamped((delay * 1000).rounded(.up))
            } else if let at = task.runAt {
                // A time in the past means now: it does not jump the queue ahead of older tasks.
                runAt = max(now, Millis.from(at))
            } else {
                runAt = now
            }
            let state: TaskState = task.hasParents ? .waiting : runAt > now ? .pending : .ready
            records.append(
                TaskRecord(
                    id: task.id ?? TaskID.generate(at: Millis.date(now)), kind: task.kind, queue: task.queue, args: task.args,
                    priority: task.priority, state: state, attempt: 0, maxAttempts: task.maxAttempts, runAt: Millis.date(runAt),
                    timeout: task.timeout, retry: task.retry, uniqueKey: task.uniqueKey, tags: task.tags, createdAt: Millis.date(now),
                    workflowID: task.workflowID, node: task.node, parentCount: task.hasParents ? task.after.count : nil, pass: task.pass,
                    traceparent: task.traceparent))
        }
        var rows: [StatementArguments] = []
        rows.reserveCapacity(records.count)
        for record in records {
            rows.append(
                StatementArguments(
                    [
                        record.id.description, record.kind, record.queue, record.args.text, record.priority, record.state.rawValue,
                        record.maxAttempts, Millis.from(record.runAt), record.timeout, try record.retry.map(ColumnJSON.encode),
                        record.uniqueKey, record.tags.isEmpty ? "[]" : try ColumnJSON.encode(record.tags), now, record.traceparent,
                    ] as [(any DatabaseValueConvertible)?]))
        }
        let windows = tasks.map { task in task.uniqueWindow.map { Millis.clamped(($0 * 1000).rounded(.up)) } }
        let hasParents = tasks.contains { $0.hasParents || $0.workflowID != nil }
        var prepared = PreparedEnqueue(records: records, rows: rows, windows: windows, now: now, hasParents: hasParents)
        if hasParents {
            prepared.linkRows = tasks.map { task in
                [task.workflowID?.description, task.node, task.after.count, task.after.count, task.pass?.rawValue]
            }
            prepared.parents = tasks.map { $0.after.map(\.parent) }
        }
        return prepared
    }

    /// Inserts the prepared tasks inside the caller's transaction, answering each task whose
    /// unique key is held with its holder. With ``PreparedEnqueue/hasParents``, also returns
    /// the `seq` of each task inserted, by id (the edges are keyed by it).
    static func insert(_ prepared: PreparedEnqueue, db: Database) throws -> (outcome: TaskEnqueueOutcome, seqs: [String: Int64]) {
        var result = prepared.records
        var isDuplicate = Array(repeating: false, count: result.count)
        var keep = Array(result.indices)
        if result.contains(where: { $0.uniqueKey != nil }) {
            keep = []
            var heldInBatch: [String: Int] = [:]
            let lookup = try db.cachedStatement(sql: SQL.uniqueLookup)
            for i in result.indices {
                guard let key = result[i].uniqueKey else {
                    keep.append(i)
                    continue
                }
                if let j = heldInBatch[key] {
                    result[i] = result[j]
                    isDuplicate[i] = true
                    continue
                }
                let since = prepared.windows[i].map { prepared.now - $0 } ?? Int64.max
                if let row = try Row.fetchOne(lookup, arguments: [key, since]) {
                    result[i] = try TaskRecord(row: row)
                    isDuplicate[i] = true
                    continue
                }
                heldInBatch[key] = i
                keep.append(i)
            }
        }
        var rows = keep.count == prepared.rows.count ? prepared.rows : keep.map { prepared.rows[$0] }
        if prepared.hasParents {
            // Each task's dependents among those inserted: edges from the others are counted
            // when their parents are locked (``insertEdges``).
            var index: [TaskID: Int] = [:]
            for (position, i) in keep.enumerated() { index[prepared.records[i].id] = position }
            var dependents = [Int](repeating: 0, count: keep.count)
            for i in keep {
                for parent in prepared.parents[i] { if let position = index[parent] { dependents[position] += 1 } }
            }
            for (position, i) in keep.enumerated() { rows[position] += prepared.linkRows[i] + [dependents[position]] }
        }
        var start = 0
        var seqs: [String: Int64] = [:]
        do {
            for size in chunkSizes(rows.count) {
                let sql = prepared.hasParents ? SQL.insertLinked(rows: size) : SQL.insert(rows: size)
                let statement = try db.cachedStatement(sql: sql)
                var arguments = StatementArguments()
                for row in rows[start..<start + size] { arguments += row }
                if prepared.hasParents {
                    let inserted = try Row.fetchCursor(statement, arguments: arguments)
                    while let row = try inserted.next() { seqs[row[0]] = row[1] }
                } else {
                    try statement.execute(arguments: arguments)
                }
                start += size
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw duplicate(keep.map { prepared.records[$0] }, from: start, db: db)
        }
        return (TaskEnqueueOutcome(tasks: result, duplicate: isDuplicate), seqs)
    }

    /// The outcome an idempotency key recorded (tasks deleted since are left out).
    private static func recorded(ids: String, duplicates: String, db: Database) throws -> TaskEnqueueOutcome {
        let ids = try ColumnJSON.decode([String].self, ids, column: "task_ids")
        let flags = try ColumnJSON.decode([Bool].self, duplicates, column: "duplicates")
        let get = try db.cachedStatement(sql: SQL.get)
        return try TaskEnqueueOutcome.recorded(ids: ids, duplicates: flags) { id in
            try Row.fetchOne(get, arguments: [id]).map { try TaskRecord(row: $0) }
        }
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
