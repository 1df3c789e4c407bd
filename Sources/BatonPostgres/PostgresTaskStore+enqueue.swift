import BatonCore
import Foundation
import PostgresNIO

extension PostgresTaskStore {
    /// One `INSERT … SELECT … FROM unnest(…)` for the whole batch: all or nothing. Times come
    /// from the database; the same statement notifies every node of the queues it made ready.
    /// A batch with unique keys or an idempotency key takes the transaction of
    /// `taskEnqueueManyOutcome` instead.
    public func taskEnqueueMany(_ p: TaskEnqueueParams) async throws -> [TaskRecord] {
        guard !p.tasks.isEmpty else { return [] }
        if p.idempotencyKey != nil || p.workflow != nil || p.completing != nil
            || p.tasks.contains(where: { $0.uniqueKey != nil || $0.hasParents || $0.workflowID != nil })
        {
            return try await taskEnqueueManyOutcome(p).tasks
        }
        for task in p.tasks { try task.validate() }
        let (binds, order) = try enqueueBindings(p.tasks)
        let records = try await call("enqueueing \(p.tasks.count) task(s)") { [hotClient] () -> [TaskRecord] in
            let rows: [PostgresRow]
            do {
                rows = try await hotClient.rows(EnqueueStatement(bindings: binds))
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw Self.duplicate(error, ids: order)
            }
            return try Self.inserted(rows, order: order)
        }
        count { $0.enqueueStatements += 1 }
        // Delayed tasks too: a claimer sleeping until the next due time must learn of an earlier one.
        readySignal.notify()
        return records
    }

    /// The insert of `tasks` as an unnamed statement, for transactions on the other pool, and
    /// the ids it gives them, in order; `linked`, the insert that also sets the workflow columns
    /// (`PostgresSQL.enqueueLinked`).
    func enqueueQuery(_ tasks: [NewTask], linked: Bool = false) throws -> (PostgresQuery, [UUID]) {
        var (binds, ids) = try enqueueBindings(tasks)
        if linked { Self.appendLinkBindings(tasks, ids: ids, to: &binds) }
        return (PostgresQuery(unsafeSQL: linked ? sql.enqueueLinked : sql.enqueue, binds: binds), ids)
    }

    /// The workflow columns of `tasks` (whose ids are `ids`), and each one's dependents among
    /// them: the edges whose parent is a task of the same insert.
    static func appendLinkBindings(_ tasks: [NewTask], ids: [UUID], to binds: inout PostgresBindings) {
        let index = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var dependents = [Int](repeating: 0, count: tasks.count)
        for task in tasks {
            for edge in task.after { if let i = index[edge.parent.uuid] { dependents[i] += 1 } }
        }
        binds.append(tasks.map { $0.workflowID?.description ?? "" })
        binds.append(tasks.map { $0.node ?? "" })
        binds.append(tasks.map { $0.after.count })
        binds.append(tasks.map { $0.pass?.rawValue ?? "" })
        binds.append(dependents)
    }

    /// The binds of the insert of `tasks` (`PostgresSQL.enqueue`) and the ids it gives them,
    /// in order.
    func enqueueBindings(_ tasks: [NewTask]) throws -> (PostgresBindings, [UUID]) {
        let n = tasks.count
        var ids: [UUID] = []
        var kinds: [String] = []
        var queues: [String] = []
        var args: [String] = []
        var priorities: [Int] = []
        var maxAttempts: [Int] = []
        var runAts: [Double] = []
        var delays: [Double] = []
        var timeouts: [Double] = []
        var retries: [String] = []
        var uniqueKeys: [String] = []
        var tags: [String] = []
        var traces: [String] = []
        ids.reserveCapacity(n)
        kinds.reserveCapacity(n)
        queues.reserveCapacity(n)
        args.reserveCapacity(n)
        for task in tasks {
            ids.append((task.id ?? TaskID.generate()).uuid)
            kinds.append(task.kind)
            queues.append(task.queue)
            args.append(task.args.text)
            priorities.append(task.priority)
            maxAttempts.append(task.maxAttempts)
            runAts.append(TimeBounds.epoch(task.runAt?.timeIntervalSince1970 ?? .nan))
            delays.append(task.delay.map(TimeBounds.seconds) ?? -1)
            timeouts.append(task.timeout ?? -1)
            retries.append(try task.retry.map(ColumnJSON.encode) ?? "")
            uniqueKeys.append(task.uniqueKey ?? "")
            tags.append(task.tags.isEmpty ? "[]" : try ColumnJSON.encode(task.tags))
            traces.append(task.traceparent ?? "")
        }
        var binds = PostgresBindings(capacity: 14)
        binds.append(ids)
        binds.append(kinds)
        binds.append(queues)
        binds.append(args)
        binds.append(priorities)
        binds.append(maxAttempts)
        binds.append(runAts)
        binds.append(delays)
        binds.append(timeouts)
        binds.append(retries)
        binds.append(uniqueKeys)
        binds.append(tags)
        binds.append(configuration.schema)
        binds.append(traces)
        return (binds, ids)
    }

    /// The rows an insert returned, in the order of `order` (its ids).
    static func inserted(_ rows: [PostgresRow], order: [UUID]) throws -> [TaskRecord] {
        var byID: [UUID: TaskRecord] = [:]
        byID.reserveCapacity(rows.count)
        for row in rows {
            let record = try TaskRecord(postgres: row.makeRandomAccess())
            byID[record.id.uuid] = record
        }
        return try order.map { id in
            guard let record = byID[id] else { throw BatonError(.internal, "task \(id) was not returned by its insert") }
            return record
        }
    }

    /// Names the id that collided, from the server's detail (`Key (id)=(…) already exists.`) or
    /// a repeat within the batch.
    static func duplicate(_ error: PSQLError, ids: [UUID]) -> BatonError {
        if error.serverInfo?[.constraintName] == "tasks_unique_active" {
            return .conflict("a task with this unique key is already active (\(error.serverInfo?[.detail] ?? "unique key"))")
        }
        if let detail = error.serverInfo?[.detail], let open = detail.range(of: "=("),
            let close = detail.range(of: ")", range: open.upperBound..<detail.endIndex)
        {
            let id = detail[open.upperBound..<close.lowerBound]
            return .conflict("task \(id) already exists")
        }
        var seen = Set<UUID>()
        for id in ids where !seen.insert(id).inserted {
            return .conflict("task \(TaskID(uuid: id)) already exists")
        }
        return .conflict("a task with one of these ids already exists")
    }
}
